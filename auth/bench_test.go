package auth_test

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/schemas"
)

// BenchmarkAllow measures the entitlement check of one subscription
// against a plan with exact symbols and glob patterns.
func BenchmarkAllow(b *testing.B) {
	p := auth.Plan{Symbols: []string{"BTC-USD", "ETH-USD", "SOL-*", "*-EUR"}, Channels: []string{"book", "trades"},
		MaxDepth: 100, MinInterval: "100ms"}
	e, err := p.Compile()
	if err != nil {
		b.Fatal(err)
	}
	syms := []string{"BTC-USD", "SOL-USDT", "ADA-EUR", "XRP-USD"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = e.Allow(schemas.ChannelBook, syms[i%len(syms)], 50, time.Second)
	}
}

// BenchmarkAuthenticate measures hashing and looking up a presented key in
// a file of 10,000 keys.
func BenchmarkAuthenticate(b *testing.B) {
	f := &auth.File{Plans: map[string]*auth.Plan{"p": {Symbols: []string{"*"}}}}
	var secret string
	for i := range 10000 {
		s, err := auth.NewSecret()
		if err != nil {
			b.Fatal(err)
		}
		secret = s
		f.Keys = append(f.Keys, &auth.KeyEntry{ID: "k" + strconv.Itoa(i), Hash: auth.HashSecret(s), Plan: "p"})
	}
	path := b.TempDir() + "/keys.json"
	if err := auth.WriteFile(path, f); err != nil {
		b.Fatal(err)
	}
	st, err := auth.Open(path, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Authenticate(secret); err != nil {
			b.Fatal(err)
		}
	}
}
