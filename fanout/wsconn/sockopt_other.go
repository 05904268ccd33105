//go:build !linux

package wsconn

import "net"

// setNotSentLowat is a no-op where TCP_NOTSENT_LOWAT is not available.
func setNotSentLowat(net.Conn, int) {}

// roomToClose is a no-op where the kernel's buffers are left as they are.
func roomToClose(net.Conn, int) {}

// unsentBytes cannot tell the socket's unacknowledged bytes here.
func unsentBytes(net.Conn) (int, bool) { return 0, false }
