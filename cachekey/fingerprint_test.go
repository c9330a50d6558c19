package cachekey

import "testing"

func TestFingerprint(t *testing.T) {
	base := Component{
		Image:   "python:3.11",
		Command: []string{"python3", "-c", "print(1)"},
		Args:    []string{"--n", "{{$.inputs.parameters['n']}}"},
		Env:     map[string]string{"A": "1", "B": "2"},
		Outputs: map[string]string{"model": "system.Model", "acc": "NUMBER_DOUBLE"},
	}
	fp := base.Fingerprint()
	if len(fp) != 64 {
		t.Fatalf("fingerprint %q", fp)
	}
	same := base
	same.Env = map[string]string{"B": "2", "A": "1"} // map order is irrelevant
	if same.Fingerprint() != fp {
		t.Error("equal components differ")
	}
	if (Component{Image: "x"}).Fingerprint() != (Component{Image: "x", Command: []string{}, Env: map[string]string{}}).Fingerprint() {
		t.Error("nil and empty differ")
	}
	for name, change := range map[string]func(c *Component){
		"image":       func(c *Component) { c.Image = "python:3.12" },
		"command":     func(c *Component) { c.Command = []string{"python3", "-c", "print(2)"} },
		"args":        func(c *Component) { c.Args = []string{"--n", "1"} },
		"env value":   func(c *Component) { c.Env = map[string]string{"A": "1", "B": "3"} },
		"output type": func(c *Component) { c.Outputs = map[string]string{"model": "system.Artifact", "acc": "NUMBER_DOUBLE"} },
		"output name": func(c *Component) { c.Outputs = map[string]string{"weights": "system.Model", "acc": "NUMBER_DOUBLE"} },
		// An argument boundary moved: the same text, split differently.
		"arg split": func(c *Component) { c.Args = []string{"--n {{$.inputs.parameters['n']}}"} },
	} {
		c := base
		change(&c)
		if c.Fingerprint() == fp {
			t.Errorf("changing the %s kept the fingerprint", name)
		}
	}
	if !(Component{Image: "r/x@sha256:abc"}).Pinned() || base.Pinned() {
		t.Error("Pinned")
	}
}
