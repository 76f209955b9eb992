//go:build !unix

package upstream

import (
	"net"
	"syscall"
)

// rawConn is nil where sendAwait does not apply: a pconn writes with
// conn.Write and reads at once.
func rawConn(net.Conn) syscall.RawConn { return nil }

// sendAwait is never called where rawConn is nil.
func (pc *pconn) sendAwait() error {
	if _, err := pc.conn.Write(pc.wbuf); err != nil {
		return err
	}
	pc.wrote()
	return nil
}

// step is never used where rawConn is nil.
func (pc *pconn) step(uintptr) bool { return true }
