package nodeagent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Network gives every pod that does not ask for the host network its own
// network namespace, attached by a veth pair to a host bridge, with an
// address from PodCIDR: pods then bind the ports their images expect
// (two replicas of one Deployment do not clash) and their IPs can be
// Service endpoints. The bridge and the local route for ServiceCIDR are
// set up by whoever starts the agent (the local stack).
type Network struct {
	// Bridge is an existing, up host bridge holding PodCIDR's first
	// address, which is the pods' default gateway and the node's IP.
	Bridge string
	// PodCIDR is an IPv4 /24 or larger: pods get its addresses from the
	// second one on.
	PodCIDR netip.Prefix
	// ServiceCIDR is the apiserver's --service-cluster-ip-range. The host
	// must route it locally (`ip route add local CIDR dev lo`) so that the
	// agent's service proxy can listen on ClusterIPs.
	ServiceCIDR netip.Prefix
	// APIServer is host:port the kubernetes Service leads to (the
	// apiserver may listen on the host's loopback, out of pods' reach).
	// Default: the kubeconfig's server.
	APIServer string
}

func (n *Network) validate() error {
	if n.Bridge == "" || n.APIServer == "" {
		return errors.New("network: bridge and apiserver address are required")
	}
	for name, p := range map[string]netip.Prefix{"pod CIDR": n.PodCIDR, "service CIDR": n.ServiceCIDR} {
		if !p.IsValid() || !p.Addr().Is4() || p.Bits() > 28 {
			return fmt.Errorf("network: %s %s: want an IPv4 prefix of /28 or larger", name, p)
		}
	}
	return nil
}

// Gateway is the bridge's address: the pods' default route and the node IP.
func (n *Network) Gateway() netip.Addr { return n.PodCIDR.Masked().Addr().Next() }

// KubernetesIP is the kubernetes Service's ClusterIP, the service range's
// first address as the apiserver allocates it.
func (n *Network) KubernetesIP() netip.Addr { return n.ServiceCIDR.Masked().Addr().Next() }

// podNetwork is one pod's network namespace.
type podNetwork struct {
	// ns is the name under /run/netns (ip netns); hostVeth the host end
	// of its veth pair.
	ns, hostVeth string
	ip           netip.Addr
}

// nsPath is what a container's init process joins.
func (p *podNetwork) nsPath() string { return "/run/netns/" + p.ns }

// podNetworks hands out pod addresses and creates and removes pods'
// network namespaces with iproute2.
type podNetworks struct {
	cfg *Network
	ip  string // the ip binary

	mu    sync.Mutex
	inUse map[netip.Addr]bool
	live  map[string]*podNetwork // by namespace name
	// last is the address handed out last: the next search starts after
	// it, so that an address is not reused while the host's neighbour
	// table may still hold the previous pod's MAC for it.
	last netip.Addr
}

func newPodNetworks(cfg *Network) (*podNetworks, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ip, err := IPCommand()
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	return &podNetworks{cfg: cfg, ip: ip, inUse: map[netip.Addr]bool{}, live: map[string]*podNetwork{}}, nil
}

// IPCommand finds iproute2's ip, also when sbin is not on PATH.
func IPCommand() (string, error) {
	if ip, err := exec.LookPath("ip"); err == nil {
		return ip, nil
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip"} {
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", errors.New("the ip command is missing: install Debian's iproute2 (pods get network namespaces with it)")
}

// nsName names a pod's namespace and veth after its UID (interface names
// have at most 15 characters).
func nsName(uid types.UID) (ns, veth string) {
	id := strings.ReplaceAll(string(uid), "-", "")
	if len(id) > 12 {
		id = id[:12]
	}
	return "kfpargo-" + id, "kfv" + id
}

// allocate reserves the next free pod address after the last one handed
// out, wrapping around (as CNI's host-local IPAM does).
func (n *podNetworks) allocate() (netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	first := n.cfg.Gateway().Next()
	var pool []netip.Addr
	for a := first; n.cfg.PodCIDR.Contains(a.Next()); a = a.Next() { // not the broadcast address
		pool = append(pool, a)
	}
	start := 0
	for i, a := range pool {
		if a == n.last {
			start = i + 1
		}
	}
	for i := range pool {
		a := pool[(start+i)%len(pool)]
		if !n.inUse[a] {
			n.inUse[a], n.last = true, a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network: no free address in %s", n.cfg.PodCIDR)
}

// setUp creates the pod's namespace with lo up and eth0 on the bridge.
func (n *podNetworks) setUp(ctx context.Context, uid types.UID) (*podNetwork, error) {
	addr, err := n.allocate()
	if err != nil {
		return nil, err
	}
	ns, veth := nsName(uid)
	p := &podNetwork{ns: ns, hostVeth: veth, ip: addr}
	// What the host remembers of the address's last owner goes first.
	_ = exec.CommandContext(ctx, n.ip, "neigh", "del", addr.String(), "dev", n.cfg.Bridge).Run()
	host := fmt.Sprintf("netns add %s\nlink add %s type veth peer name eth0 netns %s\nlink set %s master %s up\n",
		ns, veth, ns, veth, n.cfg.Bridge)
	inside := fmt.Sprintf("addr add %s/%d dev eth0\nlink set eth0 up\nlink set lo up\nroute add default via %s\n",
		addr, n.cfg.PodCIDR.Bits(), n.cfg.Gateway())
	if err := n.batch(ctx, "", host); err != nil {
		n.release(ctx, p)
		return nil, fmt.Errorf("pod network: %w", err)
	}
	n.mu.Lock()
	n.live[ns] = p
	n.mu.Unlock()
	if err := n.batch(ctx, ns, inside); err != nil {
		n.release(ctx, p)
		return nil, fmt.Errorf("pod network %s: %w", ns, err)
	}
	return p, nil
}

// release removes the namespace (its veth pair goes with it) and frees
// the address.
func (n *podNetworks) release(ctx context.Context, p *podNetwork) {
	n.remove(ctx, p)
	n.mu.Lock()
	delete(n.inUse, p.ip)
	delete(n.live, p.ns)
	n.mu.Unlock()
}

func (n *podNetworks) remove(ctx context.Context, p *podNetwork) {
	_ = exec.CommandContext(ctx, n.ip, "netns", "del", p.ns).Run()
	_ = exec.CommandContext(ctx, n.ip, "link", "del", p.hostVeth).Run()
}

// releaseAll removes every namespace still set up (agent shutdown).
func (n *podNetworks) releaseAll(ctx context.Context) {
	n.mu.Lock()
	live := make([]*podNetwork, 0, len(n.live))
	for _, p := range n.live {
		live = append(live, p)
	}
	n.mu.Unlock()
	for _, p := range live {
		n.release(ctx, p)
	}
}

// removeStale removes namespaces a crashed agent left behind.
func (n *podNetworks) removeStale(ctx context.Context) {
	RemoveBridgePods(ctx, n.ip, n.cfg.Bridge, nil)
}

// RemoveBridgePods removes the pod network namespaces whose veths are on
// bridge (what a crashed agent leaves), telling removed about each.
func RemoveBridgePods(ctx context.Context, ip, bridge string, removed func(veth string)) {
	out, err := exec.CommandContext(ctx, ip, "-o", "link", "show", "master", bridge).Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		// "12: kfv0123456789ab@if2: <...>"
		_, rest, ok := strings.Cut(line, ": ")
		name, _, _ := strings.Cut(rest, "@")
		if !ok || !strings.HasPrefix(name, "kfv") {
			continue
		}
		if removed != nil {
			removed(name)
		}
		_ = exec.CommandContext(ctx, ip, "netns", "del", "kfpargo-"+strings.TrimPrefix(name, "kfv")).Run()
		_ = exec.CommandContext(ctx, ip, "link", "del", name).Run()
	}
}

// batch runs ip commands, one per line, in the host's network namespace
// or (ns != "") in that one.
func (n *podNetworks) batch(ctx context.Context, ns, script string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.CommandContext(ctx, n.ip, args...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=" + DefaultPath}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// hostsFile is a container's /etc/hosts: the pod's own name, and every
// Service's DNS names at its ClusterIP (there is no cluster DNS; the
// agent's service proxy answers on ClusterIPs).
func hostsFile(podIP, hostname, podNamespace string, services []serviceName) []byte {
	var b bytes.Buffer
	b.WriteString("# written by the kfpargo node agent\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	fmt.Fprintf(&b, "%s\t%s\n", podIP, hostname)
	for _, s := range services {
		names := []string{s.Name + "." + s.Namespace + ".svc.cluster.local", s.Name + "." + s.Namespace + ".svc", s.Name + "." + s.Namespace}
		if s.Namespace == podNamespace {
			names = append(names, s.Name)
		}
		fmt.Fprintf(&b, "%s\t%s\n", s.ClusterIP, strings.Join(names, " "))
	}
	return b.Bytes()
}

// serviceName is a Service as /etc/hosts names it.
type serviceName struct {
	Namespace, Name, ClusterIP string
}

func writeHostsFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("hosts file: %w", err)
	}
	return nil
}
