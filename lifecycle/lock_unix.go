//go:build unix

package lifecycle

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fileLock is an exclusive flock(2) on the registry's LOCK file. flock locks
// belong to the open file description, so two Registry values in one process
// exclude each other exactly as two processes do; the kernel drops the lock
// when a holder dies, which is what makes SIGKILL safe.
type fileLock struct{ f *os.File }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lifecycle: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) unlock() error {
	// Closing the descriptor releases the flock.
	return l.f.Close()
}
