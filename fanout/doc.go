// Package fanout delivers market data to WebSocket clients: it accepts
// connections (gobwas/ws), parses their commands, and routes each
// subscription to the Topic of its symbol, which encodes every message once
// and shares the bytes with all subscribers of that output stream.
//
// # Concurrency contract
//
// A Topic belongs to one owner goroutine, the goroutine that applies the
// exchange's events to the symbol's book (one per Kafka partition, see
// package feed). Everything a topic holds (book, ticker, streams and their
// subscriber sets) is read and written only there, so delivering a message
// to N subscribers takes no lock: the owner encodes the frame once and
// appends the shared, immutable bytes to each subscriber's queue.
//
// Subscribing and unsubscribing never touch a topic directly: a
// connection's read goroutine validates the command and posts a function to
// the owner (Owner.Exec), which acknowledges it and sends the initial
// snapshot in order with the stream, so a client never sees a delta before
// its snapshot, nor anything of a stream after the unsubscribe
// acknowledgement.
//
// Each connection has a read goroutine and a write goroutine. Its outbound
// queue is a slice guarded by a mutex held only to append a frame or to
// swap the slice out; the writer sends everything pending in one vectored
// write (writev) with a deadline, and no lock is ever held during I/O. A
// connection whose queued bytes exceed Config.MaxQueueBytes is evicted as a
// slow consumer (close code 4001): the enqueue that notices it drops the
// queue and returns at once, so a slow client never delays the owner or any
// other client.
//
// # Authorization
//
// With a Config.Authorizer, the upgrade request is admitted (or refused
// with its HTTP status) before the upgrade, and each connection carries
// the admitted Session: Start takes its connection slot (a refusal closes
// with 4004), every subscribe is checked with Allow, and End gives the slot
// back. A connection's subscriptions and session are guarded by a mutex
// that its read goroutine holds while handling a command and Hub.Recheck
// holds while re-checking it after a change of entitlements, so a
// subscription removed by a narrowed plan goes through the same
// unsubscribe path (posted to the topic's owner) as a client's own.
//
// # Streams and sequencing
//
// A book stream is one (depth, interval) pair of a symbol. Its subscribers
// hold the top-depth view of the book; an update carries the entries that
// turn the view at the previous message's seq into the view at the update's
// seq (first_seq is always the previous seq + 1). Raw streams emit after
// every exchange event that changes their view; throttled streams (100ms,
// 1s) emit the net change at each flush, and a new subscriber of a
// throttled stream receives its snapshot at the next flush, taken at the
// same point as the update every other subscriber receives.
package fanout
