package step

import (
	"reflect"
	"testing"

	"github.com/kfpargo/kfpargo/ir"
)

func TestValuesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		typ  ir.ParameterType
		in   any
		text string
	}{
		{ir.TypeString, "a b\nc", "a b\nc"},
		{ir.TypeInteger, 128.0, "128"},
		{ir.TypeInteger, "42", "42"},
		{ir.TypeDouble, 0.5, "0.5"},
		{ir.TypeDouble, 3.0, "3"},
		{ir.TypeBoolean, true, "true"},
		{ir.TypeBoolean, "True", "true"},
		{ir.TypeList, []any{1.0, "x"}, `[1,"x"]`},
		{ir.TypeList, `[1, "x"]`, `[1,"x"]`},
		{ir.TypeStruct, map[string]any{"b": 1.0, "a": []any{}}, `{"a":[],"b":1}`},
	} {
		got, err := EncodeValue(tc.typ, tc.in)
		if err != nil || got != tc.text {
			t.Errorf("Encode(%s, %#v) = %q, %v; want %q", tc.typ, tc.in, got, err, tc.text)
			continue
		}
		back, err := DecodeValue(tc.typ, got)
		if err != nil {
			t.Errorf("Decode(%s, %q): %v", tc.typ, got, err)
			continue
		}
		again, _ := EncodeValue(tc.typ, back)
		if again != got {
			t.Errorf("round trip of %q gave %q", got, again)
		}
	}
}

func TestValueErrors(t *testing.T) {
	for _, tc := range []struct {
		typ ir.ParameterType
		in  any
	}{
		{ir.TypeInteger, 1.5}, {ir.TypeInteger, "x"}, {ir.TypeDouble, "x"}, {ir.TypeBoolean, "maybe"},
		{ir.TypeList, `{"a":1}`}, {ir.TypeStruct, `[1]`}, {ir.TypeStruct, "{bad"}, {"NOPE", "x"},
	} {
		if got, err := EncodeValue(tc.typ, tc.in); err == nil {
			t.Errorf("Encode(%s, %#v) = %q, want an error", tc.typ, tc.in, got)
		}
	}
	if v, err := DecodeValue(ir.TypeInteger, "3.0"); err != nil || !reflect.DeepEqual(v, 3.0) {
		t.Errorf("Decode int 3.0 = %v, %v", v, err)
	}
}

func TestWorkspaceArtifactPath(t *testing.T) {
	if got, want := WorkspaceArtifactPath("/minio/mlpipeline/v2/x"), "/kfp-workspace/.artifacts/minio/mlpipeline/v2/x"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
