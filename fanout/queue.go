package fanout

import (
	"sync/atomic"
	"unsafe"
)

// frameQueue is a bounded multi-producer, single-consumer queue of shared
// frames: the outbound queue of one connection. Producers are topic owners
// (one goroutine per Kafka partition) and the connection's read goroutine;
// the consumer is the connection's writer. push never takes a lock and
// never blocks: it claims a slot with one compare-and-swap on tail and
// publishes it with one atomic store of the slot's sequence number (the
// bounded-queue design of D. Vyukov, reduced to one consumer).
//
// Slot i of lap L is free for the producer of position p = L*size+i when
// its seq equals p, and holds a frame for the consumer when its seq equals
// p+1; the consumer frees it for the next lap by storing p+size. seq is 32
// bits and compared by signed difference, which is exact while fewer than
// 2^31 positions separate producers from the consumer (the ring holds at
// most size of them).
//
// A slot is 16 bytes (the frame as a data pointer and a 32-bit length, so
// that the ring of an idle connection stays small).
type frameQueue struct {
	tail atomic.Uint64 // next position to claim; producers only
	// head is the next position to read. Only the consumer changes it, but
	// consumers follow one another (a writer exits, a later one starts) and
	// an exiting writer's last look at the queue may overlap its
	// successor's first pop, hence an atomic.
	head atomic.Uint64
	mask uint32
	ring []qslot
}

type qslot struct {
	seq atomic.Uint32
	n   uint32
	p   *byte
}

// init sizes the ring to size slots, a power of two.
func (q *frameQueue) init(size int) {
	q.ring = make([]qslot, size)
	q.mask = uint32(size - 1)
	for i := range q.ring {
		q.ring[i].seq.Store(uint32(i))
	}
}

// push appends frame and reports false if the ring is full. Safe from any
// goroutine.
func (q *frameQueue) push(frame []byte) bool {
	pos := q.tail.Load()
	for {
		s := &q.ring[uint32(pos)&q.mask]
		switch d := int32(s.seq.Load() - uint32(pos)); {
		case d == 0:
			if q.tail.CompareAndSwap(pos, pos+1) {
				// The slot is ours alone until seq says otherwise.
				s.p, s.n = unsafe.SliceData(frame), uint32(len(frame))
				s.seq.Store(uint32(pos) + 1) // publishes p and n
				return true
			}
			pos = q.tail.Load()
		case d < 0:
			return false // a lap behind: full
		default:
			pos = q.tail.Load() // another producer took it
		}
	}
}

// pop removes the oldest published frame, or returns nil when there is
// none (a slot claimed but not yet published counts as none: its producer
// will wake the consumer after publishing). Consumer only.
func (q *frameQueue) pop() []byte {
	h := q.head.Load()
	s := &q.ring[uint32(h)&q.mask]
	if s.seq.Load() != uint32(h)+1 {
		return nil
	}
	f := unsafe.Slice(s.p, s.n)
	s.p, s.n = nil, 0
	s.seq.Store(uint32(h) + q.mask + 1) // frees the slot for the next lap
	q.head.Store(h + 1)
	return f
}

// ready reports whether the oldest slot holds a published frame. Consumer
// only.
func (q *frameQueue) ready() bool {
	h := q.head.Load()
	return q.ring[uint32(h)&q.mask].seq.Load() == uint32(h)+1
}
