// Runs a MarketFeed of marketfeed.js under Node.js against a live server,
// for web/resume_test.go:
//   node --experimental-websocket web/testdata/resume.mjs URL KEY SUBS [OPTIONS]
// SUBS is a JSON array of [channel, options]; OPTIONS, a JSON object of
// further MarketFeed options. Prints one JSON line per
// event: "sent" (each command the feed sends, as sent), "state",
// "subscribed", "resync", "error", "book" (after each book message: its
// type, first_seq, seq, the book's state and levels), "bbo", "trades"
// (the ids). Runs until its standard input closes.
import { load } from "./load.mjs";

const out = (o) => process.stdout.write(JSON.stringify(o, (k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n");
if (typeof WebSocket !== "function") {
  out({ ev: "no_websocket", node: process.version });
  process.exit(3);
}
// Every command the feed sends, seen as it leaves.
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  out({ ev: "sent", cmd: JSON.parse(data), text: data });
  return send.call(this, data);
};

const { m } = await load();

const [url, key, subs, options] = process.argv.slice(2);
const feed = new m.MarketFeed(url, { apiKey: key, retryMin: 50, retryMax: 300, ...JSON.parse(options || "{}") });
feed.on("state", (e) => out({ ev: "state", state: e.state, detail: e.detail }));
feed.on("subscribed", (e) => out({ ev: "subscribed", ...e }));
feed.on("resync", (e) => out({ ev: "resync", ...e }));
feed.on("error", (e) => out({ ev: "error", ...e }));
for (const [channel, opts] of JSON.parse(subs)) {
  feed.subscribe(channel, opts, (msg, st) => {
    if (st instanceof m.LocalBook) {
      out({ ev: "book", channel, type: msg.type, first_seq: msg.first_seq, seq: msg.seq, state: st.state, bookSeq: st.seq, epoch: st.epoch, bids: st.bids(), asks: st.asks() });
    } else if (msg.type === "bbo") {
      out({ ev: "bbo", channel, seq: msg.seq });
    } else if (msg.type === "trades") {
      out({ ev: "trades", channel, trades: msg.trades.map((t) => ({ id: t.id, ts: t.ts })) });
    }
  });
}
process.stdin.resume();
process.stdin.on("end", () => {
  feed.close();
  process.exit(0);
});
