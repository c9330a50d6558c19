package cachekey

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Version prefixes every encoding, so a change of what goes into a key
// changes every key instead of colliding with old entries.
const Version = "kfpargo-cache-v1"

// Component is what makes a step's results what they are, as written in the
// spec. Resources, scheduling and similar settings change how it runs, not
// what it computes, and stay out.
type Component struct {
	// Image is the image reference; pinned by digest (name@sha256:...) it
	// identifies the bytes, otherwise only the tag, which may move.
	Image   string
	Command []string
	Args    []string
	Env     map[string]string
	// Outputs maps each output name to its type (parameter type or
	// artifact schema title).
	Outputs map[string]string
}

// Pinned reports whether the image is referenced by digest.
func (c Component) Pinned() bool { return strings.Contains(c.Image, "@sha256:") }

// Fingerprint is the hex SHA-256 of the component's canonical encoding:
// the version, then JSON with fixed field order and sorted map keys (which
// encoding/json guarantees), nil and empty slices and maps alike.
func (c Component) Fingerprint() string {
	canon := struct {
		Image   string            `json:"image"`
		Command []string          `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env"`
		Outputs map[string]string `json:"outputs"`
	}{c.Image, nonNil(c.Command), nonNil(c.Args), nonNilMap(c.Env), nonNilMap(c.Outputs)}
	b, err := json.Marshal(canon)
	if err != nil {
		// Strings, slices and maps of strings always marshal.
		panic(err)
	}
	h := sha256.New()
	h.Write([]byte(Version + "\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
