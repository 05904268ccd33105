package fanout

import (
	"github.com/marketfeed/marketfeed/schemas"
)

// subscribers is the set of connections of one output stream. It belongs to
// the symbol's owner goroutine, which is the only goroutine that reads or
// changes it, so delivery takes no lock: one frame, shared, is enqueued on
// each connection.
type subscribers struct {
	conns []member
	// n counts the connections of each encoding (codec.go).
	n [schemas.NumEncodings]int
}

// member is one connection of a stream; lag marks a subscription whose
// frames are state frames that conflate on lag (lag.go).
type member struct {
	c   *Conn
	lag bool
}

func (s *subscribers) len() int { return len(s.conns) }

func (s *subscribers) add(c *Conn, lag bool) {
	s.conns = append(s.conns, member{c, lag})
	s.n[c.enc]++
}

// remove deletes c (order is not kept) and reports whether it was there.
func (s *subscribers) remove(c *Conn) bool {
	for i, x := range s.conns {
		if x.c == c {
			s.removeAt(i)
			return true
		}
	}
	return false
}

func (s *subscribers) removeAt(i int) {
	last := len(s.conns) - 1
	s.n[s.conns[i].c.enc]--
	s.conns[i] = s.conns[last]
	s.conns[last] = member{}
	s.conns = s.conns[:last]
}

// sendFrames enqueues one message, built in the encodings of the
// subscribers, on every connection: f[e] on those of encoding e. ts is
// the exchange time (µs) of the event the message carries (a book update,
// or trades with the first trade's time), from which the connections'
// writers sample the delivery latency without reading the frame; ts < 0
// means no sample. A connection that refuses it (it is closing, or
// skipping ahead) leaves the set: nothing more of the stream reaches it
// until it is attached again with a fresh state (lag.go), and a closing
// one's cleanup finds it gone.
//
// For subscribers that negotiated compression, a large enough frame is
// compressed once per encoding, on first need, and those bytes are shared
// in turn.
func (s *subscribers) sendFrames(fr *frames, ts int64) {
	var sh [schemas.NumEncodings]sharedFrames // each compressed at most once
	for e := range sh {
		sh[e].plain = fr[e]
	}
	for i := 0; i < len(s.conns); {
		m := s.conns[i]
		f := sh[m.c.enc].forConn(m.c)
		var ok bool
		if ts >= 0 {
			ok = m.c.ws.SendAt(f, stateKind(m.lag), ts)
		} else {
			ok = m.c.ws.Send(f, stateKind(m.lag))
		}
		if ok {
			i++
		} else {
			s.removeAt(i)
		}
	}
}

// moveTo appends every connection to dst and empties s.
func (s *subscribers) moveTo(dst *subscribers) {
	dst.conns = append(dst.conns, s.conns...)
	for e, n := range s.n {
		dst.n[e] += n
	}
	s.n = [schemas.NumEncodings]int{}
	clear(s.conns)
	s.conns = s.conns[:0]
}
