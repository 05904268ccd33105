// Package broker runs an embedded, in-process Kafka-protocol broker for the
// demo and for tests.
//
// It wraps github.com/twmb/franz-go/pkg/kfake, which speaks the real Kafka
// wire protocol over loopback TCP, so ordinary clients such as
// github.com/segmentio/kafka-go connect to it exactly as they would to a
// Kafka cluster. Start seeds one topic with a fixed number of partitions;
// automatic topic creation is off, as in a production cluster.
//
// Behaviour relevant to kafka-go consumers, checked by this package's tests:
//
//   - Partition readers (no GroupID) read keyed records back in produce
//     order per partition; Reader.ReadLag, Conn.ReadFirstOffset,
//     Conn.ReadLastOffset and Conn.ReadPartitions work.
//   - ListOffsets by timestamp works: Reader.SetOffsetAt positions a reader
//     at the first record whose timestamp is at or after the given time
//     (kafka-go truncates that time to the millisecond). A time after the
//     last record yields offset -1, which kafka-go treats as LastOffset (the
//     reader waits for new records), as with a real broker.
//   - Record times are the producer's (CreateTime) at millisecond
//     resolution, as in Kafka.
//   - Consumer groups (ReaderConfig.GroupID) work as well.
//   - An unknown topic is not created by metadata requests.
//   - Data lives in memory only and is lost on Close. Without a retention
//     bound every record since Start is kept, so a look-back always finds
//     it. Config.Retention (by record time) and Config.RetentionBytes (per
//     partition) bound it as Kafka's retention.ms and retention.bytes do:
//     every RetentionCheck (1s) the oldest records beyond either bound are
//     deleted, and the memory they held is freed a whole log segment at a
//     time (segments of at most MaxSegmentBytes, 1 MiB), so a partition
//     holds at most RetentionBytes plus one segment. The log start offset
//     then moves forward as in Kafka: a reader positioned before it gets
//     OffsetOutOfRange, and a look-back finds the records still kept.
//   - Each broker advertises the address it listens on, so a listener on a
//     wildcard address ("0.0.0.0:9092") is advertised as such and is only
//     reachable from the local host; use a concrete interface address to
//     serve remote clients.
//
// Faults can be injected through Cluster (for example ControlKey to answer a
// Produce or Fetch request with an error).
//
// Concurrency: a Broker is safe for concurrent use; Close may be called more
// than once.
package broker
