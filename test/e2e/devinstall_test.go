package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kfpargo/kfpargo/artifact"
	"github.com/kfpargo/kfpargo/test/localstack"
	"github.com/kfpargo/kfpargo/test/runner"
)

// The dev overlay's names and development credentials
// (manifests/overlays/dev).
const (
	devNamespace  = "kfpargo-system"
	devWebhook    = "kfpargo-cachewebhook"
	devAccessKey  = "kfpargo-dev"
	devSecretKey  = "kfpargo-dev-secret"
	devWebhookCfg = "kfpargo-cache"
)

// devInstall is manifests/overlays/dev applied for real to the stack: the
// cache webhook's two replicas (self-signed certificates, reached by the
// apiserver through the kfpargo-cache MutatingWebhookConfiguration and
// its Service), Redis and MinIO as pods. The e2e suite's steps use them
// through the workflow namespace's Secrets; the tests reach them from the
// host at their ClusterIPs, which the node agent's proxy answers.
type devInstall struct {
	kc kubernetes.Interface
	// RedisAddr and S3Endpoint are ClusterIP:port.
	RedisAddr, S3Endpoint string
}

// installDev installs the dev overlay with `kfpargo install --overlay dev`
// (the binary an operator runs, waiting for the rollout and the CA
// bundle), then waits until the webhook answers through its Service,
// Redis and MinIO answer, and the artifact bucket exists.
func installDev(ctx context.Context, s *localstack.Stack, kfpargo string) (*devInstall, error) {
	kc, err := kubernetes.NewForConfig(s.RESTConfig)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, kfpargo, "install", "--overlay", "dev", "--argo-namespace", s.Namespace,
		"--timeout", "3m", "--kubeconfig", s.Kubeconfig).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("kfpargo install --overlay dev: %w\n%s", err, out)
	}
	d := &devInstall{kc: kc}
	if d.RedisAddr, err = d.clusterAddr(ctx, "redis", 6379); err != nil {
		return nil, err
	}
	if d.S3Endpoint, err = d.clusterAddr(ctx, "minio", 9000); err != nil {
		return nil, err
	}
	// kfpargo install waited for the rollouts and the CA bundle; these
	// check the paths the tests use: through the Services' ClusterIPs.
	if err := d.waitWebhook(ctx); err != nil {
		return nil, err
	}
	if err := d.waitRedis(ctx); err != nil {
		return nil, err
	}
	mc, err := minio.New(d.S3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(devAccessKey, devSecretKey, "")})
	if err != nil {
		return nil, err
	}
	if err := poll(ctx, time.Minute, func() error {
		err := mc.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{})
		if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("dev MinIO bucket %s: %w", s.Bucket, err)
	}
	return d, nil
}

// setUpDev installs the dev overlay and points the suite's target at it.
func setUpDev(ctx context.Context) error {
	var err error
	if dev, err = installDev(ctx, stack, kfpargoBin); err != nil {
		return fmt.Errorf("install the dev overlay: %w", err)
	}
	t, err := runner.NewTarget(stack.RESTConfig, stack.Namespace, dev.artifactConfig(), localstack.DefaultLauncherImage, "")
	if err != nil {
		return err
	}
	// Tests share one cache; only the cache tests use it, so that no other
	// test is served another's outputs.
	t.NoCache = true
	target = t
	return nil
}

// withoutDev uninstalls the dev overlay for a test that installs kfpargo
// itself, and installs it again afterwards (new ClusterIPs, an empty
// MinIO and Redis), so that tests do not depend on their order.
func withoutDev(t *testing.T) {
	t.Helper()
	if dev == nil {
		t.Skip("needs the dev overlay installed on the local stack")
	}
	out, err := exec.Command(kfpargoBin, "uninstall", "--argo-namespace", stack.Namespace, "--kubeconfig", stack.Kubeconfig).CombinedOutput()
	if err != nil {
		t.Fatalf("kfpargo uninstall: %v\n%s", err, out)
	}
	dev = nil
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := setUpDev(ctx); err != nil {
			t.Fatalf("reinstall the dev overlay: %v", err)
		}
	})
}

func (d *devInstall) artifactConfig() artifact.Config {
	return artifact.Config{Endpoint: d.S3Endpoint, AccessKey: devAccessKey, SecretKey: devSecretKey, Insecure: true}
}

// clusterAddr is a Service's ClusterIP:port.
func (d *devInstall) clusterAddr(ctx context.Context, name string, port int) (string, error) {
	svc, err := d.kc.CoreV1().Services(devNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("service %s: %w", name, err)
	}
	return net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(port)), nil
}

// scale sets a Deployment's replicas and waits until
// that many pods are ready and no others are left.
func (d *devInstall) scale(ctx context.Context, name string, n int32) error {
	deps := d.kc.AppsV1().Deployments(devNamespace)
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)
	if _, err := deps.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("scale %s: %w", name, err)
	}
	return poll(ctx, 2*time.Minute, func() error {
		dep, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := *dep.Spec.Replicas
		pods, err := d.pods(ctx, name)
		if err != nil {
			return err
		}
		if dep.Status.ObservedGeneration < dep.Generation || dep.Status.ReadyReplicas != want || int32(len(pods)) != want {
			return fmt.Errorf("deployment %s: %d of %d ready, %d pods (%s)", name, dep.Status.ReadyReplicas, want, len(pods), podStates(pods))
		}
		return nil
	})
}

// pods are a Deployment's pods that still run or wait to.
func (d *devInstall) pods(ctx context.Context, app string) ([]corev1.Pod, error) {
	list, err := d.kc.CoreV1().Pods(devNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + app})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out, nil
}

func podStates(pods []corev1.Pod) string {
	var s []string
	for _, p := range pods {
		s = append(s, p.Name+" "+string(p.Status.Phase))
	}
	return strings.Join(s, ", ")
}

// waitWebhook waits for the self-signed CA in the webhook configuration
// and for /readyz of the webhook through its Service.
func (d *devInstall) waitWebhook(ctx context.Context) error {
	probe, err := d.clusterAddr(ctx, devWebhook, 8080)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, 2*time.Minute, func() error {
		cfg, err := d.kc.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, devWebhookCfg, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(cfg.Webhooks) == 0 || len(cfg.Webhooks[0].ClientConfig.CABundle) == 0 {
			return errors.New("the webhook has not put its CA into kfpargo-cache yet")
		}
		resp, err := hc.Get("http://" + probe + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook /readyz: %s", resp.Status)
		}
		return nil
	})
}

func (d *devInstall) waitRedis(ctx context.Context) error {
	rc := redis.NewClient(&redis.Options{Addr: d.RedisAddr, MaxRetries: -1})
	defer rc.Close()
	return poll(ctx, time.Minute, func() error { return rc.Ping(ctx).Err() })
}

// StopRedis scales Redis to zero; StartRedis brings it back, empty.
func (d *devInstall) StopRedis(ctx context.Context) error { return d.scale(ctx, "redis", 0) }

func (d *devInstall) StartRedis(ctx context.Context) error {
	if err := d.scale(ctx, "redis", 1); err != nil {
		return err
	}
	return d.waitRedis(ctx)
}

// StopWebhook scales the webhook to zero; StartWebhook back to two.
func (d *devInstall) StopWebhook(ctx context.Context) error { return d.scale(ctx, devWebhook, 0) }

func (d *devInstall) StartWebhook(ctx context.Context) error {
	if err := d.scale(ctx, devWebhook, 2); err != nil {
		return err
	}
	return d.waitWebhook(ctx)
}

// WebhookMetric sums one sample over the webhook's pods (each counts its
// own admissions).
func (d *devInstall) WebhookMetric(ctx context.Context, sample string) (float64, error) {
	pods, err := d.pods(ctx, devWebhook)
	if err != nil {
		return 0, err
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	var sum float64
	for _, p := range pods {
		if p.Status.PodIP == "" {
			continue
		}
		v, err := metricSample(hc, "http://"+net.JoinHostPort(p.Status.PodIP, "8080")+"/metrics", sample)
		if err != nil {
			return 0, fmt.Errorf("pod %s: %w", p.Name, err)
		}
		sum += v
	}
	return sum, nil
}

// metricSample reads one sample from a Prometheus text endpoint; a sample
// not exported yet is 0.
func metricSample(hc *http.Client, url, sample string) (float64, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, sc.Err()
}

// poll calls f until it succeeds or timeout passes, returning its last error.
func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
