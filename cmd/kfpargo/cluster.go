package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	wfclient "github.com/argoproj/argo-workflows/v3/pkg/client/clientset/versioned"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfpargo/kfpargo/install"
	"github.com/kfpargo/kfpargo/runstatus"
)

// clusterFlags find the cluster as kubectl does.
type clusterFlags struct {
	kubeconfig, context string
	// namespace is -n of the commands about runs (addNamespace).
	namespace string
	// source says where the configuration came from, once loaded.
	source string
}

func (f *clusterFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG, else ~/.kube/config, else the in-cluster service account)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context (default the current context)")
}

// addNamespace adds -n, for the commands about runs.
func (f *clusterFlags) addNamespace(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace of the runs (default the kubeconfig context's namespace, else default)")
}

// restConfig loads the client configuration: --kubeconfig, else
// $KUBECONFIG, else ~/.kube/config, else in-cluster, as kubectl does.
func (f *clusterFlags) restConfig() (*rest.Config, error) {
	cc, rules := f.loader()
	if f.context != "" {
		raw, err := cc.RawConfig()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		if _, ok := raw.Contexts[f.context]; !ok {
			return nil, usageError{fmt.Errorf("--context: no context %q in the kubeconfig", f.context)}
		}
	}
	cfg, err := cc.ClientConfig()
	if err == nil && cfg.Host != "" {
		// Which kubeconfig and context, for errors about reaching it.
		if raw, rerr := cc.RawConfig(); rerr == nil && raw.CurrentContext != "" {
			source := "in-cluster"
			if files := rules.GetLoadingPrecedence(); f.kubeconfig != "" {
				source = f.kubeconfig
			} else if len(files) > 0 {
				source = strings.Join(files, string(os.PathListSeparator))
			}
			name := orDefault(f.context, raw.CurrentContext)
			f.source = fmt.Sprintf("kubeconfig %s, context %s", source, name)
		}
	}
	if clientcmd.IsEmptyConfig(err) {
		return nil, errors.New("no cluster configured: no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not running in a pod")
	}
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.UserAgent = "kfpargo"
	return cfg, nil
}

// connect makes a client and checks that the cluster answers.
func (f *clusterFlags) connect(ctx context.Context, progress io.Writer) (*install.Client, *rest.Config, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, nil, err
	}
	c, err := install.NewClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := c.ServerVersion(vctx)
	if err != nil {
		if f.source != "" {
			err = fmt.Errorf("%w (%s)", err, f.source)
		}
		return nil, nil, err
	}
	fmt.Fprintf(progress, "cluster %s (Kubernetes %s)\n", c.Host(), v)
	return c, cfg, nil
}

// loader reads kubeconfig files as kubectl does.
func (f *clusterFlags) loader() (clientcmd.ClientConfig, *clientcmd.ClientConfigLoadingRules) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context}), rules
}

// runClients are the clients of the commands about runs, with the
// namespace to use (-n, else the context's) and the apiserver's address
// (for error messages).
func (f *clusterFlags) runClients() (runstatus.Clients, string, string, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return runstatus.Clients{}, "", "", err
	}
	ns := f.namespace
	if ns == "" {
		cc, _ := f.loader()
		if ns, _, err = cc.Namespace(); err != nil {
			return runstatus.Clients{}, "", "", fmt.Errorf("kubeconfig: %w", err)
		}
	}
	cfg.Timeout = 30 * time.Second
	argo, err := wfclient.NewForConfig(cfg)
	if err != nil {
		return runstatus.Clients{}, "", "", fmt.Errorf("argo client for %s: %w", cfg.Host, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return runstatus.Clients{}, "", "", fmt.Errorf("kubernetes client for %s: %w", cfg.Host, err)
	}
	return runstatus.Clients{Argo: argo, Kube: kube}, ns, cfg.Host, nil
}
