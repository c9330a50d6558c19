package nodeagent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestImageMap(t *testing.T) {
	m, err := NewImageMap([]string{
		"quay.io/argoproj/argoexec=/run/kfpargo/x/argoexec",
		"ghcr.io/kfpargo/launcher:dev=/run/kfpargo/x/launcher",
		"python=/opt/python/bin",
		"localhost:5000/tool=/opt/tool",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image, wantDir string
	}{
		{"quay.io/argoproj/argoexec:v3.7.9", "/run/kfpargo/x/argoexec"},
		{"quay.io/argoproj/argoexec@sha256:0123abcd", "/run/kfpargo/x/argoexec"},
		{"quay.io/argoproj/argoexec:v3.7.9@sha256:0123abcd", "/run/kfpargo/x/argoexec"},
		{"ghcr.io/kfpargo/launcher", "/run/kfpargo/x/launcher"},
		{"ghcr.io/kfpargo/launcher:other-tag", "/run/kfpargo/x/launcher"},
		{"python:3.12", "/opt/python/bin"},
		{"docker.io/library/python:3.12", "/opt/python/bin"},
		{"docker.io/python", "/opt/python/bin"},
		{"index.docker.io/library/python", "/opt/python/bin"},
		{"localhost:5000/tool:1", "/opt/tool"},
		{"localhost:5000/other", ""},
		{"quay.io/argoproj/workflow-controller:v3.7.9", ""},
		{"alpine:3", ""},
		{"someuser/python", ""},
	}
	for _, tc := range tests {
		t.Run(tc.image, func(t *testing.T) {
			dir, ok := m.BinDir(tc.image)
			if dir != tc.wantDir || ok != (tc.wantDir != "") {
				t.Errorf("BinDir(%q) = %q, %v; want %q", tc.image, dir, ok, tc.wantDir)
			}
			wantPath := DefaultPath
			if tc.wantDir != "" {
				wantPath = tc.wantDir + ":" + DefaultPath
			}
			if got := m.Path(tc.image); got != wantPath {
				t.Errorf("Path(%q) = %q, want %q", tc.image, got, wantPath)
			}
		})
	}
}

func TestImageMapErrors(t *testing.T) {
	tests := []struct {
		name  string
		flags []string
	}{
		{"no equals sign", []string{"quay.io/argoproj/argoexec"}},
		{"empty directory", []string{"quay.io/argoproj/argoexec="}},
		{"empty repository", []string{"=/bin"}},
		{"same repository twice", []string{"alpine:3=/a", "docker.io/library/alpine=/b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewImageMap(tc.flags); err == nil {
				t.Errorf("NewImageMap(%q) succeeded, want an error", tc.flags)
			}
		})
	}
}

func TestImageEntrypoint(t *testing.T) {
	one, two := t.TempDir(), t.TempDir()
	for _, f := range []struct {
		dir, name string
		mode      os.FileMode
	}{
		{one, "launcher", 0o755}, {one, "README", 0o644},
		{two, "a", 0o755}, {two, "b", 0o755},
	} {
		if err := os.WriteFile(filepath.Join(f.dir, f.name), []byte("x"), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewImageMap([]string{"one=" + one, "two=" + two})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image, want string
	}{
		{"one:latest", filepath.Join(one, "launcher")},
		{"two", ""},
		{"unmapped", ""},
	}
	for _, tc := range tests {
		got, ok := m.Entrypoint(tc.image)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Entrypoint(%q) = %q, %v; want %q", tc.image, got, ok, tc.want)
		}
	}
}
