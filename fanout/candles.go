package fanout

import (
	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/schemas"
)

// candleStream is the candles output at one resolution and interval: the
// candles that closed and the candle in progress, sent when they changed
// (raw: at each trade and at each 100 ms tick; throttled: at each flush).
// Every message is encoded once per encoding its subscribers use and
// shared.
type candleStream struct {
	subs subscribers
	res  schemas.Resolution
	// sentClosed is how many candles of the series had closed at the
	// stream's last message; cur is the candle in progress it carried
	// (hasCur).
	sentClosed uint64
	cur        candle.Candle
	hasCur     bool
}

// candlesFrame builds a candles message of resolution res in encoding
// enc.
func (t *Streams) candlesFrame(enc schemas.Encoding, res schemas.Resolution, snapshot bool, closed []candle.Candle, cur *candle.Candle) []byte {
	h := schemas.CandlesHeader{Channel: t.chCandles, Resolution: res, Snapshot: snapshot}
	h.WindowStart, h.HasWindow = t.sym.CandlesFrom()
	n := len(closed)
	if cur != nil {
		n++
	}
	var f frameBuilder
	if enc == schemas.EncodingBinary {
		f.begin(schemas.BinaryCandlesMessageSize(t.chCandles, n))
		f.b = schemas.AppendBinaryCandles(f.b, &h, closed, cur, t.sc())
		return f.finish(ws.OpBinary)
	}
	f.begin(schemas.CandlesMessageSize(n))
	f.b = schemas.AppendCandles(f.b, &h, closed, cur, t.sc())
	return f.finish(ws.OpText)
}

// candlesFrames builds a candles message of resolution res in the
// encodings of set.
func (t *Streams) candlesFrames(set encSet, res schemas.Resolution, snapshot bool, closed []candle.Candle, cur *candle.Candle) frames {
	var f frames
	t.counted(set)
	for e := range f {
		if set.has(schemas.Encoding(e)) {
			f[e] = t.candlesFrame(schemas.Encoding(e), res, snapshot, closed, cur)
		}
	}
	return f
}

// candlesSnap is the last snapshot of a resolution, in each encoding a
// subscriber joined with, shared by the subscribers that join while the
// candles stay as they are (the frame holds up to 500 candles; a
// reconnecting crowd gets it encoded, and compressed, once per encoding).
type candlesSnap struct {
	frames [schemas.NumEncodings]*sharedFrames
	series *candle.Series // the series it was made from (a redefinition replaces it)
	closed uint64
	cur    candle.Candle
	hasCur bool
	from   int64 // the window start it states (-1: none)
}

// candlesSnapshot returns the snapshot of resolution res in encoding enc:
// the closed candles the symbol keeps, then the candle in progress.
func (t *Streams) candlesSnapshot(res schemas.Resolution, enc schemas.Encoding) *sharedFrames {
	series := t.sym.Candles(res)
	cur, ok := series.Current()
	from, hasFrom := t.sym.CandlesFrom()
	if !hasFrom {
		from = -1
	}
	sn := &t.candleSnaps[res]
	if sn.series != series || sn.closed != series.Closed() || sn.hasCur != ok || sn.cur != cur || sn.from != from {
		*sn = candlesSnap{series: series, closed: series.Closed(), cur: cur, hasCur: ok, from: from}
	}
	if sn.frames[enc] != nil {
		return sn.frames[enc]
	}
	t.candleBuf = series.ClosedSince(0, t.candleBuf[:0])
	var curp *candle.Candle
	if ok {
		curp = &cur
	}
	t.counted(encOf(enc))
	sn.frames[enc] = &sharedFrames{plain: t.candlesFrame(enc, res, true, t.candleBuf, curp)}
	return sn.frames[enc]
}

// candlesEmit sends cs the candles that closed since its last message and
// the candle in progress if it changed; nothing when neither did. ts is
// the exchange time of the trade that caused it, -1 for none.
func (t *Streams) candlesEmit(cs *candleStream, ts int64) {
	if cs == nil || cs.subs.len() == 0 {
		return
	}
	series := t.sym.Candles(cs.res)
	cur, ok := series.Current()
	changed := ok && (!cs.hasCur || cur.Start != cs.cur.Start || cur.Count != cs.cur.Count)
	if series.Closed() == cs.sentClosed && !changed {
		return
	}
	t.candleBuf = series.ClosedSince(cs.sentClosed, t.candleBuf[:0])
	var curp *candle.Candle
	if changed {
		curp = &cur
	}
	f := t.candlesFrames(cs.subs.encodings(), cs.res, false, t.candleBuf, curp)
	cs.subs.sendFrames(&f, ts)
	cs.sentClosed, cs.cur, cs.hasCur = series.Closed(), cur, ok
}

// candlesTraded sends the raw candles streams what a trade changed.
func (t *Streams) candlesTraded(ts int64) {
	for res := range t.candles {
		t.candlesEmit(t.candles[res][schemas.Raw], ts)
	}
}

// candlesFlush sends the candles streams of interval iv what changed
// since their last message; the raw streams too at every 100 ms tick, so
// that a candle that closed with exchange time, without a trade, is sent.
func (t *Streams) candlesFlush(iv schemas.Interval) {
	for res := range t.candles {
		if iv == schemas.Every100ms {
			t.candlesEmit(t.candles[res][schemas.Raw], -1)
		}
		t.candlesEmit(t.candles[res][iv], -1)
	}
}

// candlesReset sends every candles stream a snapshot: the candles were
// replaced (a redefinition of the instrument's scales).
func (t *Streams) candlesReset() {
	for res := range t.candles {
		for _, cs := range t.candles[res] {
			if cs == nil || cs.subs.len() == 0 {
				continue
			}
			var f frames
			set := cs.subs.encodings()
			for e := range f {
				if set.has(schemas.Encoding(e)) {
					f[e] = t.candlesSnapshot(schemas.Resolution(res), schemas.Encoding(e)).plain
				}
			}
			cs.subs.sendFrames(&f, -1)
			t.candlesSent(cs)
		}
	}
}

// candlesSent records that cs's subscribers hold the current candles.
func (t *Streams) candlesSent(cs *candleStream) {
	series := t.sym.Candles(cs.res)
	cs.sentClosed = series.Closed()
	cs.cur, cs.hasCur = series.Current()
}

// attachCandles adds c's candles subscription s to its stream and sends
// its initial state, a snapshot. A subscriber whose snapshot is refused
// is not attached.
func (t *Streams) attachCandles(c *Conn, s *subscription) {
	cs := t.candles[s.resolution][s.interval]
	if cs == nil {
		cs = &candleStream{res: s.resolution}
		t.candles[s.resolution][s.interval] = cs
	}
	if c.enqueueKind(t.candlesSnapshot(s.resolution, c.enc).forConn(c), stateKind(s.lag)) {
		if cs.subs.len() == 0 {
			t.candlesSent(cs)
		}
		cs.subs.add(c, s.lag)
	}
	if cs.subs.len() == 0 {
		t.candles[s.resolution][s.interval] = nil
	}
}

// detachCandles removes c's candles subscription s from its stream.
func (t *Streams) detachCandles(c *Conn, s *subscription) {
	if cs := t.candles[s.resolution][s.interval]; cs != nil {
		cs.subs.remove(c)
		if cs.subs.len() == 0 {
			t.candles[s.resolution][s.interval] = nil
		}
	}
	for _, cs := range t.candles[s.resolution] {
		if cs != nil {
			return
		}
	}
	t.candleSnaps[s.resolution] = candlesSnap{} // nobody left to join it
}

// parseResolution sets the resolution of candles subscription s (the
// default when resolution is ""), or replies invalid_resolution and
// returns false.
func (s *subscription) parseResolution(c *Conn, id int64, resolution string) bool {
	s.resolution = schemas.DefaultResolution
	if resolution == "" {
		return true
	}
	r, ok := schemas.ParseResolution(resolution)
	if !ok {
		c.sendError(id, schemas.CodeInvalidResolution, "unknown resolution "+resolution, s.channel)
		return false
	}
	s.resolution = r
	return true
}
