//go:build tools

// Package tools pins the etcd server version that the local stack builds;
// it holds no code of its own.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
