package schemas

import (
	"encoding/json"
	"slices"
	"strconv"
)

// Resume is where a client was on one channel of a subscribe command: the
// value of one entry of the command's "resume" object, keyed by channel
// name. Which fields a kind needs is checked by Check; ParseCommand checks
// only their JSON types and ranges.
type Resume struct {
	// Channel is the channel the position belongs to, one of the
	// command's Channels.
	Channel string
	// Epoch and Seq (book and bbo) are the epoch and seq of the last
	// message the client applied; HasSeq reports whether both were given.
	Epoch, Seq int64
	HasSeq     bool
	// TradeID and TS (trades) are the id and exchange time (µs) of the
	// last trade the client received; HasTrade reports whether both were
	// given.
	TradeID  string
	TS       int64
	HasTrade bool
}

// ResumeFor returns the resume position the command gives for channel,
// if any.
func (c *Command) ResumeFor(channel string) (Resume, bool) {
	for _, r := range c.Resume {
		if r.Channel == channel {
			return r, true
		}
	}
	return Resume{}, false
}

// Check reports whether r is a complete position for a channel of kind k:
// book and bbo need epoch and seq, trades need trade_id and ts; ticker and
// tickers need nothing (they resume with the current state). The error is
// a *ProtocolError with code invalid_request and Channel set.
func (r Resume) Check(k ChannelKind) error {
	var msg string
	switch {
	case (k == ChannelBook || k == ChannelBBO) && !r.HasSeq:
		msg = "resume of a " + k.String() + " channel needs epoch and seq"
	case k == ChannelTrades && !r.HasTrade:
		msg = "resume of a trades channel needs trade_id and ts"
	default:
		return nil
	}
	return &ProtocolError{Code: CodeInvalidRequest, Channel: r.Channel, Message: msg}
}

// parseResume reads the subscribe option "resume": an object whose keys
// are channels of the command and whose values are objects with any of
// epoch, seq, ts (integers ≥ 0) and trade_id (a string of 1 to
// MaxTradeIDLen bytes). epoch and seq come together, as do trade_id and
// ts. Unknown fields of a position are ignored.
func (c *Command) parseResume(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &m) != nil {
		return badRequest("resume must be an object keyed by channel")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // ordered by name, so the result does not depend on map order
	for _, ch := range keys {
		if !slices.Contains(c.Channels, ch) {
			return badRequest("resume names " + quote([]byte(ch)) + ", which is not a channel of this subscribe")
		}
		r, err := parsePosition(ch, m[ch])
		if err != nil {
			return err
		}
		c.Resume = append(c.Resume, r)
	}
	return nil
}

func parsePosition(ch string, raw json.RawMessage) (Resume, error) {
	bad := func(msg string) (Resume, error) {
		return Resume{}, &ProtocolError{Code: CodeInvalidRequest, Channel: ch, Message: msg}
	}
	var f map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &f) != nil {
		return bad("a resume position must be an object")
	}
	r := Resume{Channel: ch}
	ints := [...]struct {
		name string
		dst  *int64
	}{{"epoch", &r.Epoch}, {"seq", &r.Seq}, {"ts", &r.TS}}
	var has [len(ints)]bool
	for i, it := range ints {
		v, ok := f[it.name]
		if !ok {
			continue
		}
		n, ok := rawInt(v)
		if !ok || n < 0 {
			return bad("resume " + it.name + " must be an integer ≥ 0")
		}
		*it.dst, has[i] = n, true
	}
	id, hasID := f["trade_id"]
	if hasID {
		s, ok := rawString(id)
		if !ok || s == "" || len(s) > MaxTradeIDLen {
			return bad("resume trade_id must be a string of 1 to " + strconv.Itoa(MaxTradeIDLen) + " bytes")
		}
		r.TradeID = s
	}
	if has[0] != has[1] {
		return bad("resume epoch and seq come together")
	}
	if hasID != has[2] {
		return bad("resume trade_id and ts come together")
	}
	r.HasSeq, r.HasTrade = has[1], hasID
	return r, nil
}

// appendResume appends the "resume" option of c (AppendCommand's form):
// positions in the order of c.Resume, each with only the fields it has.
func appendResume(dst []byte, c *Command) []byte {
	dst = append(appendKey(dst, "resume"), '{')
	for i, r := range c.Resume {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(appendJSONString(dst, r.Channel), ':', '{')
		n := len(dst)
		if r.HasSeq {
			dst = appendIntField(dst, "epoch", r.Epoch)
			dst = appendIntField(dst, "seq", r.Seq)
		}
		if r.HasTrade {
			dst = appendStringField(dst, "trade_id", r.TradeID)
			dst = appendIntField(dst, "ts", r.TS)
		}
		if len(dst) > n { // drop the comma appendKey put before the first field
			dst = append(dst[:n], dst[n+1:]...)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// Why a channel did not resume: the resume_reason of a subscribed
// message with "resumed":false (websocket.md section 5.2). Clients must
// accept other values.
const (
	// ResumeHistory: the position is older than what the server still
	// holds (its history, or for trades what it can still read).
	ResumeHistory = "history"
	// ResumeEpoch: the position belongs to another publisher epoch than
	// the book's.
	ResumeEpoch = "epoch"
	// ResumeAhead: the position is beyond what this server has applied
	// (a replica behind the one the client came from).
	ResumeAhead = "ahead"
	// ResumeNotServed: the book is not served (waiting or stale); its
	// status follows as for any subscription.
	ResumeNotServed = "not_served"
)

// ResumeReasons lists every resume_reason, in the order of the spec.
var ResumeReasons = []string{ResumeHistory, ResumeEpoch, ResumeAhead, ResumeNotServed}

// SetResumed records on a subscribed message whether its channel resumed:
// reason "" means it did (resumed true), any other value is the
// resume_reason of resumed false.
func (m *ServerMessage) SetResumed(reason string) {
	ok := reason == ""
	m.Resumed, m.ResumeReason = &ok, reason
}
