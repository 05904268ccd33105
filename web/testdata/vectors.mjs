// Runs marketfeed.js against the shared protocol test vectors
// (testdata/protocol), as the Go and Python clients do:
//   node web/testdata/vectors.mjs
// Prints one line per failure and exits 1 when there is any.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// The module and the modules it imports, as ES modules whatever the Node.js
// version: copies next to a package.json of type "module".
const staticDir = join(here, "..", "static");
const dir = mkdtempSync(join(tmpdir(), "marketfeed-js-"));
let m;
try {
  writeFileSync(join(dir, "package.json"), '{"type": "module"}\n');
  for (const f of readdirSync(staticDir)) if (f.endsWith(".js")) copyFileSync(join(staticDir, f), join(dir, f));
  m = await import(pathToFileURL(join(dir, "marketfeed.js")).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const vec = (name) => JSON.parse(readFileSync(join(here, "..", "..", "testdata", "protocol", name + ".json"), "utf8"));

const fails = [];
const check = (ok, what) => { if (!ok) fails.push(what); };
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
let checks = 0;
const counted = (ok, what) => { checks++; check(ok, what); };

const ck = vec("checksum");
for (const c of ck.crc32) counted(m.crc32(c.text) === c.crc32, `crc32(${JSON.stringify(c.text)})`);
for (const v of ck.views) {
  counted(m.viewChecksum(v.bids, v.asks) === v.checksum, `viewChecksum: ${v.name}`);
  const b = new m.LocalBook("book.X");
  counted(b.apply({type: "snapshot", channel: "book.X", seq: 1, checksum: v.checksum, bids: v.bids, asks: v.asks}) === "applied", `snapshot: ${v.name}`);
}

const dec = vec("decimal");
for (const [s, want] of dec.valid) {
  const b = new m.LocalBook("book.X");
  const r = b.apply({type: "snapshot", channel: "book.X", seq: 1, bids: [[s, "1"]], asks: []});
  counted((r === "applied") === want, `valid decimal ${JSON.stringify(s)}: ${r}`);
}
for (const [s, want] of dec.zero) counted(m.isZeroDecimal(s) === want, `isZeroDecimal(${JSON.stringify(s)})`);
for (const [a, b, want] of dec.compare) counted(m.compareDecimal(a, b) === want, `compareDecimal(${a}, ${b})`);

for (const c of vec("books").cases) {
  const b = new m.LocalBook(c.channel);
  c.steps.forEach((s, i) => {
    let r = b.apply(s.message);
    if (r === "gap") r = b.why;
    counted(r === s.result, `${c.name}: step ${i}: ${r}, want ${s.result}`);
  });
  counted(b.state === c.state && String(b.seq) === String(c.seq), `${c.name}: state ${b.state} seq ${b.seq}, want ${c.state} ${c.seq}`);
  if (c.bids) counted(same(b.bids(), c.bids) && same(b.asks(), c.asks), `${c.name}: view ${JSON.stringify([b.bids(), b.asks()])}`);
}

for (const c of vec("messages").cases) {
  const msg = JSON.parse(c.text);
  for (const [k, v] of Object.entries(c.expect)) counted(same(msg[k], v), `${c.name}: ${k}`);
  for (const k of c.absent || []) counted(!(k in msg), `${c.name}: ${k} absent`);
  if (msg.type === "bbo") {
    const top = new m.TopOfBook(msg.channel);
    counted(top.apply(msg) === "applied" && top.live, `${c.name}: TopOfBook applies it`);
    counted(top.seq === BigInt(c.expect.seq) && top.bid === (c.expect.bid ?? null) && top.askSize === (c.expect.ask_size ?? null),
      `${c.name}: TopOfBook ${top.seq} ${top.bid} ${top.askSize}`);
    counted(top.apply({ ...msg, seq: top.seq - 1n }) === "ignored" && top.seq === BigInt(c.expect.seq), `${c.name}: an older bbo is ignored`);
    counted(top.apply({ type: "status", channel: msg.channel, status: "stale", reason: "gap" }) === "status" && !top.live && top.reason === "gap",
      `${c.name}: a status freezes the top`);
  }
  if (msg.type === "candles") {
    const cs = new m.CandleSeries(msg.channel, msg.resolution);
    const want = c.expect.candles;
    if (msg.snapshot) {
      counted(cs.apply(msg) === "snapshot" && cs.synced && cs.windowStart === c.expect.window_start, `${c.name}: CandleSeries takes the snapshot`);
    } else {
      counted(cs.apply(msg) === "ignored" && !cs.synced, `${c.name}: an update before the snapshot is ignored`);
      cs.apply({ type: "candles", channel: msg.channel, resolution: msg.resolution, snapshot: true, candles: [] });
      counted(cs.apply(msg) === "applied", `${c.name}: CandleSeries applies the update`);
    }
    counted(same(cs.candles, want) && same(cs.last(), want[want.length - 1]), `${c.name}: candles ${JSON.stringify(cs.candles)}`);
    counted(cs.apply({ ...msg, resolution: "1h" === msg.resolution ? "1m" : "1h" }) === "ignored", `${c.name}: another resolution is ignored`);
    const changed = { ...want[want.length - 1], close: want[want.length - 1].high, count: want[want.length - 1].count + 1 };
    cs.apply({ type: "candles", channel: msg.channel, resolution: msg.resolution, candles: [changed] });
    counted(cs.candles.length === want.length && same(cs.last(), changed), `${c.name}: a candle replaces the one of its start`);
  }
  if (msg.type === "tickers") {
    counted(Array.isArray(msg.tickers) && msg.tickers.every((t, i) => same(t, c.expect.tickers[i])), `${c.name}: tickers decoded`);
  }
}

for (const f of fails) console.log("FAIL " + f);
console.log(`${checks} checks, ${fails.length} failures`);
process.exit(fails.length || checks === 0 ? 1 : 0);
