package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/segmentio/kafka-go"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/demo"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	mkt "github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/server"
)

// chromium returns the path of a Chromium or Chrome binary:
// $MARKETFEED_CHROMIUM, else the first of the usual names on PATH.
func chromium() (string, bool) {
	if p := os.Getenv("MARKETFEED_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// market is a broker, a server with the demo's API keys and a synthetic
// exchange of the demo's 20 symbols publishing into it until paused.
type market struct {
	srv     *server.Server
	ex      *sim.Exchange
	w       *kafka.Writer
	symbols []string
	key     string // the demo key; clients without a key get the demo's anonymous plan

	stop chan struct{}
	done chan struct{}
	err  error
}

func startMarket(t *testing.T) *market {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	const symbols = 20
	keys, key, err := demo.WriteKeyFile(t.TempDir(), symbols)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Listen:  "127.0.0.1:0",
		Feed:    feed.Config{Brokers: b.Addrs(), Topic: "marketdata", Start: feed.StartEarliest},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:    keys,
		Origins: []string{"*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("server run: %v", err)
		}
	})
	w := producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: "marketdata"})
	t.Cleanup(func() { w.Close() })
	m := &market{srv: srv, ex: sim.New(sim.Config{Symbols: symbols, Seed: 3}), w: w, key: key}
	m.symbols = m.ex.Symbols()
	if err := m.produce(m.ex.Snapshots(time.Now(), nil)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, sym := range m.symbols {
		for {
			if tp := srv.Hub().Streams(sym); tp != nil {
				if st, _ := tp.State(); st == mkt.Live {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not live", sym)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return m
}

func (m *market) produce(msgs []sim.Message) error {
	km := make([]kafka.Message, len(msgs))
	for i, msg := range msgs {
		km[i] = kafka.Message{Key: msg.Key, Value: msg.Value, Time: msg.Time}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return m.w.WriteMessages(ctx, km...)
}

// run publishes about 400 events a second until pause.
func (m *market) run() {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		var batch []sim.Message
		for {
			select {
			case <-m.stop:
				return
			case now := <-tick.C:
				batch = batch[:0]
				for range 10 {
					batch = m.ex.Next(now, batch)
				}
				if err := m.produce(batch); err != nil {
					m.err = err
					return
				}
			}
		}
	}()
}

// pause stops publishing and waits until the server has applied every
// published event; it returns each symbol's final seq.
func (m *market) pause(t *testing.T) map[string]uint64 {
	t.Helper()
	close(m.stop)
	<-m.done
	if m.err != nil {
		t.Fatal(m.err)
	}
	// A last snapshot per symbol carries the exchange's current seq; the
	// server has caught up once every book shows it.
	final := map[string]uint64{}
	snaps := m.ex.Snapshots(time.Now(), nil)
	if err := m.produce(snaps); err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if seq, ok := snapshotSeq(s.Value); ok {
			final[string(s.Key)] = seq
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for sym, want := range final {
		for {
			if _, seq := m.srv.Hub().Streams(sym).State(); seq == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server did not reach seq %d of %s", want, sym)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return final
}

// snapshotSeq extracts the seq of a snapshot record.
func snapshotSeq(v []byte) (uint64, bool) {
	var rec struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
	}
	if err := json.Unmarshal(v, &rec); err != nil || rec.Type != "snapshot" {
		return 0, false
	}
	return rec.Seq, true
}

// pageState is what the page shows, read from the DOM.
type pageState struct {
	Conn      string   `json:"conn"`
	Book      string   `json:"book"`
	Seq       string   `json:"seq"`
	BestBid   string   `json:"bestBid"`
	BestAsk   string   `json:"bestAsk"`
	Ladder    string   `json:"ladder"`
	AskRows   int      `json:"askRows"`
	BidRows   int      `json:"bidRows"`
	Board     []string `json:"board"`
	BoardLast []string `json:"boardLast"`
	Trades    int      `json:"trades"`
	Header    string   `json:"header"`
}

const readPage = `(() => {
  const l = document.getElementById("ladder");
  const rows = [...document.querySelectorAll("#board tbody tr")];
  return {
    conn: document.getElementById("conn").dataset.state,
    book: l.dataset.state || "", seq: l.dataset.seq || "",
    bestBid: l.dataset.bestBid || "", bestAsk: l.dataset.bestAsk || "",
    ladder: l.innerText,
    askRows: l.querySelectorAll(".row.ask").length, bidRows: l.querySelectorAll(".row.bid").length,
    board: rows.map(r => r.dataset.symbol), boardLast: rows.map(r => r.cells[1].textContent),
    trades: document.querySelectorAll("#trades .trade").length,
    header: document.getElementById("hdr-last").textContent,
  };
})()`

// TestBrowserPage opens the page in headless Chromium against a real
// server with the demo's API keys and a live synthetic market of the demo's
// 20 symbols, first as an anonymous visitor, then with the demo key: each
// time the page connects, its ladder, trades tape and ticker board fill in
// and update, and it gets no error; marketfeed.js passes its checks in the
// page; the API key field reconnects with the key in the WebSocket URL; and
// once the market pauses the ladder's best bid and ask are those of the
// server's book at the same seq. A screenshot of the anonymous page is saved
// to a temporary directory, or to $MARKETFEED_SCREENSHOT.
func TestBrowserPage(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	bin, ok := chromium()
	if !ok {
		t.Skip("no Chromium found (install Debian's chromium package or set MARKETFEED_CHROMIUM); .ci/run installs it")
	}
	m := startMarket(t)
	m.run()
	sym := m.symbols[1]

	// Chromium's helper processes may still write to the profile for a
	// moment after the browser exits, so it is removed on a best-effort
	// basis rather than by t.TempDir.
	profile, err := os.MkdirTemp("", "marketfeed-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1440, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	var logMu sync.Mutex
	var console []string  // the browser's log
	var pageErrs []string // errors the page's feed reported (console warnings)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(func(f string, a ...any) {
		logMu.Lock()
		console = append(console, fmt.Sprintf(f, a...))
		logMu.Unlock()
	}))
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	var wsMu sync.Mutex
	var wsURLs []string // WebSocket connections the page opened
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventWebSocketCreated:
			wsMu.Lock()
			wsURLs = append(wsURLs, e.URL)
			wsMu.Unlock()
		case *runtime.EventConsoleAPICalled:
			if e.Type != runtime.APITypeWarning && e.Type != runtime.APITypeError {
				return
			}
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			logMu.Lock()
			pageErrs = append(pageErrs, strings.Join(parts, " "))
			logMu.Unlock()
		}
	})
	errorsSoFar := func() []string {
		logMu.Lock()
		defer logMu.Unlock()
		return append([]string(nil), pageErrs...)
	}

	page := "http://" + m.srv.Addr() + "/#" + sym
	if err := chromedp.Run(ctx, network.Enable(), runtime.Enable(), chromedp.EmulateViewport(1440, 860), chromedp.Navigate(page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	read := func() pageState {
		t.Helper()
		var st pageState
		if err := chromedp.Run(ctx, chromedp.Evaluate(readPage, &st)); err != nil {
			t.Fatalf("reading the page: %v", err)
		}
		return st
	}
	waitPage := func(what string, cond func(pageState) bool) pageState {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			st := read()
			if cond(st) {
				return st
			}
			if time.Now().After(deadline) {
				logMu.Lock()
				defer logMu.Unlock()
				t.Fatalf("timed out waiting for %s; page %+v; page errors %v; browser log %v", what, st, pageErrs, console)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// filled waits until the page shows a live, synced ladder that moves
	// on, trades on the tape and every ticker on the board.
	filled := func(who string) pageState {
		t.Helper()
		first := waitPage(who+": a live, synced ladder", func(s pageState) bool {
			return s.Conn == "open" && s.Book == "synced" && s.BestBid != "" && s.BestAsk != ""
		})
		if len(first.Board) != len(m.symbols) {
			t.Errorf("%s: ticker board lists %v, want the %d symbols %v", who, first.Board, len(m.symbols), m.symbols)
		}
		firstSeq, _ := strconv.ParseUint(first.Seq, 10, 64)
		later := waitPage(who+": the book to move on and trades on the tape", func(s pageState) bool {
			seq, _ := strconv.ParseUint(s.Seq, 10, 64)
			return seq > firstSeq && s.Ladder != first.Ladder && s.Trades > 0
		})
		waitPage(who+": ticker prices on the board", func(s pageState) bool {
			for _, v := range s.BoardLast {
				if v == "" || v == "—" {
					return false
				}
			}
			return s.Header != "—"
		})
		if errs := errorsSoFar(); len(errs) > 0 {
			t.Errorf("%s: the page reported errors: %v", who, errs)
		}
		t.Logf("%s: seq %s → %s, best %s / %s, %d ask and %d bid rows, %d trades on the tape",
			who, first.Seq, later.Seq, later.BestBid, later.BestAsk, later.AskRows, later.BidRows, later.Trades)
		return later
	}

	filled("anonymous")
	var png []byte
	if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "page.png")
	if out := os.Getenv("MARKETFEED_SCREENSHOT"); out != "" {
		path = out
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the anonymous page (%d bytes) saved to %s", len(png), path)

	began := time.Now()
	checkModule(t, ctx, sym, m.key, m.symbols)
	checkBBOModule(t, ctx, sym, m.key)
	t.Logf("marketfeed.js checks passed in %v", time.Since(began).Round(time.Millisecond))

	// The API key field: the page reconnects with the key in the URL, and
	// after a reload it fills in again on that connection alone.
	if err := chromedp.Run(ctx,
		chromedp.SendKeys("#api-key", m.key, chromedp.ByID),
		chromedp.Click("#key-form button", chromedp.ByQuery),
	); err != nil {
		t.Fatalf("entering the API key: %v", err)
	}
	wantURL := "ws://" + m.srv.Addr() + "/ws?api_key=" + url.QueryEscape(m.key)
	waitPage("a connection with the API key", func(s pageState) bool {
		wsMu.Lock()
		defer wsMu.Unlock()
		return s.Conn == "open" && s.Book == "synced" && slices.Contains(wsURLs, wantURL)
	})
	wsMu.Lock()
	wsURLs = nil
	wsMu.Unlock()
	if err := chromedp.Run(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reloading: %v", err)
	}
	filled("with the demo key")
	wsMu.Lock()
	if len(wsURLs) != 1 || wsURLs[0] != wantURL {
		t.Errorf("after the reload the page opened %v, want one connection to %s", wsURLs, wantURL)
	}
	wsMu.Unlock()

	final := m.pause(t)
	// The server's book now: a fresh Go client subscription's snapshot.
	want := serverBook(t, m.srv.Addr(), "book."+sym, m.key)
	if want.Seq() != final[sym] {
		t.Fatalf("server book at seq %d, want %d", want.Seq(), final[sym])
	}
	seqText := strconv.FormatUint(final[sym], 10)
	got := waitPage("the page to reach seq "+seqText, func(s pageState) bool { return s.Seq == seqText })
	bid, _, _ := want.BestBid()
	ask, _, _ := want.BestAsk()
	if got.BestBid != bid || got.BestAsk != ask {
		t.Errorf("page at seq %s shows best bid %s ask %s; server book: bid %s ask %s", got.Seq, got.BestBid, got.BestAsk, bid, ask)
	}
	if got.AskRows == 0 || got.BidRows == 0 {
		t.Errorf("ladder rows: %d asks, %d bids", got.AskRows, got.BidRows)
	}
}

// serverBook subscribes to channel with a Go client and returns the book
// of the first snapshot.
func serverBook(t *testing.T, addr, channel, key string) *client.Book {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, "ws://"+addr+"/ws", client.Options{Header: http.Header{"X-Api-Key": {key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Subscribe(1, []string{channel}, 20, "raw"); err != nil {
		t.Fatal(err)
	}
	b := client.NewBook(channel)
	for !b.Synced() {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Apply(msg); err != nil && !errors.Is(err, client.ErrNotSynced) {
			t.Fatal(err)
		}
	}
	return b
}

// moduleChecks exercises marketfeed.js in the page: exact decimal order,
// LocalBook continuity and checksums, and a MarketFeed of its own against
// the live server that must resync after a gap and reconnect after a drop.
const moduleChecks = `(async (sym, key, symbols) => {
  const m = await import("/marketfeed.js");
  const fails = [];
  const check = (ok, what) => { if (!ok) fails.push(what); };
  for (const [a, b, want] of [["64123.1", "64123.10", 0], ["9.9", "10", -1], ["-1", "0", -1], ["-2", "-1", -1], ["0.001", "0.0009", 1], ["-0.0", "0", 0]]) {
    check(m.compareDecimal(a, b) === want, "compareDecimal(" + a + ", " + b + ")");
  }
  const ch = "book.T";
  const b = new m.LocalBook(ch);
  check(b.apply({type: "update", channel: ch, first_seq: 1, seq: 1}) === "ignored", "update before snapshot");
  check(b.apply({type: "snapshot", channel: ch, seq: 5, bids: [["100.10", "1"], ["100.5", "2"]], asks: [["101", "3"]]}) === "applied", "snapshot");
  check(JSON.stringify(b.bids()) === '[["100.5","2"],["100.10","1"]]', "bid order " + JSON.stringify(b.bids()));
  check(b.apply({type: "update", channel: ch, first_seq: 6, seq: 7, bids: [["100.50", "0.000"]], asks: [["100.9", "1"]]}) === "applied", "update");
  check(JSON.stringify(b.bids()) === '[["100.10","1"]]' && b.bestAsk()[0] === "100.9" && b.seq === 7n, "after update");
  check(b.apply({type: "update", channel: ch, first_seq: 9, seq: 9}) === "gap" && b.state === "gap", "gap");
  check(b.apply({type: "update", channel: ch, first_seq: 8, seq: 8}) === "ignored", "update after gap");
  check(b.apply({type: "snapshot", channel: ch, seq: 20, bids: [], asks: []}) === "applied" && b.synced, "snapshot after gap");
  check(b.apply({type: "update", channel: ch, first_seq: 21, seq: 21, bids: [["1e5", "1"]]}) === "gap", "invalid level");
  check(b.apply({type: "status", channel: ch, status: "stale"}) === "applied" && b.state === "stale", "stale");
  // Epochs: a restarted publisher's snapshot at a lower seq resets the book;
  // an update of another epoch is a gap. Stale statuses carry a reason.
  check(b.apply({type: "snapshot", channel: ch, seq: 500, epoch: 7, bids: [["1", "1"]], asks: []}) === "applied" && b.epoch === 7 && b.reason === "", "epoch snapshot");
  check(b.apply({type: "snapshot", channel: ch, seq: 3, epoch: 8, bids: [["2", "1"]], asks: []}) === "applied" && b.seq === 3n && b.epoch === 8 && b.bestBid()[0] === "2", "new epoch snapshot at a lower seq");
  check(b.apply({type: "update", channel: ch, first_seq: 4, seq: 4, epoch: 7, bids: [["2", "3"]]}) === "gap" && b.why === "epoch", "update of another epoch");
  check(b.apply({type: "status", channel: ch, status: "stale", reason: "feed_down"}) === "applied" && b.state === "stale" && b.reason === "feed_down", "stale feed_down");
  check(b.apply({type: "status", channel: ch, status: "unheard_of"}) === "applied" && b.state === "stale", "unknown status is stale");
  // The worked example of websocket.md 5.7.1 and a mismatch.
  check(m.crc32("") === 0 && m.crc32("123456789") === 0xcbf43926, "crc32 check value");
  const x = new m.LocalBook("book.BTC-USD");
  check(x.apply({type: "snapshot", channel: "book.BTC-USD", seq: 1042, checksum: 4026326789, bids: [["64123.10", "0.50000000"], ["64123.00", "1.25000000"]], asks: [["64123.20", "0.30000000"]]}) === "applied", "spec snapshot checksum");
  check(x.apply({type: "update", channel: "book.BTC-USD", first_seq: 1043, seq: 1045, checksum: 2695600627, bids: [["64123.10", "0.00000000"], ["64122.90", "3.00000000"]], asks: []}) === "applied", "spec update checksum");
  check(x.apply({type: "update", channel: "book.BTC-USD", first_seq: 1046, seq: 1046, checksum: 2695600627, bids: [["64122.90", "2.00000000"]], asks: []}) === "gap" && x.why === "checksum", "checksum mismatch");

  // Sequence numbers up to 2^64-1 are read exactly (websocket.md section 1).
  const big = m.parseMessage('{"type":"snapshot","channel":"book.T","seq":18446744073709551614,"ts":1,"bids":[],"asks":[],"note":"\\"seq\\":5"}');
  check(big.seq === 18446744073709551614n && big.note === '"seq":5', "parseMessage of a large seq: " + String(big.seq) + " " + big.note);
  const bb = new m.LocalBook("book.T");
  check(bb.apply(big) === "applied", "snapshot at seq 2^64-2");
  check(bb.apply(m.parseMessage('{"type":"update","channel":"book.T","first_seq":18446744073709551616,"seq":18446744073709551616,"bids":[["1","1"]],"asks":[]}')) === "gap", "update skipping 2^64-1");
  check(bb.apply(m.parseMessage('{"type":"snapshot","channel":"book.T","seq":18446744073709551614,"ts":1,"bids":[],"asks":[]}')) === "applied", "snapshot again");
  check(bb.apply(m.parseMessage('{"type":"update","channel":"book.T","first_seq":18446744073709551615,"seq":18446744073709551615,"bids":[["1","1"]],"asks":[]}')) === "applied" && bb.seq === 18446744073709551615n, "update at seq 2^64-1");
  check(m.parseMessage('{"type":"update","first_seq":9007199254740993,"seq":9007199254740993}').seq === 9007199254740993n, "2^53+1 exact");

  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  const until = async (what, cond, tries = 200) => {
    for (let i = 0; i < tries; i++) { if (cond()) return true; await new Promise(r => setTimeout(r, 25)); }
    fails.push("timed out: " + what); return false;
  };
  // An anonymous feed subscribing one channel at a time, every ticker and
  // a few trades channels: paced at its default rate, never rate limited;
  // unpaced, the server drops some subscribes (rate_limited) and the feed
  // sends them again until every one is acknowledged.
  const channels = [...symbols.map(s => "ticker." + s), ...symbols.slice(0, 4).map(s => "trades." + s)];
  for (const rate of [undefined, 1000]) {
    const f = new m.MarketFeed(url, {rate, retryMin: 50, retryMax: 2000});
    const acked = new Set(), errs = [], data = new Set();
    f.on("subscribed", (e) => acked.add(e.channel));
    f.on("error", (e) => errs.push(e.code));
    if (await until("anonymous feed open", () => f.state === "open")) {
      for (const ch of channels) {
        f.subscribe(ch, {interval: "100ms"}, (msg) => data.add(msg.channel));
        await new Promise(r => setTimeout(r, 0));
      }
      await until("every subscription acknowledged at rate " + rate + " (errors " + errs.join(",") + ")", () => acked.size === channels.length, 600);
      await until("data on every channel at rate " + rate, () => channels.filter(c => c.startsWith("ticker.")).every(c => data.has(c)), 200);
      const refused = errs.filter(c => c !== "rate_limited");
      check(refused.length === 0, "anonymous feed at rate " + rate + " refused: " + refused.join(","));
      if (rate === undefined) check(errs.length === 0, "paced feed rate limited: " + errs.join(","));
      else check(errs.includes("rate_limited"), "an unpaced feed of " + channels.length + " subscribes should meet the plan's rate limit");
    }
    f.close();
  }

  const feed = new m.MarketFeed(url, {apiKey: key, retryMin: 50, retryMax: 200});
  const events = [];
  feed.on("resync", (e) => events.push("resync:" + e.why));
  // A dropped connection keeps a synced book for a resume: the feed
  // subscribes again from its position and the server resumes it, with
  // no snapshot.
  let kept = false;
  const resumed = [];
  feed.on("state", (e) => {
    events.push(e.state);
    if (e.state === "closed" && book) kept = book.state === "resuming" && !book.synced && book.bids().length > 0;
  });
  feed.on("subscribed", (e) => { if (e.channel === "book." + sym) resumed.push(e.resumed); });
  let book = null, snapshots = 0;
  feed.subscribe("book." + sym, {depth: 10, interval: "raw"}, (msg, bk) => { book = bk; if (msg.type === "snapshot") snapshots++; });
  if (await until("first snapshot", () => book && book.synced)) {
    const ahead = String(book.seq + 5n);
    feed._onMessage('{"type":"update","channel":"book.' + sym + '","first_seq":' + ahead + ',"seq":' + ahead + ',"bids":[]}');
    check(!book.synced, "book not synced after an injected gap");
    await until("a fresh snapshot after the gap", () => snapshots >= 2 && book.synced);
    check(events.includes("resync:sequence"), "resync event " + events.join(","));
    check(!events.some(e => e === "resync:checksum" || e === "resync:level"), "the live stream's checksums all verify: " + events.join(","));
    const dropAt = book.seq;
    feed._ws.close();
    await until("reconnection, resumed", () => events.filter(e => e === "open").length >= 2 && resumed.length >= 2 && book.synced && book.seq > dropAt);
    check(kept, "book kept, not synced, while the connection was down");
    check(resumed.join() === "false,true" && snapshots === 2, "resumed with no snapshot: " + resumed.join() + ", " + snapshots + " snapshots");
    // A notice: the feed leaves the connection and reconnects at once.
    const opens = events.filter(e => e === "open").length;
    let notices = 0;
    feed.on("notice", (e) => { if (e.code === "lifetime" && e.closeInMs === 30000) notices++; });
    feed._onMessage(JSON.stringify({type: "notice", code: "lifetime", message: "connection lifetime reached", close_in_ms: 30000}));
    check(notices === 1, "notice event");
    const noticeAt = book.seq;
    await until("reconnection after a notice, resumed", () => events.filter(e => e === "open").length > opens && resumed.length >= 3 && book.synced && book.seq > noticeAt);
    check(resumed[2] === true && snapshots === 2, "resumed after a notice with no snapshot: " + resumed.join() + ", " + snapshots + " snapshots");
    // Unsubscribing and subscribing again at once, with other options:
    // the new subscription starts with its own snapshot.
    let again = null;
    feed.unsubscribe("book." + sym);
    feed.subscribe("book." + sym, {depth: 5, interval: "raw"}, (msg, bk) => { if (msg.type === "snapshot") again = bk; });
    if (await until("a snapshot of the new subscription", () => again && again.synced)) {
      check(again.bids().length <= 5 && again.asks().length <= 5 && again.bids().length > 0, "depth 5 view " + again.bids().length + "/" + again.asks().length);
    }
  }
  feed.close();
  return fails;
})`

func checkModule(t *testing.T, ctx context.Context, sym, key string, symbols []string) {
	t.Helper()
	var fails []string
	list, _ := json.Marshal(symbols)
	err := chromedp.Run(ctx, chromedp.Evaluate(moduleChecks+"("+strconv.Quote(sym)+", "+strconv.Quote(key)+", "+string(list)+")", &fails,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if err != nil {
		t.Fatalf("marketfeed.js checks: %v", err)
	}
	for _, f := range fails {
		t.Errorf("marketfeed.js: %s", f)
	}
}
