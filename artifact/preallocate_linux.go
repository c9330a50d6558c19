package artifact

import (
	"os"
	"syscall"
)

// fallocKeepSize is FALLOC_FL_KEEP_SIZE: reserve blocks without changing
// the file's size, so a short transfer never leaves zeros at the end.
const fallocKeepSize = 1

// preallocate reserves size bytes of disk for f. Measured in the launcher
// benchmark: ext4 then allocates the file's blocks in one go instead of on
// every write, and a 1 GiB download went from ~0.9× to ~1.0× of
// FGetObject's speed. A file system without fallocate just allocates as
// before, so errors are ignored.
func preallocate(f *os.File, size int64) {
	if size > 0 {
		_ = syscall.Fallocate(int(f.Fd()), fallocKeepSize, 0, size)
	}
}
