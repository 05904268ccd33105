package web_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// bboChecks subscribes a MarketFeed in the page to a symbol's depth-1 raw
// book and its raw bbo on the live server: every bbo's TopOfBook must be
// the verified book's top at the same seq.
const bboChecks = `(async (sym, key) => {
  const m = await import("/marketfeed.js");
  const fails = [];
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  const feed = new m.MarketFeed(url, {apiKey: key, retryMin: 50, retryMax: 200});
  const tops = new Map(), seen = [];
  feed.subscribe("book." + sym, {depth: 1, interval: "raw"}, (msg, bk) => {
    if (bk.synced) tops.set(String(bk.seq), JSON.stringify([bk.bestBid(), bk.bestAsk()]));
  });
  let top = null;
  top = feed.subscribe("bbo." + sym, {}, (msg, t) => {
    if (msg.type === "bbo") seen.push([String(t.seq), JSON.stringify([t.bid === null ? null : [t.bid, t.bidSize], t.ask === null ? null : [t.ask, t.askSize]]), t.live]);
  });
  if (!(top instanceof m.TopOfBook)) fails.push("subscribe of a bbo channel returns no TopOfBook");
  const matched = () => seen.filter(([seq]) => tops.has(seq)).length;
  for (let i = 0; i < 400 && matched() < 10; i++) await new Promise(r => setTimeout(r, 25));
  if (matched() < 10) fails.push("only " + matched() + " of " + seen.length + " bbo messages at a seq the book showed");
  for (const [seq, got, live] of seen) {
    if (!live) fails.push("bbo at " + seq + " not live");
    if (tops.has(seq) && tops.get(seq) !== got) fails.push("bbo at " + seq + ": " + got + ", the book's top " + tops.get(seq));
  }
  feed.close();
  return fails;
})`

func checkBBOModule(t *testing.T, ctx context.Context, sym, key string) {
	t.Helper()
	var fails []string
	err := chromedp.Run(ctx, chromedp.Evaluate(bboChecks+"("+strconv.Quote(sym)+", "+strconv.Quote(key)+")", &fails,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if err != nil {
		t.Fatalf("marketfeed.js bbo checks: %v", err)
	}
	for _, f := range fails {
		t.Errorf("marketfeed.js bbo: %s", f)
	}
}
