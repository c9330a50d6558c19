package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"

	"go.uber.org/zap"

	"github.com/kfpargo/kfpargo/tlsclient"
)

// redisConnection reads the Redis user and TLS settings of the flags; the
// TLS configuration is nil for plain TCP. The files are mounted from the
// optional kfpargo-redis Secret, so an absent file means the setting is
// not used: an absent CA can make the connection fail, never trust more.
func redisConnection(cfg Config, log *zap.Logger) (string, *tls.Config, error) {
	username := cfg.redisUsername
	if cfg.redisUsernameFile != "" {
		u, err := readSecretFile(cfg.redisUsernameFile)
		if errors.Is(err, fs.ErrNotExist) {
			log.Info("no Redis user: the username file does not exist", zap.String("file", cfg.redisUsernameFile))
			err = nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("--redis-username-file: %w", err)
		}
		username = u
	}
	ca, err := tlsclient.ReadCAFile(cfg.redisCAFile)
	if err != nil {
		return "", nil, fmt.Errorf("--redis-ca-file: %w", err)
	}
	if !cfg.redisTLS {
		if len(ca) > 0 {
			// The operator meant TLS; the password must not go out in
			// clear text because one setting was missed.
			return "", nil, fmt.Errorf("--redis-ca-file %s holds a CA but --redis-tls is off", cfg.redisCAFile)
		}
		return username, nil, nil
	}
	tlsCfg, err := tlsclient.Config(ca, cfg.redisServerName)
	if err != nil {
		return "", nil, fmt.Errorf("--redis-ca-file %s: %w", cfg.redisCAFile, err)
	}
	if len(ca) == 0 {
		log.Info("Redis over TLS with the system's roots only", zap.String("caFile", cfg.redisCAFile))
	}
	return username, tlsCfg, nil
}

// s3CA reads --s3-ca-file: nil when not given or absent (the system's
// roots alone), an error when it holds no certificate.
func s3CA(cfg Config) ([]byte, error) {
	ca, err := tlsclient.ReadCAFile(cfg.s3CAFile)
	if err == nil && len(ca) > 0 {
		_, err = tlsclient.Config(ca, "")
	}
	if err != nil {
		return nil, fmt.Errorf("--s3-ca-file %s: %w", cfg.s3CAFile, err)
	}
	return ca, nil
}
