//go:build !linux

package accesslog

import "os"

// startWriteback is Linux's (writeback_linux.go); elsewhere the kernel
// writes log pages back on its own schedule.
func startWriteback(*os.File, int64, int64) {}
