package imageconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
)

// Config is what an image runs when a container names no command.
type Config struct {
	Entrypoint []string
	Cmd        []string
}

// Argv is what Kubernetes runs for a container with no command: the
// image's entrypoint, followed by the container's args if it has any, else
// the image's CMD.
func (c Config) Argv(args []string) []string {
	out := append([]string{}, c.Entrypoint...)
	if len(args) > 0 {
		return append(out, args...)
	}
	return append(out, c.Cmd...)
}

// Lookup reads image's config from its registry, with the credentials of
// the local Docker config (anonymous when there are none). A lookup takes at
// most timeout.
func Lookup(ctx context.Context, image string, timeout time.Duration, opts ...crane.Option) (Config, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	opts = append([]crane.Option{crane.WithContext(ctx), crane.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	raw, err := crane.Config(image, opts...)
	if err != nil {
		return Config{}, fmt.Errorf("read the config of %s: %w", image, err)
	}
	var f struct {
		Config struct {
			Entrypoint []string `json:"Entrypoint"`
			Cmd        []string `json:"Cmd"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return Config{}, fmt.Errorf("the config of %s is not valid JSON: %w", image, err)
	}
	if len(f.Config.Entrypoint)+len(f.Config.Cmd) == 0 {
		return Config{}, fmt.Errorf("%s has neither an ENTRYPOINT nor a CMD", image)
	}
	return Config{Entrypoint: f.Config.Entrypoint, Cmd: f.Config.Cmd}, nil
}

// ParseEntrypoint reads the CMD of an --image-entrypoint IMAGE=CMD flag: a
// JSON array (["python", "-m", "app"]) or words split on spaces.
func ParseEntrypoint(flag string) (image string, entrypoint []string, err error) {
	image, cmd, ok := strings.Cut(flag, "=")
	if !ok || image == "" || strings.TrimSpace(cmd) == "" {
		return "", nil, fmt.Errorf("--image-entrypoint %q: want IMAGE=CMD", flag)
	}
	if strings.HasPrefix(strings.TrimSpace(cmd), "[") {
		if err := json.Unmarshal([]byte(cmd), &entrypoint); err != nil {
			return "", nil, fmt.Errorf("--image-entrypoint %s: CMD is not a JSON array of strings: %v", image, err)
		}
	} else {
		entrypoint = strings.Fields(cmd)
	}
	if len(entrypoint) == 0 {
		return "", nil, fmt.Errorf("--image-entrypoint %s: empty CMD", image)
	}
	return image, entrypoint, nil
}
