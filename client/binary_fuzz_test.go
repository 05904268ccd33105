package client

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/marketfeed/marketfeed/schemas"
)

// binaryVectors returns the payloads and JSON texts of the shared binary
// vectors (testdata/protocol/binary.json).
func binaryVectors(tb testing.TB) (names []string, bins, texts [][]byte) {
	var v struct {
		Cases []struct {
			Name string `json:"name"`
			Hex  string `json:"hex"`
			JSON string `json:"json"`
		} `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "protocol", "binary.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatal(err)
	}
	for _, c := range v.Cases {
		p, err := hex.DecodeString(c.Hex)
		if err != nil {
			tb.Fatal(err)
		}
		names, bins, texts = append(names, c.Name), append(bins, p), append(texts, []byte(c.JSON))
	}
	return names, bins, texts
}

// TestVectorsBinary: the client decodes every shared binary vector into
// the message its JSON text decodes to.
func TestVectorsBinary(t *testing.T) {
	names, bins, texts := binaryVectors(t)
	if len(names) == 0 {
		t.Fatal("no vectors")
	}
	for i := range names {
		got, err := Decode(bins[i], true)
		if err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		want, err := Decode(texts[i], false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: binary decodes to\n%+v\nJSON to\n%+v", names[i], got, want)
		}
	}
}

// FuzzDecodeBinary feeds the client's binary decoder arbitrary messages,
// starting from the shared vectors: it never panics, a message it accepts
// is one of the market-data types (or, for an unknown template, none),
// every decimal in it is in the protocol's syntax, and a book or candles
// message applies to a local book or candles without panicking.
func FuzzDecodeBinary(f *testing.F) {
	_, bins, _ := binaryVectors(f)
	for _, p := range bins {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := Decode(p, true)
		if err != nil {
			return
		}
		switch m.Type {
		case "", schemas.TypeSnapshot, schemas.TypeUpdate, schemas.TypeStatus, schemas.TypeBBO,
			schemas.TypeTicker, schemas.TypeTickers, schemas.TypeTrades, schemas.TypeCandles:
		default:
			t.Fatalf("decoded type %q", m.Type)
		}
		checkDecimals(t, m)
		if m.Type == schemas.TypeSnapshot || m.Type == schemas.TypeUpdate || m.Type == schemas.TypeStatus {
			_ = NewBook(m.Channel).Apply(m)
		}
		if m.Type == schemas.TypeCandles {
			_ = NewCandles(m.Channel).Apply(m)
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatal(err)
		}
	})
}

// checkDecimals fails unless every price, size and statistic of m is a
// decimal of the protocol's syntax.
func checkDecimals(t *testing.T, m *schemas.ServerMessage) {
	t.Helper()
	var ds []string
	for _, l := range append(append([][2]string(nil), m.Bids...), m.Asks...) {
		ds = append(ds, l[0], l[1])
	}
	for _, tr := range m.Trades {
		ds = append(ds, tr.Price, tr.Size)
	}
	for _, k := range m.Candles {
		ds = append(ds, k.Open, k.High, k.Low, k.Close, k.Volume, k.QuoteVolume)
	}
	for _, d := range []string{m.Bid, m.BidSize, m.Ask, m.AskSize, m.Last, m.LastSize, m.Open, m.High, m.Low,
		m.Volume, m.QuoteVolume, m.VWAP, m.Change, m.ChangePct} {
		if d != "" {
			ds = append(ds, d)
		}
	}
	for _, d := range ds {
		if !decimalSyntax(d) {
			t.Fatalf("decoded %q, not a protocol decimal", d)
		}
	}
	for i := range m.Tickers {
		checkDecimals(t, &m.Tickers[i])
	}
}

// decimalSyntax reports whether s is -?[0-9]+(\.[0-9]+)?.
func decimalSyntax(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i < len(s)-1:
			point = true
		default:
			return false
		}
	}
	return digits > 0
}
