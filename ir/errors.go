package ir

import (
	"sort"
	"strconv"
	"strings"
)

// FieldError is a problem at one field path of a spec.
type FieldError struct {
	Path string // e.g. root.dag.tasks.train.componentRef.name
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors is every problem found in one spec, in path order.
type Errors []*FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// errOrNil returns nil for an empty list so callers can return it as error.
func (es Errors) errOrNil() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Path < es[j].Path })
	return es
}

// path builds field paths; keys that are not plain identifiers are quoted.
type path string

func (p path) field(name string) path {
	if p == "" {
		return path(name)
	}
	return path(string(p) + "." + name)
}

func (p path) key(k string) path {
	if isPlainKey(k) {
		return p.field(k)
	}
	return path(string(p) + "[" + strconv.Quote(k) + "]")
}

func (p path) index(i int) path {
	return path(string(p) + "[" + strconv.Itoa(i) + "]")
}

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
