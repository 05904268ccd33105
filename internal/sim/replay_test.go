package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

// Record types of the Kafka input format, as kafka.md spells them.
const (
	typeInstrument = "instrument"
	typeSnapshot   = "snapshot"
	typeDelta      = "delta"
	typeTrade      = "trade"
)

// record is every field of the Kafka input format, decoded with
// encoding/json independently of the encoder under test.
type record struct {
	Type       string     `json:"type"`
	Symbol     string     `json:"symbol"`
	TS         *int64     `json:"ts"`
	Base       string     `json:"base"`
	Quote      string     `json:"quote"`
	PriceScale *int       `json:"price_scale"`
	SizeScale  *int       `json:"size_scale"`
	TickSize   string     `json:"tick_size"`
	LotSize    string     `json:"lot_size"`
	Status     string     `json:"status"`
	Seq        *int64     `json:"seq"`
	Bids       [][]string `json:"bids"`
	Asks       [][]string `json:"asks"`
	TradeID    string     `json:"trade_id"`
	Price      string     `json:"price"`
	Size       string     `json:"size"`
	Side       string     `json:"side"`
}

func decode(value []byte) (record, error) {
	var r record
	d := json.NewDecoder(bytes.NewReader(value))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, err
	}
	if d.More() {
		return r, fmt.Errorf("trailing data")
	}
	return r, nil
}

// refBook is a deliberately simple map-based book.
type refBook struct {
	ps, ss    int
	tick, lot int64
	defined   bool
	synced    bool // a snapshot has been seen
	seq       int64
	bids      map[int64]int64
	asks      map[int64]int64
	lastTrade int64
	pending   *pendingTrade // trade whose consuming delta must come next

	// walk statistics
	top              [2][]int64 // top-20 prices per side after the last event
	entered, left    int
	bestBids         map[int64]bool
	spreadSum        int64 // sum of spreads in ticks over events
	spreadMax        int64
	tracked          int
	deltas, snapshot int
}

type pendingTrade struct {
	bid         bool // side of the book the trade consumed
	price, size int64
	before      int64 // level size before the trade
}

// replayer checks a record stream against the wire contract and the
// simulator's promises, replaying the books.
type replayer struct {
	books  map[string]*refBook
	trades int
	events int // deltas not caused by a trade, plus trades
	msgs   int
}

func newReplayer() *replayer { return &replayer{books: map[string]*refBook{}} }

func validSymbol(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}

// dec parses a decimal at scale and requires it to be written with exactly
// that scale (re-formatting gives the identical bytes).
func dec(s string, scale int) (int64, error) {
	v, err := fixedpoint.Parse(s, scale)
	if err != nil {
		return 0, fmt.Errorf("decimal %q at scale %d: %v", s, scale, err)
	}
	if f := fixedpoint.Format(v, scale); f != s {
		return 0, fmt.Errorf("decimal %q at scale %d re-formats as %q", s, scale, f)
	}
	return v, nil
}

func (b *refBook) price(s string) (int64, error) {
	p, err := dec(s, b.ps)
	if err != nil {
		return 0, err
	}
	if p <= 0 || p%b.tick != 0 {
		return 0, fmt.Errorf("price %s not a positive multiple of the tick", s)
	}
	return p, nil
}

func (b *refBook) size(s string) (int64, error) {
	v, err := dec(s, b.ss)
	if err != nil {
		return 0, err
	}
	if v < 0 || v%b.lot != 0 {
		return 0, fmt.Errorf("size %s not a non-negative multiple of the lot", s)
	}
	return v, nil
}

// levels parses one side's pairs; sizes must be > 0 unless zeroOK, prices
// unique.
func (b *refBook) levels(pairs [][]string, zeroOK bool) (map[int64]int64, error) {
	m := make(map[int64]int64, len(pairs))
	for _, pr := range pairs {
		if len(pr) != 2 {
			return nil, fmt.Errorf("pair %v", pr)
		}
		p, err := b.price(pr[0])
		if err != nil {
			return nil, err
		}
		sz, err := b.size(pr[1])
		if err != nil {
			return nil, err
		}
		if sz == 0 && !zeroOK {
			return nil, fmt.Errorf("zero size at %s", pr[0])
		}
		if _, dup := m[p]; dup {
			return nil, fmt.Errorf("price %s twice", pr[0])
		}
		m[p] = sz
	}
	return m, nil
}

func best(m map[int64]int64, bid bool) (int64, bool) {
	var p int64
	ok := false
	for q := range m {
		if !ok || bid && q > p || !bid && q < p {
			p, ok = q, true
		}
	}
	return p, ok
}

func topN(m map[int64]int64, bid bool, n int) []int64 {
	ps := make([]int64, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool {
		if bid {
			return ps[i] > ps[j]
		}
		return ps[i] < ps[j]
	})
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps
}

func (b *refBook) checkUncrossed() error {
	bb, okb := best(b.bids, true)
	ba, oka := best(b.asks, false)
	if !okb || !oka {
		return fmt.Errorf("empty side: %d bids, %d asks", len(b.bids), len(b.asks))
	}
	if bb >= ba {
		return fmt.Errorf("crossed book: bid %d >= ask %d", bb, ba)
	}
	return nil
}

// track updates the top-20 enter/leave statistics.
func (b *refBook) track() {
	bb, _ := best(b.bids, true)
	ba, _ := best(b.asks, false)
	b.bestBids[bb] = true
	sp := (ba - bb) / b.tick
	b.spreadSum += sp
	b.spreadMax = max(b.spreadMax, sp)
	if b.tracked++; b.tracked%4 != 0 {
		return // the top-20 sets are sampled every 4th event
	}
	for i, m := range [2]map[int64]int64{b.bids, b.asks} {
		now := topN(m, i == 0, 20)
		if b.top[i] != nil {
			b.entered += countMissing(now, b.top[i])
			b.left += countMissing(b.top[i], now)
		}
		b.top[i] = now
	}
}

// countMissing counts the elements of a not in b.
func countMissing(a, b []int64) int {
	n := 0
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
				break
			}
		}
		if !found {
			n++
		}
	}
	return n
}

// apply checks one record.
func (r *replayer) apply(key, value []byte, wantTS int64) error {
	r.msgs++
	rec, err := decode(value)
	if err != nil {
		return fmt.Errorf("decode %s: %v", value, err)
	}
	if !validSymbol(rec.Symbol) || string(key) != rec.Symbol {
		return fmt.Errorf("symbol %q, key %q", rec.Symbol, key)
	}
	if rec.TS == nil || (wantTS >= 0 && *rec.TS != wantTS) {
		return fmt.Errorf("ts %v, want %d", rec.TS, wantTS)
	}
	b := r.books[rec.Symbol]
	if b == nil {
		if rec.Type != typeInstrument {
			return fmt.Errorf("%s before the instrument of %s", rec.Type, rec.Symbol)
		}
		b = &refBook{bestBids: map[int64]bool{}}
		r.books[rec.Symbol] = b
	}
	if b.pending != nil && rec.Type != typeDelta {
		return fmt.Errorf("%s: trade not followed by its delta", rec.Symbol)
	}
	switch rec.Type {
	case typeInstrument:
		return r.instrument(b, &rec)
	case typeSnapshot:
		return r.snapshot(b, &rec)
	case typeDelta:
		return r.delta(b, &rec)
	case typeTrade:
		return r.trade(b, &rec)
	}
	return fmt.Errorf("unknown type %q", rec.Type)
}

func (r *replayer) instrument(b *refBook, rec *record) error {
	if rec.PriceScale == nil || rec.SizeScale == nil || *rec.PriceScale < 0 || *rec.PriceScale > 18 ||
		*rec.SizeScale < 0 || *rec.SizeScale > 18 || rec.Status != "trading" || rec.Base == "" || rec.Quote == "" {
		return fmt.Errorf("instrument %+v", rec)
	}
	ps, ss := *rec.PriceScale, *rec.SizeScale
	tick, err := dec(rec.TickSize, ps)
	if err != nil {
		return err
	}
	lot, err := dec(rec.LotSize, ss)
	if err != nil {
		return err
	}
	if tick <= 0 || lot <= 0 {
		return fmt.Errorf("tick %s lot %s", rec.TickSize, rec.LotSize)
	}
	if b.defined && (b.ps != ps || b.ss != ss || b.tick != tick || b.lot != lot) {
		return fmt.Errorf("%s: definition changed", rec.Symbol)
	}
	b.defined, b.ps, b.ss, b.tick, b.lot = true, ps, ss, tick, lot
	return nil
}

func (r *replayer) snapshot(b *refBook, rec *record) error {
	if rec.Seq == nil || *rec.Seq < 0 {
		return fmt.Errorf("snapshot seq %v", rec.Seq)
	}
	bids, err := b.levels(rec.Bids, false)
	if err != nil {
		return fmt.Errorf("snapshot bids: %v", err)
	}
	asks, err := b.levels(rec.Asks, false)
	if err != nil {
		return fmt.Errorf("snapshot asks: %v", err)
	}
	if b.synced {
		if *rec.Seq != b.seq {
			return fmt.Errorf("%s: snapshot seq %d, replayed %d", rec.Symbol, *rec.Seq, b.seq)
		}
		if !equalBook(bids, b.bids) || !equalBook(asks, b.asks) {
			return fmt.Errorf("%s: snapshot at %d differs from the replayed book", rec.Symbol, b.seq)
		}
	}
	b.synced, b.seq, b.bids, b.asks = true, *rec.Seq, bids, asks
	b.snapshot++
	if err := b.checkUncrossed(); err != nil {
		return fmt.Errorf("%s snapshot: %v", rec.Symbol, err)
	}
	b.track()
	return nil
}

func equalBook(a, b map[int64]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, s := range a {
		if b[p] != s {
			return false
		}
	}
	return true
}

func (r *replayer) delta(b *refBook, rec *record) error {
	if !b.synced {
		return fmt.Errorf("%s: delta before a snapshot", rec.Symbol)
	}
	if rec.Seq == nil || *rec.Seq != b.seq+1 {
		return fmt.Errorf("%s: delta seq %v after %d", rec.Symbol, rec.Seq, b.seq)
	}
	bids, err := b.levels(rec.Bids, true)
	if err != nil {
		return fmt.Errorf("delta bids: %v", err)
	}
	asks, err := b.levels(rec.Asks, true)
	if err != nil {
		return fmt.Errorf("delta asks: %v", err)
	}
	if n := len(bids) + len(asks); n < 1 || n > maxChanges {
		return fmt.Errorf("%s: delta with %d changes", rec.Symbol, n)
	}
	if t := b.pending; t != nil {
		m := asks
		if t.bid {
			m = bids
		}
		if got, ok := m[t.price]; !ok || got != t.before-t.size {
			return fmt.Errorf("%s: delta after trade sets %d to %d (present %v), want %d", rec.Symbol, t.price, got, ok, t.before-t.size)
		}
		b.pending = nil
	} else {
		r.events++
	}
	for i, ch := range [2]map[int64]int64{bids, asks} {
		book := b.bids
		if i == 1 {
			book = b.asks
		}
		for p, s := range ch {
			if s == 0 {
				if _, ok := book[p]; !ok {
					return fmt.Errorf("%s: delete of missing level %d", rec.Symbol, p)
				}
				delete(book, p)
			} else {
				book[p] = s
			}
		}
	}
	b.seq++
	b.deltas++
	if err := b.checkUncrossed(); err != nil {
		return fmt.Errorf("%s delta %d: %v", rec.Symbol, b.seq, err)
	}
	b.track()
	return nil
}

func (r *replayer) trade(b *refBook, rec *record) error {
	if !b.synced {
		return fmt.Errorf("%s: trade before a snapshot", rec.Symbol)
	}
	id, err := strconv.ParseInt(rec.TradeID, 10, 64)
	if err != nil || strconv.FormatInt(id, 10) != rec.TradeID || id <= b.lastTrade {
		return fmt.Errorf("%s: trade id %q after %d", rec.Symbol, rec.TradeID, b.lastTrade)
	}
	b.lastTrade = id
	p, err := b.price(rec.Price)
	if err != nil {
		return err
	}
	sz, err := b.size(rec.Size)
	if err != nil || sz == 0 {
		return fmt.Errorf("trade size %q: %v", rec.Size, err)
	}
	var bookSide map[int64]int64
	switch rec.Side {
	case "buy":
		bookSide = b.asks
	case "sell":
		bookSide = b.bids
	default:
		return fmt.Errorf("trade side %q", rec.Side)
	}
	touch, _ := best(bookSide, rec.Side == "sell")
	if p != touch || sz > bookSide[p] {
		return fmt.Errorf("%s: %s trade %s@%s, touch %d size %d", rec.Symbol, rec.Side, rec.Size, rec.Price, touch, bookSide[touch])
	}
	b.pending = &pendingTrade{bid: rec.Side == "sell", price: p, size: sz, before: bookSide[p]}
	r.trades++
	r.events++
	return nil
}
