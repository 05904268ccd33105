package schemas

// ResumeReply is what a subscribed message says of a subscribe that gave
// the channel a resume position (websocket.md §3.1, §5.2): whether the
// server continues from it and, when not, why. It is part of
// ServerMessage; both fields are absent on a channel without a position.
type ResumeReply struct {
	// Resumed is set when the channel had a position: true when the
	// channel continues from it, false when it starts anew.
	Resumed *bool `json:"resumed,omitempty"`
	// ResumeReason says why a position was not resumed (a ResumeReason*
	// value; clients must accept others); only with Resumed false.
	ResumeReason string `json:"resume_reason,omitempty"`
}

// Reasons of a resume refused (the resume_reason of a subscribed message).
const (
	// ResumeReasonHistory: the server no longer holds everything since the
	// position (its history and, for trades, the Kafka log within the
	// server's window have moved past it), or holds no such position.
	ResumeReasonHistory = "history"
	// ResumeReasonUnavailable: what the position needs could not be read
	// in time (the Kafka log did not answer); the channel starts anew.
	ResumeReasonUnavailable = "unavailable"
)

// Resumed returns the ResumeReply of a position resumed (ok) or refused
// for reason.
func Resumed(ok bool, reason string) ResumeReply {
	if ok {
		reason = ""
	}
	return ResumeReply{Resumed: &ok, ResumeReason: reason}
}
