package wsconn

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"unsafe"
)

// frameQueue is the multi-producer, single-consumer queue of shared frames
// of one connection. Producers are symbol owners (one goroutine per Kafka
// partition), the connection's reader and the hub's pinger; the consumer
// is the connection's writer. push never blocks and, while the ring has a
// free slot, takes no lock.
//
// The ring: a slot is one pointer, to the first byte of a complete
// WebSocket frame; the frame's length is read back from its own header, so
// an idle connection's ring costs 9 bytes a slot (the pointer and the
// frame's kind). nil marks an empty slot. A producer claims position p with
// a compare-and-swap on tail, which it attempts only when p < head + size,
// that is when the consumer has already emptied the slot's previous lap
// (the consumer stores nil in the slot before it advances head); it then
// publishes the frame with an atomic store of the slot. The consumer takes
// the slot at head once it is non-nil, empties it and advances head. A
// claimed slot whose producer has not yet stored its frame reads as empty:
// that producer wakes the consumer after storing it.
//
// The overflow: when the ring is full, frames go to a list guarded by a
// mutex, and spill is set; while spill is set every producer appends to
// the list, so that no producer's frames overtake one another. The
// consumer, finding the ring empty and spill set, takes the whole list,
// notes the ring's tail at that moment (barrier) and clears spill under
// the mutex; it then delivers the ring's positions below barrier, the
// list, and the ring again. A producer's frames stay in order: a frame it
// put in the ring before one in the list sits below the barrier read after
// that list entry, and a frame it puts in the ring after one in the list
// was claimed after spill was cleared, at or above the barrier. The ring
// is thus never a limit for a client that reads: the connection's byte and
// age budgets are (conn.go). The list is bounded by maxOver entries only
// against floods of tiny frames.
type frameQueue struct {
	tail atomic.Uint64 // next position to claim
	// head is the next position to read. Only the consumer changes it, but
	// consumers follow one another (a writer exits, a later one starts) and
	// an exiting writer's last look at the queue may overlap its
	// successor's first pop, hence an atomic.
	head  atomic.Uint64
	mask  uint64
	ring  []atomic.Pointer[byte]
	kinds []Kind // kind of each slot's frame, written before the slot is published

	spill   atomic.Bool // producers append to over
	mu      sync.Mutex
	over    []queuedFrame // guarded by mu
	maxOver int

	// Consumer only (handed from writer to writer with head). inBatch and
	// barrier are atomics for the same reason as head: ready may look at
	// them while the next writer pops.
	batch   []queuedFrame // a list taken from over, delivered from bi on
	bi      int
	inBatch atomic.Bool   // bi < len(batch)
	barrier atomic.Uint64 // ring positions below it precede batch
}

type queuedFrame struct {
	p    *byte
	kind Kind
}

// init sizes the ring to size slots, a power of two, and bounds the
// overflow list to maxOver frames.
func (q *frameQueue) init(size, maxOver int) {
	q.ring = make([]atomic.Pointer[byte], size)
	q.kinds = make([]Kind, size)
	q.mask = uint64(size - 1)
	q.maxOver = maxOver
}

// push appends frame, a complete server frame as built by putHeader, of
// the given kind. It reports false only if the overflow list is at its
// bound. Safe from any goroutine.
func (q *frameQueue) push(frame []byte, kind Kind) bool {
	if !q.spill.Load() && q.pushRing(frame, kind) {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.over) >= q.maxOver {
		return false
	}
	q.over = append(q.over, queuedFrame{unsafe.SliceData(frame), kind})
	q.spill.Store(true)
	return true
}

// pushRing puts frame in the ring, or reports false if the ring is full.
func (q *frameQueue) pushRing(frame []byte, kind Kind) bool {
	for {
		pos := q.tail.Load()
		head := q.head.Load()
		if head > pos {
			// pos is stale: other producers claimed and the consumer
			// emptied slots since it was read. Comparing would wrap.
			continue
		}
		if pos-head > q.mask {
			return false // full
		}
		if q.tail.CompareAndSwap(pos, pos+1) {
			i := pos & q.mask
			q.kinds[i] = kind
			q.ring[i].Store(unsafe.SliceData(frame))
			return true
		}
	}
}

// pop removes the oldest frame and returns it with its kind, or returns
// nil when none is published. Consumer only.
func (q *frameQueue) pop() ([]byte, Kind) {
	for {
		if q.bi < len(q.batch) {
			if h := q.head.Load(); h < q.barrier.Load() {
				return q.popRing(h) // nil while a producer is publishing it
			}
			e := q.batch[q.bi]
			q.batch[q.bi] = queuedFrame{}
			q.bi++
			if q.bi == len(q.batch) {
				q.inBatch.Store(false)
				q.bi = 0
				q.batch = q.batch[:0]
				if cap(q.batch) > 4096 {
					q.batch = nil // a burst's list is not kept for ever
				}
			}
			return unsafe.Slice(e.p, frameLen(e.p)), e.kind
		}
		if f, k := q.popRing(q.head.Load()); f != nil || !q.spill.Load() {
			return f, k
		}
		q.mu.Lock()
		q.batch, q.over = q.over, q.batch[:0]
		q.bi = 0
		q.barrier.Store(q.tail.Load())
		q.inBatch.Store(len(q.batch) > 0)
		q.spill.Store(false)
		q.mu.Unlock()
	}
}

func (q *frameQueue) popRing(h uint64) ([]byte, Kind) {
	s := &q.ring[h&q.mask]
	p := s.Load()
	if p == nil {
		return nil, 0
	}
	k := q.kinds[h&q.mask]
	s.Store(nil)
	q.head.Store(h + 1)
	return unsafe.Slice(p, frameLen(p)), k
}

// ready reports whether pop would return a frame. Consumer only.
func (q *frameQueue) ready() bool {
	h := q.head.Load()
	if q.inBatch.Load() {
		return h >= q.barrier.Load() || q.ring[h&q.mask].Load() != nil
	}
	return q.ring[h&q.mask].Load() != nil || q.spill.Load()
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
