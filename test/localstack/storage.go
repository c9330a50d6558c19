package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
)

// startMinio runs a single-drive MinIO with generated root credentials and
// creates Bucket.
func (s *Stack) startMinio(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	dataDir := filepath.Join(s.StateDir, "data", "minio")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("minio: %w", err)
	}
	s.S3Endpoint = s.hostAddr(ports[0])
	s.S3AccessKey = "kfpargo-" + randomHex(4)
	s.S3SecretKey = randomHex(16)
	env := append(baseEnv(s.StateDir),
		"MINIO_ROOT_USER="+s.S3AccessKey,
		"MINIO_ROOT_PASSWORD="+s.S3SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	s.minioSpec = childSpec{
		name: "minio",
		path: s.Binaries.Minio,
		args: []string{"server", dataDir,
			"--address", s.S3Endpoint,
			// Without it the console listens on a random port on all interfaces.
			"--console-address", loopback(ports[1]),
			"--certs-dir", filepath.Join(s.StateDir, "home", "minio-certs"),
		},
		env: env,
	}
	if err := s.StartMinio(ctx); err != nil {
		return err
	}
	mc, err := minio.New(s.S3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.S3AccessKey, s.S3SecretKey, "")})
	if err != nil {
		return fmt.Errorf("minio client: %w", err)
	}
	if err := mc.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("minio: create bucket %s: %w", s.Bucket, err)
	}
	return nil
}

// StartMinio (re)starts MinIO, unless it runs, on its address and data
// directory, so what it stored is still there, and waits until it is ready; StopMinio kills
// it (SIGKILL: an upload in flight is cut off). Fault tests use them.
func (s *Stack) StartMinio(ctx context.Context) error {
	if s.minio != nil && !s.minio.exited() {
		return nil
	}
	c, err := s.start(s.minioSpec)
	if err != nil {
		return err
	}
	s.minio = c
	hc := &http.Client{Timeout: 2 * time.Second}
	return waitReady(ctx, c, time.Minute, func(ctx context.Context) error {
		return getOK(ctx, hc, "http://"+s.S3Endpoint+"/minio/health/ready")
	})
}

// StopMinio kills MinIO.
func (s *Stack) StopMinio() {
	if s.minio != nil {
		s.minio.kill(s.cfg.Logger)
		s.minio = nil
	}
}

// startRedis runs Debian's redis-server without persistence.
func (s *Stack) startRedis(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	dir := filepath.Join(s.StateDir, "data", "redis")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	s.RedisAddr = s.hostAddr(ports[0])
	s.redisSpec = childSpec{
		name: "redis",
		path: s.Binaries.Redis,
		args: []string{
			"--bind", s.NodeIP,
			// Pods connect from the pod network, not loopback.
			"--protected-mode", "no",
			"--port", fmt.Sprint(ports[0]),
			"--save", "",
			"--appendonly", "no",
			"--daemonize", "no",
			"--dir", dir,
		},
	}
	return s.StartRedis(ctx)
}

// StartRedis (re)starts Redis on its address, empty, and waits until it
// answers; StopRedis stops it. Fault tests use them.
func (s *Stack) StartRedis(ctx context.Context) error {
	c, err := s.start(s.redisSpec)
	if err != nil {
		return err
	}
	s.redis = c
	rc := redis.NewClient(&redis.Options{Addr: s.RedisAddr, MaxRetries: -1})
	defer rc.Close()
	return waitReady(ctx, c, 30*time.Second, func(ctx context.Context) error {
		return rc.Ping(ctx).Err()
	})
}

// StopRedis stops Redis.
func (s *Stack) StopRedis() {
	if s.redis != nil {
		s.redis.stop(s.cfg.Logger)
		s.redis = nil
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}
