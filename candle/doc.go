// Package candle aggregates trades into OHLCV candles at one period:
// open, high, low, close, volume (sum of sizes), quote volume (sum of
// price × size) and trade count, all exact fixed-point integers at the
// instrument's scales (volume and quote volume in 128 bits, so a day of
// trading cannot overflow them).
//
// A Series holds the candle in progress and a ring of the most recent
// closed ones. Candles start at the multiples of the period since the
// Unix epoch (UTC boundaries). A candle closes when event time reaches
// the next boundary (Advance, called for every record of the symbol, or
// the first trade at or after it); a period without trades has no candle.
// A trade older than the candle in progress is late: it is left out
// (closed candles are final) and counted (Late).
//
// # Concurrency
//
// A Series is not safe for concurrent use: it belongs to the goroutine
// that owns the symbol's market state (package market).
package candle
