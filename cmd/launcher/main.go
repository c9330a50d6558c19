// Command launcher runs inside every kfpargo step container.
//
//	launcher copy DEST          copy this binary to DEST (the init container)
//	launcher run [flags] -- CMD run one KFP step around CMD (the main container)
//	launcher replay --entry JSON  write a cache entry's outputs (a pod the cache webhook rewrote)
//
// Exit codes of run: the command's own exit code; 64 bad flags; 65 an input
// could not be downloaded or a placeholder resolved; 66 an output was missing
// or could not be uploaded; 127 the command could not be started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/redis/go-redis/v9"
	"io"
	"os"
	"strconv"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/cachestore"
	"github.com/kfpargo/kfpargo/launcher"
	"github.com/kfpargo/kfpargo/step"
	"github.com/kfpargo/kfpargo/version"
)

const usage = `usage: launcher COMMAND

Commands:
  version                 print the version (also --version)
  copy DEST               copy this binary to DEST (used by the step's init container)
  run [flags] -- CMD...   run one KFP step: download inputs, resolve placeholders in CMD,
                          run it, upload outputs (see launcher run --help)
  replay --entry JSON     write the outputs of a cache entry where Argo reads them, instead of
                          running the step (the cache webhook puts this in a pod on a hit)

Object store settings come from the environment: ` + step.EnvS3Endpoint + ` (host:port),
` + step.EnvS3AccessKey + `, ` + step.EnvS3SecretKey + `, ` + step.EnvS3Insecure + ` (true for plain HTTP), ` + step.EnvS3Region + `,
` + step.EnvS3Verify + ` (checksum, the default: trust the SHA-256 stored with an object by the
launcher that uploaded it and check the bytes' CRC-32C; sha256: hash every downloaded byte),
` + step.EnvS3CreateBucket + ` (true: create a missing bucket on the first upload, for a fresh
development store), ` + step.EnvS3CAPEM + ` (CA certificates, PEM text, trusted for HTTPS besides the
system's).

Cached steps (--cache) read the cache store's settings from ` + step.EnvRedisAddr + ` (host:port;
unset: no cache), ` + step.EnvRedisUsername + `, ` + step.EnvRedisPassword + `, ` + step.EnvRedisDB + `,
` + step.EnvCacheScope + ` (namespace or cluster), ` + step.EnvCacheMaxTTL + ` (default ` + step.DefaultMaxCacheTTL + `) and
` + step.EnvCacheWait + ` (how long to wait for an identical step that is running; default 30m).
` + step.EnvRedisTLS + `=true connects over TLS 1.2+, trusting the system's roots and ` + step.EnvRedisCAPEM + `
(PEM text); ` + step.EnvRedisServerName + ` overrides the name the certificate must carry.

Exit codes of run: the command's own; 64 bad flags; 65 inputs; 66 outputs; 127 start failed.
Exit codes of replay: 0; 64 bad entry; 66 outputs could not be written.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// started is when the process began: a replay reports its whole lifetime.
var started = time.Now()

func run(args []string, stderr io.Writer) int {
	return runIn(args, stderr, launcher.DefaultLayout())
}

// runIn is run with the step's files under layout; tests run the launcher
// as a process with its files in a temporary directory.
func runIn(args []string, stderr io.Writer, layout launcher.Layout) int {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "version") {
		fmt.Fprintln(os.Stdout, version.Version)
		return 0
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return launcher.ExitUsage
		}
		return 0
	}
	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	switch args[0] {
	case "copy":
		if len(args) != 2 {
			fmt.Fprint(stderr, "usage: launcher copy DEST\n")
			return launcher.ExitUsage
		}
		if err := launcher.CopySelf(args[1]); err != nil {
			log.Error("copy", zap.Error(err))
			return 1
		}
		return 0
	case "run":
		spec, err := step.ParseRunArgs(args[1:], stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			log.Error("invalid arguments", zap.Error(err))
			return launcher.ExitUsage
		}
		store, err := storeFromEnv()
		if err != nil {
			log.Error("object store", zap.Error(err))
			return launcher.ExitUsage
		}
		log = log.With(zap.String("task", spec.Task), zap.String("run", spec.RunName))
		if store != nil {
			store.Warn = func(msg string) { log.Warn(msg) }
		}
		cache, closeCache, err := cacheFromEnv()
		if err != nil {
			// The cache must never fail a step.
			log.Warn("cache settings; the step runs uncached", zap.Error(err))
		}
		defer closeCache()
		r := &launcher.Runner{
			Spec: spec, Layout: layout, Store: store, Log: log,
			Env: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr, Cache: cache,
		}
		return r.Run(context.Background())
	case "replay":
		fs := flag.NewFlagSet("launcher replay", flag.ContinueOnError)
		fs.SetOutput(stderr)
		entry := fs.String("entry", "", "the cache entry, JSON")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return launcher.ExitUsage
		}
		e, err := cachestore.DecodeEntry([]byte(*entry))
		if err != nil {
			log.Error("replay: invalid entry", zap.Error(err))
			return launcher.ExitUsage
		}
		code := launcher.Replay(e, layout, log)
		log.Info("replay finished", zap.Int("exitCode", code), zap.Duration("took", time.Since(started)))
		return code
	}
	fmt.Fprintf(stderr, "launcher: unknown command %q\n\n%s", args[0], usage)
	return launcher.ExitUsage
}

// storeFromEnv returns nil without an endpoint: a step with no artifacts
// needs no object store.
func storeFromEnv() (*artifact.Store, error) {
	endpoint := os.Getenv(step.EnvS3Endpoint)
	if endpoint == "" {
		return nil, nil
	}
	insecure := false
	if v := os.Getenv(step.EnvS3Insecure); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("%s=%q is not a boolean", step.EnvS3Insecure, v)
		}
		insecure = b
	}
	verify, err := artifact.ParseVerify(os.Getenv(step.EnvS3Verify))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step.EnvS3Verify, err)
	}
	create := false
	if v := os.Getenv(step.EnvS3CreateBucket); v != "" {
		if create, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("%s=%q is not a boolean", step.EnvS3CreateBucket, v)
		}
	}
	return artifact.NewStore(artifact.Config{
		Endpoint:     endpoint,
		AccessKey:    os.Getenv(step.EnvS3AccessKey),
		SecretKey:    os.Getenv(step.EnvS3SecretKey),
		Insecure:     insecure,
		Region:       os.Getenv(step.EnvS3Region),
		Verify:       verify,
		CreateBucket: create,
		CAPEM:        []byte(os.Getenv(step.EnvS3CAPEM)),
	})
}

// cacheFromEnv connects to the cache store named in the environment; nil
// without an address. It makes no request: an unreachable store shows when
// the step claims its key, and the step then runs uncached.
func cacheFromEnv() (*launcher.Cache, func(), error) {
	addr := os.Getenv(step.EnvRedisAddr)
	if addr == "" {
		return nil, func() {}, nil
	}
	db := 0
	if v := os.Getenv(step.EnvRedisDB); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, func() {}, fmt.Errorf("%s=%q is not a database number", step.EnvRedisDB, v)
		}
		db = n
	}
	maxTTL := step.DefaultMaxCacheTTL
	if v := os.Getenv(step.EnvCacheMaxTTL); v != "" {
		maxTTL = v
	}
	ttl, err := time.ParseDuration(maxTTL)
	if err != nil || ttl <= 0 {
		return nil, func() {}, fmt.Errorf("%s=%q is not a positive duration", step.EnvCacheMaxTTL, maxTTL)
	}
	var claim cachestore.ClaimOptions
	if v := os.Getenv(step.EnvCacheWait); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, func() {}, fmt.Errorf("%s=%q is not a positive duration", step.EnvCacheWait, v)
		}
		claim.Wait = d
	}
	cluster := false
	switch v := os.Getenv(step.EnvCacheScope); v {
	case "", "namespace":
	case "cluster":
		cluster = true
	default:
		return nil, func() {}, fmt.Errorf("%s=%q: want namespace or cluster", step.EnvCacheScope, v)
	}
	var keys *cachestore.Keyring
	if v := os.Getenv(step.EnvCacheHMACKey); v != "" {
		// An unusable key must not mean unsigned entries: no cache.
		if keys, err = cachestore.ParseKeyring(v); err != nil {
			return nil, func() {}, fmt.Errorf("%s: %w", step.EnvCacheHMACKey, err)
		}
	}
	tlsCfg, err := redisTLSFromEnv()
	if err != nil {
		return nil, func() {}, err
	}
	rdb := redis.NewClient(&redis.Options{
		Addr: addr, Username: os.Getenv(step.EnvRedisUsername), Password: os.Getenv(step.EnvRedisPassword), DB: db, TLSConfig: tlsCfg,
		DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
	})
	cachestore.NameServer(rdb)
	c := &launcher.Cache{Store: cachestore.New(rdb, cachestore.Options{Keys: keys}), ClusterScope: cluster, MaxTTL: ttl, Claim: claim}
	return c, func() { _ = rdb.Close() }, nil
}

func newLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.TimeKey = "ts"
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zap.InfoLevel)
	return zap.New(core).Named("launcher")
}
