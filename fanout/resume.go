package fanout

import (
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Resume on subscribe (websocket.md section 3.1, Resume). A subscribe may
// give, per channel, the position the client reached (on this server or
// on another replica: seqs are the exchange's). A book channel resumes
// when the position is of the book's epoch, the book is served, and the
// symbol's history (market.Symbol.ChangesSince) holds every change since
// the position's seq S. The subscriber then joins its stream without a
// snapshot, from its own seq:
//
// A stream's subscribers hold the view at the stream's seq E (bookStream
// emitted); right after an emission (at any time for a raw stream, after
// each flush for a throttled one) that view is the view of the current
// book. At such a point the resumer's view at S is rebuilt from the
// history and compared with it:
//
//   - S = E: the views are the same; the resumer joins, and the stream's
//     next update (first_seq E+1) follows its position.
//   - S < E and the views differ: the resumer gets one update of its own,
//     S+1..E, with the entries from its view to the stream's and the
//     stream's checksum, and joins.
//   - otherwise (the views are equal although S ≠ E, or S > E with a
//     different view, which only a throttled stream can meet): it waits
//     for the stream's next emission, which moves E past S, and the test
//     is made again there.
//
// A raw stream makes the test at once, a throttled one at its next flush.
// A resumer still waiting when the book is replaced, or stops being
// served, gets the snapshot or status the stream's subscribers get and
// joins them; one whose position left the history while it waited (only
// possible with a tiny history) gets a snapshot.

// resumer is a subscriber waiting to join its book stream from seq.
type resumer struct {
	c   *Conn
	lag bool
	seq uint64
}

// resumers is the list of a book stream's waiting resumers.
type resumers []resumer

// remove deletes c and reports whether it was there.
func (rs *resumers) remove(c *Conn) bool {
	for i, r := range *rs {
		if r.c == c {
			*rs = append((*rs)[:i], (*rs)[i+1:]...)
			return true
		}
	}
	return false
}

// encodings returns the set of the encodings of the resumers.
func (rs resumers) encodings() encSet {
	var set encSet
	for _, r := range rs {
		set |= encOf(r.c.enc)
	}
	return set
}

// sendJoin sends every resumer its frame (a snapshot or status: frameOf
// returns the one for a connection) and moves those that accept it to
// dst.
func (rs *resumers) sendJoin(frameOf func(*Conn) []byte, dst *subscribers) {
	for _, r := range *rs {
		if r.c.sendData(frameOf(r.c), stateKind(r.lag)) {
			dst.add(r.c, r.lag)
		}
	}
	clear(*rs)
	*rs = (*rs)[:0]
}

// ResumeResult is the label of the resumes metric for a resumed channel.
const ResumeResult = "resumed"

// resumeAck answers s's resume position, if it gave one, on its
// subscribed message ack, counts it, and reports whether s resumes. A
// book resumes as described above; a bbo, ticker or candles channel
// always does (it sends its current state, which is all its client
// needs).
func (t *Streams) resumeAck(s *subscription, ack *schemas.ServerMessage) bool {
	if s.resume == nil {
		return false
	}
	reason := ""
	switch s.kind {
	case schemas.ChannelBook:
		reason = t.bookResumable(s.resume)
	case schemas.ChannelBBO, schemas.ChannelTicker, schemas.ChannelCandles:
	default:
		return false // trades: answered by its own stream
	}
	t.hub.answerResume(s.kind, ack, reason)
	return reason == "" && s.kind == schemas.ChannelBook
}

// answerResume sets the resumed fields of a subscribed message (reason
// "": resumed) and counts the resume by channel kind and result. Any
// goroutine.
func (h *Hub) answerResume(kind schemas.ChannelKind, ack *schemas.ServerMessage, reason string) {
	ack.SetResumed(reason)
	result := reason
	if result == "" {
		result = ResumeResult
	}
	h.metrics.Resumes.WithLabelValues(kind.String(), result).Inc()
}

// bookResumable returns why the book cannot resume from r, "" when it
// can.
func (t *Streams) bookResumable(r *schemas.Resume) string {
	start, ok := t.sym.HistoryStart()
	seq := uint64(r.Seq)
	switch {
	case t.sym.State() != market.Live:
		return schemas.ResumeNotServed
	case uint64(r.Epoch) != t.sym.Epoch():
		return schemas.ResumeEpoch
	case seq > t.sym.Seq():
		return schemas.ResumeAhead
	case !ok || seq < start:
		return schemas.ResumeHistory
	}
	return ""
}

// attachResumed adds c's resumed book subscription s to its stream: a raw
// one tries to join at once, a throttled one waits for the next flush.
func (t *Streams) attachResumed(c *Conn, s *subscription) {
	bs := t.bookStream(s.depth, s.interval, true)
	r := resumer{c: c, lag: s.lag, seq: uint64(s.resume.Seq)}
	if s.interval != schemas.Raw || !t.joinResumer(bs, r) {
		bs.resuming = append(bs.resuming, r)
	}
	if bs.subs.len()+bs.joining.len()+len(bs.resuming) == 0 {
		t.dropBookStream(bs)
	}
}

// resumePending makes the test for every waiting resumer of bs, at a
// point where the stream's view is the current book's.
func (t *Streams) resumePending(bs *bookStream) {
	waiting := bs.resuming[:0]
	for _, r := range bs.resuming {
		if !t.joinResumer(bs, r) {
			waiting = append(waiting, r)
		}
	}
	clear(bs.resuming[len(waiting):])
	bs.resuming = waiting
}

// joinResumer makes the test for r (see above) and reports whether it is
// done with r: joined, or refused its frame (a skip-ahead attaches it
// again) or sent a snapshot; false means r waits.
func (t *Streams) joinResumer(bs *bookStream, r resumer) bool {
	if r.seq == bs.emitted {
		bs.subs.add(r.c, r.lag)
		return true
	}
	key := resumeKey{bs: bs, from: r.seq, seq: t.sym.Seq(), emitted: bs.emitted}
	if t.rlast.key != key {
		t.rlast = resumeFrame{key: key}
	}
	if !t.rlast.wait && !t.rlast.built.has(r.c.enc) {
		set := t.rlast.built | encOf(r.c.enc)
		f, ok := t.resumeFrames(bs, r.seq, set)
		t.rlast.f, t.rlast.built, t.rlast.wait = f, set, !ok
	}
	if t.rlast.wait {
		return false
	}
	if r.c.sendData(t.rlast.f.of(r.c), stateKind(r.lag)) {
		bs.subs.add(r.c, r.lag)
	}
	return true
}

// resumeKey identifies what a resumer's frame depends on: the stream,
// the resumer's seq, and where the book and the stream are.
type resumeKey struct {
	bs                 *bookStream
	from, seq, emitted uint64
}

// resumeFrame is the last frame built for a resumer (a snapshot or an
// update) in the encodings built, or wait when the resumer must wait;
// the next resumers of the same stream from the same seq share it, as the
// clients of one stream of a server that restarted all come back from the
// same seq. An encoding not yet built is added when a resumer needs it.
type resumeFrame struct {
	key   resumeKey
	built encSet
	wait  bool
	f     frames
}

// resumeFrames returns, in the encodings of set, the frame that brings a
// view at seq from to the stream's: a snapshot when the history no longer
// reaches back to from, or an update; false when the resumer must wait
// (see above).
func (t *Streams) resumeFrames(bs *bookStream, from uint64, set encSet) (frames, bool) {
	if !t.sym.ChangesSince(from, &t.rlog) {
		return t.snapshotFrames(bs, set), true
	}
	var e orderbook.Edge
	e, t.rscratch = t.book.EdgeBefore(orderbook.Bid, bs.depth, &t.rlog, t.rscratch)
	bids := t.book.ViewDelta(orderbook.Bid, bs.depth, e, &t.rlog, t.scratch[0][:0])
	e, t.rscratch = t.book.EdgeBefore(orderbook.Ask, bs.depth, &t.rlog, t.rscratch)
	asks := t.book.ViewDelta(orderbook.Ask, bs.depth, e, &t.rlog, t.scratch[1][:0])
	t.scratch[0], t.scratch[1] = bids[:0], asks[:0]
	t.rlog.Reset()
	if len(bids)+len(asks) == 0 || from > bs.emitted {
		return frames{}, false
	}
	ts := t.sym.BookTS()
	if bs.emitted != t.sym.Seq() {
		ts, _ = t.sym.HistoryTS(bs.emitted)
	}
	if !bs.text.valid {
		bs.text.rebuild(t.book, bs.depth, t.sc())
	}
	return t.updateFramesAt(set, from+1, bs.emitted, ts, bs.text.checksum(), bids, asks), true
}

// resumeFor returns the resume position cmd gives for channel, nil when
// none.
func resumeFor(cmd *schemas.Command, channel string) *schemas.Resume {
	if r, ok := cmd.ResumeFor(channel); ok {
		return &r
	}
	return nil
}
