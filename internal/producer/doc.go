// Package producer builds the kafka-go Writer that publishes market events
// into the topic the server consumes: the synthetic exchange of
// `marketfeed simulate` and of the demo, the load generator, and the tests
// that produce records the way a publisher does.
//
// It is a package of its own, below everything that produces, because a
// writer is a fact about the Kafka input contract (schemas/kafka.md), not
// about any one publisher: records are keyed by symbol and a key always
// lands in the same partition (kafka.Hash), and writes are synchronous so
// that the records of a symbol are written in order. The package depends
// on kafka-go alone, so that feed's and the embedded broker's tests can
// use it without importing the simulator or the consumer.
//
// Concurrency: NewWriter may be called from any goroutine; the Writer it
// returns is kafka-go's, safe for concurrent use, though a publisher keeps
// one writing goroutine per Writer to keep a symbol's records in order.
package producer
