package web_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/marketfeed/marketfeed/web"
)

// binaryPage runs MarketFeed with { binary: true } and prints, once its
// book has been built twice (the second connection's snapshot), what it
// saw: the feed's encoding, the book messages, the verified book states
// and the errors.
const binaryPage = `<!doctype html><pre id="out">running</pre><script type="module">
import { MarketFeed, viewChecksum } from "./marketfeed.js";
const seen = { books: [], types: [], errors: [], encodings: [] };
const feed = new MarketFeed("ws://" + location.host + "/ws", { binary: true, retryMin: 10, retryMax: 50 });
feed.on("error", (e) => seen.errors.push(e.code));
feed.on("state", (s) => { if (s.state === "open") seen.encodings.push(feed.encoding); });
feed.subscribe("book.BTC-USD", {}, (msg, book) => {
  seen.types.push(msg.type);
  if (book.synced) seen.books.push([String(book.seq), book.bestBid()[0], viewChecksum(book.bids(), book.asks())]);
  if (seen.books.length === 3) document.getElementById("out").textContent = "DONE " + JSON.stringify(seen);
});
</script>`

// TestBrowserBinaryFrames serves the page's module to headless Chromium
// with a WebSocket endpoint that negotiates marketfeed.v1.bin and plays
// the shared binary vectors: the module offers the subprotocol, its book
// verifies the binary snapshot and update (checksums included), and a
// truncated frame is an invalid_message error and a reconnection, after
// which the book starts over from the new snapshot.
func TestBrowserBinaryFrames(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	bin, ok := chromium()
	if !ok {
		t.Skip("no Chromium found (install Debian's chromium package or set MARKETFEED_CHROMIUM); .ci/run installs it")
	}
	frames := binaryVectors(t)
	var mu sync.Mutex
	var offered []string
	conns := 0
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("/binary.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(binaryPage))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		offered = append(offered, r.Header.Get("Sec-WebSocket-Protocol"))
		conns++
		first := conns == 1
		mu.Unlock()
		u := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == "marketfeed.v1.bin" }}
		conn, _, _, err := u.Upgrade(r, w)
		if err != nil {
			return
		}
		defer conn.Close()
		playBinary(conn, frames, first)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	out := runPage(t, bin, "http://"+ln.Addr().String()+"/binary.html")
	var seen struct {
		Books     [][3]any `json:"books"`
		Types     []string `json:"types"`
		Errors    []string `json:"errors"`
		Encodings []string `json:"encodings"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(out, "DONE ")), &seen); err != nil {
		t.Fatalf("page says %q: %v", out, err)
	}
	want := `[["1042","64123.10",4026326789],["1045","64123.00",2695600627],["1042","64123.10",4026326789]]`
	if got, _ := json.Marshal(seen.Books); string(got) != want {
		t.Errorf("verified books %s, want %s", got, want)
	}
	if strings.Join(seen.Errors, ",") != "invalid_message" || strings.Join(seen.Encodings, ",") != "bin,bin" {
		t.Errorf("errors %v, encodings %v: want one invalid_message and two binary connections", seen.Errors, seen.Encodings)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(offered) != 2 || offered[0] != "marketfeed.v1.bin" || offered[1] != "marketfeed.v1.bin" {
		t.Errorf("subprotocols offered %q, want marketfeed.v1.bin on both connections", offered)
	}
}

// binaryVectors returns the binary frames of the shared vectors by name.
func binaryVectors(t *testing.T) map[string][]byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "protocol", "binary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []struct{ Name, Hex string }
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, c := range v.Cases {
		if out[c.Name], err = hex.DecodeString(c.Hex); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// playBinary answers a MarketFeed as marketfeed would on a binary
// connection: welcome, subscribed, the snapshot and (first connection)
// the update of book.BTC-USD, then a truncated update; it then reads
// until the client leaves.
func playBinary(conn net.Conn, frames map[string][]byte, first bool) {
	welcome := `{"type":"welcome","protocol":1,"server":"marketfeed","ping_interval_ms":20000,"encoding":"bin","ts":1}`
	if wsutil.WriteServerText(conn, []byte(welcome)) != nil {
		return
	}
	cmd, err := wsutil.ReadClientText(conn)
	if err != nil {
		return
	}
	var c struct{ ID int64 }
	json.Unmarshal(cmd, &c)
	sub, _ := json.Marshal(map[string]any{"type": "subscribed", "id": c.ID, "channel": "book.BTC-USD", "depth": 20, "interval": "raw"})
	wsutil.WriteServerText(conn, sub)
	wsutil.WriteServerBinary(conn, frames["snapshot"])
	if first {
		wsutil.WriteServerBinary(conn, frames["update"])
		wsutil.WriteServerBinary(conn, frames["update"][:len(frames["update"])-3])
	}
	for {
		if _, _, err := wsutil.ReadClientData(conn); err != nil {
			return
		}
	}
}

// runPage opens page in headless Chromium and returns the text of its
// #out element once it starts with DONE.
func runPage(t *testing.T, bin, page string) string {
	t.Helper()
	// Removed on a best-effort basis, as in TestBrowserPage: Chromium's
	// helpers may still write to the profile after the browser exits.
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
		chromedp.ExecPath(bin), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(profile),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	var out string
	err = chromedp.Run(ctx, chromedp.Navigate(page),
		chromedp.Poll(`document.getElementById("out").textContent.startsWith("DONE")`, nil),
		chromedp.Text("#out", &out))
	if err != nil {
		t.Fatalf("%s: %v (page says %q)", page, err, out)
	}
	return out
}
