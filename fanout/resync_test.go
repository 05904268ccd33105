package fanout_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
)

// applyAll applies m to book, failing on any error (gap, checksum...).
func applyAll(t *testing.T, book *client.Book, m *schemas.ServerMessage) {
	t.Helper()
	if (m.Type == schemas.TypeSnapshot || m.Type == schemas.TypeUpdate) && m.Checksum == nil {
		t.Fatalf("%s without checksum", m.Type)
	}
	if err := book.Apply(m); err != nil {
		t.Fatal(err)
	}
}

func TestResyncRaw(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)

	c := dial(t, s.url)
	book := client.NewBook("book.BTC-USD")
	c.sendText(`{"op":"subscribe","id":1,"channel":"book.BTC-USD","depth":1}`)
	c.next() // subscribed
	applyAll(t, book, c.next())

	s.feed(delta("BTC-USD", 11, `[["100.00","0"]]`, `[]`), delta("BTC-USD", 12, `[]`, `[["100.25","4"]]`))
	applyAll(t, book, c.next())
	applyAll(t, book, c.next())
	if book.Seq() != 12 {
		t.Fatalf("seq %d, want 12", book.Seq())
	}
	// A change outside the depth-1 view is not sent: the resync snapshot
	// stays at the stream's seq 12, and the next update continues from it.
	s.feed(delta("BTC-USD", 13, `[["90.00","1"],["89.00","1"],["88.00","1"]]`, `[]`))
	s.sync(t)
	c.sendText(`{"op":"resync","id":2,"channel":"book.BTC-USD"}`)
	snap := c.next()
	if snap.Type != schemas.TypeSnapshot || snap.Seq != 12 {
		t.Fatalf("after resync got %+v, want the snapshot at seq 12", snap)
	}
	applyAll(t, book, snap)
	s.feed(delta("BTC-USD", 14, `[["99.75","1"]]`, `[]`)) // new best bid
	u := c.next()
	if u.Type != schemas.TypeUpdate || u.FirstSeq != 13 || u.Seq != 14 {
		t.Fatalf("update %+v, want 13..14", u)
	}
	applyAll(t, book, u)
}

func TestResyncThrottled(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)

	c := dial(t, s.url)
	book := client.NewBook("book.BTC-USD")
	c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1,"interval":"100ms"}`)
	c.next() // subscribed
	applyAll(t, book, c.next())
	// A second subscriber of the same stream keeps receiving updates.
	other := dial(t, s.url)
	otherBook := client.NewBook("book.BTC-USD")
	other.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1,"interval":"100ms"}`)
	other.next()
	applyAll(t, otherBook, other.next())

	seq := 10
	snapshots := 0
	for round := 0; round < 6; round++ {
		for range 3 {
			seq++
			price := []string{"100.10", "100.20", "100.30"}[seq%3]
			s.feed(delta("BTC-USD", seq, `[["`+price+`","`+strconv.Itoa(seq)+`"]]`, `[]`))
		}
		s.sync(t)
		if round%2 == 1 {
			c.sendText(`{"op":"resync","channel":"book.BTC-USD"}`)
		}
		m := c.next()
		if m.Type == schemas.TypeSnapshot {
			snapshots++
		}
		applyAll(t, book, m)
		applyAll(t, otherBook, other.next())
	}
	if snapshots == 0 {
		t.Fatal("no snapshot after resync")
	}
	// Both hold the same top level once they reach the same seq.
	for book.Seq() < otherBook.Seq() {
		applyAll(t, book, c.next())
	}
	for otherBook.Seq() < book.Seq() {
		applyAll(t, otherBook, other.next())
	}
	if book.Checksum() != otherBook.Checksum() {
		t.Fatalf("views differ at seq %d: %v/%v vs %v/%v", book.Seq(), book.Bids(), book.Asks(), otherBook.Bids(), otherBook.Asks())
	}
}

func TestResyncErrorsAndStale(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)

	c := dial(t, s.url)
	c.sendText(`{"op":"resync","id":1,"channel":"book.BTC-USD"}`)
	if m := c.next(); m.Type != schemas.TypeError || m.Code != schemas.CodeNotSubscribed || m.ID != 1 {
		t.Fatalf("got %+v, want not_subscribed", m)
	}
	c.sendText(`{"op":"subscribe","id":2,"channels":["book.BTC-USD","ticker.BTC-USD"]}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeTicker })
	c.sendText(`{"op":"resync","id":3,"channel":"ticker.BTC-USD"}`)
	c.until(func(m *schemas.ServerMessage) bool {
		if m.Type == schemas.TypeError {
			if m.Code != schemas.CodeInvalidRequest || m.ID != 3 {
				t.Fatalf("got %+v, want invalid_request", m)
			}
			return true
		}
		return false
	})

	// A gap makes the book stale; a resync then answers with the status,
	// and the snapshot follows on recovery.
	s.feed(delta("BTC-USD", 12, `[["99.75","1"]]`, `[]`))
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeStatus })
	c.sendText(`{"op":"resync","id":4,"channel":"book.BTC-USD"}`)
	if m := c.until(func(m *schemas.ServerMessage) bool { return m.Channel == "book.BTC-USD" }); m.Status != schemas.StatusStale {
		t.Fatalf("got %+v, want stale status", m)
	}
	s.feed(snapshot("BTC-USD", 20, bookBids, bookAsks))
	book := client.NewBook("book.BTC-USD")
	m := c.until(func(m *schemas.ServerMessage) bool { return m.Channel == "book.BTC-USD" })
	if m.Type != schemas.TypeSnapshot || m.Seq != 20 {
		t.Fatalf("got %+v, want snapshot 20", m)
	}
	applyAll(t, book, m)
	// A tampered checksum is caught by the client.
	bad := *m
	wrong := *m.Checksum + 1
	bad.Checksum = &wrong
	if err := book.Apply(&bad); !errors.Is(err, client.ErrChecksum) {
		t.Fatalf("tampered checksum: %v, want ErrChecksum", err)
	}
}
