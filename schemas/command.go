package schemas

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Op is the operation of a client command.
type Op uint8

// Client operations.
const (
	// OpSubscribe subscribes to one or more channels.
	OpSubscribe Op = iota + 1
	// OpUnsubscribe cancels subscriptions.
	OpUnsubscribe
	// OpPing asks for a pong message.
	OpPing
	// OpList asks for the list of subscriptions.
	OpList
	// OpResync asks for a fresh snapshot of book subscriptions.
	OpResync
	// OpAuth presents an API key on a connection opened without one.
	OpAuth
)

var opNames = [...]string{"", "subscribe", "unsubscribe", "ping", "list", "resync", "auth"}

// String returns the wire name of o ("subscribe", "unsubscribe", "ping",
// "list", "resync", "auth"), or "" for an invalid op.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return ""
}

// MaxChannelsPerCommand is the largest "channels" array a command may
// carry.
const MaxChannelsPerCommand = 100

// Command is a parsed client message.
type Command struct {
	// Op is the operation.
	Op Op
	// ID is the client's request id, echoed in replies; 0 when absent.
	ID int64
	// Channels holds the "channel" value or the "channels" values, in
	// order, as sent (names are checked by the caller with ParseChannel).
	// Empty for ping and list.
	Channels []string
	// Depth is the requested book depth (subscribe only); 0 when absent.
	Depth int
	// Interval is the requested interval (subscribe only); "" when absent.
	Interval string
	// Resolution is the requested candle resolution (subscribe only,
	// candles channels): "1m", "5m", "15m", "1h" or "1d"; "" when absent,
	// which means DefaultResolution.
	Resolution string
	// Lag is the requested lag policy (subscribe only): LagEvict,
	// LagSnapshot, or "" when absent (which means LagSnapshot for books
	// and tickers; trades are never dropped).
	Lag string
	// Resume holds the positions of the subscribe option "resume", one per
	// channel it names, ordered by channel name; nil when absent. See
	// Resume and Command.ResumeFor.
	Resume []Resume
	// Key is the API key (auth only). It is a secret: never log it or
	// echo it in a reply.
	Key string
}

// Lag policies of a subscription.
const (
	// LagEvict: every message of the subscription is delivered; a client
	// that falls too far behind is disconnected (4001).
	LagEvict = "evict"
	// LagSnapshot, the default for books and tickers: a lagging
	// subscription skips ahead to a fresh state instead (see the protocol
	// specification).
	LagSnapshot = "snapshot"
)

func badRequest(msg string) error {
	return &ProtocolError{Code: CodeInvalidRequest, Message: msg}
}

// ParseCommand parses one client message into c, reusing its Channels
// slice. Errors are *ProtocolError with code invalid_json, invalid_request,
// unknown_op, invalid_depth, invalid_interval or invalid_resolution. On error c.ID holds the
// command's id when it could be read, so the error reply can echo it.
// Unknown fields are ignored; channel, channels, depth and interval are
// ignored for ping, list and auth, depth and interval for unsubscribe and
// resync. An auth command needs a non-empty string "key"; errors never
// quote it.
// Channel names are not checked here: see ParseChannel.
func ParseCommand(data []byte, c *Command) error {
	*c = Command{Channels: c.Channels[:0]}
	if !json.Valid(data) {
		return &ProtocolError{Code: CodeInvalidJSON, Message: "message is not valid JSON"}
	}
	var m map[string]json.RawMessage
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' || json.Unmarshal(data, &m) != nil {
		return badRequest("message must be a JSON object")
	}
	if raw, ok := m["id"]; ok {
		id, ok := rawInt(raw)
		if !ok {
			return badRequest("id must be an integer")
		}
		c.ID = id
	}
	raw, ok := m["op"]
	if !ok {
		return badRequest("op is required")
	}
	op, ok := rawString(raw)
	if !ok {
		return badRequest("op must be a string")
	}
	switch op {
	case "subscribe":
		c.Op = OpSubscribe
	case "unsubscribe":
		c.Op = OpUnsubscribe
	case "resync":
		c.Op = OpResync
	case "ping":
		c.Op = OpPing
		return nil
	case "list":
		c.Op = OpList
		return nil
	case "auth":
		c.Op = OpAuth
		raw, ok := m["key"]
		if !ok {
			return badRequest("key is required")
		}
		if c.Key, ok = rawString(raw); !ok || c.Key == "" {
			c.Key = ""
			return badRequest("key must be a non-empty string")
		}
		return nil
	default:
		return &ProtocolError{Code: CodeUnknownOp, Message: "unknown op " + quote([]byte(op))}
	}
	if err := c.parseChannels(m); err != nil {
		return err
	}
	if c.Op == OpSubscribe {
		return c.parseOptions(m)
	}
	return nil
}

func (c *Command) parseChannels(m map[string]json.RawMessage) error {
	one, hasOne := m["channel"]
	many, hasMany := m["channels"]
	switch {
	case hasOne == hasMany:
		return badRequest("exactly one of channel and channels is required")
	case hasOne:
		s, ok := rawString(one)
		if !ok {
			return badRequest("channel must be a string")
		}
		c.Channels = append(c.Channels, s)
		return nil
	}
	var items []json.RawMessage
	if many[0] != '[' || json.Unmarshal(many, &items) != nil {
		return badRequest("channels must be an array of strings")
	}
	if len(items) == 0 || len(items) > MaxChannelsPerCommand {
		return badRequest("channels must hold 1 to " + strconv.Itoa(MaxChannelsPerCommand) + " names")
	}
	for _, it := range items {
		s, ok := rawString(it)
		if !ok {
			return badRequest("channels must be an array of strings")
		}
		c.Channels = append(c.Channels, s)
	}
	return nil
}

func (c *Command) parseOptions(m map[string]json.RawMessage) error {
	var channel string
	if len(c.Channels) == 1 {
		channel = c.Channels[0]
	}
	if raw, ok := m["depth"]; ok {
		d, ok := rawInt(raw)
		if !ok {
			return badRequest("depth must be an integer")
		}
		if d < 0 || d > 1<<20 || !ValidDepth(int(d)) {
			return &ProtocolError{Code: CodeInvalidDepth, Channel: channel,
				Message: "depth must be one of 1, 5, 10, 20, 50, 100, 500, 1000"}
		}
		c.Depth = int(d)
	}
	if raw, ok := m["interval"]; ok {
		s, ok := rawString(raw)
		if !ok {
			return badRequest("interval must be a string")
		}
		if !ValidInterval(s) {
			return &ProtocolError{Code: CodeInvalidInterval, Channel: channel,
				Message: `interval must be "raw", "100ms" or "1s"`}
		}
		c.Interval = s
	}
	if raw, ok := m["resolution"]; ok {
		s, ok := rawString(raw)
		if !ok {
			return badRequest("resolution must be a string")
		}
		if _, ok := ParseResolution(s); !ok {
			return &ProtocolError{Code: CodeInvalidResolution, Channel: channel,
				Message: `resolution must be "1m", "5m", "15m", "1h" or "1d"`}
		}
		c.Resolution = s
	}
	if raw, ok := m["lag"]; ok {
		s, ok := rawString(raw)
		if !ok || s != LagEvict && s != LagSnapshot {
			return badRequest(`lag must be "evict" or "snapshot"`)
		}
		c.Lag = s
	}
	if raw, ok := m["resume"]; ok {
		return c.parseResume(raw)
	}
	return nil
}

// rawString decodes a JSON string (not null).
func rawString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// rawInt decodes a JSON integer without fraction or exponent that fits in
// an int64.
func rawInt(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) ||
		bytes.ContainsAny(raw, ".eE") {
		return 0, false
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	return v, err == nil
}

// AppendCommand appends c to dst as compact JSON, the form clients send:
// "channel" for one channel, "channels" for several; id, depth, interval,
// resolution, lag, resume and key only when set; strings escaped with AppendJSONString.
// ParseCommand of the output yields c again. It does not allocate when dst
// has room.
func AppendCommand(dst []byte, c *Command) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, c.Op.String()...)
	dst = append(dst, '"')
	if c.ID != 0 {
		dst = appendIntField(dst, "id", c.ID)
	}
	switch {
	case len(c.Channels) == 1:
		dst = appendStringField(dst, "channel", c.Channels[0])
	case len(c.Channels) > 1:
		dst = append(appendKey(dst, "channels"), '[')
		for i, ch := range c.Channels {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, ch)
		}
		dst = append(dst, ']')
	}
	if c.Depth != 0 {
		dst = appendIntField(dst, "depth", int64(c.Depth))
	}
	if c.Interval != "" {
		dst = appendStringField(dst, "interval", c.Interval)
	}
	if c.Resolution != "" {
		dst = appendStringField(dst, "resolution", c.Resolution)
	}
	if c.Lag != "" {
		dst = appendStringField(dst, "lag", c.Lag)
	}
	if len(c.Resume) > 0 {
		dst = appendResume(dst, c)
	}
	if c.Key != "" {
		dst = appendStringField(dst, "key", c.Key)
	}
	return append(dst, '}')
}
