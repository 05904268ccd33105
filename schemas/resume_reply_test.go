package schemas

import (
	"encoding/json"
	"testing"
)

// The resume fields of a subscribed message encode as the spec shows
// them, only when the channel had a position, and pass the schema.
func TestResumeReplyEncoding(t *testing.T) {
	for _, tc := range []struct {
		r    ResumeReply
		want string
	}{
		{ResumeReply{}, `{"type":"subscribed","id":12,"channel":"trades.BTC-USD","interval":"raw"}`},
		{Resumed(true, "ignored"), `{"type":"subscribed","id":12,"channel":"trades.BTC-USD","interval":"raw","resumed":true}`},
		{Resumed(false, ResumeReasonHistory), `{"type":"subscribed","id":12,"channel":"trades.BTC-USD","interval":"raw","resumed":false,"resume_reason":"history"}`},
	} {
		got, err := json.Marshal(&ServerMessage{Type: TypeSubscribed, ID: 12, Channel: "trades.BTC-USD", Interval: "raw", ResumeReply: tc.r})
		if err != nil || string(got) != tc.want {
			t.Errorf("got %s (%v), want %s", got, err, tc.want)
		}
		if err := validate(t, ServerMessageSchema, got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	if err := validate(t, ServerMessageSchema, []byte(`{"type":"subscribed","channel":"trades.BTC-USD","interval":"raw","resumed":true,"resume_reason":"history"}`)); err == nil {
		t.Error("the schema accepts a reason on a resumed channel")
	}
}
