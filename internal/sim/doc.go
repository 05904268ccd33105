// Package sim is a synthetic exchange: it generates a realistic, valid
// stream of market-data records in the Kafka input format (instrument
// definitions, L2 book snapshots and deltas, trades) for a set of symbols,
// deterministically for a given seed.
//
// Each symbol has an instrument definition with its price and size scales,
// tick and lot sizes, and an L2 book of about Config.Levels levels per side
// on the tick grid. A pivot price separates the sides (bids at or below it,
// asks above it) and moves by a random walk of one or two ticks at a time,
// mildly pulled back toward the starting price beyond ±10%; new orders
// cluster close to the pivot, so the spread stays within a few ticks while
// levels enter and leave the top of the book. Every generated record is valid per the wire
// contract: decimals are written with exactly the instrument's scale, prices
// lie on the tick grid, sizes are positive multiples of the lot size ("0"
// only deletes a level), the book is never crossed, delta sequence numbers
// grow by exactly one per symbol, and trade ids increase per symbol. A trade
// happens at the touch and is followed by the delta that consumes the traded
// liquidity.
//
// Records are keyed by symbol. Message values are carved from append-only
// buffers and never modified after they are returned; keys are shared
// per symbol. Callers must treat both as read-only.
//
// Publish through the Writer of internal/producer (producer.NewWriter): it
// hashes keys, so a symbol always lands in one partition, and writes
// synchronously, so records of a symbol are written in order; the topic
// must exist (the embedded broker in internal/broker creates it, so no
// automatic topic creation is needed).
//
// Concurrency: an Exchange is not safe for concurrent use; use one goroutine
// per Exchange (Publish runs in the caller's goroutine).
package sim
