package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	argofake "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/kfpargo/kfpargo/runstatus"
	"github.com/kfpargo/kfpargo/runview/fixture"
)

// reportCLI runs `kfpargo ARGS` with the report command present (main.go
// adds it; until then the test does).
func reportCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCommand(strings.NewReader(""), &out, &errb)
	if c, _, err := root.Find([]string{"report"}); err != nil || c == root {
		root.AddCommand(newReportCommand())
	}
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

// The fake clients stand in for the API server to test how the command
// reads a run; the page itself is tested in package report.
func TestReportFromCluster(t *testing.T) {
	fx, err := fixture.Load("../../runview/testdata/mnist-run2-cached.json")
	if err != nil {
		t.Fatal(err)
	}
	kube := kubefake.NewClientset()
	for i := range fx.Pods {
		if _, err := kube.CoreV1().Pods("argo").Create(context.Background(), &fx.Pods[i], metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := runstatus.Clients{Argo: argofake.NewSimpleClientset(&fx.Workflow), Kube: kube}
	var warn bytes.Buffer
	r, err := loadRun(context.Background(), c, "https://fake", "argo", "mnist-classification-gfqxk", &warn)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.html")
	if err := writeReport(r, file, nil); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(file)
	if n := strings.Count(string(page), `<g class="node cached"`); n != 2 {
		t.Errorf("the report marks %d cached steps, want 2 (the pods' cache decisions were read)", n)
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: %s", warn.String())
	}

	_, err = loadRun(context.Background(), c, "https://fake", "team-a", "mnist-classification-gfqxk", &warn)
	if err == nil || err.Error() != `run "mnist-classification-gfqxk" not found in namespace "team-a" (server https://fake)` {
		t.Errorf("unknown run: %v", err)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	// A kubeconfig whose server nothing listens on.
	kc := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns1}}]
users: [{name: u, user: {token: t}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no output", []string{"report", "r1", "--kubeconfig", kc}, true, "--output (-o) is required"},
		{"no run", []string{"report", "-o", "x.html"}, true, "report takes one RUN"},
		{"unknown flag", []string{"report", "r1", "-o", "x.html", "--bogus"}, true, "unknown flag: --bogus"},
		{"no cluster", []string{"report", "r1", "-o", filepath.Join(dir, "x.html"), "--kubeconfig", kc}, false, "cannot reach the cluster at https://127.0.0.1:1"},
		{"bad context", []string{"report", "r1", "-o", "x.html", "--kubeconfig", kc, "--context", "nope"}, true, `--context: no context "nope" in the kubeconfig`},
		{"no kubeconfig", []string{"report", "r1", "-o", "x.html", "--kubeconfig", filepath.Join(dir, "missing")}, false, "kubeconfig:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := reportCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			var u usageError
			if got := errors.As(err, &u); got != tc.usage {
				t.Errorf("usage error (exit 2) = %v, want %v: %v", got, tc.usage, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.html")); err == nil {
		t.Error("a file was written although the run could not be read")
	}
}

func TestReportHelp(t *testing.T) {
	out, _, err := reportCLI(t, "report", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kfpargo report seed-mnist-x7k2p -o report.html", "--kubeconfig", "--context", "-n, --namespace", "-o, --output"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
}
