package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/schemas"
)

// chartState is what the chart's canvas says it drew.
type chartState struct {
	State      string `json:"state"`
	Resolution string `json:"resolution"`
	Drawn      string `json:"drawn"`
	Last       string `json:"last"`
	Width      int    `json:"width"`
	Painted    bool   `json:"painted"`
}

// readChart reads the canvas' data attributes and checks that it has
// candle colours on it (not only the background).
const readChart = `(() => {
  const c = document.getElementById("chart");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let painted = false;
  for (let i = 0; i < d.length && !painted; i += 4) painted = (d[i] === 0x16 && d[i+1] === 0xc7) || (d[i] === 0xf6 && d[i+1] === 0x46);
  return {state: c.dataset.state || "", resolution: c.dataset.resolution || "", drawn: c.dataset.drawn || "",
    last: c.dataset.last || "", width: c.width, painted};
})()`

// serverLastCandle returns the newest candle of a new Go client
// subscription to sym's candles at res (the first message's last candle).
func serverLastCandle(t *testing.T, addr, sym, res, key string) schemas.CandleMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if key != "" {
		h.Set("X-Api-Key", key)
	}
	conn, err := client.Dial(ctx, "ws://"+addr+"/ws", client.Options{Header: h})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SubscribeWith(1, []string{"candles." + sym}, client.SubscribeOptions{Resolution: res}); err != nil {
		t.Fatal(err)
	}
	cs := client.NewCandles("candles." + sym)
	for !cs.Synced() {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == schemas.TypeError {
			t.Fatalf("candles refused: %+v", msg)
		}
		if msg.Type == schemas.TypeCandles {
			if err := cs.Apply(msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	last, ok := cs.Last()
	if !ok {
		t.Fatalf("the server has no %s candle of %s", res, sym)
	}
	return last
}

// waitChart waits until the page's chart shows res and its last candle is
// want.
func waitChart(t *testing.T, ctx context.Context, who, res string, want schemas.CandleMessage) chartState {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st chartState
		if err := chromedp.Run(ctx, chromedp.Evaluate(readChart, &st)); err != nil {
			t.Fatalf("reading the chart: %v", err)
		}
		var got schemas.CandleMessage
		if st.State == "drawn" && st.Resolution == res && json.Unmarshal([]byte(st.Last), &got) == nil && got == want && st.Painted {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the chart shows %+v, want resolution %s, candles painted and last candle %+v", who, st, res, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserChart opens the page in headless Chromium against a live
// synthetic market, anonymously and then with the demo key (entered in the
// key field; the page is reloaded with it and keeps the resolution): the chart
// draws candlesticks, and once the market pauses its last candle is the
// server's last candle as a Go client receives it, at the default
// resolution and at another one chosen with the selector. A screenshot is
// saved to $MARKETFEED_CHART_SCREENSHOT when it is set.
func TestBrowserChart(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	bin, ok := chromium()
	if !ok {
		t.Skip("no Chromium found (install Debian's chromium package or set MARKETFEED_CHROMIUM); .ci/run installs it")
	}
	m := startMarket(t)
	m.run()
	sym := m.symbols[2]
	ctx := headlessPage(t, bin, "http://"+m.srv.Addr()+"/#"+sym)
	if err := chromedp.Run(ctx, chromedp.Evaluate(`localStorage.removeItem("marketfeed.resolution")`, nil)); err != nil {
		t.Fatal(err)
	}
	waitDrawn := func(who string) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			var st chartState
			if err := chromedp.Run(ctx, chromedp.Evaluate(readChart, &st)); err != nil {
				t.Fatal(err)
			}
			if st.State == "drawn" && st.Painted && st.Width > 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no candles drawn: %+v", who, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitDrawn("anonymous, live")
	m.pause(t)
	waitChart(t, ctx, "anonymous", "1m", serverLastCandle(t, m.srv.Addr(), sym, "1m", ""))
	if err := chromedp.Run(ctx, chromedp.Click(`#resolutions button[data-resolution="5m"]`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	waitChart(t, ctx, "anonymous, 5m", "5m", serverLastCandle(t, m.srv.Addr(), sym, "5m", ""))

	// With the key: the page reconnects and shows the same candles.
	if err := chromedp.Run(ctx,
		chromedp.SendKeys("#api-key", m.key, chromedp.ByID),
		chromedp.Click("#key-form button", chromedp.ByQuery),
	); err != nil {
		t.Fatalf("entering the API key: %v", err)
	}
	var stored string
	if err := chromedp.Run(ctx, chromedp.Reload(), chromedp.Evaluate(`localStorage.getItem("marketfeed.apiKey")`, &stored)); err != nil || stored != m.key {
		t.Fatalf("reloading with the key: %v (key stored %q)", err, stored)
	}
	m.run()
	waitDrawn("with the demo key, live")
	m.pause(t)
	st := waitChart(t, ctx, "with the demo key", "5m", serverLastCandle(t, m.srv.Addr(), sym, "5m", m.key))
	t.Logf("chart: %s candles drawn at %s, last %s", st.Drawn, st.Resolution, st.Last)
	if out := os.Getenv("MARKETFEED_CHART_SCREENSHOT"); out != "" {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// headlessPage starts headless Chromium at page and returns its context,
// ended with the test.
func headlessPage(t *testing.T, bin, page string) context.Context {
	t.Helper()
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
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1440, 860))
	bctx, cancelBrowser := chromedp.NewContext(actx)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1440, 860), chromedp.Navigate(page)); err != nil {
		t.Fatalf("opening %s: %v", page, err)
	}
	return ctx
}
