package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/segmentio/kafka-go"
)

// restFixture is a server with a key file over a real broker, fed a fixed
// history of five symbols: live[0] and live[1] are live and in the
// anonymous plan, stale lost a delta (stale, gap) and is in it too, hidden
// is live but only in the pro plan, waiting has a definition and no
// snapshot.
type restFixture struct {
	srv                    *server.Server
	base                   string
	live                   [2]string
	stale, hidden, waiting string
	pro, carol             string            // keys of the pro plan
	instruments            map[string]string // symbol: its instrument record
	seen                   []restAnswer      // every answer, for the OpenAPI check
}

// restAnswer is one answer of the server.
type restAnswer struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

// restRateBurst is the fixture's REST burst, with no refill: carol spends
// it; the other callers stay below it.
const restRateBurst = 100

func newRESTFixture(t *testing.T) *restFixture {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ex := sim.New(sim.Config{Symbols: 5, Seed: 7})
	syms := ex.Symbols()
	f := &restFixture{live: [2]string{syms[0], syms[1]}, stale: syms[2], hidden: syms[3], waiting: syms[4],
		instruments: map[string]string{}}
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{
		"free": {Symbols: []string{f.live[0], f.live[1], f.stale, f.waiting}, MaxDepth: 20, MinInterval: "100ms"},
		"pro":  {Symbols: []string{"*"}},
	}}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		id  string
		dst *string
	}{{"alice", &f.pro}, {"carol", &f.carol}} {
		if *k.dst, err = auth.CreateKey(path, k.id, "pro", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	f.srv, _ = runServer(t, server.Config{
		Feed:     feed.Config{Brokers: b.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		Keys:     path,
		KeysPoll: time.Hour,
		// Silence would make the quiet books stale while the test reads them.
		SilentAfter: -1,
		RESTBurst:   restRateBurst,
		RESTEvery:   time.Hour,
	})
	f.base = "http://" + f.srv.Addr()
	last := f.publish(t, b, ex)
	f.waitServed(t, last)
	return f
}

// publish writes the definitions and snapshots, then 300 events minus the
// first delta of stale, and returns the last seq of every symbol.
func (f *restFixture) publish(t *testing.T, b *broker.Broker, ex *sim.Exchange) map[string]uint64 {
	t.Helper()
	now := time.Now()
	var msgs []sim.Message
	for _, m := range ex.Snapshots(now, nil) {
		var rec struct{ Type, Symbol string }
		if err := json.Unmarshal(m.Value, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Type == "instrument" {
			f.instruments[rec.Symbol] = string(m.Value)
		}
		if rec.Symbol != f.waiting || rec.Type == "instrument" {
			msgs = append(msgs, m)
		}
	}
	last := map[string]uint64{}
	dropped, staleDeltas := false, 0
	for range 300 {
		for _, m := range ex.Next(now, nil) {
			var rec struct {
				Type, Symbol string
				Seq          uint64
			}
			if err := json.Unmarshal(m.Value, &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Symbol == f.waiting {
				continue
			}
			if rec.Symbol == f.stale && rec.Type == "delta" {
				if staleDeltas++; !dropped {
					dropped = true
					continue
				}
			}
			if rec.Type == "delta" {
				last[rec.Symbol] = rec.Seq
			}
			msgs = append(msgs, m)
		}
	}
	if staleDeltas < 2 {
		t.Fatalf("%s has %d deltas: no gap to make", f.stale, staleDeltas)
	}
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
	}
	w := &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: "marketdata", BatchTimeout: 2 * time.Millisecond}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, km...); err != nil {
		t.Fatal(err)
	}
	return last
}

// waitServed waits until the live books are at their last seq, the stale
// one is stale with reason gap and the waiting one is defined.
func (f *restFixture) waitServed(t *testing.T, last map[string]uint64) {
	t.Helper()
	ready := func() bool {
		for _, s := range []string{f.live[0], f.live[1], f.hidden} {
			tp := f.srv.Hub().Streams(s)
			if tp == nil {
				return false
			}
			if st, seq := tp.State(); st != market.Live || seq != last[s] {
				return false
			}
		}
		tp, tw := f.srv.Hub().Streams(f.stale), f.srv.Hub().Streams(f.waiting)
		return tp != nil && tw != nil && tp.Reason() == schemas.ReasonGap
	}
	for deadline := time.Now().Add(30 * time.Second); !ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("books not served as published: %+v", f.srv.Hub().Symbols())
		}
	}
}

// do sends one request with the key (none: "") in the Authorization
// header and records the answer.
func (f *restFixture) do(t *testing.T, method, path, key string) restAnswer {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return f.send(t, req)
}

func (f *restFixture) send(t *testing.T, req *http.Request) restAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := restAnswer{method: req.Method, path: req.URL.Path, status: resp.StatusCode, header: resp.Header, body: body}
	f.seen = append(f.seen, a)
	return a
}

// want checks an answer's status and, for an error, its code.
func (a restAnswer) want(t *testing.T, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", a.method, a.path, a.status, status, a.body)
	}
	if a.path != "/v1/symbols" && a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: Cache-Control %q, want no-store", a.method, a.path, a.header.Get("Cache-Control"))
	}
	if code == "" {
		return
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("%s %s: body %s, want error code %s", a.method, a.path, a.body, code)
	}
}

// wsFirst subscribes to channel over a real WebSocket connection with key
// and returns the first market-data message after the acknowledgement,
// byte for byte.
func wsFirst(t *testing.T, f *restFixture, key, channel string, depth int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opt := client.Options{MaxMessageSize: 1 << 20}
	if key != "" {
		opt.Header = http.Header{"Authorization": {"Bearer " + key}}
	}
	c, err := client.Dial(ctx, "ws://"+f.srv.Addr()+"/ws", opt)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Subscribe(1, []string{channel}, depth, "raw"); err != nil {
		t.Fatal(err)
	}
	for {
		raw, err := c.NextRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(raw, []byte(`"type":"subscribed"`)) {
			return raw
		}
	}
}

// TestRESTAgreesWithStream runs every REST endpoint against the server's
// own WebSocket streams and the plans of its key file, then holds every
// answer to the OpenAPI document (openapi_test.go).
func TestRESTAgreesWithStream(t *testing.T) {
	f := newRESTFixture(t)
	t.Run("book", f.testBook)
	t.Run("ticker", f.testTicker)
	t.Run("instruments", f.testInstruments)
	t.Run("entitlements", f.testEntitlements)
	t.Run("errors", f.testErrors)
	t.Run("rate", f.testRate)
	t.Run("trades", f.testTrades) // after rate: carol's budget is spent
	t.Run("openapi", func(t *testing.T) { checkOpenAPI(t, f.srv, f.seen) })
}

// testBook: the REST book is byte for byte the WebSocket snapshot at the
// same seq, at each depth, and its checksum is the view's.
func (f *restFixture) testBook(t *testing.T) {
	for _, depth := range []int{1, 5, 20, 100, 1000} {
		for _, sym := range f.live {
			a := f.do(t, "GET", "/v1/book/"+sym+"?depth="+itoa(depth), f.pro)
			a.want(t, http.StatusOK, "")
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			ws := wsFirst(t, f, f.pro, "book."+sym, depth)
			if !bytes.Equal(a.body, ws) {
				t.Fatalf("%s depth %d:\nREST %s\nWS   %s", sym, depth, a.body, ws)
			}
			var m schemas.ServerMessage
			if err := json.Unmarshal(a.body, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type != schemas.TypeSnapshot || m.Channel != "book."+sym || len(m.Bids) > depth || len(m.Asks) > depth || len(m.Bids) == 0 {
				t.Fatalf("%s depth %d: %s", sym, depth, a.body)
			}
			_, seq := f.srv.Hub().Streams(sym).State()
			if m.Seq != seq || m.Checksum == nil || *m.Checksum != schemas.BookChecksum(m.Bids, m.Asks) {
				t.Fatalf("%s depth %d: seq %d (book %d), checksum %v of %s", sym, depth, m.Seq, seq, m.Checksum, a.body)
			}
		}
	}
	// Without depth: the channel's default, 20.
	def := f.do(t, "GET", "/v1/book/"+f.live[0], "")
	def.want(t, http.StatusOK, "")
	if d20 := f.do(t, "GET", "/v1/book/"+f.live[0]+"?depth=20", ""); !bytes.Equal(def.body, d20.body) {
		t.Fatalf("default depth:\n%s\nwant\n%s", def.body, d20.body)
	}
	// A stale book answers its status, as a status message gives it.
	st := f.do(t, "GET", "/v1/book/"+f.stale, "")
	st.want(t, http.StatusServiceUnavailable, schemas.CodeNotServed)
	wantStatus(t, st, schemas.StatusStale, schemas.ReasonGap)
	wantREADMEExample(t, `{"error":{"code":"not_served"`, f.stale, st.body)
	w := f.do(t, "GET", "/v1/book/"+f.waiting, "")
	w.want(t, http.StatusServiceUnavailable, schemas.CodeNotServed)
	wantStatus(t, w, schemas.StatusWaiting, "")
	if r := w.header.Get("Retry-After"); r == "" {
		t.Errorf("503 without Retry-After")
	}
}

func wantStatus(t *testing.T, a restAnswer, status, reason string) {
	t.Helper()
	var e struct{ Status, Reason string }
	if err := json.Unmarshal(a.body, &e); err != nil || e.Status != status || e.Reason != reason {
		t.Fatalf("%s: %s, want status %q reason %q", a.path, a.body, status, reason)
	}
}

// wantREADMEExample checks that the README's example line starting with
// prefix is body, with body's symbol in place of the example's.
func wantREADMEExample(t *testing.T, prefix, symbol string, body []byte) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, prefix) {
			got := strings.TrimSpace(strings.ReplaceAll(string(body), symbol, "SOL-USD"))
			if got != line {
				t.Fatalf("README example\n%s\nserver\n%s", line, got)
			}
			return
		}
	}
	t.Fatalf("README has no example starting with %s", prefix)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// testTicker: the REST ticker is byte for byte the ticker channel's
// message, with the status of a stale book.
func (f *restFixture) testTicker(t *testing.T) {
	for _, sym := range []string{f.live[0], f.live[1], f.stale} {
		a := f.do(t, "GET", "/v1/ticker/"+sym, f.pro)
		a.want(t, http.StatusOK, "")
		if ws := wsFirst(t, f, f.pro, "ticker."+sym, 0); !bytes.Equal(a.body, ws) {
			t.Fatalf("%s:\nREST %s\nWS   %s", sym, a.body, ws)
		}
	}
	var m schemas.ServerMessage
	if err := json.Unmarshal(f.do(t, "GET", "/v1/ticker/"+f.stale, "").body, &m); err != nil ||
		m.Status != schemas.StatusStale || m.Reason != schemas.ReasonGap || m.Bid != "" {
		t.Fatalf("stale ticker: %+v (%v)", m, err)
	}
	// Anonymous, whose plan's fastest interval is 100ms: a read is no
	// stream, so the interval does not apply.
	f.do(t, "GET", "/v1/ticker/"+f.live[0], "").want(t, http.StatusOK, "")
	f.do(t, "GET", "/v1/ticker/"+f.waiting, "").want(t, http.StatusServiceUnavailable, schemas.CodeNotServed)
}

// testInstruments: each caller sees the definitions of its plan's symbols,
// exactly as the exchange gave them.
func (f *restFixture) testInstruments(t *testing.T) {
	list := func(key string) []fanoutInstrument {
		a := f.do(t, "GET", "/v1/instruments", key)
		a.want(t, http.StatusOK, "")
		var out struct{ Instruments []fanoutInstrument }
		if err := json.Unmarshal(a.body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Instruments
	}
	check := func(got []fanoutInstrument, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("instruments %+v, want %v", got, want)
		}
		names := map[string]bool{}
		for _, in := range got {
			names[in.Symbol] = true
			var rec struct {
				PriceScale int    `json:"price_scale"`
				SizeScale  int    `json:"size_scale"`
				Tick       string `json:"tick_size"`
				Lot        string `json:"lot_size"`
			}
			if err := json.Unmarshal([]byte(f.instruments[in.Symbol]), &rec); err != nil {
				t.Fatal(err)
			}
			if in.PriceScale != rec.PriceScale || in.SizeScale != rec.SizeScale ||
				(rec.Tick != "" && in.TickSize != rec.Tick) || (rec.Lot != "" && in.LotSize != rec.Lot) {
				t.Errorf("%+v, record %s", in, f.instruments[in.Symbol])
			}
		}
		for _, w := range want {
			if !names[w] {
				t.Fatalf("instruments %+v lack %s", got, w)
			}
		}
	}
	check(list(f.pro), f.live[0], f.live[1], f.stale, f.hidden, f.waiting)
	check(list(""), f.live[0], f.live[1], f.stale, f.waiting)
}

type fanoutInstrument struct {
	Symbol     string `json:"symbol"`
	PriceScale int    `json:"price_scale"`
	SizeScale  int    `json:"size_scale"`
	TickSize   string `json:"tick_size"`
	LotSize    string `json:"lot_size"`
}

// testEntitlements: the keys of the WebSocket, in each place it takes
// them, and the plans' symbols and depths.
func (f *restFixture) testEntitlements(t *testing.T) {
	f.do(t, "GET", "/v1/book/"+f.hidden, "").want(t, http.StatusForbidden, schemas.CodeNotEntitled)
	f.do(t, "GET", "/v1/ticker/"+f.hidden, "").want(t, http.StatusForbidden, schemas.CodeNotEntitled)
	f.do(t, "GET", "/v1/book/"+f.live[0]+"?depth=50", "").want(t, http.StatusForbidden, schemas.CodeNotEntitled)
	f.do(t, "GET", "/v1/book/"+f.hidden+"?depth=50", f.pro).want(t, http.StatusOK, "")
	// A symbol outside the plan is refused whether it is served or not.
	f.do(t, "GET", "/v1/book/NOPE-USD", "").want(t, http.StatusForbidden, schemas.CodeNotEntitled)
	for reason, n := range map[string]float64{"symbol": 3, "depth": 1} {
		if got := metric(t, f.srv.Addr(), `marketfeed_auth_denials_total{reason="`+reason+`"}`); got != n {
			t.Errorf("%s denials in /metrics: %v, want %v", reason, got, n)
		}
	}

	req, _ := http.NewRequest("GET", f.base+"/v1/book/"+f.hidden, nil)
	req.Header.Set("X-API-Key", f.pro)
	f.send(t, req).want(t, http.StatusOK, "")
	req, _ = http.NewRequest("GET", f.base+"/v1/book/"+f.hidden+"?api_key="+f.pro, nil)
	f.send(t, req).want(t, http.StatusOK, "")

	for _, p := range []string{"/v1/book/" + f.live[0], "/v1/ticker/" + f.live[0], "/v1/instruments"} {
		a := f.do(t, "GET", p, "mf_not-a-key")
		a.want(t, http.StatusUnauthorized, schemas.CodeUnauthorized)
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: %v", a.header)
		}
	}
}

// testErrors: unknown symbols, bad parameters, other methods.
func (f *restFixture) testErrors(t *testing.T) {
	f.do(t, "GET", "/v1/book/NOPE-USD", f.pro).want(t, http.StatusNotFound, schemas.CodeUnknownSymbol)
	f.do(t, "GET", "/v1/ticker/NOPE-USD", f.pro).want(t, http.StatusNotFound, schemas.CodeUnknownSymbol)
	f.do(t, "GET", "/v1/book/bad%20symbol", f.pro).want(t, http.StatusNotFound, schemas.CodeUnknownSymbol)
	for _, q := range []string{"7", "abc", "", "-1", "20.0", "2000"} {
		f.do(t, "GET", "/v1/book/"+f.live[0]+"?depth="+q, f.pro).want(t, http.StatusBadRequest, schemas.CodeInvalidDepth)
	}
	for _, p := range []string{"/v1/book/" + f.live[0], "/v1/ticker/" + f.live[0], "/v1/instruments"} {
		a := f.do(t, "POST", p, f.pro)
		a.want(t, http.StatusMethodNotAllowed, schemas.CodeInvalidRequest)
		if a.header.Get("Allow") == "" {
			t.Errorf("405 without Allow")
		}
	}
	f.do(t, "GET", "/v1/symbols", "").want(t, http.StatusOK, "")
}

// testRate: a key that spends its budget is refused with rate_limited and
// Retry-After; another caller is not.
func (f *restFixture) testRate(t *testing.T) {
	for i := range restRateBurst {
		f.do(t, "GET", "/v1/ticker/"+f.live[0], f.carol).want(t, http.StatusOK, "")
		_ = i
	}
	for _, p := range []string{"/v1/book/" + f.live[0], "/v1/ticker/" + f.live[0], "/v1/instruments"} {
		a := f.do(t, "GET", p, f.carol)
		a.want(t, http.StatusTooManyRequests, schemas.CodeRateLimited)
		if a.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	f.do(t, "GET", "/v1/ticker/"+f.live[0], f.pro).want(t, http.StatusOK, "")
}
