package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kfpargo/kfpargo/test/nodeagent"
	"go.uber.org/zap"
)

// networkFile records the stack's pod network in its state directory, so
// that a crashed stack's bridge and route are removed by the next Up.
const networkFile = "network.json"

// podNetwork is the stack's share of the host's network: a bridge the
// node agent attaches pods to (its address is the node IP, and the host
// services pods use listen on it) and a service range routed to the host,
// where the node agent's service proxy answers ClusterIPs. Each stack
// takes the first free index, so stacks in other state directories can
// run at the same time.
type podNetwork struct {
	Index       int          `json:"index"`
	Bridge      string       `json:"bridge"`
	PodCIDR     netip.Prefix `json:"podCIDR"`
	ServiceCIDR netip.Prefix `json:"serviceCIDR"`
}

// Gateway is the bridge's address: the node IP.
func (n *podNetwork) Gateway() netip.Addr { return n.PodCIDR.Addr().Next() }

// KubernetesIP is the kubernetes Service's ClusterIP.
func (n *podNetwork) KubernetesIP() netip.Addr { return n.ServiceCIDR.Addr().Next() }

func networkFor(index int) *podNetwork {
	return &podNetwork{
		Index:       index,
		Bridge:      fmt.Sprintf("kfpargo%d", index),
		PodCIDR:     netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(index), 0}), 24),
		ServiceCIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 96, byte(index), 0}), 24),
	}
}

func runIP(ctx context.Context, args ...string) error {
	ip, err := nodeagent.IPCommand()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, ip, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// createNetwork takes the first index whose bridge does not exist yet
// (creating the bridge is the atomic claim), gives the bridge its address
// and routes the service range locally.
func createNetwork(ctx context.Context, stateDir string) (*podNetwork, error) {
	if _, err := nodeagent.IPCommand(); err != nil {
		return nil, err
	}
	for i := 1; i < 255; i++ {
		n := networkFor(i)
		// A fixed address: a bridge without one takes the lowest of its
		// ports' and changes it as pods come and go, while pods keep the
		// old one in their ARP caches.
		mac := fmt.Sprintf("02:6b:66:70:%02x:01", i)
		if err := runIP(ctx, "link", "add", n.Bridge, "address", mac, "type", "bridge"); err != nil {
			if strings.Contains(err.Error(), "exists") {
				continue
			}
			return nil, fmt.Errorf("pod network: %w", err)
		}
		data, _ := json.Marshal(n)
		if err := os.WriteFile(filepath.Join(stateDir, networkFile), data, 0o644); err != nil {
			_ = runIP(ctx, "link", "del", n.Bridge)
			return nil, fmt.Errorf("pod network: %w", err)
		}
		steps := [][]string{
			{"addr", "add", fmt.Sprintf("%s/%d", n.Gateway(), n.PodCIDR.Bits()), "dev", n.Bridge},
			{"link", "set", n.Bridge, "up"},
			{"route", "replace", "local", n.ServiceCIDR.String(), "dev", "lo", "table", "local"},
		}
		for _, args := range steps {
			if err := runIP(ctx, args...); err != nil {
				return nil, fmt.Errorf("pod network: %w", err)
			}
		}
		return n, nil
	}
	return nil, errors.New("pod network: bridges kfpargo1 to kfpargo254 all exist (stale ones can be removed with `ip link del kfpargoN`)")
}

// removeNetwork undoes createNetwork for the network recorded in stateDir,
// including pod namespaces a crashed node agent left on the bridge.
func removeNetwork(ctx context.Context, log *zap.Logger, stateDir string) error {
	file := filepath.Join(stateDir, networkFile)
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pod network record: %w", err)
	}
	var n podNetwork
	if err := json.Unmarshal(data, &n); err != nil || n.Bridge == "" {
		return fmt.Errorf("pod network record %s: unreadable (%v)", file, err)
	}
	ip, err := nodeagent.IPCommand()
	if err != nil {
		return err
	}
	nodeagent.RemoveBridgePods(ctx, ip, n.Bridge, func(veth string) {
		log.Info("removing a pod network left behind", zap.String("veth", veth))
	})
	var errs []error
	if err := runIP(ctx, "route", "del", "local", n.ServiceCIDR.String(), "dev", "lo", "table", "local"); err != nil && !strings.Contains(err.Error(), "No such process") {
		errs = append(errs, err)
	}
	if err := runIP(ctx, "link", "del", n.Bridge); err != nil && !strings.Contains(err.Error(), "Cannot find device") {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		_ = os.Remove(file)
	}
	return errors.Join(errs...)
}
