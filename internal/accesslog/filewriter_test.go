package accesslog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writerModes are the two ways a live file is written: through an
// io_uring ring, and synchronously.
var writerModes = []struct {
	name    string
	useRing bool
}{{"ring", true}, {"sync", false}}

// newTestWriter returns a writer for f in the given mode; the ring mode
// skips where the system gives no io_uring, and says why.
func newTestWriter(t *testing.T, f *os.File, useRing bool) *fileWriter {
	t.Helper()
	if useRing {
		probeRing(t)
	}
	w := newFileWriter(f, useRing)
	if useRing && w.r == nil {
		t.Skipf("no io_uring here: %v", w.ringErr)
	}
	if !useRing && w.r != nil {
		t.Fatal("a synchronous writer has a ring")
	}
	return w
}

// TestFileWriter: every byte reaches the file in order, across chunks,
// short flushes and one write far larger than a chunk, and close leaves
// nothing behind.
func TestFileWriter(t *testing.T) {
	for _, m := range writerModes {
		t.Run(m.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "live.log")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := newTestWriter(t, f, m.useRing)
			var want []byte
			for i := range 2000 {
				chunk := []byte(strings.Repeat(string(rune('a'+i%26)), 1+i*37%700))
				if i == 1000 {
					chunk = bytes.Repeat([]byte("big"), 3*logChunk)
				}
				if n, err := w.Write(chunk); err != nil || n != len(chunk) {
					t.Fatalf("write %d: %d, %v", i, n, err)
				}
				want = append(want, chunk...)
				if i%300 == 0 {
					if err := w.Flush(); err != nil {
						t.Fatalf("flush after write %d: %v", i, err)
					}
				}
			}
			if err := w.close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("file holds %d bytes, want the %d written", len(got), len(want))
			}
			if w.off != int64(len(want)) {
				t.Fatalf("writer's offset %d, want %d", w.off, len(want))
			}
		})
	}
}

// TestFileWriterReportsAFailedWrite: a write the kernel refuses (the file
// is open read-only) is an error from the writer, in both modes, and
// nothing is written after it.
func TestFileWriterReportsAFailedWrite(t *testing.T) {
	for _, m := range writerModes {
		t.Run(m.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ro.log")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := newTestWriter(t, f, m.useRing)
			if _, err := w.Write(bytes.Repeat([]byte("x"), logChunk)); err != nil && !m.useRing {
				t.Logf("synchronous write failed at once: %v", err)
			}
			err = w.flushWait()
			if err == nil || !strings.Contains(err.Error(), "ro.log") {
				t.Fatalf("flushWait = %v, want the write's failure naming the file", err)
			}
			if _, werr := w.Write([]byte("more")); werr == nil {
				t.Fatal("a write after the failure succeeded")
			}
		})
	}
}
