// Package fanout delivers market data to WebSocket clients: it accepts
// connections (gobwas/ws), parses their commands, and routes each
// subscription to the Streams of its symbol, which encode every message
// once and share the bytes with all subscribers of that output stream.
//
// # Concurrency contract
//
// A symbol's Streams belong to the owner goroutine of its market state
// (market.Symbol), the goroutine that applies the exchange's events to
// it: one per Kafka partition, see package feed. The owner tells a Group
// (fanout's feed.Listener, one per owner) of every change, and the Group
// has the Streams deliver it; Group.Tick, called by the owner every 100
// ms, flushes the throttled streams that are due. Everything the Streams
// read or hold (the market state, the streams and their subscriber sets)
// is read and written only there, so delivering a message to N
// subscribers takes no lock: the owner encodes the frame once and appends
// the shared, immutable bytes to each subscriber's queue. Other goroutines
// read only what the market state publishes with atomics (Streams.State,
// Hub.Symbols).
//
// Subscribing and unsubscribing never touch a symbol's streams directly: a
// connection's reader validates the command and posts a function to
// the owner (Owner.Exec), which acknowledges it and sends the initial
// snapshot in order with the stream, so a client never sees a delta before
// its snapshot, nor anything of a stream after the unsubscribe
// acknowledgement. The reader waits until the owner has run the function
// (at most a second, for an owner that stopped) before it handles the next
// channel or command, so that replies leave in request order although the
// channels' symbols have different owners; an owner never waits for a
// reader, so this cannot deadlock.
//
// # Connections: the lock-free outbound queue
//
// Each connection has a reader (commands; see "Connections: the reader"
// below) and, only while it has something to send, a writer goroutine. Its
// outbound queue is a multi-producer, single-consumer ring of shared
// frames with an overflow list (queue.go) and byte accounting:
//
//   - enqueue (any goroutine: symbol owners, the reader, the hub's
//     pinger) adds the frame's length to an atomic byte count, claims a
//     ring position with a compare-and-swap on the tail (only when the
//     consumer has emptied that slot's previous lap; a tail read before a
//     head that has moved past it is read again, never compared), and
//     publishes the frame by an atomic store of its pointer in the slot;
//     a slot is one pointer and a kind, the length being read back from
//     the frame's own header. When the ring is full the frame goes to the
//     overflow list, under a mutex, in an order that keeps every
//     producer's frames in sequence (queue.go): the ring
//     (Config.QueueFrames slots) is never a budget. enqueue never blocks
//     and performs no I/O.
//   - The budgets are about how late a client is: its unsent bytes
//     (Config.MaxQueueBytes) and the age of its oldest unsent frame
//     (Config.MaxQueueAge). Each frame has a kind: a state frame (a book
//     or ticker message of a subscription that conflates on lag, the
//     default) or a frame that is never dropped (trades, replies, pings,
//     subscriptions with "lag":"evict"). A state frame that would pass
//     half the byte budget starts a skip-ahead (lag.go); any other frame
//     that would pass the whole budget evicts the connection as a slow
//     consumer (close code 4001): one compare-and-swap marks it, and a
//     goroutine of its own counts it and cuts any blocked write short, so
//     the broadcaster returns at once and nobody else waits.
//   - After publishing, enqueue starts a writer if none runs (an atomic
//     flag, set by compare-and-swap). The writer pops every published frame
//     (up to 256, or about 256 KiB), dropping state frames while the
//     connection skips ahead, sends them in one vectored write (writev),
//     subtracts their bytes, and repeats. A write is given a slice of the
//     write budget (the smaller of Config.WriteTimeout and
//     Config.MaxQueueAge, divided by 4) at a time; when a slice ends first,
//     the writer looks at the connection and goes on where the write
//     stopped. Lateness: the oldest unsent frame was queued after the
//     writer last found the queue empty, so its age is at most the time
//     since then; past MaxQueueAge/2 a connection that conflates skips
//     ahead, past MaxQueueAge one that does not (or whose skip-ahead does
//     not help) is evicted. A client that takes no byte for WriteTimeout
//     is evicted. The socket's deadline is moved only when it falls more
//     than an eighth of the slice short of now plus the slice, so a busy
//     connection updates the deadline's timer once per eighth of a slice,
//     not once per write. When the ring is empty the writer clears the
//     flag, looks at the queue once more, and exits unless something
//     arrived. An idle connection therefore holds no writer goroutine and
//     no write buffer (batches are pooled), and a frame arriving at an idle
//     connection is written at once, with no added latency; frames arriving
//     while a write is in progress are joined into the next one.
//   - Config.SocketNotSentLowat (TCP_NOTSENT_LOWAT, default 16 KiB) bounds
//     what the kernel holds unsent, so that a backlog waits in the queue,
//     where it is measured, and not in the socket.
//
// Memory ordering: Go's atomics are sequentially consistent. The frame's
// bytes (and its kind) are written before the producer's atomic store of
// the slot, and read by the writer after its atomic load of that slot, so
// they are visible to it; frames are never modified once enqueued. The
// consumer stores nil in a slot before it advances head, and a producer
// claims the slot's next lap only after reading a head beyond it, so the
// two never touch a slot at once. No frame is left without a writer: the
// producer publishes its slot (or its overflow entry and the spill flag),
// then reads the writer flag; the writer clears the flag, then reads the
// slot and the spill flag. In the single total order of these atomic
// operations, either the producer sees the flag cleared (and starts a
// writer, at most one compare-and-swap succeeding) or the writer sees the
// frame (and carries on). A slot claimed but not yet published looks empty
// to the writer, which may exit; its producer starts one after publishing.
// Successive writers hand the consumer role over through the same flag;
// the consumer's state that an exiting writer may still look at (head,
// the overflow batch's barrier) is atomic.
//
// Closing uses one atomic pointer set once (the first close wins): a
// normal close writes what is queued, then the close frame; an eviction or
// a socket failure drops what is queued. Every close the server initiates
// sends its close frame at a frame boundary: a write cut short (by an
// eviction, by a client too slow to take it, or by a shutdown half-way to
// its deadline, which drops what slow readers still have queued) is first
// completed, given CloseLinger; only a socket that takes nothing more
// within it is cut without a close frame. Before that, the closing
// socket's kernel buffer is enlarged and its bound of unsent bytes lifted
// (sockopt_linux.go), so that the rest of the frame and the close frame
// are queued at once behind what a slow client has still to read. The
// writer that finishes a connection leaves the flag set, so no writer
// starts after it. Once the connection is finished (subscriptions gone,
// removed from the hub and the poller), its socket is closed only when
// the client has acknowledged everything, close frame and FIN included,
// or after WriteTimeout: a goroutine of its own keeps it meanwhile,
// reading and discarding client bytes, since a byte arriving at a closed
// socket (a slow reader's pong) would make the kernel reset the
// connection and discard the close frame still queued (closeSocket).
//
// Books and tickers conflate on lag by default: a connection that falls
// behind drops its queued state frames and its book and ticker
// subscriptions restart from a fresh state, while its trades keep flowing
// (lag.go gives the steps and why the client never sees a gap).
//
// # Connections: the reader
//
// On Linux, a plain TCP connection holds no goroutine and no read buffer
// while the client is silent: it waits in the hub's poller (poller_linux.go,
// one goroutine blocked in epoll_wait for all of them). Each connection is
// registered one-shot (EPOLLIN, EPOLLRDHUP; hang-ups and errors are always
// reported): when it becomes readable the poller starts a reader goroutine
// and the kernel disarms the connection until that reader re-arms it.
//
// The reader role is an atomic state, armed or running, so that exactly
// one goroutine reads a connection at a time. Whoever takes the role does
// so with a compare-and-swap from armed to running: the poller on an event,
// or the writer when it has ended the connection (see below). A reader
// takes a pooled bufio.Reader, handles the frames available until nothing
// is buffered (a frame once begun is read to its end, each read bounded by
// IdleTimeout, so no partial frame is ever left behind), gives the reader
// and its payload buffer back (a fragmented message's earlier fragments
// are kept), stores armed, and only then re-arms the descriptor: an event
// after the re-arm always finds the role free. Data that arrived meanwhile
// is not lost, as the registration is level-triggered: re-arming a
// readable descriptor reports it at once. The state the reader keeps
// between frames (fragments, counters, the rate limiter) passes from one
// reader goroutine to the next through these atomic operations.
//
// Every frame passes the frame reader (reader.go) before it is acted upon:
// its header is checked against RFC 6455 before its payload is read, and a
// violation closes the connection with its close code (1002, 1003, 1007 or
// 1009) and a close frame. The frame reader touches nothing but the
// reader's state; FuzzReadFrame runs it over inputs cut at arbitrary
// points.
//
// A closing connection is read by a goroutine to its end, as before: the
// client's close frame is awaited for CloseLinger, then cleanup runs. A
// reader that finds the connection closing keeps the role instead of
// re-arming; since the role is released before closing is checked, and
// the writer ends a connection (after closing was set) and then tries to
// take the role, one of the two always carries on reading. Bytes the
// client sent along with the handshake are handled before the connection
// first waits in the poller.
//
// IdleTimeout cannot be a read deadline when nothing waits on a read:
// each frame's arrival is recorded (an atomic time), and the hub's pinger
// closes (4000) polled connections silent for longer, checking IdleTimeout/8
// apart. Events carry a connection id, not a descriptor, so an event of a
// connection just gone is never taken for one of a new connection that
// reuses its descriptor; a connection's descriptor is only used inside
// RawConn.Control, which keeps it open meanwhile.
//
// TLS connections (a readable socket need not hold a whole record), every
// connection with Config.DisablePoller, all connections on other systems,
// and any connection the poller cannot take keep a read goroutine for
// their whole life, started on a fresh, small stack, not the HTTP
// server's, waiting for a frame with a read deadline of IdleTimeout.
//
// # Authorization
//
// With a Config.Authorizer, the upgrade request is admitted (or refused
// with its HTTP status) before the upgrade, and each connection carries
// the admitted Session: Start takes its connection slot (a refusal closes
// with 4004), every subscribe is checked with Allow, and End gives the slot
// back. A connection's subscriptions and session are guarded by a mutex
// that its reader holds while handling a command and Hub.Recheck
// holds while re-checking it after a change of entitlements, so a
// subscription removed by a narrowed plan goes through the same
// unsubscribe path (posted to the symbol's owner) as a client's own.
//
// # Streams and sequencing
//
// A book stream is one (depth, interval) pair of a symbol. Its subscribers
// hold the top-depth view of the book; an update carries the entries that
// turn the view at the previous message's seq into the view at the update's
// seq (first_seq is always the previous seq + 1). Raw streams emit after
// every exchange event that changes their view; throttled streams (100ms,
// 1s) emit the net change at each flush (every schemas.Interval.Ticks()
// ticks of the owner), and a new subscriber of a
// throttled stream receives its snapshot at the next flush, taken at the
// same point as the update every other subscriber receives. A resync
// command takes the same paths: a raw subscriber gets a snapshot at once, a
// throttled one rejoins and gets it at the next flush.
//
// Every snapshot and update carries the checksum of the whole view
// (schemas.BookChecksum). Each stream keeps its view as the canonical
// checksum string: a snapshot formats it, an update patches its own
// entries into it, and the CRC is computed once per message of the stream,
// never per subscriber.
package fanout
