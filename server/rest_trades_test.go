package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
)

// restTrade is one trade object of an answer, with its bytes.
type restTrade struct {
	ID  string `json:"id"`
	TS  int64  `json:"ts"`
	raw json.RawMessage
}

// tradesOf decodes a trades message of channel into its trade objects.
func tradesOf(t *testing.T, body []byte, channel string) []restTrade {
	t.Helper()
	var m struct {
		Type, Channel string
		Trades        []json.RawMessage
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Type != schemas.TypeTrades || m.Channel != channel || m.Trades == nil {
		t.Fatalf("not a trades message of %s: %s (%v)", channel, body, err)
	}
	out := make([]restTrade, len(m.Trades))
	for i, raw := range m.Trades {
		if err := json.Unmarshal(raw, &out[i]); err != nil {
			t.Fatal(err)
		}
		out[i].raw = raw
	}
	return out
}

func sameTrades(t *testing.T, what string, got, want []restTrade) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d trades, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].raw, want[i].raw) {
			t.Fatalf("%s: trade %d is %s, want %s", what, i, got[i].raw, want[i].raw)
		}
	}
}

// testTrades: the recent trades pages through the history, each trade the
// object the trades channel sends, and a trades subscription resumed from
// any answer's last trade continues exactly after it; errors and
// entitlements as the other endpoints.
func (f *restFixture) testTrades(t *testing.T) {
	sym := f.live[0]
	path := "/v1/trades/" + sym
	a := f.do(t, "GET", path+"?limit=1000", f.pro)
	a.want(t, http.StatusOK, "")
	all := tradesOf(t, a.body, "trades."+sym)
	if len(all) < 10 {
		t.Fatalf("%d trades of %s in the fixture", len(all), sym)
	}
	// Default limit: the newest 100 (all of them here).
	def := tradesOf(t, f.do(t, "GET", path, "").body, "trades."+sym)
	sameTrades(t, "default", def, all[max(len(all)-100, 0):])
	// Paging forward from the oldest, each page after the previous one's
	// last trade.
	var paged []restTrade
	q := "?since_ts=0&limit=7"
	for {
		page := tradesOf(t, f.do(t, "GET", path+q, f.pro).body, "trades."+sym)
		if len(page) == 0 {
			break
		}
		if len(page) > 7 {
			t.Fatalf("page of %d trades with limit 7", len(page))
		}
		paged = append(paged, page...)
		last := page[len(page)-1]
		q = fmt.Sprintf("?since=%s&since_ts=%d&limit=7", url.QueryEscape(last.ID), last.TS)
	}
	sameTrades(t, "paged", paged, all)
	// The stream resumed from a REST trade sends the REST answer's
	// remainder, byte for byte the same trade objects.
	k := len(all) / 2
	sameTrades(t, "resumed stream", f.resumedTrades(t, sym, all[k], len(all)-k-1), all[k+1:])
	f.do(t, "GET", path+"?since=no-such-trade", f.pro).want(t, http.StatusGone, schemas.CodeInvalidRequest)

	for _, bad := range []string{"?limit=0", "?limit=1001", "?limit=x", "?since=", "?since_ts=-1", "?since_ts=1.5",
		"?since=" + string(bytes.Repeat([]byte("x"), schemas.MaxTradeIDLen+1))} {
		f.do(t, "GET", path+bad, f.pro).want(t, http.StatusBadRequest, schemas.CodeInvalidRequest)
	}
	f.do(t, "GET", "/v1/trades/NOPE-USD", f.pro).want(t, http.StatusNotFound, schemas.CodeUnknownSymbol)
	f.do(t, "GET", "/v1/trades/"+f.hidden, "").want(t, http.StatusForbidden, schemas.CodeNotEntitled)
	f.do(t, "GET", "/v1/trades/"+f.hidden, f.pro).want(t, http.StatusOK, "")
	f.do(t, "GET", path, "mf_not-a-key").want(t, http.StatusUnauthorized, schemas.CodeUnauthorized)
	f.do(t, "POST", path, f.pro).want(t, http.StatusMethodNotAllowed, schemas.CodeInvalidRequest)
	f.do(t, "GET", path, f.carol).want(t, http.StatusTooManyRequests, schemas.CodeRateLimited) // carol spent her budget (rate)
}

// resumedTrades subscribes to sym's trades from position from and returns
// the next n trades it sends.
func (f *restFixture) resumedTrades(t *testing.T, sym string, from restTrade, n int) []restTrade {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+f.srv.Addr()+"/ws", client.Options{Header: http.Header{"Authorization": {"Bearer " + f.pro}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch := "trades." + sym
	if err := c.SendRaw(fmt.Appendf(nil, `{"op":"subscribe","channel":%q,"resume":{%q:{"trade_id":%q,"ts":%d}}}`, ch, ch, from.ID, from.TS)); err != nil {
		t.Fatal(err)
	}
	ack, err := c.Next(ctx)
	if err != nil || ack.Resumed == nil || !*ack.Resumed {
		t.Fatalf("ack %+v (%v)", ack, err)
	}
	var out []restTrade
	for len(out) < n {
		raw, err := c.NextRaw(ctx)
		if err != nil {
			t.Fatalf("after %d trades: %v", len(out), err)
		}
		got := tradesOf(t, raw, ch)
		if len(got) != 1 {
			t.Fatalf("raw trades message with %d trades", len(got))
		}
		out = append(out, got...)
	}
	return out
}
