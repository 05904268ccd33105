package fanout

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/schemas"
)

// tickersBoard serves the all-market "tickers" channel. The owner of each
// symbol publishes the symbol's ticker message in its Streams (published)
// at its Group's tick, without a lock; the board's goroutine reads the
// published messages at each interval, builds one message per distinct set
// of allowed symbols and sends that shared frame to every subscriber with
// the set.
//
// mu guards subs and is held by a flush for its whole run, so that an
// unsubscribe confirmed after remove is followed by nothing of the
// channel. Lock order: mu before a connection's smu (a flush checks a new
// symbol against the session under smu); nothing takes mu under smu.
type tickersBoard struct {
	mu   sync.Mutex
	subs [schemas.NumIntervals]map[*subscription]*tickersSub
	// active counts the subscriptions; owners publish only while some exist.
	active atomic.Int64
	// activeBin counts those of connections with binary market data;
	// owners publish binary tickers only while some exist.
	activeBin atomic.Int64
	start     sync.Once
	stop      chan struct{}
}

// tickersSub is the board's state of one subscription.
type tickersSub struct {
	c *Conn
	// allow caches the session's answer per symbol (board goroutine, mu
	// held); dropped when the subscription's reallow is set.
	allow map[string]bool
}

// boardStart starts the board's goroutine once.
func (h *Hub) boardStart() {
	h.board.start.Do(func() {
		h.board.stop = make(chan struct{})
		go h.boardRun(h.board.stop)
	})
}

// boardStop ends the board's goroutine, if it runs.
func (h *Hub) boardStop() {
	h.board.start.Do(func() {}) // no start after the stop
	h.board.mu.Lock()
	if h.board.stop != nil {
		close(h.board.stop)
		h.board.stop = nil
	}
	h.board.mu.Unlock()
}

func (h *Hub) boardRun(stop chan struct{}) {
	tk := time.NewTicker(schemas.Every100ms.Period())
	defer tk.Stop()
	n := 0
	for {
		select {
		case <-stop:
			return
		case <-tk.C:
		}
		n++
		for iv := schemas.Every100ms; iv < schemas.NumIntervals; iv++ {
			if n%iv.Ticks() == 0 {
				h.flushTickers(iv)
			}
		}
	}
}

// subscribeTickers acknowledges c's tickers subscription s and adds it to
// the board; its first message follows at the next flush of its interval.
// Read goroutine, without smu.
func (h *Hub) subscribeTickers(c *Conn, s *subscription, id int64) {
	info := s.info()
	ack := &schemas.ServerMessage{Type: schemas.TypeSubscribed, ID: id, Channel: s.channel, Interval: info.Interval}
	if s.resume != nil {
		h.answerResume(s.kind, ack, "") // the board sends the current state
	}
	b := &h.board
	b.mu.Lock()
	if !s.gone.Load() && c.enqueue(messageFrame(ack)) {
		if b.subs[s.interval] == nil {
			b.subs[s.interval] = make(map[*subscription]*tickersSub)
		}
		b.subs[s.interval][s] = &tickersSub{c: c}
		b.active.Add(1)
		if c.enc == schemas.EncodingBinary {
			b.activeBin.Add(1)
		}
	}
	b.mu.Unlock()
	h.boardStart()
}

// unsubscribeTickers removes s from the board and, if ack, confirms it.
// Any goroutine, without smu.
func (h *Hub) unsubscribeTickers(c *Conn, s *subscription, id int64, ack bool) {
	b := &h.board
	b.mu.Lock()
	if _, ok := b.subs[s.interval][s]; ok {
		delete(b.subs[s.interval], s)
		b.active.Add(-1)
		if c.enc == schemas.EncodingBinary {
			b.activeBin.Add(-1)
		}
	}
	b.mu.Unlock()
	if ack {
		c.send(&schemas.ServerMessage{Type: schemas.TypeUnsubscribed, ID: id, Channel: s.channel})
	}
}

// boardSymbols returns the streams of every symbol, sorted by symbol.
func (h *Hub) boardSymbols() []*Streams {
	h.mu.RLock()
	list := make([]*Streams, 0, len(h.streams))
	for _, t := range h.streams {
		list = append(list, t)
	}
	h.mu.RUnlock()
	sort.Slice(list, func(i, j int) bool { return list[i].symbol < list[j].symbol })
	return list
}

// flushTickers sends the tickers subscriptions of interval iv their
// message: the published ticker of each symbol the subscription's session
// allows, one frame per distinct set of symbols.
func (h *Hub) flushTickers(iv schemas.Interval) {
	b := &h.board
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs[iv]) == 0 {
		return
	}
	syms := h.boardSymbols()
	var msgs [schemas.NumEncodings][][]byte
	for e := range msgs {
		msgs[e] = make([][]byte, len(syms))
	}
	for i, t := range syms {
		if p := t.published.Load(); p != nil {
			msgs[schemas.EncodingJSON][i] = *p
		}
		if p := t.publishedBin.Load(); p != nil {
			msgs[schemas.EncodingBinary][i] = *p
		}
	}
	ts := time.Now().UnixMicro()
	// One frame per encoding and distinct set of symbols; looked up by
	// the set's bytes without allocating.
	var frames [schemas.NumEncodings]map[string]*sharedFrames
	set := make([]byte, (len(syms)+7)/8)
	for s, st := range b.subs[iv] {
		if s.gone.Load() {
			continue
		}
		if s.reallow.Swap(false) {
			st.allow = nil
		}
		clear(set)
		enc, complete := st.c.enc, true
		for i, t := range syms {
			if msgs[schemas.EncodingJSON][i] != nil && st.c.allowsTicker(st, t.symbol, iv) {
				set[i/8] |= 1 << (i % 8)
				complete = complete && msgs[enc][i] != nil
			}
		}
		if !complete {
			// A binary ticker not yet published (the first binary
			// subscription): the message follows at the next flush.
			continue
		}
		fr, ok := frames[enc][string(set)]
		if !ok {
			if frames[enc] == nil {
				frames[enc] = make(map[string]*sharedFrames)
			}
			fr = &sharedFrames{plain: tickersFrame(ts, msgs[enc], set, enc)}
			frames[enc][string(set)] = fr
			h.metrics.encoded[enc].Inc()
		}
		st.c.enqueueKind(fr.forConn(st.c), kindKeep)
	}
}

// tickersFrame encodes the tickers message of the messages in set, all
// of encoding enc.
func tickersFrame(ts int64, msgs [][]byte, set []byte, enc schemas.Encoding) []byte {
	var in [][]byte
	for i, m := range msgs {
		if set[i/8]&(1<<(i%8)) != 0 {
			in = append(in, m)
		}
	}
	size := 64
	for _, m := range in {
		size += len(m) + 1
	}
	var f frameBuilder
	f.begin(size)
	if enc == schemas.EncodingBinary {
		f.b = schemas.AppendBinaryTickers(f.b, ts, in)
		return f.finish(ws.OpBinary)
	}
	f.b = schemas.AppendTickers(f.b, ts, in)
	return f.finish(ws.OpText)
}

// allowsTicker reports whether c's session allows symbol in its tickers
// subscription at iv, asking the session once per symbol (board
// goroutine, the board's mu held; smu is taken for the session).
func (c *Conn) allowsTicker(st *tickersSub, symbol string, iv schemas.Interval) bool {
	if v, ok := st.allow[symbol]; ok {
		return v
	}
	c.smu.Lock()
	v := c.sess == nil || c.sess.Allow(schemas.ChannelTickers, symbol, 0, iv.Period()) == nil
	c.smu.Unlock()
	if st.allow == nil {
		st.allow = make(map[string]bool)
	}
	st.allow[symbol] = v
	return v
}

// publishTicker publishes the symbol's current ticker message for the
// tickers channel when it changed since the last publication and the
// channel has subscribers. Owner goroutine (Group.Tick).
//
// While the channel has binary subscribers, the binary ticker is published
// with it (at once when none is published yet); otherwise none is kept.
func (t *Streams) publishTicker() {
	b := &t.hub.board
	if b.active.Load() == 0 || !t.sym.Known() {
		return
	}
	bin := b.activeBin.Load() > 0
	if !bin && t.publishedBin.Load() != nil {
		t.publishedBin.Store(nil)
	}
	if !t.boardDirty && (!bin || t.publishedBin.Load() != nil) {
		return
	}
	t.boardDirty = false
	m := t.appendTicker(make([]byte, 0, schemas.TickerMessageSize))
	t.published.Store(&m)
	if bin {
		mb := t.appendBinaryTicker(make([]byte, 0, schemas.BinaryTickerMessageSize(t.chTicker)))
		t.publishedBin.Store(&mb)
	}
}
