//go:build !linux

package artifact

import "os"

// preallocate is a no-op where fallocate(2) does not exist.
func preallocate(*os.File, int64) {}
