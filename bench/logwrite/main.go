//go:build linux

// Command logwrite measures what the kernel charges for taking appended
// log bytes: it appends to a file at a fixed rate, in writes of a fixed
// size, and prints the CPU it and the whole machine spent doing so.
//
//	go run ./bench/logwrite [-rate-mb 42] [-chunk-kib 1024] [-direct] [-seconds 5] [-file PATH]
//
// It is the evidence behind the access log's write size
// (internal/accesslog/filewriter.go, logChunk; bench/README.md, "Write size
// of the access log"). Each write is followed, as kumo's writer does, by a
// sync_file_range(SYNC_FILE_RANGE_WRITE) that starts its writeback without
// waiting. -direct opens the file with O_DIRECT instead (chunk and buffer
// aligned to 4 KiB), which needs no writeback start. Pin it to one core
// (taskset -c 0) to compare with kumo's figures. "process" is the
// program's utime+stime; "machine" is every CPU's busy time from /proc/stat
// (the kernel's writeback threads included) over the same interval.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "logwrite:", err)
		os.Exit(1)
	}
}

func run() error {
	rateMB := flag.Int("rate-mb", 42, "megabytes (10^6 bytes) appended per second")
	chunkKiB := flag.Int("chunk-kib", 1024, "KiB per write")
	direct := flag.Bool("direct", false, "open the file with O_DIRECT (chunk must be a multiple of 4 KiB)")
	seconds := flag.Int("seconds", 5, "how long to append")
	path := flag.String("file", "", "the file to append to (default: a new file in the working directory, removed after)")
	flag.Parse()
	if *rateMB <= 0 || *chunkKiB <= 0 || *seconds <= 0 {
		return errors.New("-rate-mb, -chunk-kib and -seconds must be positive")
	}
	rate, chunk := *rateMB*1_000_000, *chunkKiB<<10
	if *direct && chunk%4096 != 0 {
		return fmt.Errorf("-chunk-kib %d: O_DIRECT needs a multiple of 4 KiB", *chunkKiB)
	}
	name := *path
	if name == "" {
		name = fmt.Sprintf("logwrite-%d.log", os.Getpid())
		defer os.Remove(name)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if *direct {
		flags |= syscall.O_DIRECT
	}
	f, err := os.OpenFile(name, flags, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()

	// One buffer, 4 KiB-aligned for O_DIRECT, filled with log-like text.
	raw := make([]byte, chunk+4096)
	off := 4096 - int(uintptr(unsafe.Pointer(&raw[0]))&4095)
	buf := raw[off : off+chunk]
	const line = "2026-11-29\t12:00:00\tKUMO1-C1\t1283\t127.0.0.1\tGET\tdexample.cloudfront.net\t/1k\t200\t-\twrk\t-\t-\tHit\tabc\t127.0.0.1:18080\thttp\t40\t0.000\t-\t-\t-\tHit\tHTTP/1.1\t-\t-\t53412\t0.000\tHit\ttext/plain\t1024\t-\t-\n"
	for i := range buf {
		buf[i] = line[i%len(line)]
	}

	fd := int(f.Fd())
	start := time.Now()
	cpu0, busy0, err := cpuTimes()
	if err != nil {
		return err
	}
	var pos int64
	for elapsed := time.Duration(0); elapsed < time.Duration(*seconds)*time.Second; elapsed = time.Since(start) {
		if pos >= int64(elapsed.Seconds()*float64(rate)) {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		n, err := unix.Pwrite(fd, buf, pos)
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if !*direct {
			_ = unix.SyncFileRange(fd, pos, int64(n), unix.SYNC_FILE_RANGE_WRITE)
		}
		pos += int64(n)
	}
	wall := time.Since(start)
	cpu1, busy1, err := cpuTimes()
	if err != nil {
		return err
	}
	mode := "page cache"
	if *direct {
		mode = "O_DIRECT"
	}
	perMB := func(d time.Duration) float64 { return d.Seconds() * 1e6 / (float64(pos) / 1e6) }
	fmt.Printf("%s, %d-byte writes: %.1f MB/s for %.1f s; process %.1f%% of a core (%.0f µs per MB), machine %.1f%% (%.0f µs per MB)\n",
		mode, chunk, float64(pos)/wall.Seconds()/1e6, wall.Seconds(),
		100*(cpu1-cpu0).Seconds()/wall.Seconds(), perMB(cpu1-cpu0),
		100*(busy1-busy0).Seconds()/wall.Seconds(), perMB(busy1-busy0))
	return nil
}

// cpuTimes returns this process's CPU time and every CPU's busy time.
func cpuTimes() (self, busy time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, fmt.Errorf("getrusage: %w", err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	first, _, _ := strings.Cut(string(stat), "\n")
	fields := strings.Fields(first) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", first)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: field %d of %q: %w", i, first, err)
		}
		ticks += v
	}
	const userHZ = 100 // USER_HZ, fixed at 100 on Linux
	return self, time.Duration(ticks) * time.Second / userHZ, nil
}
