package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kfpargo/kfpargo/cachekey"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/test/servers"
)

func putEntries(t *testing.T, s *cachestore.Store) {
	t.Helper()
	for i, e := range []struct {
		ns, pipeline, task string
		age                time.Duration
	}{
		{"team-a", "seed-mnist", "train", time.Hour},
		{"team-a", "seed-mnist", "load-data", 100 * time.Hour},
		{"team-a", "other", "x", time.Minute},
		{"team-b", "seed-mnist", "train", time.Hour},
	} {
		entry := &cachestore.Entry{Version: cachestore.EntryVersion, Key: fmt.Sprintf("%02d%062x", i, i), Scope: cachestore.NamespaceScope(e.ns),
			Params: map[string]string{"acc": "1"}, Source: cachestore.Source{Namespace: e.ns, Workflow: "wf-" + e.task, Pod: "p", Task: e.task, Pipeline: e.pipeline},
			Created: time.Now().Add(-e.age), Material: json.RawMessage(`{"image":"python"}`)}
		if err := s.Put(context.Background(), entry, 24*time.Hour*30); err != nil {
			t.Fatal(err)
		}
	}
}

func cacheCLI(t *testing.T, addr string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := run(append(append([]string{"cache"}, args...), "--redis-addr", addr), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCacheCommands(t *testing.T) {
	r := servers.StartRedis(t)
	s := cachestore.New(r.Client, cachestore.Options{})
	putEntries(t, s)

	code, out, _ := cacheCLI(t, r.Addr, "ls", "-n", "team-a")
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(out, "load-data") || strings.Contains(out, "ns/team-b") {
		t.Fatalf("ls -n team-a: exit %d\n%s", code, out)
	}
	code, out, _ = cacheCLI(t, r.Addr, "ls", "-A", "--pipeline", "seed-mnist", "-o", "json")
	var listed []cachestore.Entry
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed) != 3 {
		t.Fatalf("ls -A --pipeline: exit %d, %d entries\n%s", code, len(listed), out)
	}

	code, out, _ = cacheCLI(t, r.Addr, "inspect", "00000000", "-n", "team-a")
	if code != 0 || !strings.Contains(out, `"expiresIn"`) || !strings.Contains(out, `"task": "train"`) {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
	if code, _, errOut := cacheCLI(t, r.Addr, "inspect", "ffffff", "-n", "team-a"); code != 1 || !strings.Contains(errOut, "no entry") {
		t.Errorf("inspect unknown: exit %d, %s", code, errOut)
	}
	if code, _, errOut := cacheCLI(t, r.Addr, "inspect", "0", "-n", "team-a"); code != 2 || !strings.Contains(errOut, "6 characters") {
		t.Errorf("inspect short: exit %d, %s", code, errOut)
	}

	code, out, _ = cacheCLI(t, r.Addr, "purge", "-n", "team-a", "--older-than", "50h", "--dry-run")
	if code != 0 || !strings.Contains(out, "would delete 1 of 3") {
		t.Fatalf("purge --dry-run: exit %d\n%s", code, out)
	}
	code, out, _ = cacheCLI(t, r.Addr, "purge", "-n", "team-a", "--pipeline", "seed-mnist")
	if code != 0 || !strings.Contains(out, "deleted 2 of 3") {
		t.Fatalf("purge --pipeline: exit %d\n%s", code, out)
	}
	if code, _, errOut := cacheCLI(t, r.Addr, "purge", "-A"); code != 2 || !strings.Contains(errOut, "needs --pipeline or --older-than") {
		t.Errorf("purge -A: exit %d, %s", code, errOut)
	}
	code, out, _ = cacheCLI(t, r.Addr, "rm", "02000000", "-n", "team-a")
	if code != 0 || !strings.Contains(out, "deleted 02") {
		t.Fatalf("rm: exit %d\n%s", code, out)
	}
	_, out, _ = cacheCLI(t, r.Addr, "ls", "-A")
	if strings.Count(out, "\n") != 2 || !strings.Contains(out, "ns/team-b") {
		t.Fatalf("what is left:\n%s", out)
	}

	_ = s.Count(context.Background(), cachestore.NamespaceScope("team-b"), "webhook_hits", 3)
	_ = s.Count(context.Background(), cachestore.NamespaceScope("team-b"), "webhook_misses", 1)
	code, out, _ = cacheCLI(t, r.Addr, "stats", "-A")
	if code != 0 || !strings.Contains(out, "ns/team-b") || !strings.Contains(out, "75%") {
		t.Fatalf("stats: exit %d\n%s", code, out)
	}

	if code, _, errOut := cacheCLI(t, "127.0.0.1:1", "ls"); code != 1 || !strings.Contains(errOut, "cache store at 127.0.0.1:1") {
		t.Errorf("unreachable Redis: exit %d, %s", code, errOut)
	}
}

func TestDiffMaterial(t *testing.T) {
	old := &cachekey.Material{Image: "py:1", Params: map[string]cachekey.Param{"hidden": {Type: "NUMBER_INTEGER", Value: 128.0}, "seed": {Type: "NUMBER_INTEGER", Value: 1.0}},
		Artifacts: map[string]cachekey.Artifact{"data": {Schema: "system.Dataset", Items: []string{"sha256:aa"}}}}
	now := &cachekey.Material{Image: "py:1", Params: map[string]cachekey.Param{"hidden": {Type: "NUMBER_INTEGER", Value: 256.0}, "seed": {Type: "NUMBER_INTEGER", Value: 1.0}},
		Artifacts: map[string]cachekey.Artifact{"data": {Schema: "system.Dataset", Items: []string{"sha256:aa"}}}}
	d := diffMaterial(old, now)
	if len(d) != 1 || !strings.Contains(d[0], "parameter hidden") || !strings.Contains(d[0], "128") || !strings.Contains(d[0], "256") {
		t.Errorf("diff %q", d)
	}
	now.Image = "py:2"
	if d := diffMaterial(old, now); len(d) != 2 || !strings.HasPrefix(d[0], "image") {
		t.Errorf("diff %q", d)
	}
}

// TestCacheCommandsTLS: the operator's commands reach a Redis that speaks
// only TLS, as the cache's ACL user, with the CA from a file.
func TestCacheCommandsTLS(t *testing.T) {
	r := servers.StartRedisWith(t, servers.RedisOptions{TLS: true, Users: []string{"kfpargo " + servers.CacheUserRules + " >cli-pw-2b9d"}})
	putEntries(t, cachestore.New(r.Client, cachestore.Options{}))
	pw := writeFile(t, "pw", "cli-pw-2b9d\n")
	login := []string{"--redis-username", "kfpargo", "--redis-password-file", pw}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"trusted", []string{"--redis-tls", "--redis-ca-file", r.CA.CAFile}, 0, "ns/team-a"},
		{"plain TCP", nil, 1, "over plain TCP: EOF (the server closed the connection: does it want TLS?)"},
		{"no CA", []string{"--redis-tls"}, 1, "certificate signed by unknown authority"},
		{"CA without TLS", []string{"--redis-ca-file", r.CA.CAFile}, 2, "need --redis-tls"},
		{"CA not PEM", []string{"--redis-tls", "--redis-ca-file", pw}, 2, "--redis-ca-file: CA: no PEM certificate"},
	} {
		code, out, errOut := cacheCLI(t, r.Addr, append(append([]string{"ls", "-A"}, login...), tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%s: exit %d, want %d and %q:\n%s%s", tc.name, code, tc.code, tc.want, out, errOut)
		}
		if strings.Contains(out+errOut, "cli-pw-2b9d") {
			t.Errorf("%s: the password is in the output", tc.name)
		}
	}
}

// TestCacheCredentialsStayOut: a wrong Redis password, from the file or the
// environment, fails the cache commands with an error that says so, and
// the password shows neither on stdout nor on stderr.
func TestCacheCredentialsStayOut(t *testing.T) {
	const (
		password = "cli-Redis-Pa55-8d3e"
		wrong    = "cli-Wr0ng-Pa55-c41a"
	)
	r := servers.StartRedis(t)
	if err := r.Client.ConfigSet(context.Background(), "requirepass", password).Err(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "PASSWORD")
	if err := os.WriteFile(file, []byte(wrong+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"wrong password in the file", "", []string{"ls", "-A", "--redis-password-file", file}, "WRONGPASS"},
		{"wrong password in the environment", wrong, []string{"stats", "-A"}, "WRONGPASS"},
		{"no password", "", []string{"purge", "-A", "--older-than", "1h"}, "NOAUTH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(step.EnvRedisPassword, tc.env)
			code, out, errOut := cacheCLI(t, r.Addr, tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "cache store at "+r.Addr) {
				t.Fatalf("exit %d, want a failure with %q:\n%s%s", code, tc.want, out, errOut)
			}
			for _, s := range []string{password, wrong} {
				if strings.Contains(out+errOut, s) {
					t.Errorf("the output holds the password %q:\n%s%s", s, out, errOut)
				}
			}
		})
	}
}
