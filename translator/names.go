package translator

import (
	"strconv"
	"strings"
)

// maxNameLen keeps template and task names readable and within what Argo and
// Kubernetes accept for names derived from them.
const maxNameLen = 63

// dnsName lowers s and keeps [a-z0-9-], collapsing other runs into one '-',
// so names stay recognisable to the person who wrote the pipeline.
func dnsName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > maxNameLen {
		out = strings.TrimRight(out[:maxNameLen], "-")
	}
	if out == "" {
		out = "x"
	}
	if out[0] >= '0' && out[0] <= '9' {
		out = "t-" + out
	}
	return out
}

// namer hands out unique names within one scope.
type namer struct {
	used map[string]bool
}

func newNamer(reserved ...string) *namer {
	n := &namer{used: map[string]bool{}}
	for _, r := range reserved {
		n.used[r] = true
	}
	return n
}

// unique returns dnsName(s), with -2, -3, ... appended when already taken.
func (n *namer) unique(s string) string {
	base := dnsName(s)
	name := base
	for i := 2; n.used[name]; i++ {
		suffix := "-" + strconv.Itoa(i)
		trimmed := base
		if len(trimmed)+len(suffix) > maxNameLen {
			trimmed = strings.TrimRight(trimmed[:maxNameLen-len(suffix)], "-")
		}
		name = trimmed + suffix
	}
	n.used[name] = true
	return name
}
