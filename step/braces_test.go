package step

import "testing"

func TestBraceEscape(t *testing.T) {
	for _, tc := range []struct {
		in, escaped string
		needs       bool
	}{
		{"echo {{workflow.name}}", "echo {·{workflow.name}}", true},
		{"{{$.inputs.parameters['x']}}", "{·{$.inputs.parameters['x']}}", false},
		{"a {{$.x}} b {{=1}}", "a {·{$.x}} b {·{=1}}", true},
		{"{{{", "{·{·{", true},
		{"x·y {{", "x··y {·{", true},
		{"{·{", "{··{", false},
		{"plain", "plain", false},
		{"", "", false},
	} {
		if got := NeedsBraceEscape(tc.in); got != tc.needs {
			t.Errorf("NeedsBraceEscape(%q) = %v", tc.in, got)
		}
		got := EscapeBraces(tc.in)
		if got != tc.escaped {
			t.Errorf("EscapeBraces(%q) = %q, want %q", tc.in, got, tc.escaped)
		}
		if back := UnescapeBraces(got); back != tc.in {
			t.Errorf("UnescapeBraces(%q) = %q, want %q", got, back, tc.in)
		}
	}
}

func FuzzBraceEscape(f *testing.F) {
	for _, s := range []string{"{{a}}", "·{{", "{·{", "{{{{", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := EscapeBraces(s)
		if NeedsBraceEscape(e) && containsArgoTag(e) {
			t.Fatalf("escaped %q still has a tag: %q", s, e)
		}
		if back := UnescapeBraces(e); back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

func containsArgoTag(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && s[i+1] == '{' {
			return true
		}
	}
	return false
}
