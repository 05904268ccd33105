// Package server assembles marketfeed: the Kafka consumer and its shards
// (package feed), the WebSocket hub (package fanout) and the HTTP endpoints
// (/ws, /healthz, /readyz, /metrics, and the HTTP API: /v1/symbols and the
// REST endpoints of schemas/openapi.yaml, behind the WebSocket's keys),
// and runs them until the
// context ends, then shuts down gracefully. Each listener bounds its HTTP
// connections (HTTPLimits: timeouts, connections in total and per client
// address) apart from upgraded WebSocket connections, which the hub
// bounds.
//
// Concurrency: a Server is started once with Run; its accessors are safe
// from any goroutine.
package server
