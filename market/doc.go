// Package market keeps the state of each symbol of the market: a Symbol
// owns the instrument (name, price and size scales, tick and lot grid),
// the L2 book, the rolling ticker, the candles of each resolution
// (package candle, fed with every trade and closed by exchange time),
// the book's serving state (Waiting,
// Live, Stale and why), its sequence and publisher epoch, the exchange
// times of its last events, the freshness bookkeeping (crossed, silent,
// partition down) and the change logs of the throttled book streams.
//
// A Symbol applies decoded records (schemas.Record): instrument
// definitions (Define), snapshots, deltas and trades. It validates each
// against the instrument and the book's sequence before it changes
// anything; a rejected record leaves the symbol untouched and is
// reported with its reason (Reason* and the reasons of
// schemas.DecodeError). Every call returns a Change, a small value that
// says what changed so that a listener can tell its subscribers: the
// levels of a delta (recorded in the change logs in use), a book to be
// sent whole again, a change of serving state, a trade. The delta path
// does not allocate.
//
// # History
//
// Each Symbol also keeps a bounded history of its book: the level changes
// of its recent deltas, each with the level's previous size, in a ring
// bounded by exchange time and bytes (HistoryLimits; 60 s and 1 MiB by
// default) whose memory is reused, so recording does not allocate once it
// has grown. It is shared by every subscriber of the symbol: with the
// current book it gives the book at any seq it covers (ChangesSince),
// from which a subscriber that held the book at that seq resumes without
// a snapshot. It restarts at each snapshot that replaces the book and
// stops while the sequence is broken (HistoryStart). It fills while the
// owner replays its partition at start, like the book itself.
//
// # Trade history
//
// A Symbol keeps its recent trades (trades.go), bounded by exchange time
// back from its newest trade and by bytes (TradeHistoryConfig: 5 minutes
// and 1 MiB by default), in a ring whose memory is reused, so that a trade
// is recorded without allocating once the ring has grown. Each trade keeps
// the Kafka offset of its record, and the history knows the offset from
// which it holds every trade the owner applied (TradesFloor): trades
// streams resume from it, and stitch what they read back from the log to
// it. It belongs to the owner goroutine like the rest of the Symbol.
//
// # Serving state
//
// The book's sequence state is Waiting (no snapshot yet), Live (following
// the sequence) or Stale (the sequence broke: a gap, or a delta of a new
// publisher epoch). The served state is that, and Stale also while a
// followed book is crossed (until a snapshot that is not), while its
// partition cannot be fetched (SetFeedDown) or when nothing advanced it
// for the silence bound (CheckSilent); the reason is the first of gap,
// crossed, feed_down, silent that applies (schemas.ReasonGap, ...). A
// book whose cause of staleness went away is served again: the Change
// says Reset, and the listener sends fresh snapshots.
//
// # Concurrency
//
// A Symbol belongs to one owner goroutine (the shard of its Kafka
// partition, see package feed): every method whose comment does not say
// otherwise must be called there, and the book, ticker and change logs it
// returns are the owner's too. Exec posts a function to that goroutine.
// The serving state, sequence, epoch and stale reason are also published
// with atomics after each change (Published), for listings and readiness
// on other goroutines; the four values are each current but not read
// together atomically.
package market
