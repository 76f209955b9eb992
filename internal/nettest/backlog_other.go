//go:build !unix

package nettest

import "errors"

func listenBacklog0() (fd, port int, err error) {
	return 0, 0, errors.New("raw sockets are only used on unix")
}

func closeFD(int) {}
