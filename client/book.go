package client

import (
	"fmt"
	"slices"

	"github.com/marketfeed/marketfeed/schemas"
)

// BookState tells whether a Book reflects the server's view.
type BookState int

// Book states.
const (
	// BookEmpty: no snapshot received yet.
	BookEmpty BookState = iota
	// BookSynced: the levels are the server's top-depth view at Seq.
	BookSynced
	// BookWaiting: the server does not know the book yet (status
	// "waiting"); a snapshot follows.
	BookWaiting
	// BookStale: the server does not vouch for the book (status "stale",
	// or a status value this client does not know); Reason says why. The
	// levels are frozen and a snapshot follows on recovery.
	BookStale
	// BookGap: an update did not continue the view or could not be applied;
	// the levels are frozen until the next snapshot. The client should ask
	// for one (Conn.Resync; Stream does it by itself).
	BookGap
)

// String returns "empty", "synced", "waiting", "stale" or "gap".
func (s BookState) String() string {
	switch s {
	case BookEmpty:
		return "empty"
	case BookSynced:
		return "synced"
	case BookWaiting:
		return "waiting"
	case BookStale:
		return "stale"
	case BookGap:
		return "gap"
	}
	return fmt.Sprintf("BookState(%d)", int(s))
}

type level struct {
	price, size string
}

// Book is a client-side view of one book channel built from snapshot and
// update messages. The zero value is not usable; call NewBook.
type Book struct {
	channel string
	bids    []level // best (highest) first
	asks    []level // best (lowest) first
	seq     uint64
	epoch   uint64
	state   BookState
	reason  string // of the last stale status
	ckbuf   []byte // canonical view string, reused
}

// NewBook returns an empty book for channel (for example "book.BTC-USD").
func NewBook(channel string) *Book {
	return &Book{channel: channel}
}

// Channel returns the channel the book follows.
func (b *Book) Channel() string { return b.channel }

// State returns the book's state.
func (b *Book) State() BookState { return b.state }

// Synced reports whether the book holds the server's view at Seq.
func (b *Book) Synced() bool { return b.state == BookSynced }

// Seq returns the sequence number of the last snapshot or update applied.
func (b *Book) Seq() uint64 { return b.seq }

// Epoch returns the publisher epoch of Seq (websocket.md 5.7): it changes
// with a snapshot of a restarted publisher, whose Seq may then be lower
// than before.
func (b *Book) Epoch() uint64 { return b.epoch }

// Reason returns why the server said the book is stale ("gap",
// "feed_down", "silent", "crossed", or a value of a later server) while
// State is BookStale, else "".
func (b *Book) Reason() string {
	if b.state != BookStale {
		return ""
	}
	return b.reason
}

// Bids returns the bid levels as [price, size], best (highest) first, with
// the strings exactly as received.
func (b *Book) Bids() [][2]string { return levels(b.bids) }

// Asks returns the ask levels as [price, size], best (lowest) first, with
// the strings exactly as received.
func (b *Book) Asks() [][2]string { return levels(b.asks) }

func levels(side []level) [][2]string {
	out := make([][2]string, len(side))
	for i, l := range side {
		out[i] = [2]string{l.price, l.size}
	}
	return out
}

// Apply applies one server message. Messages of other channels and of
// other types are ignored (nil). A snapshot replaces the view and sets Seq.
// An update needs a synced book (else ErrNotSynced, update ignored) and
// first_seq == Seq+1 (else ErrGap and the book is not synced until the next
// snapshot) and the snapshot's epoch (else ErrGap too: the update
// follows a snapshot this book did not see); each entry sets the level at
// its price to its size, a size whose digits are all zero deletes it. A
// snapshot of another epoch than the book's is applied like any snapshot.
// A status message marks the book not synced: "waiting" as BookWaiting,
// "stale" or any unknown status as BookStale with its reason. A price or size that is not a plain
// decimal, or a negative size, yields ErrInvalidLevel and leaves the book
// not synced. A message that fails is not applied at all.
//
// A snapshot or update carrying a checksum is verified after it is applied:
// the CRC-32 of the whole view (schemas.BookChecksum) must equal it, else
// Apply returns ErrChecksum and the book is not synced until the next
// snapshot (send a resync to get one).
func (b *Book) Apply(m *schemas.ServerMessage) error {
	if m == nil || m.Channel != b.channel {
		return nil
	}
	switch m.Type {
	case schemas.TypeSnapshot:
		if err := b.check(m); err != nil {
			return err
		}
		b.bids = buildSide(b.bids[:0], m.Bids, true)
		b.asks = buildSide(b.asks[:0], m.Asks, false)
		b.seq, b.epoch = m.Seq, m.Epoch
		b.state = BookSynced
		return b.verify(m)
	case schemas.TypeUpdate:
		if b.state != BookSynced {
			return fmt.Errorf("%w: %s: update %d..%d while %s", ErrNotSynced, b.channel, m.FirstSeq, m.Seq, b.state)
		}
		if m.FirstSeq != b.seq+1 || m.Seq < m.FirstSeq {
			b.state = BookGap
			return fmt.Errorf("%w: %s: have seq %d, got update %d..%d", ErrGap, b.channel, b.seq, m.FirstSeq, m.Seq)
		}
		if m.Epoch != b.epoch {
			b.state = BookGap
			return fmt.Errorf("%w: %s: have epoch %d, got an update of epoch %d", ErrGap, b.channel, b.epoch, m.Epoch)
		}
		if err := b.check(m); err != nil {
			return err
		}
		for _, e := range m.Bids {
			b.bids = setLevel(b.bids, e, true)
		}
		for _, e := range m.Asks {
			b.asks = setLevel(b.asks, e, false)
		}
		b.seq = m.Seq
		return b.verify(m)
	case schemas.TypeStatus:
		switch m.Status {
		case schemas.StatusWaiting:
			b.state = BookWaiting
		default:
			b.state, b.reason = BookStale, m.Reason
		}
	}
	return nil
}

// check validates every entry of m; on failure the book becomes BookGap.
func (b *Book) check(m *schemas.ServerMessage) error {
	for _, side := range [2][][2]string{m.Bids, m.Asks} {
		for _, e := range side {
			if !validDecimal(e[0]) || !validDecimal(e[1]) || (e[1][0] == '-' && !isZeroDecimal(e[1])) {
				b.state = BookGap
				return fmt.Errorf("%w: %s %s seq %d: [%q, %q]", ErrInvalidLevel, b.channel, m.Type, m.Seq, e[0], e[1])
			}
		}
	}
	return nil
}

// order compares prices in the side's order: bids descending, asks
// ascending.
func order(a, b string, desc bool) int {
	if desc {
		return cmpDecimal(b, a)
	}
	return cmpDecimal(a, b)
}

// buildSide fills dst with the non-zero entries sorted in the side's order;
// for equal prices the last entry wins.
func buildSide(dst []level, entries [][2]string, desc bool) []level {
	for _, e := range entries {
		dst = append(dst, level{price: e[0], size: e[1]})
	}
	slices.SortStableFunc(dst, func(x, y level) int { return order(x.price, y.price, desc) })
	out := dst[:0]
	for i, l := range dst {
		if i+1 < len(dst) && order(l.price, dst[i+1].price, desc) == 0 {
			continue // a later entry sets the same price
		}
		if !isZeroDecimal(l.size) {
			out = append(out, l)
		}
	}
	clear(dst[len(out):])
	return out
}

// setLevel sets (or deletes, for a zero size) the level at e's price.
func setLevel(side []level, e [2]string, desc bool) []level {
	i, found := slices.BinarySearchFunc(side, e[0], func(l level, p string) int {
		return order(l.price, p, desc)
	})
	switch {
	case isZeroDecimal(e[1]):
		if found {
			side = slices.Delete(side, i, i+1)
		}
	case found:
		side[i] = level{price: e[0], size: e[1]}
	default:
		side = slices.Insert(side, i, level{price: e[0], size: e[1]})
	}
	return side
}

// Checksum returns the checksum of the book's levels as they stand
// (schemas.BookChecksum), from the text of each side
// (schemas.AppendChecksumLevel, schemas.ChecksumSides).
func (b *Book) Checksum() uint32 {
	buf := b.ckbuf[:0]
	for _, l := range b.bids {
		buf = schemas.AppendChecksumLevel(buf, l.price, l.size)
	}
	mid := len(buf)
	for _, l := range b.asks {
		buf = schemas.AppendChecksumLevel(buf, l.price, l.size)
	}
	b.ckbuf = buf
	return schemas.ChecksumSides(buf[:mid], buf[mid:])
}

// verify checks m's checksum, when it has one, against the view just
// updated by m; on mismatch the book becomes BookGap.
func (b *Book) verify(m *schemas.ServerMessage) error {
	if m.Checksum == nil {
		return nil
	}
	if got := b.Checksum(); got != *m.Checksum {
		b.state = BookGap
		return fmt.Errorf("%w: %s %s seq %d: view checksum %d, message says %d", ErrChecksum, b.channel, m.Type, m.Seq, got, *m.Checksum)
	}
	return nil
}
