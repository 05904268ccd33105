// Package auth decides who may connect to marketfeed and what each client
// may receive: API keys, plans of entitlements, and their enforcement
// through the fan-out layer.
//
// Two questions are kept apart. Authenticate answers "which principal does
// this API key name?" by hashing the presented secret and comparing the
// hash in constant time with those of the key file; a Principal is only a
// key's id. Entitlements answers "may this principal receive this
// resource?": each plan is compiled once into an Entitlements value (symbol
// set and glob patterns, channel kinds, maximum depth, fastest interval and
// the connection, subscription and message-rate limits) that Allow checks
// without allocating.
//
// Keys are stored only as SHA-256 hashes in a JSON key file (see File). A
// secret is printed once when created and never appears in logs, metrics
// or errors: the package logs and reports key ids only.
//
// # Concurrency contract
//
// A Store is safe for concurrent use. The parsed key file is an immutable
// snapshot published through an atomic pointer, so Authenticate and
// Entitlements take no lock. Reload (called by Watch when the file's
// modification time or size changes, by the caller on SIGHUP, or directly)
// swaps the snapshot and then calls every change listener on the
// reloading goroutine; listeners must not block for long. Connection
// counts per principal are guarded by a mutex held only to compare and
// update a counter, so "at most N connections per key" holds exactly under
// parallel connects. The failure limiter guards its per-address buckets
// with its own mutex, and so does the request limiter of the REST
// endpoints (RequestLimiter) its per-caller ones; Gate.Request
// authenticates one REST request with the same keys and limits. A Gate (the fanout.Authorizer) holds no state of its
// own beyond these and is safe for concurrent use once built; each
// connection's session is used by one goroutine at a time, as package
// fanout guarantees.
//
// Lock order: fanout calls a session's methods and the Gate's AdmitKey
// with the connection's subscription mutex held, so that mutex comes
// before the connection counter's and the limiter's, which are innermost:
// nothing is called while they are held. Change listeners (fanout's
// Hub.Recheck) are called with no lock of the store held.
package auth
