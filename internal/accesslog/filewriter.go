package accesslog

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// logChunk is how many buffered bytes make a live file's writer hand them
// to the kernel. The background flusher hands over smaller remainders.
//
// Two costs pull its size apart. The kernel's cost of taking log bytes
// falls with the size of each write and of the writeback it starts (each
// start is a block I/O submission): at about 90,000 CloudFront lines a
// second, the io-wq thread that copies the chunks into the page cache used
// 0.80-1.06 µs per request with 64 KiB chunks, 0.35-0.52 with 512 KiB and
// 0.27-0.29 with 1 MiB. But that copy runs on the core that serves, in one
// piece per chunk, and a request arriving meanwhile waits for it: with
// 1 MiB chunks the 99th percentile of a 1 KiB cache hit was 1.48-2.56 ms
// in seven runs against 1.04-1.67 ms with 256 KiB, higher in every one of
// the seven pairs. bench/pair.sh puts the process's CPU per hit with
// 256 KiB, 512 KiB and 1 MiB within about 1 % of each other (64 KiB: 7 %
// more), so the chunk is 256 KiB (bench/README.md, "Write size of the
// access log"). A file logging little never grows its buffers that far:
// the flusher empties them every interval.
const logChunk = 256 << 10

// maxPending is how many bytes a live file's writer buffers while its
// previous write is still in the kernel. Past it, Write waits for that
// write: the log slows the requests down rather than lose lines or grow
// without bound. At 64 MB/s of log lines it holds a quarter of a second.
const maxPending = 16 << 20

// fileWriter is a live log file's buffered writer. With an io_uring ring
// (Linux), a write to the file is submitted and Write returns: the kernel
// writes on one of its io-wq threads, and a write that the disk makes wait
// (on ext4, its journal during writeback) blocks that thread, never the
// goroutine that logs and the P it holds. One write is in flight at a
// time; lines logged meanwhile gather in buf and go in the next one, so
// the file receives them in order. Without a ring (not Linux, or io_uring
// forbidden, as in some container profiles) every chunk is written
// synchronously and its writeback started at once (startWriteback).
// Not safe for concurrent use: the fileSet's lock guards it.
type fileWriter struct {
	f  *os.File
	fd int
	r  *ring // nil: synchronous writes
	// buf holds the lines not yet handed to the kernel.
	buf []byte
	// out is the write in flight (busy), of which the kernel wrote sent
	// bytes so far. It must stay unchanged until its completion: the
	// kernel reads it.
	out  []byte
	sent int
	busy bool
	// off is the synchronous writer's file offset, where the writeback of
	// its next write starts.
	off int64
	// syncing: an fsync is in the ring, whose failure goes to syncErr.
	syncing bool
	syncErr error
	// err is the first failure; the writer writes nothing after it.
	err error
	// ringErr says why writes are synchronous, when r is nil.
	ringErr error
}

// newFileWriter returns f's writer, with an io_uring ring when the system
// gives one and useRing is set.
func newFileWriter(f *os.File, useRing bool) *fileWriter {
	w := &fileWriter{f: f, fd: int(f.Fd())}
	if !useRing {
		w.ringErr = fmt.Errorf("io_uring not used")
		return w
	}
	w.r, w.ringErr = newRing()
	return w
}

// Write buffers p and hands a full chunk to the kernel.
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= logChunk {
		w.send()
		for len(w.buf) >= maxPending && w.busy && w.err == nil {
			w.waitOne()
			w.send()
		}
	}
	return len(p), w.err
}

// WriteString is Write for a string.
func (w *fileWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush hands every buffered byte to the kernel: written at once without a
// ring; with one, submitted now, or right after the write in flight.
func (w *fileWriter) Flush() error {
	w.send()
	return w.err
}

// flushWait hands every buffered byte to the kernel and waits until the
// file has them all.
func (w *fileWriter) flushWait() error {
	for w.err == nil {
		w.send()
		if !w.busy {
			break
		}
		w.waitOne()
	}
	return w.err
}

// send takes the completions there are and, if no write is in flight,
// hands buf to the kernel.
func (w *fileWriter) send() {
	if w.r == nil {
		if len(w.buf) > 0 {
			w.writeSync(w.buf)
			w.buf = w.buf[:0]
		}
		return
	}
	w.reap()
	if w.busy || len(w.buf) == 0 || w.err != nil {
		return
	}
	w.out, w.buf, w.sent = w.buf, w.out[:0], 0
	w.submit()
}

// submit hands out[sent:] to the ring.
func (w *fileWriter) submit() {
	if err := w.r.submitWrite(w.fd, w.out[w.sent:], w.off); err != nil {
		w.dropRing(err)
		w.writeSync(w.out[w.sent:])
		return
	}
	w.busy = true
}

// reap takes the completions there are: the writeback starts (whose
// result does not matter: at worst the kernel writes those pages back
// later, on its own schedule) and the write in flight, whose short write
// it resubmits the rest of.
func (w *fileWriter) reap() {
	for {
		what, res, ok := w.r.reap()
		if !ok {
			return
		}
		if what == ringFsync {
			w.syncing = false
			if res < 0 {
				w.syncErr = fmt.Errorf("fsync %s: %w", w.f.Name(), syscall.Errno(-res))
			}
			continue
		}
		if what != ringWrite {
			continue
		}
		w.busy = false
		switch {
		case res < 0:
			// The kernel's write failed; the same write made synchronously
			// either succeeds (a ring-only limitation) or reports the error.
			w.writeSync(w.out[w.sent:])
		case res == 0:
			w.err = fmt.Errorf("write %s: %w", w.f.Name(), io.ErrShortWrite)
		default:
			w.sent += int(res)
			w.off += int64(res)
			if w.sent < len(w.out) {
				w.submit()
			}
		}
	}
}

// waitOne waits until the write in flight completes, and takes it.
func (w *fileWriter) waitOne() {
	for w.busy && w.err == nil {
		if err := w.r.wait(); err != nil {
			// Without a completion to wait for, the write in flight cannot
			// be known to be done: that is a failure, not a fallback.
			w.err = fmt.Errorf("write %s: %w", w.f.Name(), err)
			return
		}
		w.reap()
	}
}

// dropRing makes every later write synchronous after the ring failed.
func (w *fileWriter) dropRing(err error) {
	w.r.close()
	w.r, w.ringErr, w.busy = nil, err, false
}

// writeSync writes p to the file now, and starts its writeback.
func (w *fileWriter) writeSync(p []byte) {
	n, err := w.f.Write(p)
	if n > 0 {
		startWriteback(w.f, w.off, int64(n))
		w.off += int64(n)
	}
	if err != nil && w.err == nil {
		w.err = err // an *os.PathError: it names the file
	}
}

// fsync makes what was written durable. With a ring the fsync runs on an
// io-wq thread while this goroutine waits in Go's poller, holding no P: a
// finished file's fsync, which can take the disk long, stalls no request.
func (w *fileWriter) fsync() error {
	if w.r != nil && w.err == nil {
		if err := w.r.submitFsync(w.fd); err == nil {
			w.syncing = true
			for w.syncing && w.err == nil {
				if err := w.r.wait(); err != nil {
					w.err = fmt.Errorf("fsync %s: %w", w.f.Name(), err)
					return w.err
				}
				w.reap()
			}
			if w.err != nil {
				return w.err
			}
			return w.syncErr
		}
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", w.f.Name(), err)
	}
	return nil
}

// closeRing closes the ring once the kernel has no write of this writer's
// buffers left; after a failure that left one in flight, the ring is left
// to the process's end rather than closed under it.
func (w *fileWriter) closeRing() {
	if w.r != nil && !w.busy && !w.syncing {
		w.r.close()
		w.r = nil
	}
}

// close writes everything, fsyncs and closes the file and its ring.
func (w *fileWriter) close() error {
	err := w.flushWait()
	if err == nil {
		err = w.fsync()
	}
	w.closeRing()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", w.f.Name(), cerr)
	}
	return err
}

// abandon drops what is buffered, waits for the write in flight and closes
// the ring and the file: the file is about to be removed.
func (w *fileWriter) abandon() {
	w.buf = w.buf[:0]
	_ = w.flushWait()
	w.closeRing()
	_ = w.f.Close()
}

// fsyncFile fsyncs f (a directory, say) as fileWriter.fsync does: through
// a ring of its own when there is one, waiting without holding a P.
func fsyncFile(f *os.File) error {
	w := newFileWriter(f, true)
	defer w.closeRing()
	return w.fsync()
}
