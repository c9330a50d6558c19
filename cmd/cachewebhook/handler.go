package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/cachewebhook"
)

// newHandler builds the cache decision from the configuration: a Redis
// client, the object store that verifies artifacts, and the hit/miss
// counter. The returned func releases them; call it after the servers
// stopped, so the last counts are flushed. Serve counts decisions in m.
func newHandler(cfg Config, log *zap.Logger, m *cachewebhook.Metrics) (cachewebhook.Handler, func(), error) {
	redisPassword, err := readSecretFile(cfg.redisPasswordFile)
	if errors.Is(err, fs.ErrNotExist) {
		// The manifests mount the kfpargo-redis Secret as optional: no
		// Secret, no password. A wrong password still fails, at Redis.
		log.Info("no Redis password: the password file does not exist", zap.String("file", cfg.redisPasswordFile))
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-password-file: %w", err)
	}
	var keys *cachestore.Keyring
	if cfg.hmacKeyFile != "" {
		// Unlike the password, a key named but missing is an error: serving
		// unsigned entries is not a safe fallback.
		text, err := readSecretFile(cfg.hmacKeyFile)
		if err == nil {
			keys, err = cachestore.ParseKeyring(text)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--hmac-key-file: %w", err)
		}
	} else {
		log.Warn("no --hmac-key-file: cache entries are not checked for a signature; anyone who can write to Redis can make pods skip their work")
	}
	username, redisTLS, err := redisConnection(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	var arts *artifact.Store
	if cfg.s3Endpoint != "" {
		access, err := readSecretFile(cfg.s3AccessKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--s3-access-key-file: %w", err)
		}
		secret, err := readSecretFile(cfg.s3SecretKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--s3-secret-key-file: %w", err)
		}
		ca, err := s3CA(cfg)
		if err != nil {
			return nil, nil, err
		}
		arts, err = artifact.NewStore(artifact.Config{Endpoint: cfg.s3Endpoint, AccessKey: access, SecretKey: secret, Insecure: cfg.s3Insecure, Region: cfg.s3Region, CAPEM: ca})
		if err != nil {
			return nil, nil, fmt.Errorf("--s3-endpoint: %w", err)
		}
	}
	rdb := redis.NewClient(&redis.Options{
		Addr: cfg.redisAddr, Username: username, Password: redisPassword, DB: cfg.redisDB, TLSConfig: redisTLS,
		// The whole admission has tens of milliseconds: a Redis that does
		// not answer fast is treated as down (the pod runs uncached).
		DialTimeout: 200 * time.Millisecond, ReadTimeout: cfg.timeout, WriteTimeout: cfg.timeout,
		MaxRetries: -1, PoolSize: 64, MinIdleConns: 4,
		// go-redis retries a failed dial 5 times by default, 100 ms apart:
		// half a second per admission against a Redis that is down.
		DialerRetries: 1,
	})
	cachestore.NameServer(rdb)
	// The launchers hold keys derived for their scope (install.Render).
	store := cachestore.New(rdb, cachestore.Options{Keys: keys, PerScope: true})
	counter := &cachewebhook.Counter{Store: store}
	cctx, stopCounter := context.WithCancel(context.Background())
	counterDone := make(chan struct{})
	go func() { counter.Run(cctx, 5*time.Second); close(counterDone) }()
	d := &cachewebhook.Decider{
		Cache: store, Artifacts: arts, Counter: counter, LauncherImage: cfg.launcherImage,
		ClusterScope: cfg.clusterScope, MaxTTL: cfg.maxTTL, Verified: cachewebhook.NewVerifiedCache(cfg.verifyCacheTTL),
	}
	release := func() {
		stopCounter()
		<-counterDone
		if err := rdb.Close(); err != nil {
			log.Warn("close redis client", zap.Error(err))
		}
	}
	return d, release, nil
}
