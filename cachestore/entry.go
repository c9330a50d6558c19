package cachestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/kfpargo/kfpargo/artifact"
)

// Scope is where an entry is visible: one namespace, or the whole cluster.
type Scope string

// ClusterScope shares entries across namespaces.
const ClusterScope Scope = "cluster"

const namespacePrefix = "ns/"

// NamespaceScope is the scope of one namespace.
func NamespaceScope(namespace string) Scope { return Scope(namespacePrefix + namespace) }

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Validate checks that the scope is the cluster or a valid namespace's.
func (s Scope) Validate() error {
	if s == ClusterScope {
		return nil
	}
	ns, ok := strings.CutPrefix(string(s), namespacePrefix)
	if !ok || !dnsLabel.MatchString(ns) {
		return fmt.Errorf("scope %q is neither %q nor %s<namespace>", s, ClusterScope, namespacePrefix)
	}
	return nil
}

// EntryVersion is the version of the entry encoding.
const EntryVersion = 1

// MaxEntryBytes bounds an encoded entry.
const MaxEntryBytes = 512 << 10

// Entry is a step's recorded outputs.
type Entry struct {
	Version int    `json:"version"`
	Key     string `json:"key"`
	Scope   Scope  `json:"scope"`
	// Params are output parameter values as Argo holds them.
	Params    map[string]string              `json:"params,omitempty"`
	Artifacts map[string]artifact.Descriptor `json:"artifacts,omitempty"`
	// Metrics is the step's kfpargo-metrics parameter value, if any.
	Metrics string    `json:"metrics,omitempty"`
	Source  Source    `json:"source"`
	Created time.Time `json:"created"`
	// Material is what the key was computed from, for explanations.
	Material json.RawMessage `json:"material,omitempty"`
	// Signature is the hex HMAC-SHA256 of the rest (Keyring), when the
	// installation has a key.
	Signature string `json:"signature,omitempty"`
}

// Source is the run and pod that produced an entry.
type Source struct {
	Namespace string `json:"namespace"`
	Workflow  string `json:"workflow"`
	Pod       string `json:"pod"`
	Task      string `json:"task"`
	Pipeline  string `json:"pipeline,omitempty"`
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidKey reports whether k looks like a cache key (a hex SHA-256).
func ValidKey(k string) bool { return hex64.MatchString(k) }

// Validate checks an entry before it is stored or used; errors name the field.
func (e *Entry) Validate() error {
	var errs []error
	if e.Version != EntryVersion {
		errs = append(errs, fmt.Errorf("version: %d, want %d", e.Version, EntryVersion))
	}
	if !ValidKey(e.Key) {
		errs = append(errs, fmt.Errorf("key: %q is not 64 lowercase hex digits", e.Key))
	}
	if err := e.Scope.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("scope: %w", err))
	}
	for name := range e.Params {
		if name == "" {
			errs = append(errs, errors.New("params: an empty name"))
		}
	}
	for name, d := range e.Artifacts {
		switch {
		case name == "":
			errs = append(errs, errors.New("artifacts: an empty name"))
		case d.URI == "":
			errs = append(errs, fmt.Errorf("artifacts.%s.uri: empty", name))
		case !hex64.MatchString(d.SHA256):
			errs = append(errs, fmt.Errorf("artifacts.%s.sha256: %q is not 64 lowercase hex digits", name, d.SHA256))
		}
	}
	if e.Signature != "" && !hex64.MatchString(e.Signature) {
		errs = append(errs, fmt.Errorf("signature: %q is not 64 lowercase hex digits", e.Signature))
	}
	if e.Created.IsZero() {
		errs = append(errs, errors.New("created: not set"))
	}
	return errors.Join(errs...)
}

// Encode validates and encodes an entry.
func (e *Entry) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("invalid cache entry: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode cache entry: %w", err)
	}
	if len(b) > MaxEntryBytes {
		return nil, fmt.Errorf("cache entry of %d bytes is larger than %d", len(b), MaxEntryBytes)
	}
	return b, nil
}

// DecodeEntry decodes strictly: unknown fields and trailing data are
// errors, as is anything over MaxEntryBytes or failing Validate.
func DecodeEntry(b []byte) (*Entry, error) {
	if len(b) > MaxEntryBytes {
		return nil, fmt.Errorf("cache entry of %d bytes is larger than %d", len(b), MaxEntryBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var e Entry
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode cache entry: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode cache entry: data after the entry")
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("invalid cache entry: %w", err)
	}
	return &e, nil
}
