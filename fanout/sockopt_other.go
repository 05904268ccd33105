//go:build !linux

package fanout

import "net"

// setNotSentLowat is a no-op where TCP_NOTSENT_LOWAT is not available.
func setNotSentLowat(net.Conn, int) {}
