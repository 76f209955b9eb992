//go:build !unix

package upstream

import (
	"net"
	"net/http/httptrace"
	"syscall"
)

// writeAwait does nothing here: the caller writes and reads as usual (see
// the Unix version for what it saves).
func (pc *pconn) writeAwait(p []byte, o Observer, trace *httptrace.ClientTrace) (written int, awaited bool, err error) {
	return 0, false, nil
}

// awaitState is empty here (see the Unix version).
type awaitState struct{}

// step is never called here.
func (a *awaitState) step(fd uintptr) bool { return true }

// rawConn is nil here: writeAwait does not use it.
func rawConn(c net.Conn) syscall.RawConn { return nil }
