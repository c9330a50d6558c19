package ir

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode"
)

// decodeStrict fills dst (a pointer to a model struct) from a generic tree as
// produced by a JSON or YAML decoder, the way protojson would: field names in
// lowerCamelCase or their proto snake_case form, int64 as number or string.
// Every problem is reported with its path; decoding goes on past errors so one
// run lists them all.
func decodeStrict(tree any, dst any, at path) Errors {
	d := &decoder{}
	d.value(tree, reflect.ValueOf(dst).Elem(), at)
	return d.errs
}

type decoder struct {
	errs Errors
}

func (d *decoder) fail(at path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{Path: string(at), Msg: fmt.Sprintf(format, args...)})
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

func (d *decoder) value(src any, dst reflect.Value, at path) {
	if src == nil {
		return // protojson treats null as "not set"
	}
	if dst.Type() == anyType {
		v, err := normalize(src, at)
		if err != nil {
			d.errs = append(d.errs, err)
			return
		}
		dst.Set(reflect.ValueOf(&v).Elem())
		return
	}
	switch dst.Kind() {
	case reflect.Pointer:
		elem := reflect.New(dst.Type().Elem())
		d.value(src, elem.Elem(), at)
		dst.Set(elem)
	case reflect.Struct:
		d.object(src, dst, at)
	case reflect.Map:
		m, ok := asMap(src)
		if !ok {
			d.fail(at, "expected a mapping, got %s", kindOf(src))
			return
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, v := range m {
			elem := reflect.New(dst.Type().Elem()).Elem()
			d.value(v, elem, at.key(k))
			out.SetMapIndex(reflect.ValueOf(k), elem)
		}
		dst.Set(out)
	case reflect.Slice:
		list, ok := src.([]any)
		if !ok {
			d.fail(at, "expected a list, got %s", kindOf(src))
			return
		}
		out := reflect.MakeSlice(dst.Type(), len(list), len(list))
		for i, v := range list {
			d.value(v, out.Index(i), at.index(i))
		}
		dst.Set(out)
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			d.fail(at, "expected a string, got %s", kindOf(src))
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			d.fail(at, "expected true or false, got %s", kindOf(src))
			return
		}
		dst.SetBool(b)
	case reflect.Int64, reflect.Int32, reflect.Int:
		n, err := toInt(src)
		if err != nil {
			d.fail(at, "%v", err)
			return
		}
		if dst.OverflowInt(n) {
			d.fail(at, "integer %d out of range for a %d-bit field", n, dst.Type().Bits())
			return
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := toFloat(src)
		if err != nil {
			d.fail(at, "%v", err)
			return
		}
		dst.SetFloat(f)
	default:
		d.fail(at, "internal: unsupported field kind %s", dst.Kind())
	}
}

func (d *decoder) object(src any, dst reflect.Value, at path) {
	m, ok := asMap(src)
	if !ok {
		d.fail(at, "expected a mapping, got %s", kindOf(src))
		return
	}
	fields := structFields(dst.Type())
	for k, v := range m {
		idx, ok := fields[k]
		if !ok {
			d.fail(at.key(k), "unknown field %q", k)
			continue
		}
		d.value(v, dst.Field(idx), at.field(k))
	}
}

// structFields maps every accepted name (json name and snake_case) to the
// field index.
func structFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField()*2)
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = i
		out[snake(name)] = i
	}
	return out
}

func snake(camel string) string {
	var b strings.Builder
	for i, r := range camel {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func asMap(src any) (map[string]any, bool) {
	switch m := src.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = v
		}
		return out, true
	}
	return nil, false
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case map[any]any:
		// asMap refuses these only for a key that is not a string.
		if _, ok := asMap(v); !ok {
			return "a mapping with a non-string key"
		}
		return "a mapping"
	case json.Number, int, int64, uint64, float64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, fmt.Errorf("integer %d out of range", n)
		}
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, fmt.Errorf("expected an integer, got %v", n)
		}
		return int64(n), nil
	case json.Number:
		return strconv.ParseInt(string(n), 10, 64)
	case string:
		i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("expected an integer, got %q", n)
		}
		return i, nil
	}
	return 0, fmt.Errorf("expected an integer, got %s", kindOf(v))
}

// toFloat reads a number. NaN and infinities are refused: JSON, and so
// every spec the SDK writes, cannot hold them, and the translator could not
// pass them on.
func toFloat(v any) (float64, error) {
	f, err := anyFloat(v)
	if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return 0, fmt.Errorf("expected a finite number, got %v", f)
	}
	return f, err
}

func anyFloat(v any) (float64, error) {
	switch n := v.(type) {
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case float64:
		return n, nil
	case json.Number:
		return n.Float64()
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
			return 0, fmt.Errorf("expected a number, got %q", n)
		}
		return f, nil
	}
	return 0, fmt.Errorf("expected a number, got %s", kindOf(v))
}

// normalize turns a decoded tree into the shape of a protobuf Value as JSON
// would give it: maps with string keys, []any, float64 numbers, string, bool.
func normalize(v any, at path) (any, *FieldError) {
	switch x := v.(type) {
	case nil, string, bool:
		return x, nil
	case int, int64, uint64, json.Number, float64:
		f, err := toFloat(x)
		if err != nil {
			return nil, &FieldError{Path: string(at), Msg: err.Error()}
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, at.index(i))
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	}
	m, ok := asMap(v)
	if !ok {
		return nil, &FieldError{Path: string(at), Msg: fmt.Sprintf("unsupported value %s", kindOf(v))}
	}
	out := make(map[string]any, len(m))
	for k, e := range m {
		n, err := normalize(e, at.key(k))
		if err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, nil
}
