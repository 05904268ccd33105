// Client decode time per message of marketfeed.js: parseMessage (the JSON
// text frames) against decodeBinary (the marketfeed.v1.bin frames), on the
// same messages: the shared binary vectors (testdata/protocol/binary.json)
// and book snapshots of 20 and 1000 levels per side.
//   node web/testdata/decode_bench.mjs
// The two decoders are timed alternately, 7 runs of at least 200 ms each;
// the figures are the medians, and the ratio the median of the 7 ratios
// (the machine is shared: compare within a run).
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
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
const vectors = JSON.parse(readFileSync(join(here, "..", "..", "testdata", "protocol", "binary.json"), "utf8")).cases;
const bytes = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
const show = (v) => JSON.stringify(v, (k, x) => (typeof x === "bigint" ? x.toString() + "n" : x));

// snapshot returns a BTC-USD snapshot of n levels per side in both
// encodings (binary.md 2.1), the JSON text as the server writes it.
function snapshot(n) {
  const bids = [], asks = [];
  for (let i = 0; i < n; i++) {
    bids.push([6412310 - 10 * i, 50000000 + 1234567 * i]);
    asks.push([6412320 + 10 * i, 30000000 + 7654321 * i]);
  }
  const dec = (lv) => lv.map(([p, s]) => [m.formatDecimal(p, 2), m.formatDecimal(s, 8)]);
  const checksum = m.viewChecksum(dec(bids), dec(asks));
  const channel = "book.BTC-USD";
  const text = `{"type":"snapshot","channel":"${channel}","seq":1042,"epoch":0,"ts":1767225600100000,"checksum":${checksum},` +
    `"bids":${JSON.stringify(dec(bids))},"asks":${JSON.stringify(dec(asks))}}`;
  const b = new Uint8Array(8 + 30 + 2 * (6 + 16 * n) + 2 + channel.length);
  const v = new DataView(b.buffer);
  let o = 0;
  for (const x of [30, 1, 1, 1]) { v.setUint16(o, x, true); o += 2; }
  v.setBigUint64(o, 1042n, true); v.setBigUint64(o + 8, 0n, true); v.setBigInt64(o + 16, 1767225600100000n, true);
  v.setUint32(o + 24, checksum, true); b[o + 28] = 2; b[o + 29] = 8; o += 30;
  for (const side of [bids, asks]) {
    v.setUint16(o, 16, true); v.setUint32(o + 2, n, true); o += 6;
    for (const [p, s] of side) { v.setBigInt64(o, BigInt(p), true); v.setBigInt64(o + 8, BigInt(s), true); o += 16; }
  }
  v.setUint16(o, channel.length, true); o += 2;
  for (const c of channel) b[o++] = c.charCodeAt(0);
  return { name: `snapshot ${n} levels`, text, bin: b };
}

const cases = [
  ...["snapshot", "update", "bbo", "ticker", "trades", "tickers"].map((name) => {
    const c = vectors.find((x) => x.name === name);
    return { name, text: c.json, bin: bytes(c.hex) };
  }),
  snapshot(20),
  snapshot(1000),
];

// timePair times f and g alternately, 7 times each for at least 200 ms,
// and returns the median ns per call of each and the median of the 7
// ratios f/g: pairs measured back to back see the same load.
function timePair(f, g) {
  const per = (fn) => {
    let n = 1;
    for (let t0 = performance.now(); performance.now() - t0 < 20; n *= 2) for (let i = 0; i < n; i++) fn();
    let calls = 0, t;
    const t0 = performance.now();
    do {
      for (let i = 0; i < n; i++) fn();
      calls += n;
      t = performance.now() - t0;
    } while (t < 200);
    return (t * 1e6) / calls;
  };
  const fs = [], gs = [], rs = [];
  for (let r = 0; r < 7; r++) {
    const a = per(f), b = per(g);
    fs.push(a), gs.push(b), rs.push(a / b);
  }
  const med = (xs) => xs.sort((x, y) => x - y)[3];
  return [med(fs), med(gs), med(rs)];
}

console.log(`node ${process.version}; ns per message, median of 7 alternate runs`);
console.log("message                 JSON bytes  bin bytes   parseMessage  decodeBinary  ratio");
let sink = 0;
for (const c of cases) {
  if (show(m.decodeBinary(c.bin)) !== show(m.parseMessage(c.text))) throw new Error(`${c.name}: the two encodings differ`);
  const [j, b, ratio] = timePair(() => { sink += m.parseMessage(c.text).type.length; }, () => { sink += m.decodeBinary(c.bin).type.length; });
  console.log(`${c.name.padEnd(22)} ${String(c.text.length).padStart(10)} ${String(c.bin.length).padStart(10)} ` +
    `${j.toFixed(0).padStart(14)} ${b.toFixed(0).padStart(13)} ${ratio.toFixed(2).padStart(6)}`);
}
if (sink === 0) console.log("");
