//go:build linux

package accesslog

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parts of the io_uring ABI (linux/io_uring.h) the log writer uses.
const (
	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000

	uringOpFsync         = 3  // IORING_OP_FSYNC
	uringOpSyncFileRange = 8  // IORING_OP_SYNC_FILE_RANGE, Linux 5.2
	uringOpWrite         = 23 // IORING_OP_WRITE, Linux 5.6

	uringSQELink = 1 << 2 // IOSQE_IO_LINK: the next entry starts when this one succeeded

	uringRegisterEventFD = 4 // IORING_REGISTER_EVENTFD

	uringFeatRWCurPos = 1 << 3 // IORING_FEAT_RW_CUR_POS: offset -1 is the file position

	uringSQESize = 64
	uringCQESize = 16
)

// uringParams is struct io_uring_params.
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
		userAddr                                                        uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
		userAddr                                                        uint64
	}
}

// uringSQE is struct io_uring_sqe, as far as a write uses it.
type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	rwFlags  uint32
	userData uint64
	_        [24]byte
}

// uringCQE is struct io_uring_cqe.
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is a small io_uring instance (io_uring(7)) for one log file's
// writes. Submitting a write returns at once: a buffered write to ext4
// cannot be tried without blocking, so the kernel hands it to one of the
// process's io-wq worker threads, and if the disk makes it wait, that
// thread waits, not the goroutine's P. Not safe for concurrent use.
type ring struct {
	fd int
	// ev is an eventfd the kernel signals at each completion, read through
	// Go's poller: waiting for a completion parks the goroutine and holds
	// no P, where io_uring_enter(IORING_ENTER_GETEVENTS) would block the
	// thread with its P.
	ev                   *os.File
	sqMem, cqMem, sqeMem []byte
	sqHead, sqTail       *uint32
	sqMask               uint32
	sqArray              unsafe.Pointer
	cqHead, cqTail       *uint32
	cqMask               uint32
	cqes                 unsafe.Pointer
	sqes                 unsafe.Pointer
}

// ringEntries is the size of each log file's submission queue: the writer
// keeps one write in flight.
const ringEntries = 4

// newRing sets up an io_uring instance, or says why it cannot (no
// io_uring in the kernel, or a seccomp profile that forbids it).
func newRing() (*ring, error) {
	var p uringParams
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup: %w", errno)
	}
	r := &ring{fd: int(fd)}
	if p.features&uringFeatRWCurPos == 0 {
		r.close()
		return nil, errors.New("io_uring: the kernel has no IORING_FEAT_RW_CUR_POS (Linux 5.6)")
	}
	mmap := func(off int64, size int) ([]byte, error) {
		b, err := unix.Mmap(r.fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		if err != nil {
			return nil, fmt.Errorf("io_uring mmap: %w", err)
		}
		return b, nil
	}
	var err error
	if r.sqMem, err = mmap(uringOffSQRing, int(p.sqOff.array+p.sqEntries*4)); err != nil {
		r.close()
		return nil, err
	}
	if r.cqMem, err = mmap(uringOffCQRing, int(p.cqOff.cqes+p.cqEntries*uringCQESize)); err != nil {
		r.close()
		return nil, err
	}
	if r.sqeMem, err = mmap(uringOffSQEs, int(p.sqEntries*uringSQESize)); err != nil {
		r.close()
		return nil, err
	}
	at := func(b []byte, off uint32) unsafe.Pointer { return unsafe.Pointer(&b[off]) }
	r.sqHead = (*uint32)(at(r.sqMem, p.sqOff.head))
	r.sqTail = (*uint32)(at(r.sqMem, p.sqOff.tail))
	r.sqMask = *(*uint32)(at(r.sqMem, p.sqOff.ringMask))
	r.sqArray = at(r.sqMem, p.sqOff.array)
	r.cqHead = (*uint32)(at(r.cqMem, p.cqOff.head))
	r.cqTail = (*uint32)(at(r.cqMem, p.cqOff.tail))
	r.cqMask = *(*uint32)(at(r.cqMem, p.cqOff.ringMask))
	r.cqes = at(r.cqMem, p.cqOff.cqes)
	r.sqes = unsafe.Pointer(&r.sqeMem[0])
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("io_uring eventfd: %w", err)
	}
	r.ev = os.NewFile(uintptr(efd), "io_uring eventfd") // non-blocking: Go's poller waits for it
	ev := int32(efd)
	if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterEventFD,
		uintptr(unsafe.Pointer(&ev)), 1, 0, 0); errno != 0 {
		r.close()
		return nil, fmt.Errorf("io_uring_register eventfd: %w", errno)
	}
	return r, nil
}

// Completions' user data: which kind of entry finished.
const (
	ringWrite     = 0
	ringWriteback = 1
	ringFsync     = 2
)

// submitWrite queues a write of p to fd at the file position, which is
// off, linked to the start of the writeback of those bytes (the
// ringWriteback completion; sync_file_range with SYNC_FILE_RANGE_WRITE, as
// startWriteback), and tells the kernel. The caller keeps p alive and
// unchanged until the ringWrite completion comes back (reap).
func (r *ring) submitWrite(fd int, p []byte, off int64) error {
	return r.submit(uringSQE{
		opcode:   uringOpWrite,
		flags:    uringSQELink,
		fd:       int32(fd),
		off:      ^uint64(0), // -1: at the file position, which it advances
		addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))),
		len:      uint32(len(p)),
		userData: ringWrite,
	}, uringSQE{
		opcode:   uringOpSyncFileRange,
		fd:       int32(fd),
		off:      uint64(off),
		len:      uint32(len(p)),
		rwFlags:  unix.SYNC_FILE_RANGE_WRITE,
		userData: ringWriteback,
	})
}

// submitFsync queues an fsync of fd (its ringFsync completion) and tells
// the kernel: the fsync runs on an io-wq thread, never on the caller's.
func (r *ring) submitFsync(fd int) error {
	return r.submit(uringSQE{opcode: uringOpFsync, fd: int32(fd), userData: ringFsync})
}

// submit queues entries, in order, and tells the kernel.
func (r *ring) submit(entries ...uringSQE) error {
	tail := atomic.LoadUint32(r.sqTail)
	n := uint32(len(entries))
	if tail+n-atomic.LoadUint32(r.sqHead) > r.sqMask+1 {
		return errors.New("io_uring: submission queue full")
	}
	for k, e := range entries {
		i := (tail + uint32(k)) & r.sqMask
		*(*uringSQE)(unsafe.Add(r.sqes, uintptr(i)*uringSQESize)) = e
		*(*uint32)(unsafe.Add(r.sqArray, uintptr(i)*4)) = i
	}
	atomic.StoreUint32(r.sqTail, tail+n)
	// Every entry the kernel has not taken yet, should an earlier call
	// have submitted only part of its own.
	return r.enter(tail + n - atomic.LoadUint32(r.sqHead))
}

// enter is io_uring_enter(2) submitting toSubmit entries, without waiting.
func (r *ring) enter(toSubmit uint32) error {
	for {
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), 0, 0, 0, 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return fmt.Errorf("io_uring_enter: %w", errno)
	}
}

// reap returns the next completion, if one is there, without waiting.
func (r *ring) reap() (userData uint64, res int32, ok bool) {
	head := atomic.LoadUint32(r.cqHead)
	if head == atomic.LoadUint32(r.cqTail) {
		return 0, 0, false
	}
	cqe := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*uringCQESize))
	userData, res = cqe.userData, cqe.res
	atomic.StoreUint32(r.cqHead, head+1)
	return userData, res, true
}

// wait returns once a completion may be there: at once if one came since
// the last wait, otherwise when the next comes. It parks the goroutine in
// Go's poller and holds no P. Closing, write-through flushing and a writer
// past maxPending wait; the request path otherwise never does.
func (r *ring) wait() error {
	var b [8]byte
	if _, err := r.ev.Read(b[:]); err != nil {
		return fmt.Errorf("io_uring eventfd: %w", err)
	}
	return nil
}

// close unmaps the rings and closes the instance. The caller has reaped
// every write it submitted.
func (r *ring) close() {
	for _, b := range [][]byte{r.sqeMem, r.cqMem, r.sqMem} {
		if b != nil {
			_ = unix.Munmap(b)
		}
	}
	r.sqeMem, r.cqMem, r.sqMem = nil, nil, nil
	_ = unix.Close(r.fd)
	if r.ev != nil {
		_ = r.ev.Close()
	}
}
