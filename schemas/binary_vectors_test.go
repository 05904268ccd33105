package schemas

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/shopspring/decimal"
)

// The shared binary vectors (testdata/protocol/binary.json): each case is
// one market-data message as both encodings send it, built here from the
// same server state by the JSON encoder and its binary twin.

var updateVectors = flag.Bool("update", false, "rewrite testdata/protocol/binary.json from the encoders")

const binaryVectorsPath = "../testdata/protocol/binary.json"

// binaryCase is one message: name, its JSON text and its binary bytes.
type binaryCase struct {
	name      string
	json, bin []byte
}

type binaryVector struct {
	Name string `json:"name"`
	Hex  string `json:"hex"`
	JSON string `json:"json"`
}

type binaryVectors struct {
	Description string         `json:"description"`
	Cases       []binaryVector `json:"cases"`
}

const binaryVectorsDescription = "Binary market-data messages of the subprotocol marketfeed.v1.bin (schemas/binary.md, " +
	"schemas/marketfeed.sbe.xml): hex is the binary frame's payload, json the text the JSON protocol sends for the same " +
	"message. A decoder must yield exactly the json message's fields from hex (prices and sizes as the decimal strings " +
	"written at the message's scales). A book update follows the snapshot before it: its checksum is that of the view " +
	"after it, computed from the decimal strings."

func lv(price, size int64) orderbook.Level { return orderbook.Level{Price: price, Size: size} }

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// bookOf returns a book holding the given best bid and ask (ok false: none).
func bookOf(bid, ask orderbook.Level, bidOK, askOK bool) *orderbook.Book {
	b := orderbook.New()
	if bidOK {
		b.Set(orderbook.Bid, bid.Price, bid.Size)
	}
	if askOK {
		b.Set(orderbook.Ask, ask.Price, ask.Size)
	}
	return b
}

func bookCases() []binaryCase {
	var cs []binaryCase
	book := func(name, ch string, first, seq, epoch uint64, ts int64, bids, asks []orderbook.Level, sc Scales, view [2][][2]string) {
		ck := BookChecksum(view[0], view[1])
		if first == 0 {
			cs = append(cs, binaryCase{name, AppendSnapshot(nil, ch, seq, epoch, ts, ck, bids, asks, sc), AppendBinarySnapshot(nil, ch, seq, epoch, ts, ck, bids, asks, sc)})
			return
		}
		cs = append(cs, binaryCase{name, AppendUpdate(nil, ch, first, seq, epoch, ts, ck, bids, asks, sc), AppendBinaryUpdate(nil, ch, first, seq, epoch, ts, ck, bids, asks, sc)})
	}
	book("snapshot", "book.BTC-USD", 0, 1042, 0, 1767225600100000,
		[]orderbook.Level{lv(6412310, 50000000), lv(6412300, 125000000)}, []orderbook.Level{lv(6412320, 30000000)}, btc,
		[2][][2]string{{{"64123.10", "0.50000000"}, {"64123.00", "1.25000000"}}, {{"64123.20", "0.30000000"}}})
	book("update", "book.BTC-USD", 1043, 1045, 0, 1767225600300000,
		[]orderbook.Level{lv(6412310, 0), lv(6412290, 300000000)}, nil, btc,
		[2][][2]string{{{"64123.00", "1.25000000"}, {"64122.90", "3.00000000"}}, {{"64123.20", "0.30000000"}}})
	book("snapshot empty", "book.E", 0, 0, 7, 0, nil, nil, Scales{},
		[2][][2]string{nil, nil})
	// Sequence numbers above 2^53, the largest epoch, scale 0 prices and
	// scale 18 sizes, a negative price.
	book("snapshot large", "book.X/Y_Z.1", 0, 18446744073709551614, 9007199254740991, 1767225600000001,
		[]orderbook.Level{lv(9223372036854775807, 1)}, []orderbook.Level{lv(-5, 9223372036854775807)}, Scales{Price: 0, Size: 18},
		[2][][2]string{{{"9223372036854775807", "0.000000000000000001"}}, {{"-5", "9.223372036854775807"}}})
	book("update large", "book.X/Y_Z.1", 18446744073709551615, 18446744073709551615, 9007199254740991, 1767225600000002,
		[]orderbook.Level{lv(9223372036854775807, 0)}, []orderbook.Level{lv(-4, 2000000000000000000)}, Scales{Price: 0, Size: 18},
		[2][][2]string{nil, {{"-5", "9.223372036854775807"}, {"-4", "2.000000000000000000"}}})
	return cs
}

func statusCases() []binaryCase {
	status := func(name, ch, st, reason string) binaryCase {
		m := ServerMessage{Type: TypeStatus, Channel: ch, Status: st, Reason: reason}
		text, err := json.Marshal(&m)
		if err != nil {
			panic(err)
		}
		return binaryCase{name, text, AppendBinaryStatus(nil, ch, st, reason)}
	}
	return []binaryCase{
		status("status stale gap", "book.BTC-USD", StatusStale, ReasonGap),
		status("status stale feed_down", "book.BTC-USD", StatusStale, ReasonFeedDown),
		status("status stale silent", "book.ETH-USD", StatusStale, ReasonSilent),
		status("status stale crossed", "book.ETH-USD", StatusStale, ReasonCrossed),
		status("status waiting", "book.ETH-USD", StatusWaiting, ""),
		status("status bbo", "bbo.BTC-USD", StatusStale, ReasonFeedDown),
	}
}

func bboCases() []binaryCase {
	bbo := func(name, ch string, seq, epoch uint64, ts int64, bid, ask orderbook.Level, bidOK, askOK bool, sc Scales) binaryCase {
		return binaryCase{name, AppendBBO(nil, ch, seq, epoch, ts, bid, ask, bidOK, askOK, sc), AppendBinaryBBO(nil, ch, seq, epoch, ts, bid, ask, bidOK, askOK, sc)}
	}
	return []binaryCase{
		bbo("bbo", "bbo.BTC-USD", 1045, 0, 1767225600300000, lv(6412310, 50000000), lv(6412320, 30000000), true, true, btc),
		bbo("bbo no ask", "bbo.ETH-USD", 88, 2, 1767225600400000, lv(321050, 10000), orderbook.Level{}, true, false, Scales{Price: 2, Size: 4}),
		bbo("bbo no bid", "bbo.ETH-USD", 89, 2, 1767225600400001, orderbook.Level{}, lv(321060, 25000), false, true, Scales{Price: 2, Size: 4}),
		bbo("bbo empty", "bbo.E", 18446744073709551615, 0, 0, orderbook.Level{}, orderbook.Level{}, false, false, Scales{}),
	}
}

// tickerStats are the statistics of the spec's first ticker example.
func tickerStats() orderbook.Stats {
	return orderbook.Stats{
		HasLast: true, Last: 6412310, LastSize: 1500000, Count: 53211,
		Open: 6300000, High: 6450000, Low: 6290000,
		Volume: dec("1234.5"), QuoteVolume: dec("79123456.123456789"), VWAP: dec("64093.12"),
		Change: dec("1123.1"), ChangePct: dec("1.78"), HasChangePct: true,
		HasWindow: true, WindowStart: 1767139260000000,
	}
}

func tickerCases() ([]binaryCase, [2][]byte, [2][]byte) {
	full := tickerStats()
	btcBook := bookOf(lv(6412310, 50000000), lv(6412320, 30000000), true, true)
	ethBook := bookOf(lv(321050, 10000), lv(321060, 25000), true, true)
	eth := Scales{Price: 2, Size: 4}
	minimal := orderbook.Stats{HasWindow: true, WindowStart: 1767225480000000}
	// A quote volume beyond int64 at its scale, a loss, no change_pct
	// (open 0), no window start yet.
	big := orderbook.Stats{
		HasLast: true, Last: 1, LastSize: 3, Count: 7, Open: 0, High: 9223372036854775807, Low: -2,
		Volume: dec("92233720368547758.07"), QuoteVolume: dec("-12345678901234567890.1234567890"),
		VWAP: dec("-0.01"), Change: dec("-9223372036854775807.99"),
	}
	negPct := tickerStats()
	negPct.Change, negPct.ChangePct = dec("-123.45"), dec("-0.20")
	ticker := func(name, ch string, ts int64, book *orderbook.Book, st orderbook.Stats, sc Scales, status, reason string) binaryCase {
		return binaryCase{name, AppendTicker(nil, ch, ts, book, &st, sc, status, reason), AppendBinaryTicker(nil, ch, ts, book, &st, sc, status, reason)}
	}
	cs := []binaryCase{
		ticker("ticker", "ticker.BTC-USD", 1767225600300000, btcBook, full, btc, "", ""),
		ticker("ticker stale", "ticker.BTC-USD", 1767225600300000, nil, full, btc, StatusStale, ReasonFeedDown),
		ticker("ticker waiting", "ticker.BTC-USD", 1767225600300000, nil, orderbook.Stats{HasLast: true, Last: 6412310, LastSize: 1500000, Count: 1,
			Open: 6412310, High: 6412310, Low: 6412310, Volume: dec("0.015"), QuoteVolume: dec("961.8465"), VWAP: dec("64123.1"),
			Change: decimal.Zero, ChangePct: decimal.Zero, HasChangePct: true, HasWindow: true, WindowStart: 1767225600000000}, btc, StatusWaiting, ""),
		ticker("ticker before any trade", "ticker.ETH-USD", 1767225600300000, ethBook, minimal, eth, "", ""),
		ticker("ticker large values", "ticker.Z", 1767225600500000, bookOf(orderbook.Level{}, lv(2, 1), false, true), big, Scales{Price: 2, Size: 2}, "", ""),
		ticker("ticker loss", "ticker.BTC-USD", 1767225600600000, bookOf(lv(6412310, 50000000), orderbook.Level{}, true, false), negPct, btc, "", ""),
	}
	// The entries of the tickers case: BTC as the first case, ETH as the
	// fourth.
	return cs, [2][]byte{cs[0].json, cs[3].json}, [2][]byte{cs[0].bin, cs[3].bin}
}

func tradesCases() []binaryCase {
	trades := func(name, ch string, tr []Trade, sc Scales) binaryCase {
		return binaryCase{name, AppendTrades(nil, ch, tr, sc), AppendBinaryTrades(nil, ch, tr, sc)}
	}
	return []binaryCase{
		trades("trades", "trades.BTC-USD", []Trade{{ID: "987654", TS: 1767225600250000, Price: 6412310, Size: 1500000, Side: SideBuy}}, btc),
		trades("trades several", "trades.BTC-USD", []Trade{
			{ID: "987654", TS: 1767225600250000, Price: 6412310, Size: 1500000, Side: SideBuy},
			{ID: "987655", TS: 1767225600250001, Price: 6412300, Size: 100000000, Side: SideSell},
			{ID: "q\"\n\\é", TS: 1767225600250002, Price: -5, Size: 1, Side: SideSell},
		}, btc),
	}
}

func candlesCases() []binaryCase {
	candles := func(name string, h CandlesHeader, closed []candle.Candle, cur *candle.Candle, sc Scales) binaryCase {
		return binaryCase{name, AppendCandles(nil, &h, closed, cur, sc), AppendBinaryCandles(nil, &h, closed, cur, sc)}
	}
	// The spec's examples: a snapshot of a closed candle and the one in
	// progress, then an update of the one in progress.
	closed := candle.Candle{Start: 1767225540000000, Open: 6412000, High: 6412550, Low: 6411990, Close: 6412310,
		Volume: candle.Int128Of(125000000), QuoteVolume: candle.Int128Of(801523750000000), Count: 7}
	first := candle.Candle{Start: 1767225600000000, Open: 6412310, High: 6412310, Low: 6412310, Close: 6412310,
		Volume: candle.Int128Of(1500000), QuoteVolume: candle.Int128Of(9618465000000), Count: 1}
	second := candle.Candle{Start: 1767225600000000, Open: 6412310, High: 6413000, Low: 6412310, Close: 6413000,
		Volume: candle.Int128Of(2500000), QuoteVolume: candle.Int128Of(16031465000000), Count: 2}
	window := CandlesHeader{Channel: "candles.BTC-USD", Resolution: Res1m, WindowStart: 1767225480000000, HasWindow: true}
	snap := window
	snap.Snapshot = true
	// Sums beyond int64 (a quote volume past 2^64 at scale 10, a volume
	// past 2^63), no window start yet, daily candles, negative prices.
	q := candle.Mul(999999999, 5_000_000_000_000_000)
	huge := candle.Candle{Start: 1767139200000000, Open: -5, High: 9223372036854775807, Low: -9223372036854775807, Close: 0,
		Volume: candle.Int128Of(9223372036854775807).Add(candle.Int128Of(2)), QuoteVolume: q.Add(q), Count: 9223372036854775807}
	return []binaryCase{
		candles("candles snapshot", snap, []candle.Candle{closed}, &first, btc),
		candles("candles update", window, nil, &second, btc),
		candles("candles large", CandlesHeader{Channel: "candles.X/Y_Z.1", Resolution: Res1d}, []candle.Candle{huge}, nil, Scales{Price: 2, Size: 8}),
		candles("candles snapshot empty", CandlesHeader{Channel: "candles.E", Resolution: Res15m, Snapshot: true}, nil, nil, Scales{}),
	}
}

// binaryCases returns every shared case, in the file's order.
func binaryCases() []binaryCase {
	cs := bookCases()
	cs = append(cs, statusCases()...)
	cs = append(cs, bboCases()...)
	tk, tj, tb := tickerCases()
	cs = append(cs, tk...)
	cs = append(cs,
		binaryCase{"tickers", AppendTickers(nil, 1767225601000000, tj[:]), AppendBinaryTickers(nil, 1767225601000000, tb[:])},
		binaryCase{"tickers empty", AppendTickers(nil, 1767225601000000, nil), AppendBinaryTickers(nil, 1767225601000000, nil)})
	cs = append(cs, tradesCases()...)
	return append(cs, candlesCases()...)
}

func TestBinaryVectors(t *testing.T) {
	cs := binaryCases()
	if *updateVectors {
		v := binaryVectors{Description: binaryVectorsDescription}
		for _, c := range cs {
			v.Cases = append(v.Cases, binaryVector{Name: c.name, Hex: hex.EncodeToString(c.bin), JSON: string(c.json)})
		}
		out, err := json.MarshalIndent(&v, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(binaryVectorsPath, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.FromSlash(binaryVectorsPath))
	if err != nil {
		t.Fatal(err)
	}
	var v binaryVectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) != len(cs) {
		t.Fatalf("%d vectors, want %d", len(v.Cases), len(cs))
	}
	for i, c := range cs {
		f := v.Cases[i]
		if f.Name != c.name || f.JSON != string(c.json) || f.Hex != hex.EncodeToString(c.bin) {
			t.Errorf("vector %d (%s): the encoders give\n json %s\n hex  %x\nthe file has %s\n json %s\n hex  %s", i, c.name, c.json, c.bin, f.Name, f.JSON, f.Hex)
			continue
		}
		if err := validate(t, ServerMessageSchema, c.json); err != nil {
			t.Errorf("%s: %s fails the schema: %v", c.name, c.json, err)
		}
		checkBinaryEquivalent(t, c.name, c.bin, c.json)
	}
}

// checkBinaryEquivalent checks that DecodeBinary of bin gives what
// decoding the JSON text gives.
func checkBinaryEquivalent(t *testing.T, name string, bin, text []byte) {
	t.Helper()
	var want, got ServerMessage
	d := json.NewDecoder(bytes.NewReader(text))
	d.DisallowUnknownFields()
	if err := d.Decode(&want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := DecodeBinary(bin, &got); err != nil {
		t.Errorf("%s: DecodeBinary: %v", name, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: DecodeBinary gives\n%+v\nthe JSON decodes to\n%+v", name, got, want)
	}
}

// TestBinaryWorkedExample checks binary.md's worked example: its bytes
// are the trades vector's.
func TestBinaryWorkedExample(t *testing.T) {
	doc, err := os.ReadFile("binary.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := bytes.Cut(doc, []byte("## 3. Worked example"))
	_, block, _ := bytes.Cut(rest, []byte("```text\n"))
	block, _, _ = bytes.Cut(block, []byte("```"))
	var got []byte
	for _, line := range bytes.Split(bytes.TrimSpace(block), []byte("\n")) {
		hexPart, _, _ := bytes.Cut(line, []byte("  "))
		b, err := hex.DecodeString(string(bytes.ReplaceAll(hexPart, []byte(" "), nil)))
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, b...)
	}
	for _, c := range binaryCases() {
		if c.name == "trades" {
			if !bytes.Equal(got, c.bin) {
				t.Errorf("binary.md's example is %x, the trades vector %x", got, c.bin)
			}
			if !bytes.Contains(doc, c.json) {
				t.Errorf("binary.md's example does not give the JSON message %s", c.json)
			}
			return
		}
	}
	t.Fatal("no trades vector")
}
