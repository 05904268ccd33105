package auth_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/schemas"
)

func TestSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := auth.NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		body, ok := strings.CutPrefix(s, auth.KeyPrefix)
		if !ok || len(body) != 32 || strings.Trim(body, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("secret %q: want %s and 32 base32 characters", s, auth.KeyPrefix)
		}
		if seen[s] {
			t.Fatalf("secret %q issued twice", s)
		}
		seen[s] = true
		if h := auth.HashSecret(s); !strings.HasPrefix(h, "sha256:") || len(h) != 7+64 || strings.Contains(h, body) {
			t.Fatalf("hash %q", h)
		}
	}
}

func TestPlanAllow(t *testing.T) {
	p := auth.Plan{Symbols: []string{"BTC-USD", "ETH-*", "*-EUR"}, Channels: []string{"book", "ticker"},
		MaxDepth: 50, MinInterval: "100ms"}
	e, err := p.Compile()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		kind   schemas.ChannelKind
		symbol string
		depth  int
		period time.Duration
		want   string
	}{
		{schemas.ChannelBook, "BTC-USD", 50, 100 * time.Millisecond, ""},
		{schemas.ChannelBook, "ETH-BTC", 10, time.Second, ""},
		{schemas.ChannelTicker, "SOL-EUR", 0, 100 * time.Millisecond, ""},
		{schemas.ChannelTrades, "BTC-USD", 0, time.Second, auth.DenyChannel},
		{schemas.ChannelBBO, "BTC-USD", 0, time.Second, auth.DenyChannel},
		{schemas.ChannelBook, "SOL-USD", 10, time.Second, auth.DenySymbol},
		{schemas.ChannelBook, "BTC-USDT", 10, time.Second, auth.DenySymbol},
		{schemas.ChannelBook, "BTC-USD", 100, time.Second, auth.DenyDepth},
		{schemas.ChannelBook, "BTC-USD", 10, 0, auth.DenyInterval},
	}
	bbo, err := (&auth.Plan{Symbols: []string{"*"}, Channels: []string{"bbo"}, MaxDepth: 1}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := bbo.Allow(schemas.ChannelBBO, "BTC-USD", 0, 0); got != "" {
		t.Errorf("a bbo plan refuses bbo: %q", got)
	}
	if got, _ := bbo.Allow(schemas.ChannelBook, "BTC-USD", 1, 0); got != auth.DenyChannel {
		t.Errorf("a bbo plan allows book: %q", got)
	}
	charts, err := (&auth.Plan{Symbols: []string{"BTC-*"}, Channels: []string{"candles", "ticker"}}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := charts.Allow(schemas.ChannelCandles, "BTC-USD", 0, 0); got != "" {
		t.Errorf("a candles plan refuses candles: %q", got)
	}
	if got, _ := charts.Allow(schemas.ChannelCandles, "ETH-USD", 0, 0); got != auth.DenySymbol {
		t.Errorf("a candles plan allows another symbol: %q", got)
	}
	if got, _ := bbo.Allow(schemas.ChannelCandles, "BTC-USD", 0, 0); got != auth.DenyChannel {
		t.Errorf("a bbo plan allows candles: %q", got)
	}
	all, err := (&auth.Plan{Symbols: []string{"*"}}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	for k := schemas.ChannelBook; k < schemas.NumChannelKinds; k++ {
		if got, _ := all.Allow(k, "BTC-USD", 1, 0); got != "" {
			t.Errorf("a plan without channels refuses %v: %q", k, got)
		}
	}
	for _, c := range cases {
		got, msg := e.Allow(c.kind, c.symbol, c.depth, c.period)
		if got != c.want || (got == "") != (msg == "") {
			t.Errorf("Allow(%v %s depth %d %v) = %q %q, want %q", c.kind, c.symbol, c.depth, c.period, got, msg, c.want)
		}
	}
	for _, bad := range []auth.Plan{{Channels: []string{"quotes"}}, {MinInterval: "5s"}, {Symbols: []string{"[x"}}, {MaxDepth: -1}} {
		if _, err := bad.Compile(); err == nil {
			t.Errorf("plan %+v compiled", bad)
		}
	}
}

func TestParseFileRejectsMistakes(t *testing.T) {
	h := auth.HashSecret("mfk_x")
	for name, text := range map[string]string{
		"unknown field":  `{"plans":{"p":{"symbols":["*"],"max_dept":5}},"keys":[]}`,
		"undefined plan": `{"plans":{},"keys":[{"id":"a","hash":"` + h + `","plan":"p"}]}`,
		"bad hash":       `{"plans":{"p":{"symbols":["*"]}},"keys":[{"id":"a","hash":"md5:00","plan":"p"}]}`,
		"duplicate id":   `{"plans":{"p":{"symbols":["*"]}},"keys":[{"id":"a","hash":"` + h + `","plan":"p"},{"id":"a","hash":"` + auth.HashSecret("mfk_y") + `","plan":"p"}]}`,
		"bad anonymous":  `{"anonymous":"free","plans":{},"keys":[]}`,
		"bad id":         `{"plans":{"p":{"symbols":["*"]}},"keys":[{"id":"a b","hash":"` + h + `","plan":"p"}]}`,
	} {
		if _, err := auth.ParseFile([]byte(text)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestManageKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Plans: map[string]*auth.Plan{"pro": {Symbols: []string{"*"}, MaxConnections: 2}}}); err != nil {
		t.Fatal(err)
	}
	expires := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	secret, err := auth.CreateKey(path, "alice", "pro", expires)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateKey(path, "alice", "pro", time.Time{}); err == nil {
		t.Fatal("duplicate id created")
	}
	if _, err := auth.CreateKey(path, "bob", "gold", time.Time{}); err == nil {
		t.Fatal("key with undefined plan created")
	}
	f, err := auth.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	info := f.Describe(f.Find("alice"))
	if info.Plan != "pro" || !info.Expires.Equal(expires) || info.Entitlements.MaxConnections != 2 || info.Revoked {
		t.Fatalf("describe %+v", info)
	}
	st, err := auth.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Authenticate(secret)
	if err != nil || p.ID != "alice" {
		t.Fatalf("authenticate: %v %v", p, err)
	}
	if err := auth.RevokeKey(path, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := auth.RevokeKey(path, "carol"); !errors.Is(err, auth.ErrNoSuchKey) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if err := st.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(secret); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("revoked key: %v", err)
	}
	if _, err := st.Authenticate(""); !errors.Is(err, auth.ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
	wrong, _ := auth.NewSecret()
	for _, k := range []string{wrong, "mfk_short", secret + "a", strings.ToUpper(secret)} {
		if _, err := st.Authenticate(k); !errors.Is(err, auth.ErrInvalidKey) {
			t.Errorf("key %q: %v", k, err)
		}
	}
}

func TestFailureLimiter(t *testing.T) {
	l := &auth.FailureLimiter{Burst: 3, Every: time.Hour}
	for i := range 3 {
		if l.Blocked("10.0.0.1") {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail("10.0.0.1")
	}
	if !l.Blocked("10.0.0.1") {
		t.Fatal("not blocked after the burst")
	}
	if l.Blocked("10.0.0.2") {
		t.Fatal("another address is blocked")
	}
}

func TestSetAnonymous(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := auth.WriteFile(path, &auth.File{Anonymous: "free", Plans: map[string]*auth.Plan{
		"free": {Symbols: []string{"*"}, MaxDepth: 5}, "wide": {Symbols: []string{"*"}}}}); err != nil {
		t.Fatal(err)
	}
	st, err := auth.Open(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	depth := func() int {
		t.Helper()
		p, err := st.Authenticate("")
		if err != nil {
			return 0
		}
		e, err := st.Entitlements(p)
		if err != nil {
			t.Fatal(err)
		}
		return e.MaxDepth
	}
	if d := depth(); d != 5 {
		t.Fatalf("file's anonymous plan: depth %d", d)
	}
	if err := st.SetAnonymous("wide"); err != nil || depth() != 1000 {
		t.Fatalf("override: %v, depth %d", err, depth())
	}
	if err := st.SetAnonymous("gold"); err == nil || depth() != 1000 {
		t.Fatalf("undefined plan: %v, depth %d", err, depth())
	}
	if err := st.SetAnonymous(auth.NoAnonymous); err != nil || depth() != 0 {
		t.Fatalf("none: %v, depth %d", err, depth())
	}
	if err := st.SetAnonymous(""); err != nil || depth() != 5 {
		t.Fatalf("back to the file: %v, depth %d", err, depth())
	}
}
