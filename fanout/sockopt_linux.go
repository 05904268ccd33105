package fanout

import (
	"net"
	"syscall"
)

// tcpNotSentLowat is TCP_NOTSENT_LOWAT of linux/tcp.h.
const tcpNotSentLowat = 0x19

// setNotSentLowat bounds the bytes the kernel holds unsent for the
// socket: a write blocks once that many are waiting, so a backlog stays
// in the connection's queue, where its lateness is measured, rather than
// hidden in the kernel (data in flight is not counted: throughput over a
// long path is not limited).
func setNotSentLowat(nc net.Conn, n int) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, n)
	})
}
