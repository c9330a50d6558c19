package ir

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzNames are the file names every fuzz input is parsed under, one per
// way Parse picks a format (the last is sniffed).
var fuzzNames = []string{"pipeline.yaml", "pipeline.json", "pipeline.zip", "pipeline.tar.gz", "pipeline"}

// addCorpusSeeds adds every file of the SDK-compiled corpus, when it is
// present beside the repository, as a seed; the committed seeds under
// testdata/fuzz cover the case where it is not.
func addCorpusSeeds(f *testing.F) {
	_ = filepath.WalkDir(corpusDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
		return nil
	})
}

// FuzzParse checks that no input makes the loader panic and that whatever
// it accepts is a spec the rest of kfpargo can rely on: it has what
// Validate demands, validates again, and survives a JSON round trip
// unchanged (so the typed model holds everything that was accepted).
func FuzzParse(f *testing.F) {
	addCorpusSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range fuzzNames {
			p, err := Parse(name, data)
			if err != nil {
				if _, ok := err.(Errors); !ok {
					t.Fatalf("%s: error of type %T, want ir.Errors: %v", name, err, err)
				}
				continue
			}
			checkParsed(t, name, p)
		}
	})
}

func checkParsed(t *testing.T, name string, p *Pipeline) {
	t.Helper()
	if p == nil || p.Spec == nil || p.Spec.Root == nil || p.Spec.Root.DAG == nil || p.Spec.PipelineInfo.Name == "" {
		t.Fatalf("%s: accepted a spec without name, root or root DAG: %+v", name, p)
	}
	if err := Validate(p); err != nil {
		t.Fatalf("%s: accepted spec fails validation again: %v", name, err)
	}
	first, err := json.Marshal(p.Spec)
	if err != nil {
		t.Fatalf("%s: accepted spec cannot be written as JSON: %v", name, err)
	}
	again, err := Parse("again.json", first)
	if err != nil {
		t.Fatalf("%s: accepted spec rejected after a JSON round trip: %v\n%s", name, err, first)
	}
	second, err := json.Marshal(again.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("%s: JSON round trip changed the spec:\n%s\n%s", name, first, second)
	}
}
