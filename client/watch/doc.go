// Package watch is the terminal viewer behind `marketfeed watch`: it
// subscribes to one channel of a marketfeed server and shows it live. It is
// built on client.Stream, which keeps the book verified, resynchronises it
// and reconnects.
//
// Book channels are drawn as a price ladder (asks above, best ask at the
// bottom of the ask block, bids below, size bars, spread and mid, sequence
// number and sync status); a gap in the update sequence or a checksum
// mismatch triggers a resync, which brings a fresh snapshot. Bbo channels
// show the best bid and ask with sizes, spread, mid and the book's seq,
// and say when the book is not served. Ticker channels show last
// price, 24 h change, high/low, volume, VWAP and best bid/ask. Trades
// channels show a tape of the latest trades. Candles channels show the
// newest candles (UTC start, open, high, low, close, volume, trades), the
// one in progress marked. The screen is redrawn in place
// with ANSI escape sequences at most ten times per second. When the
// connection drops, the viewer says so and reconnects with jittered
// exponential backoff.
//
// In raw mode every message received (welcome included) is written as one
// line of JSON, byte for byte as the server sent it, for scripts and jq.
//
// Concurrency: Run blocks until its context ends or a fatal error occurs;
// it uses one goroutine of its own per connection (the client's reader) and
// writes to out from the calling goroutine only. Separate Run calls are
// independent.
package watch
