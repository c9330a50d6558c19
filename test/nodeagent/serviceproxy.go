package nodeagent

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/ptr"
)

// serviceProxy stands in for kube-proxy (in its old userspace mode): it
// listens on every Service's ClusterIP and TCP ports and forwards each
// connection to a ready endpoint of the Service, so that pods and the
// apiserver (webhooks, aggregated APIs) reach Services by ClusterIP.
type serviceProxy struct {
	log      *zap.Logger
	net      *Network
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister

	mu        sync.Mutex
	closed    bool
	listeners map[string]*proxyListener // by ClusterIP:port
}

type proxyListener struct {
	ln        net.Listener
	namespace string
	name      string
	port      corev1.ServicePort
}

const proxyDialTimeout = 2 * time.Second

func newServiceProxy(log *zap.Logger, cfg *Network, services corelisters.ServiceLister, slices discoverylisters.EndpointSliceLister) *serviceProxy {
	return &serviceProxy{log: log.Named("service-proxy"), net: cfg, services: services, slices: slices, listeners: map[string]*proxyListener{}}
}

// sync opens listeners for new Service ports and closes those of ports
// that are gone. It runs on every Service event.
func (p *serviceProxy) sync() {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		p.log.Error("list services", zap.Error(err))
		return
	}
	want := map[string]*proxyListener{}
	for _, s := range svcs {
		ip, err := netip.ParseAddr(s.Spec.ClusterIP)
		if err != nil || !p.net.ServiceCIDR.Contains(ip) {
			continue // headless, ExternalName, or not ours
		}
		for _, port := range s.Spec.Ports {
			if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
				continue
			}
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(port.Port)))
			want[addr] = &proxyListener{namespace: s.Namespace, name: s.Name, port: port}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for addr, l := range p.listeners {
		if w, ok := want[addr]; !ok || w.namespace != l.namespace || w.name != l.name {
			l.ln.Close()
			delete(p.listeners, addr)
		} else {
			l.port = w.port // a changed targetPort takes effect for new connections
		}
	}
	for addr, w := range want {
		if _, ok := p.listeners[addr]; ok {
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			p.log.Error("listen on ClusterIP", zap.String("service", w.namespace+"/"+w.name), zap.String("addr", addr), zap.Error(err))
			continue
		}
		w.ln = ln
		p.listeners[addr] = w
		p.log.Debug("proxying", zap.String("service", w.namespace+"/"+w.name), zap.String("addr", addr))
		go p.serve(w)
	}
}

func (p *serviceProxy) serve(l *proxyListener) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		port := l.port
		p.mu.Unlock()
		go p.forward(c, l.namespace, l.name, port)
	}
}

// forward connects c to one of the Service's ready endpoints, trying
// them in random order.
func (p *serviceProxy) forward(c net.Conn, namespace, name string, port corev1.ServicePort) {
	defer c.Close()
	backends := p.backends(namespace, name, port)
	if len(backends) == 0 {
		p.log.Debug("no ready endpoint", zap.String("service", namespace+"/"+name), zap.Int32("port", port.Port))
		return
	}
	var b net.Conn
	var err error
	for _, addr := range backends {
		if b, err = net.DialTimeout("tcp", addr, proxyDialTimeout); err == nil {
			break
		}
	}
	if b == nil {
		p.log.Debug("no endpoint answered", zap.String("service", namespace+"/"+name), zap.Error(err))
		return
	}
	defer b.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(b, c)
		closeWrite(b)
	}()
	_, _ = io.Copy(c, b)
	closeWrite(c)
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// backends lists host:port of the Service port's ready endpoints,
// shuffled. The kubernetes Service leads to the apiserver on the host.
func (p *serviceProxy) backends(namespace, name string, port corev1.ServicePort) []string {
	if namespace == metav1.NamespaceDefault && name == "kubernetes" {
		return []string{p.net.APIServer}
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	slices, err := p.slices.EndpointSlices(namespace).List(sel)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		var target int32
		for _, sp := range s.Ports {
			if sp.Port != nil && ptr.Deref(sp.Name, "") == port.Name {
				target = *sp.Port
			}
		}
		if target == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, net.JoinHostPort(a, strconv.Itoa(int(target))))
			}
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// names lists the Services with a ClusterIP of ours, for /etc/hosts.
func (p *serviceProxy) names() []serviceName {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []serviceName
	for _, s := range svcs {
		if ip, err := netip.ParseAddr(s.Spec.ClusterIP); err == nil && p.net.ServiceCIDR.Contains(ip) {
			out = append(out, serviceName{Namespace: s.Namespace, Name: s.Name, ClusterIP: ip.String()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// close stops every listener; connections in flight end on their own.
func (p *serviceProxy) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for addr, l := range p.listeners {
		if err := l.ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", addr, err))
		}
		delete(p.listeners, addr)
	}
	return errors.Join(errs...)
}
