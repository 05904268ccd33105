package fanout

import (
	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Encode once per stream and encoding. A connection's market data is JSON
// or binary (its subprotocol, schemas.Encoding); a stream encodes each
// message once for each encoding its subscribers use, and nothing for an
// encoding none of them uses, and every subscriber of an encoding gets the
// same shared frame. Control messages are JSON for everybody.

// encSet is a set of encodings, a bit per schemas.Encoding.
type encSet uint8

func encOf(e schemas.Encoding) encSet { return 1 << e }

func (s encSet) has(e schemas.Encoding) bool { return s&encOf(e) != 0 }

// frames is one message's frame in each encoding of the set it was built
// for (nil for the others).
type frames [schemas.NumEncodings][]byte

// of returns c's frame.
func (f *frames) of(c *Conn) []byte { return f[c.enc] }

// encodings returns the set of the encodings of s's connections.
func (s *subscribers) encodings() encSet {
	var set encSet
	for e, n := range s.n {
		if n > 0 {
			set |= encOf(schemas.Encoding(e))
		}
	}
	return set
}

// binaryFrame builds a binary frame of a payload of about sizeHint bytes
// that appendMsg appends.
func binaryFrame(sizeHint int, appendMsg func([]byte) []byte) []byte {
	var f frameBuilder
	f.begin(sizeHint)
	f.b = appendMsg(f.b)
	return f.finish(ws.OpBinary)
}

// counted counts a message encoded in the encodings of set.
func (t *Streams) counted(set encSet) {
	for e := range t.hub.metrics.encoded {
		if set.has(schemas.Encoding(e)) {
			t.hub.metrics.encoded[e].Inc()
		}
	}
}

// snapshotFrames builds the book snapshot of bs's view in the encodings of
// set; the view's checksum text is rebuilt once for all.
func (t *Streams) snapshotFrames(bs *bookStream, set encSet) frames {
	sc := t.sc()
	bids := t.book.Top(orderbook.Bid, bs.depth, t.scratch[0][:0])
	asks := t.book.Top(orderbook.Ask, bs.depth, t.scratch[1][:0])
	t.scratch[0], t.scratch[1] = bids[:0], asks[:0]
	bs.text.rebuild(t.book, bs.depth, sc)
	ck, seq, epoch, ts := bs.text.checksum(), bs.emitted, t.sym.Epoch(), t.sym.BookTS()
	var f frames
	t.counted(set)
	if set.has(schemas.EncodingJSON) {
		f[schemas.EncodingJSON] = encodeSnapshot(t.chBook, seq, epoch, ts, ck, bids, asks, sc)
	}
	if set.has(schemas.EncodingBinary) {
		f[schemas.EncodingBinary] = binaryFrame(schemas.BinaryBookMessageSize(t.chBook, len(bids)+len(asks)), func(b []byte) []byte {
			return schemas.AppendBinarySnapshot(b, t.chBook, seq, epoch, ts, ck, bids, asks, sc)
		})
	}
	return f
}

// updateFrames builds a book update at the book's time in the encodings
// of set.
func (t *Streams) updateFrames(set encSet, firstSeq, seq uint64, ck uint32, bids, asks []orderbook.Level) frames {
	return t.updateFramesAt(set, firstSeq, seq, t.sym.BookTS(), ck, bids, asks)
}

// updateFramesAt builds a book update with exchange time ts in the
// encodings of set.
func (t *Streams) updateFramesAt(set encSet, firstSeq, seq uint64, ts int64, ck uint32, bids, asks []orderbook.Level) frames {
	sc, epoch := t.sc(), t.sym.Epoch()
	var f frames
	t.counted(set)
	if set.has(schemas.EncodingJSON) {
		f[schemas.EncodingJSON] = encodeUpdate(t.chBook, firstSeq, seq, epoch, ts, ck, bids, asks, sc)
	}
	if set.has(schemas.EncodingBinary) {
		f[schemas.EncodingBinary] = binaryFrame(schemas.BinaryBookMessageSize(t.chBook, len(bids)+len(asks)), func(b []byte) []byte {
			return schemas.AppendBinaryUpdate(b, t.chBook, firstSeq, seq, epoch, ts, ck, bids, asks, sc)
		})
	}
	return f
}

// statusFrames builds the status message of the book's serving state on
// channel (the book's or the bbo's) in the encodings of set.
func (t *Streams) statusFrames(channel string, set encSet) frames {
	var f frames
	t.counted(set)
	if set.has(schemas.EncodingJSON) {
		f[schemas.EncodingJSON] = t.statusFrameOf(channel)
	}
	if set.has(schemas.EncodingBinary) {
		state, reason := t.sym.State(), ""
		if state == market.Stale {
			reason = t.sym.Reason()
		}
		status := state.String()
		f[schemas.EncodingBinary] = binaryFrame(16+len(channel), func(b []byte) []byte {
			return schemas.AppendBinaryStatus(b, channel, status, reason)
		})
	}
	return f
}

// bboFrames builds the bbo message of top at the book's current seq in
// the encodings of set.
func (t *Streams) bboFrames(top bboTop, set encSet) frames {
	var f frames
	t.counted(set)
	if set.has(schemas.EncodingJSON) {
		f[schemas.EncodingJSON] = t.bboFrame(top)
	}
	if set.has(schemas.EncodingBinary) {
		seq, epoch, ts, sc := t.sym.Seq(), t.sym.Epoch(), t.sym.BookTS(), t.sc()
		bid, ask := orderbook.Bid, orderbook.Ask
		f[schemas.EncodingBinary] = binaryFrame(schemas.BinaryBBOMessageSize(t.chBBO), func(b []byte) []byte {
			return schemas.AppendBinaryBBO(b, t.chBBO, seq, epoch, ts, top.level[bid], top.level[ask], top.ok[bid], top.ok[ask], sc)
		})
	}
	return f
}

// tradesFrames builds a trades message in the encodings of set.
func (t *Streams) tradesFrames(trades []tradeEntry, set encSet) frames {
	sc := t.sc()
	var f frames
	t.counted(set)
	if set.has(schemas.EncodingJSON) {
		f[schemas.EncodingJSON] = encodeTrades(t.chTrades, trades, sc)
	}
	if set.has(schemas.EncodingBinary) {
		idLen := 0
		for i := range trades {
			idLen += len(trades[i].ID)
		}
		f[schemas.EncodingBinary] = binaryFrame(schemas.BinaryTradesMessageSize(t.chTrades, len(trades), idLen), func(b []byte) []byte {
			return schemas.AppendBinaryTrades(b, t.chTrades, trades, sc)
		})
	}
	return f
}

// tradesFrameFor builds a trades message in c's encoding alone: a
// catch-up of c's own, shared with nobody.
func (t *Streams) tradesFrameFor(c *Conn, trades []tradeEntry) []byte {
	f := t.tradesFrames(trades, encOf(c.enc))
	return f.of(c)
}

// tickerFrames builds the ticker message in the encodings of set; both
// nil while the ticker reflects no event (tickerFrame).
func (t *Streams) tickerFrames(set encSet) (frames, bool) {
	var f frames
	if !t.sym.Known() {
		return f, false
	}
	t.counted(set)
	if set.has(schemas.EncodingJSON) {
		f[schemas.EncodingJSON] = t.tickerFrame()
	}
	if set.has(schemas.EncodingBinary) {
		f[schemas.EncodingBinary] = binaryFrame(schemas.BinaryTickerMessageSize(t.chTicker), t.appendBinaryTicker)
	}
	return f, true
}

// appendBinaryTicker is appendTicker in the binary encoding.
func (t *Streams) appendBinaryTicker(dst []byte) []byte {
	st := t.sym.Ticker().Stats()
	if state := t.sym.State(); state != market.Live {
		return schemas.AppendBinaryTicker(dst, t.chTicker, t.sym.TS(), nil, &st, t.sc(), state.String(), t.sym.Reason())
	}
	return schemas.AppendBinaryTicker(dst, t.chTicker, t.sym.TS(), t.book, &st, t.sc(), "", "")
}

// snapshotFrameFor builds the book snapshot of bs's view for c alone.
func (t *Streams) snapshotFrameFor(bs *bookStream, c *Conn) []byte {
	f := t.snapshotFrames(bs, encOf(c.enc))
	return f.of(c)
}

// statusFrameFor builds the status message on channel for c alone.
func (t *Streams) statusFrameFor(channel string, c *Conn) []byte {
	f := t.statusFrames(channel, encOf(c.enc))
	return f.of(c)
}

// sharedFrames is one frame queued for several connections one by one
// (a stream's message to its subscribers of one encoding, a tickers
// message for the subscribers with the same symbols, a candles snapshot):
// the frame, and its compressed form, made once on the first connection
// that negotiated compression.
type sharedFrames struct {
	plain, z []byte
	tried    bool
}

// forConn returns the frame to queue on c: the compressed one when c
// compresses a frame of this size (and compressing helped).
func (f *sharedFrames) forConn(c *Conn) []byte {
	if !c.ws.Compresses(len(f.plain)) {
		return f.plain
	}
	if !f.tried {
		f.z, f.tried = wsconn.Deflate(f.plain), true
	}
	if f.z != nil {
		return f.z
	}
	return f.plain
}
