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

// roomToClose lets the kernel take n more bytes at once for a closing
// socket: the rest of the frame being written and the close frame are
// then queued behind what the client has still to read, and delivered as
// it reads, rather than waiting for it (the client may be slow). The
// bound of unsent bytes is lifted and the send buffer grown by n and some
// slack; the kernel only allocates what is queued.
func roomToClose(nc net.Conn, n int) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpNotSentLowat, -1)
		if cur, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF); err == nil {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, cur+n+64<<10)
		}
	})
}
