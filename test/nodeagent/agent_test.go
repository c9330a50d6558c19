package nodeagent

import "testing"

func TestAPIServerHostPort(t *testing.T) {
	tests := []struct {
		server, host, port string
		ok                 bool
	}{
		{"https://127.0.0.1:39017", "127.0.0.1", "39017", true},
		{"https://127.0.0.1", "127.0.0.1", "443", true},
		{"http://localhost", "localhost", "80", true},
		{"https://[::1]:6443", "::1", "6443", true},
		{"127.0.0.1:6443", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		host, port, err := apiserverHostPort(tc.server)
		if (err == nil) != tc.ok || host != tc.host || port != tc.port {
			t.Errorf("apiserverHostPort(%q) = %q, %q, %v; want %q, %q ok=%v", tc.server, host, port, err, tc.host, tc.port, tc.ok)
		}
	}
}
