package localstack

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// startEtcd runs a single-member etcd on loopback ports.
func (s *Stack) startEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	client, peer := "http://"+loopback(ports[0]), "http://"+loopback(ports[1])
	dataDir := filepath.Join(s.StateDir, "data", "etcd")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	c, err := s.start(childSpec{
		name: "etcd",
		path: s.Binaries.Etcd,
		args: []string{
			"--name", "kfpargo-local",
			"--data-dir", dataDir,
			"--listen-client-urls", client,
			"--advertise-client-urls", client,
			"--listen-peer-urls", peer,
			"--initial-advertise-peer-urls", peer,
			"--initial-cluster", "kfpargo-local=" + peer,
			"--initial-cluster-state", "new",
			// Test data: durability across power loss is not worth the fsyncs.
			"--unsafe-no-fsync",
			"--log-level", "warn",
		},
	})
	if err != nil {
		return err
	}
	s.etcdURL = client
	hc := &http.Client{Timeout: 2 * time.Second}
	return waitReady(ctx, c, time.Minute, func(ctx context.Context) error {
		var health struct{ Health string }
		if err := getJSON(ctx, hc, client+"/health", &health); err != nil {
			return err
		}
		if health.Health != "true" {
			return fmt.Errorf("health %q", health.Health)
		}
		return nil
	})
}

// startAPIServer runs kube-apiserver on a free loopback port with RBAC and
// the stack's PKI, and writes the admin kubeconfig.
func (s *Stack) startAPIServer(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	s.APIServerURL = "https://" + loopback(ports[0])
	policy := filepath.Join(s.StateDir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return fmt.Errorf("kube-apiserver: %w", err)
	}
	certDir := filepath.Join(s.StateDir, "pki", "apiserver-generated")
	s.apiServerSpec = childSpec{
		name: "kube-apiserver",
		path: s.Binaries.APIServer,
		args: []string{
			"--etcd-servers", s.etcdURL,
			"--bind-address", "127.0.0.1",
			"--advertise-address", "127.0.0.1",
			"--secure-port", fmt.Sprint(ports[0]),
			"--cert-dir", certDir,
			"--tls-cert-file", s.pki.ServingCert,
			"--tls-private-key-file", s.pki.ServingKey,
			"--client-ca-file", s.pki.CACert,
			"--authorization-mode", "RBAC",
			// A loopback address is not valid in Endpoints.
			"--endpoint-reconciler-type", "none",
			"--service-cluster-ip-range", s.network.ServiceCIDR.String(),
			"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file", s.pki.SAPublic,
			"--service-account-signing-key-file", s.pki.ServiceAccountKey,
			"--allow-privileged",
			"--profiling=false",
			"--audit-policy-file", policy,
			"--audit-log-path", s.AuditLog,
			"--audit-log-format", "json",
		},
	}
	c, err := s.start(s.apiServerSpec)
	if err != nil {
		return err
	}
	s.apiServer = c
	if err := s.writeKubeconfig(); err != nil {
		return err
	}
	return s.waitAPIServer(ctx)
}

func (s *Stack) waitAPIServer(ctx context.Context) error {
	hc, err := s.adminHTTPClient()
	if err != nil {
		return err
	}
	return waitReady(ctx, s.apiServer, 2*time.Minute, func(ctx context.Context) error {
		return getOK(ctx, hc, s.APIServerURL+"/readyz")
	})
}

// RestartAPIServer stops kube-apiserver (SIGTERM, as an upgrade of the
// control plane does) and starts it again with the same flags, address
// and etcd, then waits until it is ready. Every client of the stack has to
// reconnect by itself; fault tests check that they do. Its log of the
// previous run is kept as kube-apiserver.log.1.
func (s *Stack) RestartAPIServer(ctx context.Context) error {
	old := s.apiServer
	if old == nil {
		return errors.New("restart kube-apiserver: the stack has none running")
	}
	old.stop(s.cfg.Logger)
	if err := os.Rename(old.logPath, old.logPath+".1"); err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	c, err := startChild(s.cfg.Logger, s.StateDir, old.spec, s.exited)
	if err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	// In the old one's place, so Down still stops the stack in reverse
	// start order.
	for i, ch := range s.children {
		if ch == old {
			s.children[i] = c
		}
	}
	s.apiServer = c
	if err := s.waitAPIServer(ctx); err != nil {
		return fmt.Errorf("restart kube-apiserver: %w", err)
	}
	return nil
}

// auditPolicy records who changed Argo objects and pods (at Metadata
// level), so tests can assert on short-lived objects such as
// WorkflowTaskResults, which Argo deletes when a workflow completes.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
  resources:
  - group: "argoproj.io"
  - group: ""
    resources: ["pods", "pods/binding", "pods/status", "serviceaccounts/token"]
- level: None
`

func (s *Stack) writeKubeconfig() error {
	ca, err := os.ReadFile(s.pki.CACert)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cert, err := os.ReadFile(s.pki.AdminCert)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	key, err := os.ReadFile(s.pki.AdminKey)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kfpargo-local"] = &clientcmdapi.Cluster{Server: s.APIServerURL, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["kfpargo-local"] = &clientcmdapi.Context{Cluster: "kfpargo-local", AuthInfo: "admin", Namespace: Namespace}
	cfg.CurrentContext = "kfpargo-local"
	if err := clientcmd.WriteToFile(*cfg, s.Kubeconfig); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 50, 100
	s.RESTConfig = rc
	return nil
}

func (s *Stack) adminHTTPClient() (*http.Client, error) {
	tc, err := rest.TLSConfigFor(s.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("admin TLS config: %w", err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}, nil
}

// startControllerManager runs kube-controller-manager without the node
// controllers: the node agent sends no heartbeats, and a tainted node
// would get no pods. It creates each namespace's default ServiceAccount
// and kube-root-ca.crt ConfigMap, which pods need.
func (s *Stack) startControllerManager(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	certDir := filepath.Join(s.StateDir, "kcm")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	c, err := s.start(childSpec{
		name: "kube-controller-manager",
		path: s.Binaries.ControllerManager,
		args: []string{
			"--kubeconfig", s.Kubeconfig,
			"--bind-address", "127.0.0.1",
			"--secure-port", fmt.Sprint(ports[0]),
			"--cert-dir", certDir,
			"--leader-elect=false",
			"--controllers", "*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
			"--service-account-private-key-file", s.pki.ServiceAccountKey,
			"--root-ca-file", s.pki.CACert,
			"--cluster-signing-cert-file", s.pki.CACert,
			"--cluster-signing-key-file", s.pki.CAKey,
			"--service-cluster-ip-range", s.network.ServiceCIDR.String(),
			"--profiling=false",
		},
	})
	if err != nil {
		return err
	}
	// Its serving certificate is self-signed in certDir; this probe only
	// asks whether it is up.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback health probe
	}}
	return waitReady(ctx, c, time.Minute, func(ctx context.Context) error {
		return getOK(ctx, hc, "https://"+loopback(ports[0])+"/healthz")
	})
}

func getOK(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
