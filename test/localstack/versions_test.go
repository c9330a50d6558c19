package localstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestToolsModulesPinVersions checks that the tools modules build the
// versions the cached binaries are named after.
func TestToolsModulesPinVersions(t *testing.T) {
	repo, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tools, module, version string
	}{
		{"etcd", "go.etcd.io/etcd/server/v3", EtcdVersion},
		{"kubernetes", "k8s.io/kubernetes", KubernetesVersion},
		{"argo", "github.com/argoproj/argo-workflows/v3", ArgoVersion},
	}
	for _, tc := range tests {
		t.Run(tc.tools, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(repo, "test", "tools", tc.tools, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), tc.module+" "+tc.version+"\n") {
				t.Errorf("test/tools/%s/go.mod does not require %s %s", tc.tools, tc.module, tc.version)
			}
		})
	}
}

func TestImageRepository(t *testing.T) {
	tests := []struct{ image, want string }{
		{"quay.io/argoproj/argoexec:v3.7.9", "quay.io/argoproj/argoexec"},
		{"ghcr.io/kfpargo/launcher:dev", "ghcr.io/kfpargo/launcher"},
		{"localhost:5000/launcher", "localhost:5000/launcher"},
		{"localhost:5000/launcher:v1@sha256:abcd", "localhost:5000/launcher"},
		{"alpine", "alpine"},
	}
	for _, tc := range tests {
		if got := imageRepository(tc.image); got != tc.want {
			t.Errorf("imageRepository(%q) = %q, want %q", tc.image, got, tc.want)
		}
	}
}
