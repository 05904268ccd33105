package wsconn

import (
	"net"
	"syscall"
	"unsafe"
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

// tcpClose is TCP_CLOSE of the kernel's TCP states: the first byte of
// struct tcp_info.
const tcpClose = 7

// unsentBytes returns the bytes the kernel holds for the socket that the
// client has not acknowledged yet (SIOCOUTQ; a FIN counts as one), zero
// for a connection that is gone (reset), and whether it could tell.
func unsentBytes(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int32
	var info [8]byte // the head of struct tcp_info: tcpi_state first
	size := uint32(len(info))
	var errno syscall.Errno
	if rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO, uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
		if errno == 0 && info[0] != tcpClose {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
		}
	}) != nil || errno != 0 {
		return 0, false
	}
	return int(n), true
}
