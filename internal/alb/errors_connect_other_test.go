//go:build !linux

package alb

// connectTimeoutErrorRows needs a SYN-dropping address (linux only).
func connectTimeoutErrorRows() []lbErrorCase { return nil }
