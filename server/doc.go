// Package server assembles marketfeed: the Kafka consumer and its shards
// (package feed), the WebSocket hub (package fanout) and the HTTP endpoints
// (/ws, /healthz, /readyz, /metrics, /v1/symbols), and runs them until the
// context ends, then shuts down gracefully.
//
// Concurrency: a Server is started once with Run; its accessors are safe
// from any goroutine.
package server
