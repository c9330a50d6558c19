// Command nodeagent is the test node agent (package test/nodeagent): it
// registers a Ready Node with a kube-apiserver, binds pending pods to it
// and runs their containers as local processes, each in its own mount and
// PID namespace. It needs root. The local stack harness (test/localstack)
// starts it.
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kfpargo/kfpargo/test/nodeagent"
)

func main() {
	// A container's init process: the agent re-executes itself with this
	// hidden sub-command inside the container's new namespaces. It must
	// not parse flags or start anything else first.
	if len(os.Args) > 1 && os.Args[1] == nodeagent.InitCommand {
		os.Exit(nodeagent.ContainerInit(os.Args[2:]))
	}
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "nodeagent:", err)
		os.Exit(1)
	}
}

type options struct {
	kubeconfig   string
	nodeName     string
	stateDir     string
	images       []string
	scratchPaths []string
	stopGrace    time.Duration
	cleanupDelay time.Duration
	heartbeat    time.Duration
	logLevel     string
	logFormat    string
	bridge       string
	podCIDR      string
	serviceCIDR  string
}

func newCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "nodeagent --kubeconfig FILE --state-dir DIR [--image REPOSITORY=BINDIR]...",
		Short: "Run pods' containers as local processes for a test cluster (a stand-in for a kubelet)",
		Long: `nodeagent registers a Ready Node, binds pending pods (default scheduler) to it
and runs each pod's containers as local processes: init containers one after
another, then all others together. Every container runs in its own mount, PID
and UTS namespace and sees the host's file system, plus its pod's volumes,
a private empty directory at each scratch path, /dev/termination-log and the
service-account token at their mount paths. Images are not pulled: --image
maps an image repository to a host directory put first on PATH; other images
run the host's binaries. Pod status is reported through the API.

Container output goes to <state-dir>/logs/<namespace>_<pod>_<uid>/<container>.log
and is kept; per-pod directories (<state-dir>/pods/...) are removed shortly
after a pod ends. On SIGTERM or SIGINT every container is stopped (SIGTERM,
then SIGKILL after --stop-grace), its pod reported Failed, the Node marked
NotReady, and mount points containers created on the host are removed.

Needs root.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig `FILE` of the apiserver (required)")
	f.StringVar(&o.nodeName, "node-name", "kfpargo-local", "name of the Node to register and run pods for")
	f.StringVar(&o.stateDir, "state-dir", "", "`DIR` for pod directories, container logs and the agent's records (required)")
	f.StringArrayVar(&o.images, "image", nil, "map an image repository (tag and digest ignored) to a host directory put first on PATH of its containers, as `REPOSITORY=BINDIR`; repeatable. With no command, the directory's only executable is the entrypoint")
	f.StringArrayVar(&o.scratchPaths, "scratch-path", nodeagent.DefaultScratchPaths(), "container `PATH` that gets a private, empty, writable directory in every container; repeatable (giving it replaces the default list)")
	f.DurationVar(&o.stopGrace, "stop-grace", 5*time.Second, "time between SIGTERM and SIGKILL for containers when the agent shuts down")
	f.DurationVar(&o.cleanupDelay, "cleanup-delay", 5*time.Second, "how long a finished pod's directory (volumes, scratch) is kept before it is removed")
	f.DurationVar(&o.heartbeat, "heartbeat", 10*time.Second, "interval of Node status and Lease renewals")
	f.StringVar(&o.bridge, "bridge", "", "host `BRIDGE` to attach pods' network namespaces to (it must be up and hold the pod CIDR's first address); without it every pod uses the host network")
	f.StringVar(&o.podCIDR, "pod-cidr", "", "IPv4 `CIDR` pods get addresses from (with --bridge)")
	f.StringVar(&o.serviceCIDR, "service-cidr", "", "the apiserver's service `CIDR`, routed locally on the host (ip route add local CIDR dev lo); the agent proxies its ClusterIPs (with --bridge)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "console", "log format on stderr: console or json")
	_ = cmd.MarkFlagRequired("kubeconfig")
	_ = cmd.MarkFlagRequired("state-dir")
	return cmd
}

func run(ctx context.Context, o options) error {
	log, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root: containers get their own mount and PID namespaces")
	}
	images, err := nodeagent.NewImageMap(o.images)
	if err != nil {
		return err
	}
	var network *nodeagent.Network
	if o.bridge != "" {
		pods, err := netip.ParsePrefix(o.podCIDR)
		if err != nil {
			return fmt.Errorf("--pod-cidr: %w", err)
		}
		svcs, err := netip.ParsePrefix(o.serviceCIDR)
		if err != nil {
			return fmt.Errorf("--service-cidr: %w", err)
		}
		network = &nodeagent.Network{Bridge: o.bridge, PodCIDR: pods, ServiceCIDR: svcs}
	} else if o.podCIDR != "" || o.serviceCIDR != "" {
		return fmt.Errorf("--pod-cidr and --service-cidr need --bridge")
	}
	agent, err := nodeagent.New(nodeagent.Config{
		Network:      network,
		Kubeconfig:   o.kubeconfig,
		NodeName:     o.nodeName,
		StateDir:     o.stateDir,
		Images:       images,
		ScratchPaths: o.scratchPaths,
		StopGrace:    o.stopGrace,
		CleanupDelay: o.cleanupDelay,
		Heartbeat:    o.heartbeat,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("starting", zap.String("event", "start"), zap.Strings("images", o.images), zap.Strings("scratchPaths", o.scratchPaths))
	return agent.Run(ctx)
}

func newLogger(level, format string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if format != "console" && format != "json" {
		return nil, fmt.Errorf("--log-format %q: want console or json", format)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Encoding = format
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	cfg.Sampling = nil
	return cfg.Build()
}
