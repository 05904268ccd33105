package schemas

// WebSocket error codes, carried by the "code" field of error messages
// (websocket.md). The values are stable.
const (
	// CodeInvalidJSON: the message is not valid JSON.
	CodeInvalidJSON = "invalid_json"
	// CodeInvalidRequest: a field is missing, has the wrong JSON type or
	// an invalid value.
	CodeInvalidRequest = "invalid_request"
	// CodeUnknownOp: "op" is not a known operation.
	CodeUnknownOp = "unknown_op"
	// CodeUnknownChannel: malformed channel name or unknown channel kind.
	CodeUnknownChannel = "unknown_channel"
	// CodeUnknownSymbol: the symbol is not served.
	CodeUnknownSymbol = "unknown_symbol"
	// CodeInvalidDepth: depth is not one of the offered depths.
	CodeInvalidDepth = "invalid_depth"
	// CodeInvalidInterval: interval is not "raw", "100ms" or "1s".
	CodeInvalidInterval = "invalid_interval"
	// CodeInvalidResolution: resolution is not "1m", "5m", "15m", "1h"
	// or "1d".
	CodeInvalidResolution = "invalid_resolution"
	// CodeAlreadySubscribed: the connection is already subscribed to the
	// channel.
	CodeAlreadySubscribed = "already_subscribed"
	// CodeNotSubscribed: unsubscribe from a channel not subscribed.
	CodeNotSubscribed = "not_subscribed"
	// CodeTooManySubscriptions: the per-connection subscription limit is
	// reached.
	CodeTooManySubscriptions = "too_many_subscriptions"
	// CodeRateLimited: the client sends commands too fast.
	CodeRateLimited = "rate_limited"
	// CodeUnauthorized: the API key is missing, invalid, revoked or
	// expired; the connection is closed with 4003 after this error.
	CodeUnauthorized = "unauthorized"
	// CodeNotEntitled: the client's plan does not include the channel,
	// symbol, depth or interval asked for; the message names which. Also
	// sent, followed by unsubscribed, when a plan is narrowed while the
	// subscription is live.
	CodeNotEntitled = "not_entitled"
	// CodeNotServed (HTTP only, status 503): the book is not served
	// (waiting for its first snapshot, or stale: the answer carries the
	// status and reason a WebSocket status message would), or its state
	// cannot be read now (the server is stopping).
	CodeNotServed = "not_served"
	// CodeUnsupportedProtocol (HTTP only, status 400): the upgrade request
	// offered WebSocket subprotocols (Sec-WebSocket-Protocol), none of
	// them SubprotocolJSON or SubprotocolBinary.
	CodeUnsupportedProtocol = "unsupported_protocol"
)

// ErrorCodes returns every code an error message of the WebSocket may
// carry, in the order of websocket.md section 6 (a new slice each call);
// CodeNotServed, of the REST answers only, is not among them.
func ErrorCodes() []string {
	return []string{CodeInvalidJSON, CodeInvalidRequest, CodeUnknownOp, CodeUnknownChannel, CodeUnknownSymbol,
		CodeInvalidDepth, CodeInvalidInterval, CodeInvalidResolution, CodeAlreadySubscribed, CodeNotSubscribed,
		CodeTooManySubscriptions, CodeRateLimited, CodeUnauthorized, CodeNotEntitled, CodeUnsupportedProtocol}
}

// WebSocket close codes sent by the server (websocket.md).
const (
	// CloseNormal: normal closure.
	CloseNormal = 1000
	// CloseGoingAway: the server is shutting down.
	CloseGoingAway = 1001
	// CloseProtocolError: WebSocket protocol violation.
	CloseProtocolError = 1002
	// CloseUnsupportedData: a binary frame was received (text only).
	CloseUnsupportedData = 1003
	// CloseInvalidPayload: a text frame was not valid UTF-8.
	CloseInvalidPayload = 1007
	// ClosePolicyViolation: policy violation (for example authentication
	// expired).
	ClosePolicyViolation = 1008
	// CloseMessageTooBig: a client message exceeded the size limit
	// (default 4 KiB).
	CloseMessageTooBig = 1009
	// CloseInternalError: unexpected server error.
	CloseInternalError = 1011
	// CloseIdleTimeout: no frame and no pong within the idle timeout.
	CloseIdleTimeout = 4000
	// CloseSlowConsumer: the connection's send queue budget was exceeded.
	CloseSlowConsumer = 4001
	// CloseTooManyErrors: too many invalid client messages.
	CloseTooManyErrors = 4002
	// CloseLifetime: the connection reached the server's maximum
	// connection lifetime, announced by a notice; reconnect.
	CloseLifetime = 4005
	// CloseUnauthorized: the connection's API key was revoked, expired or
	// removed, or the anonymous plan was withdrawn.
	CloseUnauthorized = 4003
	// CloseConnectionLimit: the API key already has its plan's maximum of
	// concurrent connections.
	CloseConnectionLimit = 4004
)

// CloseCodes returns every close code the server sends, in the order of
// websocket.md section 7 (a new slice each call).
func CloseCodes() []int {
	return []int{CloseNormal, CloseGoingAway, CloseProtocolError, CloseUnsupportedData, CloseInvalidPayload,
		ClosePolicyViolation, CloseMessageTooBig, CloseInternalError, CloseIdleTimeout, CloseSlowConsumer,
		CloseTooManyErrors, CloseUnauthorized, CloseConnectionLimit, CloseLifetime}
}
