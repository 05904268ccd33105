package wsconn

import (
	"errors"
	"sync"
	"syscall"
)

// poller waits, in one goroutine, for any of the transport's idle plain-TCP
// connections to become readable, and starts a reader for it (poll.go).
// Connections are registered one-shot: an event disarms the connection
// until its reader, done, arms it again, so that no two readers of one
// connection ever run at once.
//
// Events carry a connection id, not a file descriptor, so that an event
// for a connection that has just gone cannot be mistaken for one of a new
// connection given the same descriptor. Every use of a connection's
// descriptor happens inside RawConn.Control, so the descriptor cannot be
// closed (and reused) meanwhile; every use of the epoll descriptor happens
// under mu with closed false, for the same reason.
type poller struct {
	t    *Transport
	epfd int
	wake [2]int // a pipe: a byte written to wake[1] stops the poller

	mu     sync.RWMutex // guards conns, next and closed; held for reading around epoll_ctl
	conns  map[uint64]*Conn
	next   uint64
	closed bool
}

// pollEvents arms a connection for one readiness event. EPOLLHUP and
// EPOLLERR are always reported.
const pollEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

var errPollerClosed = errors.New("wsconn: poller stopped")

// newPoller creates the epoll instance and starts the poller goroutine.
func newPoller(t *Transport) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{t: t, epfd: epfd, conns: make(map[uint64]*Conn), next: 1}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0: the wake pipe
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, err
	}
	go p.run()
	return p, nil
}

func (p *poller) closeFDs() {
	syscall.Close(p.epfd)
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
}

// add registers c, disarmed: it is armed by its first arm. It runs
// before any goroutine of c starts, and reports false if c cannot be
// polled.
func (p *poller) add(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	c.pollID = p.next
	p.next++
	p.conns[c.pollID] = c
	if p.ctl(c, syscall.EPOLL_CTL_ADD, syscall.EPOLLONESHOT) != nil {
		delete(p.conns, c.pollID)
		return false
	}
	return true
}

// arm waits for c to become readable. Only the holder of c's reader role
// calls it, after releasing the role.
func (p *poller) arm(c *Conn) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return errPollerClosed
	}
	return p.ctl(c, syscall.EPOLL_CTL_MOD, pollEvents)
}

// ctl applies op to c's descriptor; p.mu is held and p is not closed.
func (p *poller) ctl(c *Conn, op int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(uint32(c.pollID)), Pad: int32(uint32(c.pollID >> 32))}
	var err error
	if cerr := c.rc.Control(func(fd uintptr) {
		err = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
	}); cerr != nil {
		return cerr
	}
	return err
}

// remove forgets c, which is ending; its reader calls it before closing
// the socket.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c.pollID)
	if !p.closed {
		_ = p.ctl(c, syscall.EPOLL_CTL_DEL, 0)
	}
}

// stop ends the poller goroutine, which wakes every connection still
// waiting in it (each one then reads with a goroutine of its own).
func (p *poller) stop() {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.closed {
		_, _ = syscall.Write(p.wake[1], []byte{0})
	}
}

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			p.t.cfg.Logger.Error("wsconn: epoll_wait failed; connections fall back to read goroutines", "err", err)
			p.shutdown()
			return
		}
		p.mu.RLock()
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				p.mu.RUnlock()
				p.shutdown()
				return
			}
			if c := p.conns[id]; c != nil && c.rstate.CompareAndSwap(readerArmed, readerRunning) {
				go c.pollRead()
			}
		}
		p.mu.RUnlock()
	}
}

// shutdown closes the poller and hands every connection waiting in it a
// reader; their next attempt to arm fails, so they keep it.
func (p *poller) shutdown() {
	p.mu.Lock()
	p.closed = true
	p.closeFDs()
	waiting := make([]*Conn, 0, len(p.conns))
	for _, c := range p.conns {
		waiting = append(waiting, c)
	}
	p.conns = nil
	p.mu.Unlock()
	for _, c := range waiting {
		if c.rstate.CompareAndSwap(readerArmed, readerRunning) {
			go c.pollRead()
		}
	}
}
