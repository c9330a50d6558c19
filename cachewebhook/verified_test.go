package cachewebhook

import (
	"fmt"
	"testing"
	"time"
)

func TestVerifiedCache(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var off *VerifiedCache = NewVerifiedCache(0)
	off.Add("u", "s", t0)
	if off.Recent("u", "s", t0) {
		t.Error("a disabled cache remembered")
	}
	c := NewVerifiedCache(5 * time.Second)
	c.Add("minio://b/k", "aa", t0)
	for _, tc := range []struct {
		uri, sha string
		at       time.Duration
		want     bool
	}{
		{"minio://b/k", "aa", 4 * time.Second, true},
		{"minio://b/k", "aa", 5 * time.Second, false},
		{"minio://b/k", "bb", time.Second, false}, // another digest at the same URI
		{"minio://b/other", "aa", time.Second, false},
	} {
		if got := c.Recent(tc.uri, tc.sha, t0.Add(tc.at)); got != tc.want {
			t.Errorf("Recent(%s, %s, +%s) = %v", tc.uri, tc.sha, tc.at, got)
		}
	}
	c.Max = 10
	for i := range 25 {
		c.Add(fmt.Sprint(i), "x", t0)
	}
	if n := len(c.seen); n > 10 {
		t.Errorf("%d entries, bound 10", n)
	}
}
