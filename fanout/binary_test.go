package fanout_test

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// received is what one client got of a run, by channel: every market-data
// message decoded, and for book channels the book rebuilt after each
// message (client.Book, which verifies every checksum).
type received struct {
	msgs  map[string][]schemas.ServerMessage
	books map[string][]string
	live  map[string]*client.Book
}

// collect reads c's messages until none comes for quiet, checking each is
// of the connection's opcode for market data and text for the rest.
func collect(t *testing.T, c *wsClient, r *received, data ws.OpCode, quiet time.Duration) {
	t.Helper()
	for {
		m, raw, err := c.read(quiet)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		switch m.Type {
		case schemas.TypeSnapshot, schemas.TypeUpdate, schemas.TypeStatus, schemas.TypeBBO, schemas.TypeTicker, schemas.TypeTickers, schemas.TypeTrades, schemas.TypeCandles:
			if c.op != data {
				t.Fatalf("%s in opcode %v, want %v: %q", m.Type, c.op, data, raw)
			}
		case schemas.TypeError:
			t.Fatalf("error %+v", m)
		default:
			if c.op != ws.OpText {
				t.Fatalf("%s in opcode %v", m.Type, c.op)
			}
			continue
		}
		r.msgs[m.Channel] = append(r.msgs[m.Channel], *m)
		if m.Type == schemas.TypeSnapshot || m.Type == schemas.TypeUpdate || (m.Type == schemas.TypeStatus && m.Channel[:5] == "book.") {
			b := r.live[m.Channel]
			if b == nil {
				b = client.NewBook(m.Channel)
				r.live[m.Channel] = b
			}
			if err := b.Apply(m); err != nil {
				t.Fatalf("%s: %v applying %+v", m.Channel, err, m)
			}
			r.books[m.Channel] = append(r.books[m.Channel], b.State().String()+" "+strconv.FormatUint(b.Seq(), 10)+" "+
				strconv.FormatUint(uint64(b.Checksum()), 10))
		}
	}
}

func newReceived() *received {
	return &received{msgs: map[string][]schemas.ServerMessage{}, books: map[string][]string{}, live: map[string]*client.Book{}}
}

// TestBinaryAndJSONSubscribersAgree: a JSON and a binary subscriber of the
// same streams (raw and throttled books, bbo, ticker, trades)
// receive the same messages, and rebuild the same verified book at every
// seq, across updates, a gap and its status, a recovery and a resync.
func TestBinaryAndJSONSubscribersAgree(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks),
		instrument("ETH-USD", 2, 3), snapshot("ETH-USD", 10, bookBids, bookAsks))
	s.sync(t)
	subscribe := `{"op":"subscribe","channels":["book.BTC-USD","bbo.BTC-USD","trades.BTC-USD"],"depth":1}`
	throttled := `{"op":"subscribe","channel":"ticker.BTC-USD","interval":"100ms"}`
	slow := `{"op":"subscribe","channels":["book.ETH-USD","bbo.ETH-USD"],"depth":5,"interval":"100ms"}`
	jc, _, _ := dialProtocols(t, s.url)
	bc, _, _ := dialProtocols(t, s.url, schemas.SubprotocolBinary)
	rj, rb := newReceived(), newReceived()
	for _, c := range []*wsClient{jc, bc} {
		c.sendText(subscribe)
		c.sendText(throttled)
	}
	collect(t, jc, rj, ws.OpText, 300*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 300*time.Millisecond)
	// The throttled depth-5 book, in which both are joining subscribers at
	// the same flush.
	jc.sendText(slow)
	bc.sendText(slow)
	time.Sleep(50 * time.Millisecond) // both subscribe before the flush
	collect(t, jc, rj, ws.OpText, 300*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 300*time.Millisecond)

	s.feed(delta("BTC-USD", 11, `[["100.00","0"]]`, `[]`),
		delta("BTC-USD", 12, `[["99.75","4"]]`, `[["100.50","0.75"]]`),
		trade("BTC-USD", "t1", "100.50", "0.5", "buy"),
		delta("BTC-USD", 13, `[]`, `[["100.25","0.5"]]`),
		trade("BTC-USD", "t2", "99.75", "1.25", "sell"),
		delta("ETH-USD", 11, `[["100.00","0"]]`, `[]`),
		delta("ETH-USD", 12, `[["99.75","4"]]`, `[["100.50","0.75"]]`))
	s.sync(t)
	time.Sleep(150 * time.Millisecond) // a throttled flush
	// A gap: stale.
	s.feed(delta("BTC-USD", 15, `[["99.00","0"]]`, `[]`),
		delta("ETH-USD", 14, `[["99.00","0"]]`, `[]`))
	s.sync(t)
	time.Sleep(150 * time.Millisecond)
	s.feed(snapshot("BTC-USD", 20, `[["98.00","1"],["97.00","2"]]`, `[["99.00","3"]]`),
		delta("BTC-USD", 21, `[["98.50","1.5"]]`, `[]`),
		snapshot("ETH-USD", 20, `[["98.00","1"],["97.00","2"]]`, `[["99.00","3"]]`))
	s.sync(t)
	collect(t, jc, rj, ws.OpText, 400*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 400*time.Millisecond)
	for _, c := range []*wsClient{jc, bc} {
		c.sendText(`{"op":"resync","channels":["book.BTC-USD","book.ETH-USD"]}`)
	}
	collect(t, jc, rj, ws.OpText, 400*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 400*time.Millisecond)
	s.feed(delta("BTC-USD", 22, `[]`, `[["99.00","0"],["99.50","7"]]`),
		delta("ETH-USD", 21, `[]`, `[["99.00","0"],["99.50","7"]]`))
	s.sync(t)
	collect(t, jc, rj, ws.OpText, 400*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 400*time.Millisecond)

	for _, ch := range []string{"book.BTC-USD", "bbo.BTC-USD", "trades.BTC-USD", "ticker.BTC-USD", "book.ETH-USD", "bbo.ETH-USD"} {
		if len(rj.msgs[ch]) == 0 {
			t.Errorf("%s: no message", ch)
		}
	}
	if !reflect.DeepEqual(rj.msgs, rb.msgs) {
		for ch := range rj.msgs {
			if !reflect.DeepEqual(rj.msgs[ch], rb.msgs[ch]) {
				t.Errorf("%s: JSON subscriber got\n%+v\nbinary subscriber got\n%+v", ch, rj.msgs[ch], rb.msgs[ch])
			}
		}
	}
	if !reflect.DeepEqual(rj.books, rb.books) {
		t.Errorf("books: JSON %v, binary %v", rj.books, rb.books)
	}
	// The raw book went through the gap: stale, then the new snapshot.
	var statuses, snapshots int
	for _, m := range rb.msgs["book.BTC-USD"] {
		switch {
		case m.Type == schemas.TypeStatus && m.Reason == schemas.ReasonGap:
			statuses++
		case m.Type == schemas.TypeSnapshot:
			snapshots++
		}
	}
	if statuses == 0 || snapshots != 3 { // subscribe, recovery, resync
		t.Errorf("book.BTC-USD: %d gap statuses, %d snapshots", statuses, snapshots)
	}
	if n := len(rb.books["book.ETH-USD"]); n < 4 {
		t.Errorf("book.ETH-USD: %d messages", n)
	}
}

// TestEncodeOncePerEncoding: a stream encodes a message once per
// encoding its subscribers use, never in an encoding none of them uses,
// and its subscribers of one encoding get the same bytes.
func TestEncodeOncePerEncoding(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)
	encoded := func(e schemas.Encoding) float64 { return testutil.ToFloat64(s.m.Encoded.WithLabelValues(e.String())) }
	sub := `{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD","bbo.BTC-USD"],"depth":1}`
	var jsonSubs []*wsClient
	for range 2 {
		c, _, _ := dialProtocols(t, s.url, schemas.SubprotocolJSON)
		c.sendText(sub)
		c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeBBO })
		jsonSubs = append(jsonSubs, c)
	}
	// Three updates of the depth-1 view and its top, and a trade: four
	// messages, each once.
	step := func(first int) {
		s.feed(delta("BTC-USD", first, `[["100.00","`+strconv.Itoa(first)+`"]]`, `[]`),
			delta("BTC-USD", first+1, `[["100.00","`+strconv.Itoa(first+1)+`"]]`, `[]`),
			delta("BTC-USD", first+2, `[["100.00","`+strconv.Itoa(first+2)+`"]]`, `[]`),
			trade("BTC-USD", "t"+strconv.Itoa(first), "100.50", "1", "buy"))
		s.sync(t)
	}
	read := func(c *wsClient, n int) [][]byte {
		var out [][]byte
		for len(out) < n {
			m, raw, err := c.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != schemas.TypeSubscribed {
				out = append(out, raw)
			}
		}
		return out
	}
	j0, b0 := encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	step(11)
	for _, c := range jsonSubs {
		read(c, 7) // 3 updates, 3 bbo, 1 trades
	}
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != 7 || b != 0 {
		t.Fatalf("JSON subscribers only: %v JSON and %v binary encodings, want 7 and 0", j, b)
	}

	var binSubs []*wsClient
	for range 2 {
		c, _, _ := dialProtocols(t, s.url, schemas.SubprotocolBinary)
		c.sendText(sub)
		c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeBBO })
		binSubs = append(binSubs, c)
	}
	j0, b0 = encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	step(14)
	var got [][][]byte
	for _, c := range binSubs {
		got = append(got, read(c, 7))
		if c.op != ws.OpBinary {
			t.Fatalf("binary subscriber got opcode %v", c.op)
		}
	}
	for _, c := range jsonSubs {
		read(c, 7)
	}
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != 7 || b != 7 {
		t.Fatalf("both encodings: %v JSON and %v binary encodings, want 7 and 7", j, b)
	}
	for i := range got[0] {
		if !bytes.Equal(got[0][i], got[1][i]) {
			t.Fatalf("binary subscribers got different bytes: %x and %x", got[0][i], got[1][i])
		}
	}

	for _, c := range binSubs {
		c.nc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.hub.ConnCount() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.sync(t)
	j0, b0 = encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	step(17)
	for _, c := range jsonSubs {
		read(c, 7)
	}
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != 7 || b != 0 {
		t.Fatalf("after the binary subscribers left: %v JSON and %v binary encodings, want 7 and 0", j, b)
	}
}

// TestBinaryAndJSONTickersAgree: the tickers channel's messages of one
// flush are the same for a JSON and a binary subscriber.
func TestBinaryAndJSONTickersAgree(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks),
		instrument("ETH-USD", 2, 4), snapshot("ETH-USD", 5, `[["10.00","1"]]`, `[]`),
		trade("ETH-USD", "e1", "10.00", "0.5", "sell"))
	s.sync(t)
	byTS := func(c *wsClient, op ws.OpCode) map[int64]schemas.ServerMessage {
		out := map[int64]schemas.ServerMessage{}
		for len(out) < 6 {
			m := c.next()
			if m.Type == schemas.TypeTickers {
				if c.op != op {
					t.Fatalf("tickers in opcode %v, want %v", c.op, op)
				}
				out[m.TS] = *m
			}
		}
		return out
	}
	jc, _, _ := dialProtocols(t, s.url)
	bc, _, _ := dialProtocols(t, s.url, schemas.SubprotocolBinary)
	for _, c := range []*wsClient{jc, bc} {
		c.sendText(`{"op":"subscribe","channel":"tickers","interval":"100ms"}`)
	}
	mj, mb := byTS(jc, ws.OpText), byTS(bc, ws.OpBinary)
	common := 0
	for ts, m := range mb {
		if j, ok := mj[ts]; ok {
			common++
			if !reflect.DeepEqual(j, m) {
				t.Errorf("tickers at %d: JSON %+v, binary %+v", ts, j, m)
			}
			if len(m.Tickers) != 2 {
				t.Errorf("tickers at %d: %d tickers, want 2", ts, len(m.Tickers))
			}
		}
	}
	if common < 2 {
		t.Fatalf("only %d flushes seen by both", common)
	}
}

// TestCompressedBinaryFrames: binary market data is compressed like text
// for a client that negotiated permessage-deflate (large messages, in
// binary frames with RSV1), and inflates to the bytes a plain binary
// client receives.
func TestCompressedBinaryFrames(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, 100, 0))
	s.sync(t)
	plain, _, _ := dialProtocols(t, s.url, schemas.SubprotocolBinary)
	z := dialDeflate(t, s.url, schemas.SubprotocolBinary)
	if m := z.next(); !bytes.Contains(m, []byte(`"encoding":"bin"`)) || z.op != ws.OpText {
		t.Fatalf("welcome: %s", m)
	}
	sub := `{"op":"subscribe","channel":"book.BTC-USD","depth":100}`
	plain.sendText(sub)
	z.sendCompressed(sub)
	binaries := 0
	for i := 0; i < 30; i++ {
		switch {
		case i == 0: // ack and snapshot
		case i%10 == 0:
			s.feed(bigSnapshot("BTC-USD", i+1, 100, i))
		default:
			s.feed(delta("BTC-USD", i+1, `[["9990.00","`+strconv.Itoa(i)+`"]]`, `[]`))
		}
		for range map[bool]int{true: 2, false: 1}[i == 0] {
			p, c := plainNext(t, plain), z.next()
			if !bytes.Equal(p, c) || plain.op != z.op {
				t.Fatalf("message %d: plain %x (opcode %v)\ncompressed %x (opcode %v)", i, p, plain.op, c, z.op)
			}
			if z.op == ws.OpBinary {
				binaries++
			}
		}
	}
	if z.deflated < 3 || binaries < 29 {
		t.Fatalf("%d compressed frames, %d binary messages", z.deflated, binaries)
	}
}
