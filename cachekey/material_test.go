package cachekey

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/step"
)

const digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// baseArgs are launcher flags as the translator writes them, with Argo's
// variables filled in.
var baseArgs = []string{
	"--cache", "--image=python:3.11", "--env=A",
	"--run-name", "run-1", "--run-uid", "u1", "--namespace", "team-a", "--pod-name", "run-1-123", "--task", "train",
	"--pipeline-root", "minio://mlpipeline/v2/artifacts",
	"--param", "n:NUMBER_INTEGER=3", "--param", "cfg:STRUCT={\"b\":1,\"a\":2}",
	"--param", "opt:STRING=" + step.AbsentValue,
	"--artifact", `data:system.Dataset={"uri":"minio://b/k","sha256":"` + digest + `","size":4}`,
	"--artifact", `raw:system.Dataset={"uri":"minio://b/imported"}`,
	"--output-param", "acc:NUMBER_DOUBLE", "--output-artifact", "model:system.Model",
	"--", "python3", "-c", "train({{$.inputs.parameters['n']}})",
}

func keyOf(t *testing.T, args []string, env map[string]string) string {
	t.Helper()
	s, err := step.ParseRunArgs(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FromSpec(s, env, func(d *artifact.Descriptor) (string, error) { return "etag:" + d.URI, nil })
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.Key()
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 64 {
		t.Fatalf("key %q", k)
	}
	return k
}

// replace returns args with the first argument that has prefix old replaced.
func replace(args []string, old, new string) []string {
	out := append([]string{}, args...)
	for i, a := range out {
		if strings.HasPrefix(a, old) {
			out[i] = new
			return out
		}
	}
	panic("no argument " + old)
}

func TestKeyChangesWithWhatTheStepComputes(t *testing.T) {
	env := map[string]string{"A": "1", "PATH": "/bin"}
	base := keyOf(t, baseArgs, env)
	if keyOf(t, baseArgs, env) != base {
		t.Fatal("the same step gave two keys")
	}
	changes := map[string][]string{
		"image":          replace(baseArgs, "--image=", "--image=python:3.12"),
		"command":        replace(baseArgs, "train(", "train({{$.inputs.parameters['n']}}, 2)"),
		"parameter":      replace(baseArgs, "n:NUMBER_INTEGER=", "n:NUMBER_INTEGER=4"),
		"parameter type": replace(baseArgs, "n:NUMBER_INTEGER=", "n:STRING=3"),
		"struct value":   replace(baseArgs, "cfg:STRUCT=", `cfg:STRUCT={"b":1,"a":3}`),
		"absent→present": replace(baseArgs, "opt:STRING=", "opt:STRING="),
		"artifact digest": replace(baseArgs, "data:system.Dataset=",
			`data:system.Dataset={"uri":"minio://b/k","sha256":"`+strings.Repeat("f", 64)+`","size":4}`),
		"imported artifact": replace(baseArgs, "raw:system.Dataset=", `raw:system.Dataset={"uri":"minio://b/other"}`),
		"output type":       replace(baseArgs, "acc:NUMBER_DOUBLE", "acc:STRING"),
		"output name":       replace(baseArgs, "model:system.Model", "weights:system.Model"),
		"salt":              append([]string{"--cache-salt=v2"}, baseArgs...),
		"env list":          replace(baseArgs, "--env=A", "--env=PATH"),
	}
	for name, args := range changes {
		if keyOf(t, args, env) == base {
			t.Errorf("changing the %s kept the key", name)
		}
	}
	if keyOf(t, baseArgs, map[string]string{"A": "2", "PATH": "/bin"}) == base {
		t.Error("changing a component env value kept the key")
	}
	same := map[string][]string{
		// Where and as what the step runs is not what it computes.
		"run and pod names": replace(replace(replace(baseArgs, "run-1", "run-2"), "run-1-123", "run-2-9"), "u1", "u2"),
		"pipeline root":     replace(baseArgs, "minio://mlpipeline/v2/artifacts", "s3://other/root"),
		"artifact URI":      replace(baseArgs, "data:system.Dataset=", `data:system.Dataset={"uri":"minio://b/elsewhere","sha256":"`+digest+`","size":4}`),
		"struct key order":  replace(baseArgs, "cfg:STRUCT=", `cfg:STRUCT={"a":2,"b":1}`),
		"staleness":         append([]string{"--max-cache-staleness=1h"}, baseArgs...),
	}
	for name, args := range same {
		if keyOf(t, args, env) != base {
			t.Errorf("changing the %s changed the key", name)
		}
	}
	if keyOf(t, baseArgs, map[string]string{"A": "1", "PATH": "/usr/bin"}) != base {
		t.Error("a variable the component does not set changed the key")
	}
}

func TestFromSpecErrors(t *testing.T) {
	s, err := step.ParseRunArgs(baseArgs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromSpec(s, map[string]string{}, nil); err == nil || !strings.Contains(err.Error(), "A is not set") {
		t.Errorf("missing env: %v", err)
	}
	if _, err := FromSpec(s, map[string]string{"A": "1"}, nil); err == nil || !strings.Contains(err.Error(), "raw") {
		t.Errorf("no identify: %v", err)
	}
	boom := errors.New("HEAD failed")
	_, err = FromSpec(s, map[string]string{"A": "1"}, func(*artifact.Descriptor) (string, error) { return "", boom })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "input artifact raw") {
		t.Errorf("identify error: %v", err)
	}
}
