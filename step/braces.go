package step

import "strings"

// Argo substitutes every {{...}} tag it recognises in a template, so a
// user's command holding, say, `echo {{workflow.name}}` would not reach the
// container as written (KFP passes it literally). The translator breaks
// each "{{" of such a command with a marker and passes FlagEscapedBraces;
// the launcher removes the markers. A marker in the text itself is doubled,
// so the escape is exact.

// FlagEscapedBraces tells `launcher run` that COMMAND's "{{" were escaped.
const FlagEscapedBraces = "--escaped-braces"

// braceMarker is visible in the workflow YAML, so a reader sees the escape:
// "{{workflow.name}}" is written "{·{workflow.name}}".
const braceMarker = "·"

// NeedsBraceEscape reports whether Argo would look at s: it holds "{{"
// other than a KFP placeholder's "{{$", which Argo leaves alone.
func NeedsBraceEscape(s string) bool {
	for i := strings.Index(s, "{{"); i >= 0; {
		if !strings.HasPrefix(s[i+2:], "$") {
			return true
		}
		j := strings.Index(s[i+2:], "{{")
		if j < 0 {
			return false
		}
		i += 2 + j
	}
	return false
}

// EscapeBraces breaks every "{{" in s and doubles existing markers. It
// works on bytes, so text that is not UTF-8 passes through unchanged.
func EscapeBraces(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], braceMarker):
			b.WriteString(braceMarker + braceMarker)
			i += len(braceMarker) - 1
		case s[i] == '{' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString("{" + braceMarker)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// UnescapeBraces undoes EscapeBraces.
func UnescapeBraces(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], braceMarker+braceMarker):
			b.WriteString(braceMarker)
			i += 2*len(braceMarker) - 1
		case strings.HasPrefix(s[i:], braceMarker):
			i += len(braceMarker) - 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
