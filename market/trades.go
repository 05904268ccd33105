package market

import (
	"time"
	"unsafe"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/schemas"
)

// Defaults of TradeHistoryConfig.
const (
	// DefaultTradeWindow is the default TradeHistoryConfig.Window: trades
	// are small, so five minutes of them cost little and cover a long
	// reconnect.
	DefaultTradeWindow = 5 * time.Minute
	// DefaultTradeMaxBytes is the default TradeHistoryConfig.MaxBytes,
	// 1 MiB per symbol (TradeRecordBytes, 104, each: about 10,000 trades).
	DefaultTradeMaxBytes = 1 << 20
)

// TradeHistoryConfig bounds the recent trades a symbol keeps (its trade
// history), by exchange time and by bytes; the tighter bound applies.
type TradeHistoryConfig struct {
	// Window is how much exchange time the history covers, back from the
	// symbol's newest trade. Zero means DefaultTradeWindow (5m).
	Window time.Duration
	// MaxBytes bounds the history's memory, TradeRecordBytes per trade.
	// Zero means DefaultTradeMaxBytes (1 MiB).
	MaxBytes int
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c TradeHistoryConfig) WithDefaults() TradeHistoryConfig {
	if c.Window == 0 {
		c.Window = DefaultTradeWindow
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultTradeMaxBytes
	}
	return c
}

// maxTrades is the number of trades MaxBytes holds, at least one.
func (c TradeHistoryConfig) maxTrades() int { return max(c.MaxBytes/TradeRecordBytes, 1) }

// tradeRecord is one trade of the history, its id held inline so that
// recording a trade copies it into memory the history already owns.
type tradeRecord struct {
	offset      int64 // Kafka offset of the trade's record; -1 unknown
	ts          int64
	price, size int64
	side        schemas.Side
	idLen       uint8
	id          [schemas.MaxTradeIDLen]byte
}

// TradeRecordBytes is the memory one trade of a history takes.
const TradeRecordBytes = int(unsafe.Sizeof(tradeRecord{}))

// HeldTrade is a trade read from a history (or from the log): its
// Offset is the Kafka offset of its record, -1 when unknown.
type HeldTrade struct {
	schemas.Trade
	Offset int64
}

// tradeHistory is a ring of a symbol's recent trades, oldest first. Its
// memory grows by doubling up to the byte bound and is then reused: in
// steady state recording a trade does not allocate.
type tradeHistory struct {
	cfg               TradeHistoryConfig
	ring[tradeRecord] // oldest first
	// floor: every trade of the symbol whose record's offset is ≥ floor
	// and that the owner applied is held (the offset after the last trade
	// dropped, or where the symbol was first defined); -1 when offsets
	// are unknown.
	floor int64
	// partition is the Kafka partition of the symbol's records, -1 when
	// unknown.
	partition int
}

// add records a trade, dropping the oldest ones that fall out of the
// window or the byte bound.
func (h *tradeHistory) add(t *Trade, offset int64) {
	if !h.room(16, h.cfg.maxTrades()) {
		h.dropOldest()
	}
	r := h.push()
	r.offset, r.ts, r.price, r.size, r.side = offset, t.TS, t.Price, t.Size, t.Side
	r.idLen = uint8(copy(r.id[:], t.ID))
	horizon := t.TS - h.cfg.Window.Microseconds()
	for h.n > 1 && h.at(0).ts < horizon {
		h.dropOldest()
	}
}

func (h *tradeHistory) dropOldest() {
	r := h.pop()
	if h.floor >= 0 {
		h.floor = max(h.floor, r.offset+1)
		if r.offset < 0 {
			h.floor = -1
		}
	}
}

// reset empties the history; trades from offset on are held again.
func (h *tradeHistory) reset(offset int64) {
	h.empty()
	h.floor = offset
}

// find returns the index of the trade with id and ts (any ts when ts <
// 0), or -1. Trade ids repeat rarely, but the search is from the newest
// trade back, and the time must match too.
func (h *tradeHistory) find(id string, ts int64) int {
	for i := h.n - 1; i >= 0; i-- {
		r := h.at(i)
		if (ts < 0 || r.ts == ts) && string(r.id[:r.idLen]) == id {
			return i
		}
	}
	return -1
}

// appendFrom appends the trades from index i on to dst.
func (h *tradeHistory) appendFrom(dst []HeldTrade, i int) []HeldTrade {
	for ; i < h.n; i++ {
		r := h.at(i)
		dst = append(dst, HeldTrade{Offset: r.offset, Trade: schemas.Trade{
			ID: string(r.id[:r.idLen]), TS: r.ts, Price: r.price, Size: r.size, Side: r.side}})
	}
	return dst
}

// SetTradeHistory bounds the symbol's trade history (defaults applied)
// and says where its records are: in partition, and every trade the
// owner applies from the record at offset on is held (until the bounds
// drop it); -1 when the partition or the records' offsets are not known.
// The shard calls it when it defines the symbol (and redefines its
// scales). It empties the history.
func (s *Symbol) SetTradeHistory(cfg TradeHistoryConfig, partition int, offset int64) {
	s.trades.cfg = cfg.WithDefaults()
	s.trades.release()
	s.trades.partition = partition
	s.trades.reset(offset)
}

// TradesPartition returns the Kafka partition of the symbol's records
// (SetTradeHistory), -1 when unknown.
func (s *Symbol) TradesPartition() int { return s.trades.partition }

// TradesAfter appends to dst the held trades after the one with id and
// ts (the newest with that id when ts < 0), oldest first, and reports
// whether that trade is held.
func (s *Symbol) TradesAfter(dst []HeldTrade, id string, ts int64) ([]HeldTrade, bool) {
	i := s.trades.find(id, ts)
	if i < 0 {
		return dst, false
	}
	return s.trades.appendFrom(dst, i+1), true
}

// TradesSince appends to dst the held trades whose exchange time is
// after ts, oldest first.
func (s *Symbol) TradesSince(dst []HeldTrade, ts int64) []HeldTrade {
	i := 0
	for i < s.trades.n && s.trades.at(i).ts <= ts {
		i++
	}
	return s.trades.appendFrom(dst, i)
}

// RecentTrades appends to dst the held trades, oldest first.
func (s *Symbol) RecentTrades(dst []HeldTrade) []HeldTrade { return s.trades.appendFrom(dst, 0) }

// TradesFloor returns the offset from which every trade of the symbol the
// owner applied is held: a trade read from the log at an offset below it
// may be missing from the history, one at or above it is there. -1 when
// offsets are unknown.
func (s *Symbol) TradesFloor() int64 { return s.trades.floor }

// TradeBytes returns the memory the held trades take.
func (s *Symbol) TradeBytes() int { return s.trades.n * TradeRecordBytes }

// ParseTrade reads a trade record at the instrument's scales, as
// ApplyTrade does (a trade read back from the log passes the same checks).
// Its ID aliases the record.
func (inst Instrument) ParseTrade(r *schemas.Record) (Trade, Rejection) {
	p, err := fixedpoint.ParseBytes(r.Price, inst.PriceScale)
	if err != nil {
		return Trade{}, valueRejection(err, "price")
	}
	q, err := fixedpoint.ParseBytes(r.Size, inst.SizeScale)
	if err != nil || q <= 0 {
		return Trade{}, valueRejection(err, "size")
	}
	return Trade{ID: r.TradeID, TS: r.TS, Price: p, Size: q, Side: r.Side}, Rejection{}
}

// OldestTradeTS returns the exchange time of the oldest held trade; ok is
// false when none is held.
func (s *Symbol) OldestTradeTS() (ts int64, ok bool) {
	if s.trades.n == 0 {
		return 0, false
	}
	return s.trades.at(0).ts, true
}

// NewestTradeTS returns the exchange time of the newest held trade; ok
// is false when none is held.
func (s *Symbol) NewestTradeTS() (ts int64, ok bool) {
	if s.trades.n == 0 {
		return 0, false
	}
	return s.trades.at(s.trades.n - 1).ts, true
}
