package fanout

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// Trades resume (websocket.md §3.1 "Resume"). A trades subscription with
// a position {trade_id, ts} continues after that trade: every later trade,
// in order, once, then live.
//
//  1. On the symbol's owner, the symbol's trade history (package market)
//     is searched for the position. If it holds it, the trades after it are
//     the catch-up, and the subscriber joins the stream in the same step:
//     no trade can be applied in between, so the catch-up ends exactly
//     where the live trades begin.
//  2. Otherwise, if the position is recent enough for the Kafka log to
//     hold it (Config.TradeLogWindow) and the history says from which
//     offset it is complete (market.Symbol.TradesFloor), the connection's
//     reader (never the owner) reads the symbol's partition back from the
//     position's time (less tradeLogSlack), bounded by tradeLogTimeout
//     and tradeLogMaxBytes, and posts what it read to the owner. There,
//     the trades after the position below the history's floor, then every
//     held trade (all at or above the floor), are the catch-up, and the
//     subscriber joins in the same step. The read must reach the floor:
//     when the history moved on past it meanwhile, the reader reads on
//     from where it ended (tradeLogRounds reads at most), else the
//     position is refused.
//  3. Otherwise the subscription starts anew ("resumed":false, reason
//     history; ahead for a trade newer than any this server has applied,
//     from a replica ahead of it).
//
// A raw subscriber gets the catch-up at once, one trade a message; a
// throttled one waits in the stream's joining list and gets it at the
// stream's next flush with the trades of that interval since it joined,
// in messages of at most maxTradesPerMessage trades.

// DefaultTradeLogWindow is the default Config.TradeLogWindow, the
// consumer's default look-back (feed.DefaultLookback).
const DefaultTradeLogWindow = 2 * time.Minute

const (
	// tradeLogSlack is read before a position's ts: a record's Kafka
	// timestamp (when it was produced) may be later than the trade's
	// exchange time.
	tradeLogSlack = 10 * time.Second
	// tradeLogTimeout bounds reading the log back for one resume.
	tradeLogTimeout = 5 * time.Second
	// tradeLogMaxBytes bounds the records read back for one resume.
	tradeLogMaxBytes = 64 << 20
	// tradeLogRounds bounds the reads of one resume: the first from the
	// position's time, the others on from where the previous one ended,
	// when the history moved on meanwhile.
	tradeLogRounds = 3
	// maxTradesPerMessage bounds the trades of one catch-up message of a
	// throttled stream.
	maxTradesPerMessage = 1000
)

// TradeLog reads a partition of the market-data topic back.
// feed.Consumer implements it.
type TradeLog interface {
	// ReadSince calls fn with every committed record of partition from
	// the first whose timestamp is at or after since, in offset order, up
	// to the partition's end offset as of the call, which it returns;
	// fn returning false stops the read. key and value are valid during
	// the call only.
	ReadSince(ctx context.Context, partition int, since time.Time, fn func(offset int64, key, value []byte) bool) (end int64, err error)
	// ReadFrom is ReadSince from the record at offset on.
	ReadFrom(ctx context.Context, partition int, offset int64, fn func(offset int64, key, value []byte) bool) (end int64, err error)
}

// tradeJoiner is a throttled trades subscriber waiting for its first
// flush with its catch-up.
type tradeJoiner struct {
	c       *Conn
	catchUp []schemas.Trade
	mark    int // len(pending) when it joined: the pending trades from there on are its too
}

// logRequest is what the owner asks the reader to read back from the log.
type logRequest struct {
	partition int
	since     time.Time
	inst      market.Instrument
}

// logResult is what the reader read back.
type logResult struct {
	trades []market.HeldTrade
	end    int64
	err    error
}

// subscribeTradesFrom runs a trades subscription with a position (steps
// above). s is in c.subs; the reader calls it without smu.
func (c *Conn) subscribeTradesFrom(id int64, s *subscription, pos schemas.Resume) bool {
	t := s.streams
	refuse := func() { t.startTrades(c, s, id, nil, schemas.ResumeHistory) }
	var req *logRequest
	back, posted := c.handBack(t, func() bool {
		if s.gone.Load() {
			return false
		}
		req = t.resumeTrades(c, s, id, pos)
		return req != nil
	}, refuse)
	if !posted {
		return c.ownerStopped(id, s)
	}
	if !back {
		return true
	}
	res := c.hub.readTradeLog(t.symbol, req, -1)
	for round := 1; ; round++ {
		back, posted = c.handBack(t, func() bool {
			if s.gone.Load() {
				return false
			}
			// Trades applied while the log was read may have pushed the
			// history's floor past the read's end: read on from there.
			if round < tradeLogRounds && res.err == nil && res.end < t.sym.TradesFloor() {
				return true
			}
			t.resumeTradesFromLog(c, s, id, pos, req, res)
			return false
		}, refuse)
		if !posted {
			return c.ownerStopped(id, s)
		}
		if !back {
			return true
		}
		more := c.hub.readTradeLog(t.symbol, req, res.end)
		res.trades, res.end, res.err = append(res.trades, more.trades...), more.end, more.err
	}
}

// handBack runs decide on t's owner and waits for it: decide returns
// true to hand the next step back to the reader (back). If the owner runs
// decide only after the reader stopped waiting (ownerWait), a decide that
// would hand back runs fallback on the owner instead, so that the
// subscription is never left without a reply. posted is false when the
// owner has stopped.
func (c *Conn) handBack(t *Streams, decide func() bool, fallback func()) (back, posted bool) {
	// 0 while undecided; the owner sets 1 when it hands back, the reader 2
	// when it stops waiting: whichever comes second knows.
	var state atomic.Int32
	backs := make(chan bool, 1) // the owner never waits
	if !t.post(func() {
		b := decide()
		if b && !state.CompareAndSwap(0, 1) {
			fallback()
			return
		}
		backs <- b
	}) {
		return false, false
	}
	wait := time.NewTimer(ownerWait)
	defer wait.Stop()
	select {
	case b := <-backs:
		return b, true
	case <-wait.C:
	}
	if state.CompareAndSwap(0, 2) {
		return false, true
	}
	return <-backs, true // handed back just now
}

// ownerStopped ends a subscription whose owner did not take it.
func (c *Conn) ownerStopped(id int64, s *subscription) bool {
	c.smu.Lock()
	if c.subs[s.channel] == s {
		delete(c.subs, s.channel)
		s.gone.Store(true)
		c.updateLagSet()
		c.hub.metrics.Subscriptions.Dec()
	}
	c.smu.Unlock()
	c.sendError(id, schemas.CodeUnknownSymbol, "symbol "+s.streams.symbol+" is no longer served", s.channel)
	return false
}

// resumeTrades is step 1 on the owner: it starts the subscription from
// the history, or refuses the position, or returns what to read back from
// the log (and starts nothing).
func (t *Streams) resumeTrades(c *Conn, s *subscription, id int64, pos schemas.Resume) *logRequest {
	if held, ok := t.sym.TradesAfter(nil, pos.TradeID, pos.TS); ok {
		t.startTrades(c, s, id, held, "")
		return nil
	}
	if newest, ok := t.sym.NewestTradeTS(); ok && pos.TS > newest {
		// A trade this server has not applied yet: the client comes from
		// a replica ahead of this one.
		t.startTrades(c, s, id, nil, schemas.ResumeAhead)
		return nil
	}
	if req := t.logRequest(pos); req != nil {
		return req
	}
	t.startTrades(c, s, id, nil, schemas.ResumeHistory)
	return nil
}

// logRequest returns what to read back from the log for pos, nil when the
// log cannot help: no log, offsets unknown, a position older than the
// window, or one inside the history's time span that the history does not
// hold (no such trade).
func (t *Streams) logRequest(pos schemas.Resume) *logRequest {
	cfg := &t.hub.cfg
	part := t.sym.TradesPartition()
	if cfg.TradeLog == nil || part < 0 || t.sym.TradesFloor() < 0 {
		return nil
	}
	at := time.UnixMicro(pos.TS)
	if time.Since(at) > cfg.TradeLogWindow {
		return nil
	}
	if oldest, ok := t.sym.OldestTradeTS(); ok && oldest < pos.TS {
		return nil
	}
	return &logRequest{partition: part, since: at.Add(-tradeLogSlack), inst: t.sym.Instrument()}
}

// readTradeLog reads the symbol's trades back from the log for req:
// every trade of symbol from req.since, or from offset from when it is
// not negative, to the partition's end. Reader goroutine.
func (h *Hub) readTradeLog(symbol string, req *logRequest, from int64) logResult {
	ctx, cancel := context.WithTimeout(context.Background(), tradeLogTimeout)
	defer cancel()
	var (
		res  logResult
		rec  schemas.Record
		read int
	)
	fn := func(off int64, key, value []byte) bool {
		if read += len(value); read > tradeLogMaxBytes {
			res.err = errLogTooLong
			return false
		}
		if schemas.DecodeRecord(value, &rec) != nil || rec.Type != schemas.RecordTrade ||
			string(rec.Symbol) != symbol || (len(key) > 0 && !bytes.Equal(key, rec.Symbol)) {
			return true
		}
		tr, rej := req.inst.ParseTrade(&rec)
		if rej.Reason == "" {
			res.trades = append(res.trades, market.HeldTrade{Offset: off, Trade: schemas.Trade{
				ID: string(tr.ID), TS: tr.TS, Price: tr.Price, Size: tr.Size, Side: tr.Side}})
		}
		return true
	}
	var err error
	if from >= 0 {
		res.end, err = h.cfg.TradeLog.ReadFrom(ctx, req.partition, from, fn)
	} else {
		res.end, err = h.cfg.TradeLog.ReadSince(ctx, req.partition, req.since, fn)
	}
	if res.err == nil {
		res.err = err
	}
	if res.err != nil {
		h.cfg.Logger.Warn("trades resume: reading the log back failed", "symbol", symbol, "partition", req.partition, "err", res.err)
	}
	return res
}

// errLogTooLong: the read back passed tradeLogMaxBytes.
var errLogTooLong = errors.New("fanout: log read back longer than its bound")

// resumeTradesFromLog is step 2 on the owner: the trades read back after
// the position, below the history's floor, then the held ones.
func (t *Streams) resumeTradesFromLog(c *Conn, s *subscription, id int64, pos schemas.Resume, req *logRequest, res logResult) {
	refuse := func() { t.startTrades(c, s, id, nil, schemas.ResumeHistory) }
	if res.err != nil {
		refuse()
		return
	}
	floor := t.sym.TradesFloor()
	at := -1
	for i, tr := range res.trades {
		if tr.ID == pos.TradeID && tr.TS == pos.TS {
			at = i
		}
	}
	if at < 0 || floor < 0 || res.end < floor || t.sym.Instrument() != req.inst {
		refuse()
		return
	}
	if res.trades[at].Offset >= floor {
		// In the log but not applied here yet (it would be held): a
		// replica ahead of this one.
		t.startTrades(c, s, id, nil, schemas.ResumeAhead)
		return
	}
	var catchUp []market.HeldTrade
	for _, tr := range res.trades[at+1:] {
		if tr.Offset < floor {
			catchUp = append(catchUp, tr)
		}
	}
	t.startTrades(c, s, id, t.sym.RecentTrades(catchUp), "")
}

// startTrades acknowledges the subscription with the outcome of its
// position, resumed (reason "") or not (the resume_reason), and attaches
// it: with its catch-up when resumed, as a new subscription otherwise.
func (t *Streams) startTrades(c *Conn, s *subscription, id int64, catchUp []market.HeldTrade, reason string) {
	info := s.info()
	ack := &schemas.ServerMessage{Type: schemas.TypeSubscribed, ID: id, Channel: s.channel, Interval: info.Interval}
	t.hub.answerResume(schemas.ChannelTrades, ack, reason)
	if !c.enqueue(messageFrame(ack)) {
		return
	}
	if reason != "" {
		t.attach(c, s)
		return
	}
	tr := t.trades[s.interval]
	if tr == nil {
		tr = &tradesStream{}
		t.trades[s.interval] = tr
	}
	trades := make([]schemas.Trade, len(catchUp))
	for i := range catchUp {
		trades[i] = catchUp[i].Trade
	}
	if s.interval != schemas.Raw {
		tr.joining = append(tr.joining, tradeJoiner{c: c, catchUp: trades, mark: len(tr.pending)})
		return
	}
	for i := range trades {
		if !c.sendData(t.tradesFrameFor(c, trades[i:i+1]), kindKeep) {
			break
		}
	}
	tr.subs.add(c, false)
}

// flushTrades sends a throttled trades stream its trades of the interval,
// and each joining subscriber its catch-up with its part of them. Owner
// goroutine.
func (t *Streams) flushTrades(s *tradesStream) {
	if len(s.pending) > 0 && s.subs.len() > 0 {
		f := t.tradesFrames(s.pending, s.subs.encodings())
		s.subs.sendFrames(&f, s.pending[0].TS)
	}
	for _, j := range s.joining {
		trades := append(j.catchUp, s.pending[j.mark:]...)
		for len(trades) > 0 {
			n := min(len(trades), maxTradesPerMessage)
			if !j.c.sendData(t.tradesFrameFor(j.c, trades[:n]), kindKeep) {
				break
			}
			trades = trades[n:]
		}
		s.subs.add(j.c, false)
	}
	clear(s.joining)
	s.joining = s.joining[:0]
	clear(s.pending)
	s.pending = s.pending[:0]
}

// removeJoiner takes c out of the joining subscribers, reporting whether
// it was there.
func (s *tradesStream) removeJoiner(c *Conn) bool {
	for i, j := range s.joining {
		if j.c == c {
			s.joining = append(s.joining[:i], s.joining[i+1:]...)
			return true
		}
	}
	return false
}

// active reports whether the stream has subscribers, joining or not.
func (s *tradesStream) active() bool { return s.subs.len()+len(s.joining) > 0 }
