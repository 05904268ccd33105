package market

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/marketfeed/marketfeed/orderbook"
)

// Defaults of HistoryLimits.
const (
	// DefaultHistoryWindow is the default HistoryLimits.Window: a minute
	// of exchange time.
	DefaultHistoryWindow = 60 * time.Second
	// DefaultHistoryMaxBytes is the default HistoryLimits.MaxBytes: 1 MiB
	// per symbol.
	DefaultHistoryMaxBytes = 1 << 20
)

// HistoryEntryBytes is the memory one recorded level change takes in a
// history.
const HistoryEntryBytes = int(unsafe.Sizeof(histEntry{}))

// HistoryLimits bound the book history of each symbol: the level changes
// of its recent deltas, which let a subscriber that held the book at an
// earlier seq catch up without a snapshot (see Symbol.ChangesSince).
type HistoryLimits struct {
	// Window is how much exchange time the history spans: changes whose
	// exchange time is more than Window before the newest change's are
	// dropped. Zero means DefaultHistoryWindow (60s); negative keeps no
	// history.
	Window time.Duration
	// MaxBytes bounds the memory of one symbol's history (the oldest
	// changes are dropped first). Zero means DefaultHistoryMaxBytes
	// (1 MiB); negative keeps no history.
	MaxBytes int
}

func (l HistoryLimits) resolved() HistoryLimits {
	if l.Window == 0 {
		l.Window = DefaultHistoryWindow
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultHistoryMaxBytes
	}
	return l
}

// histEntry is one level change of an applied delta.
type histEntry struct {
	seq   uint64
	ts    int64 // exchange time of the delta, µs
	price int64
	prev  int64 // the level's size before the change
	side  orderbook.Side
}

// history is a symbol's ring of recent level changes, in seq order. It
// holds every change with a seq above base, up to the book's seq, while
// valid. Its memory is reused: once the ring has grown to its bound (or
// to what the symbol's traffic fills within the window), recording does
// not allocate.
type history struct {
	limits          HistoryLimits
	ring[histEntry] // oldest first
	base            uint64
	valid           bool
	// seq and ts of the delta being recorded (begin).
	seq uint64
	ts  int64
	// bytes is the ring's memory, published for other goroutines.
	bytes atomic.Int64
}

// maxEntries is the number of entries MaxBytes allows (0: no history).
func (h *history) maxEntries() int {
	if h.limits.Window < 0 || h.limits.MaxBytes < 0 {
		return 0
	}
	return h.limits.MaxBytes / HistoryEntryBytes
}

// restart empties the history: from now on it holds the changes after
// seq (a snapshot replaced the book at seq).
func (h *history) restart(seq uint64) {
	h.empty()
	h.base = seq
	h.valid = h.maxEntries() > 0
}

// stop empties the history and makes it hold nothing until the next
// restart (the book no longer follows the sequence).
func (h *history) stop() {
	h.empty()
	h.valid = false
}

// begin starts recording the changes of the delta seq of time ts, and
// drops the changes that fell out of the window.
func (h *history) begin(seq uint64, ts int64) {
	h.seq, h.ts = seq, ts
	if !h.valid {
		return
	}
	oldest := ts - h.limits.Window.Microseconds()
	for h.n > 0 && h.at(0).ts < oldest {
		h.drop()
	}
}

// drop forgets the oldest entry.
func (h *history) drop() {
	h.base = h.pop().seq
}

// record adds one level change of the delta being recorded.
func (h *history) record(side orderbook.Side, price, prev int64) {
	if !h.valid {
		return
	}
	size := len(h.buf)
	if !h.room(64, h.maxEntries()) {
		h.drop()
	} else if len(h.buf) != size {
		h.bytes.Store(int64(len(h.buf) * HistoryEntryBytes))
	}
	*h.push() = histEntry{seq: h.seq, ts: h.ts, price: price, prev: prev, side: side}
}

// after returns the index (in age order) of the first entry whose seq is
// above seq.
func (h *history) after(seq uint64) int {
	lo, hi := 0, h.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.at(m).seq <= seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// HistoryStart returns the seq after which the symbol's history holds
// every change of the book, up to Seq; ok is false when it holds none
// (no snapshot yet, history disabled, or the sequence broke). The
// history restarts, empty, at the seq of each snapshot that replaces the
// book (the first one, a new epoch, a correction, a recovery from a gap);
// a snapshot that verifies the book keeps it. It stops when the sequence
// breaks or the instrument's scales change. Changes drop out of it when
// they are older than HistoryLimits.Window (in exchange time, behind the
// newest delta) or do not fit in HistoryLimits.MaxBytes.
func (s *Symbol) HistoryStart() (seq uint64, ok bool) {
	return s.hist.base, s.hist.valid
}

// ChangesSince records in log (after a Reset) every level change of the
// book after seq, oldest first, so that log holds, for each level changed
// since, its size at seq (orderbook.ChangeLog keeps the first): with the
// current book, that is the book at seq. It reports false, leaving log
// empty, when the history does not hold every change since seq (seq
// before HistoryStart, or after Seq).
func (s *Symbol) ChangesSince(seq uint64, log *orderbook.ChangeLog) bool {
	log.Reset()
	h := &s.hist
	if !h.valid || seq < h.base || seq > s.seq {
		return false
	}
	for i := h.after(seq); i < h.n; i++ {
		e := h.at(i)
		log.Record(e.side, e.price, e.prev)
	}
	return true
}

// HistoryTS returns the exchange time (µs) of the delta numbered seq when
// the history holds a change of it.
func (s *Symbol) HistoryTS(seq uint64) (int64, bool) {
	h := &s.hist
	if !h.valid {
		return 0, false
	}
	if i := h.after(seq - 1); i < h.n && h.at(i).seq == seq {
		return h.at(i).ts, true
	}
	return 0, false
}

// HistoryBytes returns the memory the symbol's history holds (its ring,
// allocated up to HistoryLimits.MaxBytes and reused). Safe from any
// goroutine.
func (s *Symbol) HistoryBytes() int64 { return s.hist.bytes.Load() }

// SetHistoryLimits sets the bounds of the symbol's history (the zero
// value: the defaults) and restarts it at the book's seq when the book
// follows the sequence.
func (s *Symbol) SetHistoryLimits(l HistoryLimits) {
	s.hist.limits = l.resolved()
	s.hist.release()
	if s.seqState == Live {
		s.hist.restart(s.seq)
	} else {
		s.hist.stop()
	}
	s.hist.bytes.Store(0)
}
