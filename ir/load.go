package ir

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Pipeline is a loaded spec: the PipelineSpec and, when present, the
// Kubernetes platform spec that followed it.
type Pipeline struct {
	Spec     *PipelineSpec
	Platform *PlatformSpec
}

// maxArchiveMember bounds what one archive member may expand to, so a
// hostile archive cannot exhaust memory.
const maxArchiveMember = 64 << 20

// Parse decodes and validates a pipeline from the bytes of a file. name is
// used only to pick the format (.json, .yaml/.yml, .zip, .tar.gz/.tgz; any
// other name is sniffed) and appears in no error: callers prefix it.
func Parse(name string, data []byte) (*Pipeline, error) {
	docs, err := documents(name, data)
	if err != nil {
		return nil, Errors{{Msg: err.Error()}}
	}
	p := &Pipeline{Spec: &PipelineSpec{}}
	errs := decodeStrict(docs[0], p.Spec, "")
	if len(docs) == 2 {
		p.Platform = &PlatformSpec{}
		errs = append(errs, decodeStrict(docs[1], p.Platform, "")...)
	}
	if len(errs) > 0 {
		return nil, errs.errOrNil()
	}
	if err := Validate(p); err != nil {
		return nil, err
	}
	return p, nil
}

// documents returns the one or two non-empty documents of a spec file.
func documents(name string, data []byte) ([]any, error) {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".zip"):
		member, inner, err := fromZip(data)
		if err != nil {
			return nil, err
		}
		return documents(member, inner)
	case strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		member, inner, err := fromTarGz(data)
		if err != nil {
			return nil, err
		}
		return documents(member, inner)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty file: expected a pipeline spec (YAML or JSON)")
	}
	if strings.HasSuffix(lower, ".json") || (!strings.HasSuffix(lower, ".yaml") && !strings.HasSuffix(lower, ".yml") && looksLikeJSON(data)) {
		return jsonDocuments(data)
	}
	return yamlDocuments(data)
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] == '{'
}

func jsonDocuments(data []byte) ([]any, error) {
	// encoding/json would turn each invalid byte into U+FFFD, so a name
	// could silently become another; YAML refuses such input, and so does
	// this.
	if err := checkUTF8(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var docs []any
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		docs = append(docs, v)
	}
	return checkDocuments(docs)
}

func checkUTF8(data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	line := 1
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return fmt.Errorf("invalid JSON: not UTF-8: byte 0x%02x at line %d", data[i], line)
		}
		if data[i] == '\n' {
			line++
		}
		i += n
	}
	return nil
}

func yamlDocuments(data []byte) ([]any, error) {
	if !isText(data) {
		return nil, errors.New("not a text file: expected a pipeline spec (YAML or JSON), a .zip or a .tar.gz")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []any
	for {
		var v any
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("invalid YAML: %v", err)
		}
		if v != nil {
			docs = append(docs, v)
		}
	}
	return checkDocuments(docs)
}

func checkDocuments(docs []any) ([]any, error) {
	switch {
	case len(docs) == 0:
		return nil, errors.New("no document: expected a pipeline spec")
	case len(docs) > 2:
		return nil, fmt.Errorf("%d documents: expected a pipeline spec and at most one platform spec", len(docs))
	}
	for i, d := range docs {
		if _, ok := asMap(d); !ok {
			return nil, fmt.Errorf("document %d is %s, expected a mapping", i+1, kindOf(d))
		}
	}
	return docs, nil
}

// isText rejects binary input (images, archives under a wrong name) early,
// so the error says what the file is rather than a YAML parse position.
func isText(data []byte) bool {
	head := data
	if len(head) > 8000 {
		head = head[:8000]
	}
	return !bytes.Contains(head, []byte{0})
}

func isSpecName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func fromZip(data []byte) (string, []byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", nil, fmt.Errorf("invalid zip archive: %v", err)
	}
	var found *zip.File
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !isSpecName(f.Name) {
			continue
		}
		if found != nil {
			return "", nil, fmt.Errorf("zip archive holds more than one spec (%s, %s)", found.Name, f.Name)
		}
		found = f
	}
	if found == nil {
		return "", nil, errors.New("zip archive holds no .yaml, .yml or .json spec")
	}
	rc, err := found.Open()
	if err != nil {
		return "", nil, fmt.Errorf("zip member %s: %v", found.Name, err)
	}
	defer rc.Close()
	b, err := readBounded(rc)
	if err != nil {
		return "", nil, fmt.Errorf("zip member %s: %v", found.Name, err)
	}
	return found.Name, b, nil
}

func fromTarGz(data []byte) (string, []byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return "", nil, fmt.Errorf("invalid gzip stream: %v", err)
	}
	tr := tar.NewReader(gz)
	var name string
	var body []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("invalid tar archive: %v", err)
		}
		if h.Typeflag != tar.TypeReg || !isSpecName(h.Name) {
			continue
		}
		if name != "" {
			return "", nil, fmt.Errorf("tar archive holds more than one spec (%s, %s)", name, h.Name)
		}
		if body, err = readBounded(tr); err != nil {
			return "", nil, fmt.Errorf("tar member %s: %v", h.Name, err)
		}
		name = h.Name
	}
	if name == "" {
		return "", nil, errors.New("tar archive holds no .yaml, .yml or .json spec")
	}
	return name, body, nil
}

func readBounded(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxArchiveMember+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxArchiveMember {
		return nil, fmt.Errorf("larger than %d MiB", maxArchiveMember>>20)
	}
	return b, nil
}
