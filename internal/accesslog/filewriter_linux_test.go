package accesslog

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRingWriteDoesNotBlockTheCaller: a write the kernel cannot finish
// (a FIFO nobody reads, standing in for a disk that makes writes wait)
// does not block Write: lines gather while it waits, and once the other
// end reads, all of them arrive in order. A synchronous writer would block
// in the first write past the pipe's 64 KiB.
func TestRingWriteDoesNotBlockTheCaller(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// O_RDWR opens a FIFO without waiting for a reader; the descriptor is
	// blocking, as a regular file's is.
	fd, err := syscall.Open(fifo, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), fifo)
	defer f.Close()
	w := newTestWriter(t, f, true)
	defer func() {
		if w.r != nil && !w.busy {
			w.r.close()
		}
	}()

	line := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	const lines = 2048                                   // 2 MiB: 32 times the pipe
	done := make(chan error, 1)
	go func() {
		for i := range lines {
			line[0] = byte('A' + i%26)
			if _, err := w.Write(line); err != nil {
				done <- err
				return
			}
		}
		done <- w.Flush()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked on a write the kernel could not finish")
	}
	if !w.busy {
		t.Fatal("no write in flight although nobody read the FIFO")
	}

	r, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, lines*int64(len(line))))
		got <- b
	}()
	if err := w.flushWait(); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if len(b) != lines*len(line) {
		t.Fatalf("read %d bytes, want %d", len(b), lines*len(line))
	}
	for i := range lines {
		if c := b[i*len(line)]; c != byte('A'+i%26) {
			t.Fatalf("line %d starts with %q, want %q: out of order", i, c, byte('A'+i%26))
		}
	}
	// A FIFO cannot be fsynced: the ring's fsync reports the kernel's
	// EINVAL, naming the file.
	if err := w.fsync(); !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), fifo) {
		t.Fatalf("fsync of a FIFO = %v, want EINVAL naming it", err)
	}
}

// probeRing skips the test unless a write submitted to an io_uring ring
// completes here: a kernel or a seccomp profile may give a ring and still
// refuse its operations, and a test of the ring mode would then test the
// synchronous fallback instead.
func probeRing(t *testing.T) {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := newRing()
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	defer r.close()
	if err := r.ev.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	p := []byte("probe")
	if err := r.submitWrite(int(f.Fd()), p, 0); err != nil {
		t.Skipf("io_uring refuses submissions here: %v", err)
	}
	for {
		if err := r.wait(); err != nil {
			t.Fatalf("waiting for the probe's completion: %v", err)
		}
		for {
			what, res, ok := r.reap()
			if !ok {
				break
			}
			if what == ringWrite {
				if int(res) != len(p) {
					t.Skipf("io_uring's write does not work here: result %d", res)
				}
				return
			}
		}
	}
}
