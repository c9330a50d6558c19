package launcher

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/ir"
	"github.com/kfpargo/kfpargo/step"
)

// FuzzUserOutputs feeds the files a step's command writes back — the
// executor output JSON, an output parameter file, a metrics file — to the
// code that reads them. Whatever they hold: no panic; an accepted output
// is a value the next step can take (within the parameter limit, UTF-8, of
// its type) and lands in the file Argo reads, and nothing is written
// outside the step's directory.
func FuzzUserOutputs(f *testing.F) {
	for _, seed := range []struct{ eo, param, metrics string }{
		{`{"parameterValues": {"s": "hi", "n": 3, "st": {"a": [1, 2]}}}`, "x", `{"accuracy": 0.9}`},
		{`{}`, " 42\n", `{"confusionMatrix": {"annotationSpecs": [{"displayName": "a"}], "rows": [{"row": [1]}]}}`},
		{`{"parameterValues": {"n": 2.5}}`, "", `{"confidenceMetrics": [1, 2]}`},
		{`{"parameterValues": {"s": null, "st": "not a struct"}}`, "\xff", `[1]`},
		{`{"artifacts": {"m": {"artifacts": [{"custom_path": "/etc/passwd", "metadata": {"a": 1}}]}}}`, "v", `{"confusionMatrix": {"annotationSpecs": [1], "rows": [2]}}`},
		{`[[[[[[`, "7", `{"a": "b"`},
	} {
		f.Add([]byte(seed.eo), []byte(seed.param), []byte(seed.metrics))
	}
	// One directory per fuzzing process: every file is rewritten in each
	// run, and a fresh directory per run costs more than the code under test.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, eo, param, metrics []byte) {
		layout := Layout{LocalRoot: filepath.Join(dir, "fs"), StepDir: filepath.Join(dir, "step")}
		r := &Runner{
			Spec: &step.Spec{OutputParams: map[string]ir.ParameterType{
				"s": ir.TypeString, "n": ir.TypeInteger, "st": ir.TypeStruct,
			}},
			Layout: layout, Log: zap.NewNop(),
		}
		for _, f := range []struct {
			path string
			data []byte
		}{
			{layout.ExecutorOutputFile(), eo},
			{layout.UserParamFile("s"), param}, {layout.UserParamFile("n"), param}, {layout.UserParamFile("st"), param},
			{filepath.Join(dir, "metrics.json"), metrics},
		} {
			if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// Metrics: read, summarised into a parameter, printed.
		m := readMetrics(nil, filepath.Join(dir, "metrics.json"))
		if _, err := json.Marshal(summarize(m)); err != nil {
			t.Fatalf("metrics summary cannot be written: %v", err)
		}
		writeMetricsTable(io.Discard, "m", m)

		out, err := r.collectOutputs(context.Background(), map[string]string{})
		if err != nil {
			return
		}
		if err := out.write(layout); err != nil {
			t.Fatalf("accepted outputs cannot be written: %v", err)
		}
		for name, typ := range r.Spec.OutputParams {
			v := out.Params[name]
			if err := step.CheckParamValue(v); err != nil {
				t.Fatalf("output %s accepted but %v", name, err)
			}
			if typ != ir.TypeString {
				if _, err := step.DecodeValue(typ, v); err != nil {
					t.Fatalf("output %s of type %s accepted as %q, which the next step refuses: %v", name, typ, v, err)
				}
			}
			if b, err := os.ReadFile(layout.ArgoParamFile(name)); err != nil || string(b) != v {
				t.Fatalf("Argo's file for %s holds %q (%v), want %q", name, b, err, v)
			}
		}
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				t.Fatalf("a symbolic link was created: %s", p)
			}
			return nil
		})
	})
}
