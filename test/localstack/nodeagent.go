package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// imageRepository strips a tag or digest from an image reference.
func imageRepository(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	// A colon after the last slash starts a tag; one before it is a
	// registry port.
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

// stageImages puts each mapped binary alone into a directory under
// imagesDir and returns the node agent's --image flags.
func (s *Stack) stageImages() ([]string, error) {
	type staged struct{ image, bin, name string }
	images := []staged{
		{ExecutorImage, s.Binaries.Argoexec, "argoexec"},
		// What manifests/overlays/dev runs: the images' entrypoints are
		// these binaries (Redis's is a script, below).
		{MinioImage, s.Binaries.Minio, "minio"},
	}
	if s.Binaries.Launcher != "" {
		images = append(images, staged{s.cfg.LauncherImage, s.Binaries.Launcher, "launcher"})
	}
	if s.Binaries.CacheWebhook != "" {
		images = append(images, staged{CacheWebhookImage, s.Binaries.CacheWebhook, "cachewebhook"})
	}
	root := imagesDir(s.StateDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("stage images: %w", err)
	}
	// Tells other stacks' clean-up that this one is alive.
	if err := os.WriteFile(filepath.Join(root, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("stage images: %w", err)
	}
	var flags []string
	for _, im := range images {
		dir := filepath.Join(root, im.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("stage image %s: %w", im.image, err)
		}
		if err := linkOrCopy(im.bin, filepath.Join(dir, im.name)); err != nil {
			return nil, fmt.Errorf("stage image %s: %w", im.image, err)
		}
		flags = append(flags, "--image", imageRepository(im.image)+"="+dir)
	}
	redisDir := filepath.Join(root, "redis")
	if err := os.MkdirAll(redisDir, 0o755); err != nil {
		return nil, fmt.Errorf("stage image %s: %w", RedisImage, err)
	}
	if err := os.WriteFile(filepath.Join(redisDir, "docker-entrypoint.sh"), []byte(redisEntrypoint(s.Binaries.Redis)), 0o755); err != nil {
		return nil, fmt.Errorf("stage image %s: %w", RedisImage, err)
	}
	flags = append(flags, "--image", imageRepository(RedisImage)+"="+redisDir)
	for _, image := range slices.Sorted(maps.Keys(s.cfg.ImageDirs)) {
		flags = append(flags, "--image", imageRepository(image)+"="+s.cfg.ImageDirs[image])
	}
	return flags, nil
}

// redisEntrypoint stands in for the official redis image's
// docker-entrypoint.sh, running Debian's redis-server: flags alone mean
// redis-server, and without a config file protected mode is turned off
// (the image does the same: clients are other pods, not loopback).
func redisEntrypoint(server string) string {
	return `#!/bin/sh
set -e
if [ "${1#-}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" = redis-server ]; then
	shift
	case "${1:-}" in
	*.conf) exec ` + server + ` "$@" ;;
	esac
	exec ` + server + ` "$@" --protected-mode no
fi
exec "$@"
`
}

// linkOrCopy hard-links src to dst, copying when they are on different
// file systems (/run is often a tmpfs).
func linkOrCopy(src, dst string) error {
	_ = os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// startNodeAgent runs the process node agent and waits for its Node to be
// Ready.
func (s *Stack) startNodeAgent(ctx context.Context) error {
	imageFlags, err := s.stageImages()
	if err != nil {
		return err
	}
	nodeDir := filepath.Join(s.StateDir, "node")
	if err := os.MkdirAll(nodeDir, 0o755); err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	args := append([]string{
		"--kubeconfig", s.Kubeconfig,
		"--node-name", s.NodeName,
		"--state-dir", nodeDir,
		"--bridge", s.network.Bridge,
		"--pod-cidr", s.network.PodCIDR.String(),
		"--service-cidr", s.network.ServiceCIDR.String(),
	}, imageFlags...)
	spec := childSpec{name: "nodeagent", path: s.Binaries.NodeAgent, args: args}
	// It has containers to stop and mounts to undo.
	spec.grace = 3 * s.cfg.StopGrace
	c, err := s.start(spec)
	if err != nil {
		return err
	}
	kc, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	return waitReady(ctx, c, time.Minute, func(ctx context.Context) error {
		node, err := kc.CoreV1().Nodes().Get(ctx, s.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				if cond.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node %s Ready=%s: %s", s.NodeName, cond.Status, cond.Message)
			}
		}
		return errors.New("node has no Ready condition yet")
	})
}
