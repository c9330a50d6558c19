package translator

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/argoproj/argo-workflows/v3/workflow/validate"

	"github.com/kfpargo/kfpargo/ir"
)

// FuzzTranslate checks that no spec the loader accepts makes the translator
// or the emitter panic, and that every translation that succeeds is a
// Workflow Argo accepts, emitted the same way twice.
func FuzzTranslate(f *testing.F) {
	// The corpus, when present beside the repository, seeds the fuzzer with
	// every construct the SDK emits; testdata/fuzz holds small hand-written
	// seeds for when it is not.
	_ = filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		// No extension: Parse sniffs JSON or YAML, so both stay reachable.
		p, err := ir.Parse("pipeline", data)
		if err != nil {
			return
		}
		opts := Options{Params: requiredParams(p)}
		wf, err := Translate(p, opts)
		if err != nil {
			return
		}
		out, err := MarshalYAML(wf)
		if err != nil {
			t.Fatalf("translated workflow cannot be emitted: %v", err)
		}
		if err := validate.ValidateWorkflow(nil, nil, wf, nil, validate.ValidateOpts{Submit: true}); err != nil {
			t.Fatalf("Argo rejects the workflow: %v\n%s", err, out)
		}
		again, err := Translate(p, opts)
		if err != nil {
			t.Fatalf("second translation failed: %v", err)
		}
		if b, _ := MarshalYAML(again); !bytes.Equal(b, out) {
			t.Fatalf("translation is not deterministic:\n%s\n---\n%s", out, b)
		}
	})
}
