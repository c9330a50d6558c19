package mountinfo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:          "/plain",
		`/with\040space`:  "/with space",
		`/tab\011x`:       "/tab\tx",
		`/back\134slash`:  `/back\slash`,
		`/not\08octal`:    `/not\08octal`,
		`/short\04`:       `/short\04`,
		`/end\040`:        "/end ",
		`\040\040`:        "  ",
		`/mixed\040a\040`: "/mixed a ",
	} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadAndInUse(t *testing.T) {
	f := filepath.Join(t.TempDir(), "mountinfo")
	_ = os.WriteFile(f, []byte("22 1 8:1 / / rw - ext4 /dev/vda rw\n30 22 0:5 / /run/with\\040space rw - tmpfs tmpfs rw\nshort line\n"), 0o644)
	got, err := Read(f)
	if err != nil || strings.Join(got, "|") != "/|/run/with space" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	inUse, err := InUse()
	if err != nil || !inUse["/"] || !inUse["/proc"] {
		t.Fatalf("InUse misses / or /proc: %v", err)
	}
}

func TestRemoveIfEmpty(t *testing.T) {
	dir := t.TempDir()
	empty, full, file, busy := filepath.Join(dir, "e"), filepath.Join(dir, "f"), filepath.Join(dir, "x"), filepath.Join(dir, "b")
	_ = os.Mkdir(empty, 0o755)
	_ = os.MkdirAll(filepath.Join(full, "child"), 0o755)
	_ = os.WriteFile(file, nil, 0o644)
	_ = os.Mkdir(busy, 0o755)
	for _, tc := range []struct {
		path    string
		wantErr bool
		gone    bool
	}{{empty, false, true}, {file, false, true}, {full, true, false}, {busy, true, false}, {filepath.Join(dir, "missing"), false, true}} {
		err := RemoveIfEmpty(tc.path, map[string]bool{busy: true})
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v", tc.path, err)
		}
		if _, statErr := os.Lstat(tc.path); os.IsNotExist(statErr) != tc.gone {
			t.Errorf("%s: gone=%v, want %v", tc.path, os.IsNotExist(statErr), tc.gone)
		}
	}
}
