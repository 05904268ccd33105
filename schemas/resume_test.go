package schemas

import (
	"errors"
	"slices"
	"testing"
)

func TestParseResume(t *testing.T) {
	in := `{"op":"subscribe","id":1,"channels":["trades.A","book.A","ticker.A"],` +
		`"resume":{"trades.A":{"trade_id":"t-9","ts":1767225600250000},"book.A":{"epoch":2,"seq":1042,"x":1},"ticker.A":{}}}`
	var c Command
	if err := ParseCommand([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	want := []Resume{
		{Channel: "book.A", Epoch: 2, Seq: 1042, HasSeq: true},
		{Channel: "ticker.A"},
		{Channel: "trades.A", TradeID: "t-9", TS: 1767225600250000, HasTrade: true},
	}
	if !slices.Equal(c.Resume, want) {
		t.Fatalf("Resume = %+v, want %+v", c.Resume, want)
	}
	if r, ok := c.ResumeFor("book.A"); !ok || r.Seq != 1042 {
		t.Errorf("ResumeFor(book.A) = %+v, %v", r, ok)
	}
	if _, ok := c.ResumeFor("trades.B"); ok {
		t.Error("ResumeFor a channel without a position reports one")
	}
	enc := AppendCommand(nil, &c)
	const wantEnc = `{"op":"subscribe","id":1,"channels":["trades.A","book.A","ticker.A"],` +
		`"resume":{"book.A":{"epoch":2,"seq":1042},"ticker.A":{},"trades.A":{"trade_id":"t-9","ts":1767225600250000}}}`
	if string(enc) != wantEnc {
		t.Errorf("AppendCommand\n got %s\nwant %s", enc, wantEnc)
	}
	if err := validate(t, ClientMessageSchema, enc); err != nil {
		t.Errorf("schema refuses %s: %v", enc, err)
	}
	for _, bad := range []string{
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":{"seq":1}}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book A":{}}}`,
		`{"op":"subscribe","channel":"trades.A","resume":{"trades.A":{"trade_id":"","ts":1}}}`,
	} {
		if validate(t, ClientMessageSchema, []byte(bad)) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
	// A later command without resume does not keep the positions.
	if err := ParseCommand([]byte(`{"op":"subscribe","channel":"book.A"}`), &c); err != nil || c.Resume != nil {
		t.Errorf("Resume after a command without it = %+v (err %v)", c.Resume, err)
	}
}

func TestParseResumeErrors(t *testing.T) {
	for _, in := range []string{
		`{"op":"subscribe","channel":"book.A","resume":[]}`,
		`{"op":"subscribe","channel":"book.A","resume":null}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.B":{"epoch":0,"seq":1}}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":5}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":{"seq":1}}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":{"epoch":0}}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":{"epoch":0,"seq":-1}}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":{"epoch":0,"seq":1.0}}}`,
		`{"op":"subscribe","channel":"book.A","resume":{"book.A":{"epoch":"0","seq":1}}}`,
		`{"op":"subscribe","channel":"trades.A","resume":{"trades.A":{"trade_id":"x"}}}`,
		`{"op":"subscribe","channel":"trades.A","resume":{"trades.A":{"ts":5}}}`,
		`{"op":"subscribe","channel":"trades.A","resume":{"trades.A":{"trade_id":"","ts":5}}}`,
		`{"op":"subscribe","channel":"trades.A","resume":{"trades.A":{"trade_id":7,"ts":5}}}`,
		`{"op":"subscribe","channel":"trades.A","resume":{"trades.A":{"trade_id":"` + string(make65()) + `","ts":5}}}`,
	} {
		var c Command
		err := ParseCommand([]byte(in), &c)
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Code != CodeInvalidRequest {
			t.Errorf("ParseCommand(%s) = %v, want invalid_request", in, err)
		}
	}
}

func make65() []byte {
	b := make([]byte, MaxTradeIDLen+1)
	for i := range b {
		b[i] = 'a'
	}
	return b
}

func TestResumeCheck(t *testing.T) {
	book := Resume{Channel: "book.A", HasSeq: true}
	trade := Resume{Channel: "trades.A", TradeID: "1", HasTrade: true}
	none := Resume{Channel: "x"}
	cases := []struct {
		r  Resume
		k  ChannelKind
		ok bool
	}{
		{book, ChannelBook, true}, {book, ChannelBBO, true}, {book, ChannelTrades, false},
		{trade, ChannelTrades, true}, {trade, ChannelBook, false},
		{none, ChannelTicker, true}, {none, ChannelTickers, true}, {none, ChannelBBO, false},
	}
	for _, tc := range cases {
		err := tc.r.Check(tc.k)
		if (err == nil) != tc.ok {
			t.Errorf("%+v.Check(%v) = %v, want ok=%v", tc.r, tc.k, err, tc.ok)
		}
		var pe *ProtocolError
		if err != nil && (!errors.As(err, &pe) || pe.Code != CodeInvalidRequest || pe.Channel != tc.r.Channel) {
			t.Errorf("%+v.Check(%v) = %v, want invalid_request on its channel", tc.r, tc.k, err)
		}
	}
}
