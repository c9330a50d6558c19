package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"strconv"

	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/tlsclient"
)

// redisTLSFromEnv is nil (plain TCP) unless the Secret says TLS=true. A CA
// or server name without TLS=true is an error rather than ignored: it
// means the operator wanted TLS, and the password must not then travel in
// clear text.
func redisTLSFromEnv() (*tls.Config, error) {
	on := false
	if v := os.Getenv(step.EnvRedisTLS); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q is not a boolean", step.EnvRedisTLS, v)
		}
		on = b
	}
	ca, name := os.Getenv(step.EnvRedisCAPEM), os.Getenv(step.EnvRedisServerName)
	if !on {
		if ca != "" || name != "" {
			return nil, fmt.Errorf("%s or %s is set but %s is not true", step.EnvRedisCAPEM, step.EnvRedisServerName, step.EnvRedisTLS)
		}
		return nil, nil
	}
	cfg, err := tlsclient.Config([]byte(ca), name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step.EnvRedisCAPEM, err)
	}
	return cfg, nil
}
