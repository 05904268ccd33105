// Package orderbook keeps marketfeed's per-symbol market state: L2 order
// books, the deltas that keep a client's top-depth view of a book in sync,
// and rolling 24 h tickers.
//
// Prices and sizes are int64 mantissas at the instrument's price and size
// scales (see package fixedpoint); nothing here uses floating point.
//
// # Concurrency
//
// Book, ChangeLog and Ticker are not safe for concurrent use, by design:
// one goroutine owns the state of a symbol (its book, change logs and
// ticker, held by a market.Symbol) and is the only one to call their
// methods. Other goroutines
// receive values the owner produced (slices filled by Top or ViewDelta,
// Stats values), never the structures themselves.
//
// The reasons, in numbers from the package benchmarks (2-core amd64, Go
// 1.26): a level change near the top costs about 23 ns whatever the depth
// (BenchmarkSet, 100 to 5000 levels); wrapping it in an uncontended
// sync.Mutex raises that to about 35 ns, +50 % on every change
// (BenchmarkSetWithMutex), and any contention with readers would stall the
// writer for the duration of their read. A whole raw flush for one depth,
// applying an event of one to four changes and computing the view deltas
// of both sides, costs about 200-300 ns (BenchmarkViewDelta/raw), so the
// owner can compute every message itself and hand finished data over.
//
// # Book layout
//
// Each side is a slice sorted so that the best price is at the tail, found
// by binary search after probing the last few levels. Changes cluster near
// the top, where an insert or delete moves only the few better levels:
// about 23 ns and no allocation per change at depth 100, 1000 and 5000 with
// a geometric distance from the best level (BenchmarkSet). The cost grows
// with the distance from the top: changes at uniformly random ranks cost
// about 50, 90 and 300 ns at depth 100, 1000 and 5000 (BenchmarkSetUniform).
// A slice only allocates when a side grows beyond its previous maximum;
// Reset keeps the capacity.
//
// # View deltas
//
// A client holds, per side, the top depth levels of a book. To keep it in
// sync the owner records every change since the last flush point in a
// ChangeLog and, at each flush, asks ViewDelta for the entries (price, size;
// size 0 deletes) that turn the old view into the new one: changed levels,
// levels entering the view when a better level is removed, and deletions of
// levels pushed out by a better insert. A client that applies them exactly,
// without truncation, holds the new top depth levels; a level that stayed
// in the view unchanged produces no entry. The same code serves raw streams
// (flush after every event) and throttled ones (flush every interval):
//
//	// at a flush point, once per depth served:
//	before := book.Edge(orderbook.Bid, depth)
//	log.Reset()
//	// for every level change until the next flush:
//	log.Record(side, price, book.Set(side, price, size))
//	// at the next flush:
//	entries = book.ViewDelta(orderbook.Bid, depth, before, &log, entries[:0])
//
// A ChangeLog belongs to one flush schedule: streams flushed at different
// times need their own logs, streams flushed together share one and keep an
// Edge per side and depth. A book Reset (a new snapshot) is not a change: the
// owner sends a snapshot instead and starts a new flush interval. A flush
// costs O(changes × log(levels) + band), where band is the number of levels
// between the old and the new view edge; BenchmarkViewDelta/batch50 (about
// 125 changes) takes about 5.5 µs, or 45 ns per change.
//
// # Ticker window
//
// A Ticker is driven by event time only, so its results are deterministic
// for a given sequence of events. Time is cut into one-minute buckets:
// minute(ts) = floor(ts / 60 000 000) with ts in microseconds. The window
// ends at the newest event time seen, newest = the largest ts passed to Add
// or Advance, and holds the buckets minute(newest)-1439 to minute(newest):
// 1440 buckets, covering the trades with ts from the start of minute
// minute(newest)-1439 up to newest, that is the last 23 h 59 min to 24 h.
// Time never moves backwards: an Advance older than newest is ignored.
// Stats.WindowStart is the later of the window's start and the first event
// time the ticker saw: a ticker created less than a day of event time ago
// covers only what it was given, and says so.
//
// A trade added with a ts older than newest (a late trade) is counted in its
// minute's bucket if that bucket is still in the window; if its minute is
// before the window it does not enter the sums at all. Either way it
// becomes the last trade: Last and LastSize are the most recently added
// trade, kept even after it leaves the window. Open is the price of the
// window's trade with the smallest ts (the first added among equal ts).
//
// Sums are exact: volume and quote volume are kept per bucket and for the
// window in 192-bit integers (a single price×size product of two int64
// mantissas needs up to 127 bits) and become decimals only in Stats. High
// and low are recomputed from the buckets only after an expired bucket held
// one of them. Add costs about 20 ns and does not allocate in steady state
// (BenchmarkTickerAdd); Stats allocates its decimals and costs about 1.2 µs
// (BenchmarkTickerStats). Memory: at most 1440 buckets of 96 bytes (about
// 135 KiB for a symbol that trades every minute), fewer for quieter ones.
package orderbook
