package localstack

import (
	"fmt"
	"net"
	"strconv"
)

// freePorts reserves n distinct free TCP ports on 127.0.0.1. The ports
// are released before returning, so a process started soon after can bind
// them; the kernel does not hand out a just-released ephemeral port again
// right away.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopback(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// hostAddr is a host service's address that pods reach: on the node IP.
func (s *Stack) hostAddr(port int) string {
	return net.JoinHostPort(s.NodeIP, strconv.Itoa(port))
}

// portFree reports whether addr can be bound right now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}
