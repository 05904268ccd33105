package market

// ring is a first-in, first-out sequence of T in a slice that grows by
// doubling up to a bound and is then reused, so that adding to it does
// not allocate once it has grown: the memory of a Symbol's book history
// and trade history. It belongs to the owner goroutine, like the Symbol.
type ring[T any] struct {
	buf  []T
	head int // index of the oldest element
	n    int // elements held
}

// at returns the i-th oldest element, 0 ≤ i < len(buf) (i = n is the
// slot push fills next).
func (r *ring[T]) at(i int) *T {
	if i += r.head; i >= len(r.buf) {
		i -= len(r.buf)
	}
	return &r.buf[i]
}

// room makes room for one more element if the ring is full and holds
// fewer than limit: it doubles its memory (to at least minSize, at most
// limit), keeping the order. It reports whether there is room.
func (r *ring[T]) room(minSize, limit int) bool {
	if r.n < len(r.buf) {
		return true
	}
	if len(r.buf) >= limit {
		return false
	}
	buf := make([]T, min(max(2*len(r.buf), minSize), limit))
	for i := range r.n {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
	return true
}

// push adds an element after the newest and returns it; there must be
// room.
func (r *ring[T]) push() *T {
	p := r.at(r.n)
	r.n++
	return p
}

// pop removes the oldest element and returns it (valid until the next
// push); the ring must not be empty.
func (r *ring[T]) pop() *T {
	p := &r.buf[r.head]
	if r.head++; r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
	return p
}

// empty removes every element, keeping the memory.
func (r *ring[T]) empty() { r.head, r.n = 0, 0 }

// release removes every element and the memory.
func (r *ring[T]) release() { r.buf, r.head, r.n = nil, 0, 0 }
