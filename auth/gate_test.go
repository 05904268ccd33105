package auth_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPresentingKeys(t *testing.T) {
	secret, k := newKey(t, "alice", "pro", nil)
	e := startEnv(t, envConfig{
		file:    &auth.File{Plans: map[string]*auth.Plan{"pro": {Symbols: []string{"*"}}}, Keys: []*auth.KeyEntry{k}},
		symbols: []string{"BTC-USD"}, noFeed: true,
	})
	for name, h := range map[string]http.Header{
		"bearer":    {"Authorization": {"Bearer " + secret}},
		"x-api-key": {"X-Api-Key": {secret}},
	} {
		c, status, err := dialErr(e.url, h)
		if err != nil {
			t.Fatalf("%s: status %d: %v", name, status, err)
		}
		c.nc.Close()
	}
	c, status, err := dialErr(e.url+"?api_key="+url.QueryEscape(secret), nil)
	if err != nil {
		t.Fatalf("query parameter: status %d: %v", status, err)
	}
	c.nc.Close()

	wrong, _ := auth.NewSecret()
	for name, h := range map[string]http.Header{
		"none":  {},
		"wrong": {"Authorization": {"Bearer " + wrong}},
		"basic": {"Authorization": {"Basic " + secret}},
	} {
		if _, status, err := dialErr(e.url, h); err == nil || status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, err %v; want 401", name, status, err)
		}
	}
	if got := testutil.ToFloat64(e.store.Metrics().Failures.WithLabelValues("unknown")); got != 1 {
		t.Errorf("unknown-key failures %v, want 1", got)
	}
	if got := testutil.ToFloat64(e.store.Metrics().Failures.WithLabelValues("missing")); got != 2 {
		t.Errorf("missing-key failures %v, want 2", got)
	}
}

func TestFailedAttemptsAreRateLimited(t *testing.T) {
	secret, k := newKey(t, "alice", "pro", nil)
	e := startEnv(t, envConfig{
		file:    &auth.File{Plans: map[string]*auth.Plan{"pro": {Symbols: []string{"*"}}}, Keys: []*auth.KeyEntry{k}},
		symbols: []string{"BTC-USD"}, noFeed: true,
	})
	e.gate.Limiter = &auth.FailureLimiter{Burst: 5}
	wrong, _ := auth.NewSecret()
	statuses := map[int]int{}
	for range 8 {
		_, status, _ := dialErr(e.url, http.Header{"X-Api-Key": {wrong}})
		statuses[status]++
	}
	if statuses[http.StatusUnauthorized] != 5 || statuses[http.StatusTooManyRequests] != 3 {
		t.Fatalf("statuses %v, want 5×401 then 3×429", statuses)
	}
	// Once blocked, even the right key waits: guessing must not pay off.
	if _, status, _ := dialErr(e.url, http.Header{"X-Api-Key": {secret}}); status != http.StatusTooManyRequests {
		t.Fatalf("valid key from a blocked address: status %d, want 429", status)
	}
}

func TestOriginAllowList(t *testing.T) {
	e := startEnv(t, envConfig{
		file:    &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{"free": {Symbols: []string{"*"}}}},
		origins: []string{"https://app.example.com"}, symbols: []string{"BTC-USD"}, noFeed: true,
	})
	if _, status, err := dialErr(e.url, http.Header{"Origin": {"https://evil.example.net"}}); err == nil || status != http.StatusForbidden {
		t.Fatalf("foreign origin: status %d, err %v; want 403", status, err)
	}
	for _, h := range []http.Header{{"Origin": {"https://app.example.com"}}, {}} {
		c, status, err := dialErr(e.url, h)
		if err != nil {
			t.Fatalf("origin %v: status %d: %v", h, status, err)
		}
		c.nc.Close()
	}
}

func TestSubscribeEnforcesEntitlements(t *testing.T) {
	secret, k := newKey(t, "alice", "", &auth.Plan{Symbols: []string{"BTC-*"}, Channels: []string{"book", "ticker"},
		MaxDepth: 20, MinInterval: "100ms", MaxSubscriptions: 2, MessagesPerSecond: 5})
	e := startEnv(t, envConfig{
		file:    &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{"free": {Symbols: []string{"ETH-USD"}, Channels: []string{"ticker"}}}, Keys: []*auth.KeyEntry{k}},
		symbols: []string{"BTC-USD", "BTC-EUR", "ETH-USD"}, noFeed: true,
	})
	c := dial(t, e.url, secret)
	for _, tc := range []struct{ cmd, what string }{
		{`{"op":"subscribe","id":1,"channel":"book.ETH-USD","depth":5,"interval":"1s"}`, "symbol ETH-USD"},
		{`{"op":"subscribe","id":2,"channel":"trades.BTC-USD","interval":"1s"}`, "channel trades"},
		{`{"op":"subscribe","id":3,"channel":"book.BTC-USD","depth":50,"interval":"1s"}`, "depth 50"},
		{`{"op":"subscribe","id":4,"channel":"book.BTC-USD","depth":20}`, "faster than 100ms"},
	} {
		c.send(tc.cmd)
		m := c.next()
		if m.Type != schemas.TypeError || m.Code != schemas.CodeNotEntitled || !strings.Contains(m.Message, tc.what) {
			t.Fatalf("%s: got %+v, want not_entitled naming %q", tc.cmd, m, tc.what)
		}
	}
	c.send(`{"op":"subscribe","id":5,"channels":["book.BTC-USD","book.BTC-EUR","ticker.BTC-USD"],"depth":20,"interval":"100ms"}`)
	var acks, limited int
	for acks+limited < 3 {
		m := c.next()
		switch {
		case m.Type == schemas.TypeSubscribed:
			acks++
		case m.Type == schemas.TypeError && m.Code == schemas.CodeTooManySubscriptions:
			limited++
		}
	}
	if acks != 2 || limited != 1 {
		t.Fatalf("%d subscribed, %d refused; want the plan's 2 and 1", acks, limited)
	}
	// The plan allows 5 commands a second: a burst of pings is cut short.
	for range 10 {
		c.send(`{"op":"ping"}`)
	}
	var pongs, dropped int
	for pongs+dropped < 10 {
		m := c.next()
		switch {
		case m.Type == schemas.TypePong:
			pongs++
		case m.Type == schemas.TypeError && m.Code == schemas.CodeRateLimited:
			dropped++
		}
	}
	if dropped == 0 || pongs > 5 {
		t.Fatalf("%d pongs, %d dropped: rate limit not applied", pongs, dropped)
	}

	anon := dial(t, e.url, "")
	anon.send(`{"op":"subscribe","id":1,"channel":"book.ETH-USD"}`)
	if m := anon.next(); m.Code != schemas.CodeNotEntitled {
		t.Fatalf("anonymous book: %+v", m)
	}
	anon.send(`{"op":"subscribe","id":3,"channel":"bbo.ETH-USD"}`)
	if m := anon.next(); m.Code != schemas.CodeNotEntitled || !strings.Contains(m.Message, "channel bbo") {
		t.Fatalf("anonymous bbo: %+v", m)
	}
	anon.send(`{"op":"subscribe","id":4,"channel":"candles.ETH-USD","resolution":"1h"}`)
	if m := anon.next(); m.Code != schemas.CodeNotEntitled || !strings.Contains(m.Message, "channel candles") {
		t.Fatalf("anonymous candles: %+v", m)
	}
	anon.send(`{"op":"subscribe","id":2,"channel":"ticker.ETH-USD"}`)
	if m := anon.next(); m.Type != schemas.TypeSubscribed {
		t.Fatalf("anonymous ticker: %+v", m)
	}
	if got := testutil.ToFloat64(e.store.Metrics().Denials.WithLabelValues(auth.DenyDepth)); got != 1 {
		t.Errorf("depth denials %v, want 1", got)
	}
}

// TestConnectionLimitUnderBurst connects many clients with one key at once:
// exactly the plan's limit get in, the rest are closed with 4004, and a
// slot freed by a leaving client can be taken again.
func TestConnectionLimitUnderBurst(t *testing.T) {
	const limit, burst = 3, 24
	secret, k := newKey(t, "alice", "", &auth.Plan{Symbols: []string{"*"}, MaxConnections: limit})
	e := startEnv(t, envConfig{
		file:    &auth.File{Plans: map[string]*auth.Plan{}, Keys: []*auth.KeyEntry{k}},
		symbols: []string{"BTC-USD"}, noFeed: true,
	})
	var (
		mu       sync.Mutex
		admitted []*client
		refused  int
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, status, err := dialErr(e.url, http.Header{"Authorization": {"Bearer " + secret}})
			if err != nil {
				t.Errorf("dial: status %d: %v", status, err)
				return
			}
			m, err := c.read(5 * time.Second)
			mu.Lock()
			defer mu.Unlock()
			switch ce, _ := err.(*closedError); {
			case err == nil && m.Type == schemas.TypeWelcome:
				admitted = append(admitted, c)
			case ce != nil && ce.code == schemas.CloseConnectionLimit:
				refused++
				c.nc.Close()
			default:
				t.Errorf("unexpected first message %+v, %v", m, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(admitted) != limit || refused != burst-limit {
		t.Fatalf("%d admitted, %d refused; want exactly %d admitted", len(admitted), refused, limit)
	}
	if n := e.store.Connections(auth.Principal{ID: "alice"}); n != limit {
		t.Fatalf("store counts %d connections, want %d", n, limit)
	}
	admitted[0].nc.Close()
	for e.store.Connections(auth.Principal{ID: "alice"}) == limit {
		time.Sleep(5 * time.Millisecond) // the server notices the close; bounded by the test timeout
	}
	c := dial(t, e.url, secret)
	c.send(`{"op":"ping","id":1}`)
	if m := c.next(); m.Type != schemas.TypePong {
		t.Fatalf("after a slot was freed: %+v", m)
	}
	for _, c := range admitted[1:] {
		c.nc.Close()
	}
}

func TestAuthMessage(t *testing.T) {
	secret, k := newKey(t, "alice", "pro", nil)
	e := startEnv(t, envConfig{
		file: &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{
			"free": {Symbols: []string{"*"}, MaxDepth: 20, MinInterval: "1s"},
			"pro":  {Symbols: []string{"*"}, MaxConnections: 1},
		}, Keys: []*auth.KeyEntry{k}},
		symbols: []string{"BTC-USD"}, noFeed: true,
	})
	const deep = `{"op":"subscribe","id":2,"channel":"book.BTC-USD","depth":1000,"interval":"raw"}`

	c := dial(t, e.url, "")
	c.send(`{"op":"auth","id":1,"key":"` + secret + `"}`)
	if m := c.next(); m.Type != schemas.TypeAuthenticated || m.ID != 1 {
		t.Fatalf("auth: %+v", m)
	}
	c.send(deep)
	if m := c.next(); m.Type != schemas.TypeSubscribed {
		t.Fatalf("subscribe after auth: %+v", m)
	}
	c.send(`{"op":"auth","id":3,"key":"` + secret + `"}`)
	if m := c.until(func(m *schemas.ServerMessage) bool { return !isData(m) }); m.Type != schemas.TypeError || m.Code != schemas.CodeInvalidRequest || strings.Contains(m.Message, secret) {
		t.Fatalf("second auth: %+v", m)
	}
	if n := e.store.Connections(auth.Principal{ID: "alice"}); n != 1 {
		t.Fatalf("alice holds %d connections, want 1", n)
	}

	// The key's connection limit applies to auth messages too.
	over := dial(t, e.url, "")
	over.send(`{"op":"auth","id":1,"key":"` + secret + `"}`)
	over.expectClose(schemas.CloseConnectionLimit)

	// A wrong key: unauthorized, then 4003; the anonymous plan stays narrow.
	wrong, _ := auth.NewSecret()
	bad := dial(t, e.url, "")
	bad.send(`{"op":"auth","id":1,"key":"` + wrong + `"}`)
	if m := bad.next(); m.Type != schemas.TypeError || m.Code != schemas.CodeUnauthorized || strings.Contains(m.Message, wrong) {
		t.Fatalf("wrong key: %+v", m)
	}
	bad.expectClose(schemas.CloseUnauthorized)
	anon := dial(t, e.url, "")
	anon.send(deep)
	if m := anon.next(); m.Code != schemas.CodeNotEntitled {
		t.Fatalf("anonymous deep book: %+v", m)
	}
}

// upgradeStatus sends a WebSocket upgrade request with the given Host and
// Origin headers over a raw loopback connection and returns the response
// status: the Host header is whatever the client chooses, as under DNS
// rebinding, where a page of any site reaches the server under the site's
// own name.
func upgradeStatus(t *testing.T, wsURL, host, origin string) int {
	t.Helper()
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if origin != "" {
		req += "Origin: " + origin + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOriginPublicHosts: without an Origin allow-list, a browser page may
// connect only from one of the configured public host names; the Host
// header, which the client controls, decides nothing (DNS rebinding).
func TestOriginPublicHosts(t *testing.T) {
	e := startEnv(t, envConfig{
		file:    &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{"free": {Symbols: []string{"*"}}}},
		symbols: []string{"BTC-USD"}, noFeed: true,
	})
	local := strings.TrimPrefix(strings.TrimSuffix(e.url, "/ws"), "ws://")
	tests := []struct {
		public       []string
		host, origin string
		want         int
	}{
		// A rebinding page: its origin and the Host header agree.
		{nil, "attacker.example:80", "http://attacker.example", http.StatusForbidden},
		{nil, local, "http://" + local, http.StatusForbidden},
		{[]string{"feed.example.com"}, "attacker.example", "http://attacker.example", http.StatusForbidden},
		{[]string{"feed.example.com"}, "feed.example.com", "https://feed.example.com", http.StatusSwitchingProtocols},
		// Behind a proxy the Host header may be anything.
		{[]string{"feed.example.com"}, local, "https://FEED.example.com.", http.StatusSwitchingProtocols},
		{[]string{"feed.example.com"}, local, "https://feed.example.com:8443", http.StatusSwitchingProtocols},
		{[]string{"feed.example.com:8443"}, local, "https://feed.example.com", http.StatusForbidden},
		{[]string{"feed.example.com:8443"}, local, "https://feed.example.com:8443", http.StatusSwitchingProtocols},
		{[]string{"feed.example.com:443"}, local, "https://feed.example.com", http.StatusSwitchingProtocols},
		{[]string{"[::1]:8080", "other.example"}, local, "http://[::1]:8080", http.StatusSwitchingProtocols},
		{[]string{"feed.example.com"}, local, "null", http.StatusForbidden},
		// Non-browser clients send no Origin.
		{nil, local, "", http.StatusSwitchingProtocols},
		{nil, "attacker.example", "", http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		e.gate.PublicHosts = tt.public
		if got := upgradeStatus(t, e.url, tt.host, tt.origin); got != tt.want {
			t.Errorf("public hosts %v, Host %q, Origin %q: status %d, want %d", tt.public, tt.host, tt.origin, got, tt.want)
		}
	}
}
