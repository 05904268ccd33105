package fanout

// subscribers is the set of connections of one output stream. It belongs to
// the topic's owner goroutine, which is the only goroutine that reads or
// changes it, so delivery takes no lock: one frame, shared, is enqueued on
// each connection.
type subscribers struct {
	conns []*Conn
}

func (s *subscribers) len() int { return len(s.conns) }

func (s *subscribers) add(c *Conn) { s.conns = append(s.conns, c) }

// remove deletes c (order is not kept) and reports whether it was there.
func (s *subscribers) remove(c *Conn) bool {
	for i, x := range s.conns {
		if x == c {
			last := len(s.conns) - 1
			s.conns[i] = s.conns[last]
			s.conns[last] = nil
			s.conns = s.conns[:last]
			return true
		}
	}
	return false
}

// send enqueues frame on every connection. A connection that is closing
// refuses it; its own cleanup removes it from the set.
//
// For subscribers that negotiated compression, a large enough frame is
// compressed once, on first need, and those bytes are shared in turn.
func (s *subscribers) send(frame []byte) {
	var z []byte
	tried := false
	for _, c := range s.conns {
		if c.deflate && len(frame) >= c.hub.cfg.CompressMinSize {
			if !tried {
				z, tried = deflateFrame(frame), true
			}
			if z != nil {
				c.enqueue(z)
				continue
			}
		}
		c.enqueue(frame)
	}
}

// moveTo appends every connection to dst and empties s.
func (s *subscribers) moveTo(dst *subscribers) {
	dst.conns = append(dst.conns, s.conns...)
	clear(s.conns)
	s.conns = s.conns[:0]
}
