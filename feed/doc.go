// Package feed consumes the market-data topic from Kafka and applies it to
// the books: a Consumer turns each partition into a stream of record
// batches, and a Shard per partition owns the market state of that
// partition's symbols (package market) and reports its changes to a
// Listener.
//
// # Consumer
//
// A Consumer reads every partition of one topic; there is no consumer
// group and no committed offset: each server instance keeps every book in
// memory, so it reads everything, and on start it rebuilds its state from
// a look-back window of the log (Config.Start, Config.Lookback). The
// look-back must cover at least one snapshot period of the publisher, so
// that every symbol sees an instrument definition and a snapshot.
//
// Config.Partitions restricts a Consumer to some partitions of the topic,
// for a universe larger than one instance can ingest: the publisher's
// partitioner (the record key is the symbol) decides which symbols those
// partitions hold, and the other symbols are unknown to the instance.
// Partitions not listed are never read, not even listed in metrics; a
// listed partition the topic lacks keeps Ready false (and is logged)
// until it appears.
//
// For each partition, Consumer.Run starts two goroutines: a reader that
// owns the partition's broker connection and sends Batches on a channel it
// creates, and the handler given to Run, which receives that channel and
// owns everything about the partition (its books). Records of one
// partition arrive in offset order, each exactly once for the life of the
// Consumer, across reconnections and broker restarts; the only gaps are
// records the broker itself no longer has (see offset resets below).
//
// # Fetching
//
// Each reader holds one kafka-go Conn to the partition leader (no
// kafka.Reader), for offsets, and a second connection of its own to the
// same leader on which it sends Fetch requests, encoded and decoded with
// kafka-go's protocol package, with MinBytes 1 and Config.MaxWait: the
// broker answers as soon as any record is available, so batching adds no
// latency, and one response carries everything that accumulated meanwhile
// (up to Config.MaxBytes; a single record larger than that still comes
// whole). The records of one response are coalesced into Batches of at
// most 4096 records. A Batch is offered to the channel as soon as it is
// complete, but only if the channel has room; the reader blocks on the
// handler only once the response is fully read. The channel holds 8
// Batches; when it is full the reader stops fetching, which is the
// back-pressure on a slow handler.
//
// kafka.Reader was not used: it delivers one message per call through an
// internal channel, hides broker errors behind its own retry loop (so
// neither Connected nor the error metrics could be exact), and cannot hand
// over "everything fetched so far" in one step.
//
// # Transactions
//
// Fetches use the isolation level read_committed: the broker returns
// records only up to the last stable offset, so records of a transaction
// still open are held back (and everything after them, transactional or
// not) until it is committed or aborted, and the reader drops the records
// of aborted transactions (the response lists them by producer and first
// offset; each ends at its producer's abort marker) and the commit and
// abort markers themselves. A consumer reading read_uncommitted would
// apply the deltas of transactions that are later aborted, and the books
// would be wrong. kafka.Conn's own fetch (ReadBatchWith) was not used for
// this reason: its batches hide the producer id and the control flag of
// each record batch and drop the list of aborted transactions, so it
// delivers aborted records and markers as data, whatever the isolation
// level. A transaction open when the reader starts delays its catch-up
// (Batch.CaughtUp, Consumer.Ready) until the transaction ends, at most
// the producer's transaction timeout.
//
// # Positions, catch-up and failures
//
// When a reader first reaches the partition leader it lists the
// partition's end offset (the bootstrap target) and its start offset:
// Start "earliest" is the first retained offset, "latest" is the end,
// "lookback" is the first offset whose timestamp is at or after
// now-Lookback (the end when no record is that recent). A broker that
// cannot list offsets by time (UNSUPPORTED_VERSION, UNSUPPORTED_FOR_MESSAGE_FORMAT
// or INVALID_REQUEST) makes the reader start at the earliest offset
// instead, with a warning. Batch.CaughtUp turns true on the Batch whose
// last record reaches the bootstrap target; when the partition is already
// there (empty, or Start "latest"), one Batch without records announces
// it. Consumer.Ready reports that the catch-up Batch of every known
// partition has been handed to its handler.
//
// Any broker error (leader lookup, dial, offsets, fetch, including
// NOT_LEADER_FOR_PARTITION and timeouts) closes the connection; the reader
// looks the leader up again and reconnects after a capped exponential
// backoff with jitter (Config.BackoffMin, Config.BackoffMax), resuming at
// the offset after the last record it delivered. Errors are logged (the
// first of a run at Warn, the rest at Debug, the recovery at Info) and
// counted in Metrics. A position the broker reports out of range is moved
// to the nearest end of the retained log, logged and counted as an offset
// reset: to the first offset when records expired before they were read,
// to the last when the broker lost records already read (a broker that
// came back without its data); the shards' sequence checks then see the
// gap.
// Every request carries a deadline (Config.DialTimeout, plus MaxWait for
// fetches), so Consumer.Connected turns false within that bound when a
// broker stops answering, and true again on the first successful request.
// The topic's partitions are listed again every Config.PartitionRefresh;
// a new partition gets its own reader and handler, and starts at its
// earliest offset whatever Config.Start says: it did not exist when the
// consumer started, so every record in it is new (with "latest", the
// records written before the listing found it would otherwise be lost).
//
// # Shards
//
// A Shard is the handler body of one partition. It owns the market state
// of the partition's symbols (a market.Symbol each) and its Run goroutine
// is the only goroutine that reads or writes them, so none of them has a
// lock: it applies each batch's records in offset order, runs the
// functions other goroutines post with Exec (subscriptions, from
// WebSocket connections), and every ShardConfig.FlushEvery (100 ms) checks
// freshness and ticks its Listener. A record is decoded
// (schemas.DecodeRecord), checked against the symbol's state (instrument
// scales, tick and lot grid, sequence; package market) and only then
// applied; a rejected record is counted by reason and leaves the book
// untouched. Each change is then reported to the Listener (ShardConfig),
// on the same goroutine: feed knows nothing of how it is delivered. A
// sequence gap makes the book stale until the next snapshot; until a
// symbol's first snapshot its book is waiting. Neither is ever served
// (schemas/kafka.md, section 5). A snapshot of a newer publisher epoch
// replaces the book whatever its seq; records of an older epoch are
// rejected. A book is also stale, while its sequence is still followed,
// when it is crossed (until a snapshot that is not), when its partition
// was not fetched for ShardConfig.FeedDownAfter (Consumer.LastFetch,
// checked every FlushEvery), or when nothing advanced it for
// ShardConfig.SilentAfter; it is served again from a fresh snapshot when
// the cause goes away.
//
// # Concurrency
//
// NewConsumer, Ready, Connected, Partitions and LastFetch are safe for
// concurrent use; Run may be called once. Each partition's channel has exactly one sender,
// its reader, which closes it when the Run context ends; the handler must
// return once the channel is closed or the context has ended, and Run
// returns after every reader and handler has returned. A handler that
// returns early stops its partition's reader. Batches and the byte slices
// they reference are never touched by the Consumer after being sent.
// Metrics are safe for concurrent use and may be shared by Consumers.
// ReadSince (reading a partition back, for trades resumes) is safe from
// any goroutine and has connections of its own.
// A Shard's Exec is safe from any goroutine; Apply, CheckFreshness and Run
// belong to the shard's goroutine, and so do the calls of its Listener.
package feed
