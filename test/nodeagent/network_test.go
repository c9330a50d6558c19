package nodeagent

import (
	"fmt"
	"net/netip"
	"testing"
)

// Addresses are handed out round-robin, skipping those in use, never the
// gateway or the broadcast address.
func TestAllocateRoundRobin(t *testing.T) {
	n := &podNetworks{cfg: &Network{PodCIDR: netip.MustParsePrefix("10.244.7.0/29")}, inUse: map[netip.Addr]bool{}}
	var got []string
	for range 5 {
		a, err := n.allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	// .2 to .6: .0 is the network, .1 the gateway, .7 the broadcast.
	if want := "[10.244.7.2 10.244.7.3 10.244.7.4 10.244.7.5 10.244.7.6]"; fmt.Sprint(got) != want {
		t.Fatalf("first five: %v, want %s", got, want)
	}
	if _, err := n.allocate(); err == nil {
		t.Fatal("a sixth address from a /29")
	}
	delete(n.inUse, netip.MustParseAddr("10.244.7.3"))
	delete(n.inUse, netip.MustParseAddr("10.244.7.5"))
	a, _ := n.allocate()
	b, _ := n.allocate()
	if a.String() != "10.244.7.3" || b.String() != "10.244.7.5" {
		t.Errorf("after freeing .3 and .5 got %s, %s", a, b)
	}
}
