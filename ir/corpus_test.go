package ir

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusDir is the SDK-compiled corpus beside the repository (not copied in).
const corpusDir = "../../shared/kfp-ir-corpus"

func corpusFiles(t *testing.T, sub string) []string {
	t.Helper()
	root := filepath.Join(corpusDir, sub)
	if _, err := os.Stat(root); err != nil {
		t.Skipf("corpus not found at %s (it lives in shared/ beside the repository): %v", root, err)
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", root)
	}
	return files
}

func TestParseValidCorpus(t *testing.T) {
	files := append(corpusFiles(t, "valid"), corpusFiles(t, "argo_compatibility")...)
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, corpusDir+"/"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(f, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Spec.PipelineInfo.Name == "" || p.Spec.Root == nil {
				t.Fatalf("decoded spec lacks name or root: %+v", p.Spec.PipelineInfo)
			}
		})
	}
}

func TestParseInvalidCorpus(t *testing.T) {
	for _, f := range corpusFiles(t, "invalid") {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(f, data); err == nil {
				t.Fatal("Parse accepted an invalid spec")
			} else {
				t.Logf("rejected: %v", err)
			}
		})
	}
}
