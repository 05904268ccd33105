package sim

import (
	"math/rand/v2"
	"sort"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultSymbols is the default Config.Symbols.
	DefaultSymbols = 20
	// DefaultLevels is the default Config.Levels.
	DefaultLevels = 50
	// DefaultSeed is the default Config.Seed.
	DefaultSeed = 1
	// DefaultTradeRatio is the default Config.TradeRatio.
	DefaultTradeRatio = 0.15

	minLevels = 4
)

// Config configures an Exchange.
type Config struct {
	// Symbols is the number of symbols. The first 20 come from a built-in
	// list (BTC-USD, ETH-USD, SOL-USD, DOGE-USD, ..., EUR-USD, ..., AAPL,
	// ...); further ones are named SYM021-USD, SYM022-USD, ... Zero or
	// negative means 20.
	Symbols int
	// Levels is the number of levels per side kept around the mid. Zero
	// means 50; values below 4 are raised to 4.
	Levels int
	// Seed seeds the generator: the same Config and the same call sequence
	// produce the same records. Zero means 1.
	Seed int64
	// TradeRatio is the fraction of events that are trades. Zero means
	// 0.15; a negative value disables trades.
	TradeRatio float64
	// Epoch is the publisher epoch written on every snapshot and delta
	// (kafka.md section 4.1), at most 2^53−1. A publisher that may restart
	// gives each run a larger one; NewEpoch returns the recommended value.
	// Zero means records without an epoch, as a publisher without epochs
	// writes them.
	Epoch uint64
}

// NewEpoch returns the recommended epoch of a publisher run that starts at
// t: its time in microseconds since the Unix epoch, so that every restart
// gets a larger epoch without any state kept between runs.
func NewEpoch(t time.Time) uint64 { return uint64(max(t.UnixMicro(), 1)) }

func (c Config) withDefaults() Config {
	if c.Symbols <= 0 {
		c.Symbols = DefaultSymbols
	}
	if c.Levels == 0 {
		c.Levels = DefaultLevels
	}
	c.Levels = max(c.Levels, minLevels)
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.TradeRatio == 0 {
		c.TradeRatio = DefaultTradeRatio
	}
	return c
}

// Message is one Kafka record: Key is the symbol, Value one JSON object in
// the Kafka input format, Time the record time. Key and Value are read-only.
type Message struct {
	Key, Value []byte
	Time       time.Time
}

// symbol is the state of one instrument's market.
type symbol struct {
	in         instrument
	key        []byte
	bids, asks side
	pivot      int64 // bids lie at or below the pivot, asks above it
	seq        int64 // seq of the last delta
	tradeID    int64 // id of the last trade
}

// Exchange generates the record stream. It is not safe for concurrent use.
type Exchange struct {
	cfg     Config
	rng     *rand.Rand
	syms    []*symbol
	names   []string
	cum     []int    // cumulative symbol weights
	changes []change // scratch: the changes of the delta being built
	buf     []byte   // arena the message values are carved from
	enc     encoder
}

// New returns an Exchange with every symbol's book initialised around its
// reference price.
func New(cfg Config) *Exchange {
	cfg = cfg.withDefaults()
	seed := uint64(cfg.Seed)
	e := &Exchange{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		changes: make([]change, 0, 8),
	}
	total := 0
	for _, in := range instruments(cfg.Symbols) {
		s := &symbol{
			in:      in,
			key:     []byte(in.symbol),
			bids:    side{bid: true, levels: make([]level, 0, cfg.Levels+4)},
			asks:    side{levels: make([]level, 0, cfg.Levels+4)},
			seq:     1 + e.rng.Int64N(1_000_000),
			tradeID: 100_000_000 + e.rng.Int64N(800_000_000),
		}
		s.key = s.key[:len(s.key):len(s.key)]
		e.initBook(s)
		e.syms = append(e.syms, s)
		e.names = append(e.names, in.symbol)
		total += in.weight
		e.cum = append(e.cum, total)
	}
	return e
}

// initBook fills both sides with cfg.Levels levels around the reference
// price, with gaps of one to three ticks.
func (e *Exchange) initBook(s *symbol) {
	tick := s.in.tick
	s.pivot = s.in.ref
	bid := s.pivot
	ask := bid + tick*(1+e.rng.Int64N(2))
	for i := 0; i < e.cfg.Levels; i++ {
		s.bids.levels = append(s.bids.levels, level{bid, e.randSize(&s.in)})
		s.asks.levels = append(s.asks.levels, level{ask, e.randSize(&s.in)})
		bid -= tick * e.gap()
		ask += tick * e.gap()
		if bid <= 0 {
			break // keep prices positive for very cheap instruments
		}
	}
}

// Symbols returns the symbol names in definition order.
func (e *Exchange) Symbols() []string { return append([]string(nil), e.names...) }

// Snapshots appends, for every symbol, its instrument record followed by a
// snapshot of its whole book at its current seq (a snapshot takes no
// sequence number), and returns the extended slice. Publishers send it at
// start and periodically; the instrument record is the same every time.
func (e *Exchange) Snapshots(now time.Time, dst []Message) []Message {
	ts := now.UnixMicro()
	for _, s := range e.syms {
		start := e.reserve(512)
		e.buf = e.enc.appendInstrument(e.buf, &s.in, ts)
		dst = append(dst, e.message(s, start, now))
		start = e.reserve(128 + 64*(len(s.bids.levels)+len(s.asks.levels)))
		e.buf = e.enc.appendSnapshot(e.buf, s, e.cfg.Epoch, ts)
		dst = append(dst, e.message(s, start, now))
	}
	return dst
}

// Next appends the messages of one market event on a random symbol (active
// symbols are picked more often) and returns the extended slice. The event
// is either a delta, one to four level changes (mostly near the top of the
// book, occasionally deep levels; sizes changed, levels deleted and added,
// the mid moving by a random walk so that levels enter and leave the top of
// the book), or, with probability TradeRatio, a trade at the touch followed
// by the delta that consumes the traded size (with at most three more
// changes refilling the book). Each delta's seq is the symbol's previous
// seq plus one; the first delta of a symbol follows the seq of its initial
// snapshot, which starts at a random value. Record ts is now in
// microseconds.
func (e *Exchange) Next(now time.Time, dst []Message) []Message {
	s := e.pick()
	ts := now.UnixMicro()
	if e.cfg.TradeRatio > 0 && e.rng.Float64() < e.cfg.TradeRatio {
		if id, price, size, buy, ok := e.trade(s); ok {
			start := e.reserve(256)
			e.buf = e.enc.appendTrade(e.buf, s, id, price, size, buy, ts)
			dst = append(dst, e.message(s, start, now))
			return e.emitDelta(s, now, ts, dst)
		}
	}
	e.delta(s)
	return e.emitDelta(s, now, ts, dst)
}

// emitDelta numbers the changes built in e.changes as the next seq and
// appends the delta message.
func (e *Exchange) emitDelta(s *symbol, now time.Time, ts int64, dst []Message) []Message {
	s.seq++
	start := e.reserve(128 + 64*len(e.changes))
	e.buf = e.enc.appendDelta(e.buf, s, e.changes, e.cfg.Epoch, ts)
	return append(dst, e.message(s, start, now))
}

// pick returns a random symbol, weighted by activity.
func (e *Exchange) pick() *symbol {
	r := e.rng.IntN(e.cum[len(e.cum)-1])
	return e.syms[sort.SearchInts(e.cum, r+1)]
}

const arenaSize = 64 << 10

// reserve makes sure the arena has room for about n more bytes and returns
// the offset where the next value starts. Earlier values keep their bytes:
// an arena is only ever appended to, and a full one is replaced, not reused.
func (e *Exchange) reserve(n int) int {
	if cap(e.buf)-len(e.buf) < n {
		e.buf = make([]byte, 0, max(arenaSize, n))
	}
	return len(e.buf)
}

func (e *Exchange) message(s *symbol, start int, now time.Time) Message {
	end := len(e.buf)
	return Message{Key: s.key, Value: e.buf[start:end:end], Time: now}
}

// randSize returns a random level size: a positive multiple of the lot,
// small sizes more frequent than large ones.
func (e *Exchange) randSize(in *instrument) int64 {
	span := in.maxLots - in.minLots
	for span > 10 && e.rng.IntN(2) == 0 {
		span /= 10
	}
	return (in.minLots + e.rng.Int64N(span+1)) * in.lot
}

// gap returns a random distance between neighbouring levels, in ticks.
func (e *Exchange) gap() int64 { return 1 + e.rng.Int64N(3) }
