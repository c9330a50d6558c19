package imageconfig

import (
	"context"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestLookup pushes images to a real registry (go-containerregistry's
// in-process one) and reads their entrypoints back.
func TestLookup(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	push := func(name string, cfg v1.Config) string {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Config(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ref := host + "/" + name
		if err := crane.Push(img, ref, crane.Insecure); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	ctx := context.Background()
	ref := push("tools:1", v1.Config{Entrypoint: []string{"/bin/tool", "--verbose"}, Cmd: []string{"serve"}})
	got, err := Lookup(ctx, ref, 10*time.Second, crane.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Config{Entrypoint: []string{"/bin/tool", "--verbose"}, Cmd: []string{"serve"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	// Kubernetes semantics: the container's args replace CMD.
	if a := got.Argv([]string{"--port", "1"}); !reflect.DeepEqual(a, []string{"/bin/tool", "--verbose", "--port", "1"}) {
		t.Errorf("with args: %q", a)
	}
	if a := got.Argv(nil); !reflect.DeepEqual(a, []string{"/bin/tool", "--verbose", "serve"}) {
		t.Errorf("without args: %q", a)
	}

	empty := push("empty:1", v1.Config{})
	if _, err := Lookup(ctx, empty, 10*time.Second, crane.Insecure); err == nil || !strings.Contains(err.Error(), "neither an ENTRYPOINT nor a CMD") {
		t.Errorf("image without either: %v", err)
	}
	if _, err := Lookup(ctx, host+"/missing:1", 10*time.Second, crane.Insecure); err == nil || !strings.Contains(err.Error(), host+"/missing:1") {
		t.Errorf("missing image: %v", err)
	}
}

func TestParseEntrypoint(t *testing.T) {
	for _, tc := range []struct {
		flag, image string
		want        []string
		err         string
	}{
		{"gcr.io/x/y:1=python -m app", "gcr.io/x/y:1", []string{"python", "-m", "app"}, ""},
		{`img=["sh", "-c", "echo a b"]`, "img", []string{"sh", "-c", "echo a b"}, ""},
		{"img=", "", nil, "want IMAGE=CMD"},
		{"img=[1]", "", nil, "not a JSON array of strings"},
	} {
		image, ep, err := ParseEntrypoint(tc.flag)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, want %q", tc.flag, err, tc.err)
			}
			continue
		}
		if err != nil || image != tc.image || !reflect.DeepEqual(ep, tc.want) {
			t.Errorf("%q: got %q %q %v", tc.flag, image, ep, err)
		}
	}
}
