package nodeagent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestProbeOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "probes", ContainerPort: int32(port)}}}
	httpProbe := func(path string, p intstr.IntOrString) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: p}}}
	}
	tcpProbe := func(p int) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(p)}}}
	}
	for name, tc := range map[string]struct {
		probe *corev1.Probe
		ok    bool
	}{
		"http by port name":      {httpProbe("/readyz", intstr.FromString("probes")), true},
		"http by number":         {httpProbe("/readyz", intstr.FromInt(port)), true},
		"http 503":               {httpProbe("/other", intstr.FromInt(port)), false},
		"http unknown port name": {httpProbe("/readyz", intstr.FromString("nope")), false},
		"http closed port":       {httpProbe("/readyz", intstr.FromInt(closedPort)), false},
		"tcp open":               {tcpProbe(port), true},
		"tcp closed":             {tcpProbe(closedPort), false},
		"exec is not supported":  {&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}}, true},
	} {
		err := probeOnce(context.Background(), tc.probe, c, host)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", name, err, tc.ok)
		}
	}
}

// probeLoop reports ready after SuccessThreshold passes and unready after
// FailureThreshold failures.
func TestProbeLoop(t *testing.T) {
	var healthy = make(chan bool, 1)
	healthy <- true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := <-healthy
		healthy <- ok
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	host, portStr, _ := net.SplitHostPort(u.Host)
	port, _ := strconv.Atoi(portStr)
	probe := &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(port)}},
		PeriodSeconds: 1, SuccessThreshold: 2, FailureThreshold: 2,
	}
	changes := make(chan bool, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go probeLoop(ctx, probe, &corev1.Container{}, host, func(ready bool, _ error) { changes <- ready })
	if got := waitChange(t, changes); !got {
		t.Fatal("first change is to unready; want ready")
	}
	<-healthy
	healthy <- false
	if got := waitChange(t, changes); got {
		t.Fatal("second change is to ready; want unready")
	}
}

func waitChange(t *testing.T, ch <-chan bool) bool {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("no readiness change")
	}
	return false
}
