package fanout

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// frameQueue is a bounded multi-producer, single-consumer queue of shared
// frames: the outbound queue of one connection. Producers are topic owners
// (one goroutine per Kafka partition), the connection's reader and
// the hub's pinger; the consumer is the connection's writer. push never
// takes a lock and never blocks.
//
// A slot is one pointer, to the first byte of a complete WebSocket frame;
// the frame's length is read back from its own header, so an idle
// connection's ring costs 8 bytes a slot. nil marks an empty slot.
//
// A producer claims position p with a compare-and-swap on tail, which it
// attempts only when p < head + size, that is when the consumer has
// already emptied the slot's previous lap (the consumer stores nil in the
// slot before it advances head); it then publishes the frame with an
// atomic store of the slot. The consumer takes the slot at head once it is
// non-nil, empties it and advances head. A claimed slot whose producer has
// not yet stored its frame reads as empty: that producer wakes the consumer
// after storing it.
type frameQueue struct {
	tail atomic.Uint64 // next position to claim
	// head is the next position to read. Only the consumer changes it, but
	// consumers follow one another (a writer exits, a later one starts) and
	// an exiting writer's last look at the queue may overlap its
	// successor's first pop, hence an atomic.
	head atomic.Uint64
	mask uint64
	ring []atomic.Pointer[byte]
}

// init sizes the ring to size slots, a power of two.
func (q *frameQueue) init(size int) {
	q.ring = make([]atomic.Pointer[byte], size)
	q.mask = uint64(size - 1)
}

// push appends frame, a complete server frame as built by putHeader, and
// reports false if the ring is full. Safe from any goroutine.
func (q *frameQueue) push(frame []byte) bool {
	for {
		pos := q.tail.Load()
		if pos-q.head.Load() > q.mask {
			return false // full
		}
		if q.tail.CompareAndSwap(pos, pos+1) {
			q.ring[pos&q.mask].Store(unsafe.SliceData(frame))
			return true
		}
	}
}

// pop removes the oldest published frame, or returns nil when there is
// none. Consumer only.
func (q *frameQueue) pop() []byte {
	h := q.head.Load()
	s := &q.ring[h&q.mask]
	p := s.Load()
	if p == nil {
		return nil
	}
	s.Store(nil)
	q.head.Store(h + 1)
	return unsafe.Slice(p, frameLen(p))
}

// ready reports whether the oldest slot holds a published frame. Consumer
// only.
func (q *frameQueue) ready() bool {
	return q.ring[q.head.Load()&q.mask].Load() != nil
}

// frameLen returns the length of the unmasked frame that starts at p, read
// from its header.
func frameLen(p *byte) int {
	hdr := unsafe.Slice(p, 2)
	switch n := int(hdr[1] & 0x7f); n {
	case 126:
		return 4 + int(binary.BigEndian.Uint16(unsafe.Slice(p, 4)[2:]))
	case 127:
		return 10 + int(binary.BigEndian.Uint64(unsafe.Slice(p, 10)[2:]))
	default:
		return 2 + n
	}
}
