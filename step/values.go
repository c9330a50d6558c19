package step

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kfpargo/kfpargo/ir"
)

// EncodeValue writes a typed value (as decoded from the IR or from JSON) as
// the string an Argo parameter carries: strings verbatim, everything else as
// compact JSON, integers without a fraction.
func EncodeValue(t ir.ParameterType, v any) (string, error) {
	switch t {
	case ir.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, err := json.Marshal(v)
		return string(b), err
	case ir.TypeInteger:
		switch n := v.(type) {
		case float64:
			if n != math.Trunc(n) {
				return "", fmt.Errorf("%v is not an integer", n)
			}
			return strconv.FormatInt(int64(n), 10), nil
		case string:
			if _, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64); err != nil {
				return "", fmt.Errorf("%s is not an integer", Quote(n))
			}
			return strings.TrimSpace(n), nil
		}
	case ir.TypeDouble:
		switch n := v.(type) {
		case float64:
			return strconv.FormatFloat(n, 'g', -1, 64), nil
		case string:
			if _, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
				return "", fmt.Errorf("%s is not a number", Quote(n))
			}
			return strings.TrimSpace(n), nil
		}
	case ir.TypeBoolean:
		switch b := v.(type) {
		case bool:
			return strconv.FormatBool(b), nil
		case string:
			if pb, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return strconv.FormatBool(pb), nil
			}
			return "", fmt.Errorf("%s is not a boolean", Quote(b))
		}
	case ir.TypeList, ir.TypeStruct, ir.TypeTaskFinalStatus, ir.TypeTaskConfig:
		if s, ok := v.(string); ok {
			// Already JSON text, e.g. from --param; check it is the right shape.
			var parsed any
			if err := json.Unmarshal([]byte(s), &parsed); err != nil {
				return "", fmt.Errorf("%s is not valid JSON: %v", Quote(s), err)
			}
			v = parsed
		}
		if err := checkShape(t, v); err != nil {
			return "", err
		}
		b, err := json.Marshal(v)
		return string(b), err
	default:
		return "", fmt.Errorf("unknown parameter type %q", t)
	}
	return "", fmt.Errorf("a %s cannot hold %T", t, v)
}

func checkShape(t ir.ParameterType, v any) error {
	switch t {
	case ir.TypeList:
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("a LIST needs a JSON array, got %T", v)
		}
	case ir.TypeStruct, ir.TypeTaskFinalStatus, ir.TypeTaskConfig:
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("a %s needs a JSON object, got %T", t, v)
		}
	}
	return nil
}

// DecodeValue reads an Argo parameter string back into the typed value KFP
// puts in ExecutorInput.inputs.parameterValues.
func DecodeValue(t ir.ParameterType, s string) (any, error) {
	switch t {
	case ir.TypeString:
		return s, nil
	case ir.TypeInteger:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			// A double with no fraction is an integer too (e.g. "3.0").
			f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if ferr != nil || f != math.Trunc(f) {
				return nil, fmt.Errorf("%s is not an integer", Quote(s))
			}
			return f, nil
		}
		return float64(n), nil
	case ir.TypeDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a number", Quote(s))
		}
		return f, nil
	case ir.TypeBoolean:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s is not a boolean", Quote(s))
		}
		return b, nil
	case ir.TypeList, ir.TypeStruct, ir.TypeTaskFinalStatus, ir.TypeTaskConfig:
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("%s is not valid JSON: %v", Quote(s), err)
		}
		if err := checkShape(t, v); err != nil {
			return nil, err
		}
		return v, nil
	}
	return nil, fmt.Errorf("unknown parameter type %q", t)
}
