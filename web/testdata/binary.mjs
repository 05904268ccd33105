// Runs binary.js against the shared binary vectors
// (testdata/protocol/binary.json), as the Go and Python clients do:
//   node web/testdata/binary.mjs
// Each vector's bytes must decode to exactly what parseMessage gives for
// its JSON text, books must verify through LocalBook, and truncated,
// garbled or malformed messages must throw BinaryDecodeError
// (or be skipped as an unknown template), never anything else.
// Prints one line per failure and exits 1 when there is any.
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

const fails = [];
let checks = 0;
const check = (ok, what) => {
  checks++;
  if (!ok) fails.push(what);
};
const show = (v) => JSON.stringify(v, (k, x) => (typeof x === "bigint" ? x.toString() + "n" : x));
const bytes = (hex) => Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));

// outcome decodes b and says how it ended: "null", "error" (a
// BinaryDecodeError) or "message", with the message; anything else thrown
// is a failure.
function outcome(b, what) {
  try {
    const msg = m.decodeBinary(b);
    return msg === null ? ["null"] : ["message", msg];
  } catch (e) {
    if (e instanceof m.BinaryDecodeError) return ["error", e];
    fails.push(`${what}: threw ${e && e.name}: ${e && e.message}`);
    return ["other"];
  }
}

// Every vector decodes to its JSON twin, key order included; books and
// tops apply.
let book = null;
let candleVectors = 0;
for (const c of vectors) {
  const b = bytes(c.hex);
  const want = m.parseMessage(c.json);
  const [how, got] = outcome(b, c.name);
  check(how === "message" && show(got) === show(want), `${c.name}: decodes to ${show(got)}, want ${show(want)}`);
  // The same bytes in an ArrayBuffer, a DataView and a view into a larger buffer.
  const big = new Uint8Array(b.length + 7);
  big.set(b, 3);
  for (const [name, d] of [["ArrayBuffer", b.slice().buffer], ["DataView", new DataView(b.slice().buffer)], ["offset view", big.subarray(3, 3 + b.length)]]) {
    check(show(outcome(d, c.name)[1]) === show(want), `${c.name}: from a ${name}`);
  }
  if (how !== "message") continue;
  if (got.type === "snapshot") {
    book = new m.LocalBook(got.channel);
    check(book.apply(got) === "applied" && book.synced, `${c.name}: LocalBook applies the decoded snapshot`);
  } else if (got.type === "update") {
    check(book && book.channel === got.channel && book.apply(got) === "applied" && book.seq === got.seq,
      `${c.name}: LocalBook applies the decoded update after the snapshot (checksum ${got.checksum})`);
  } else if (got.type === "candles") {
    const series = new m.CandleSeries(got.channel, got.resolution);
    if (got.snapshot) check(series.apply(got) !== "ignored" && series.synced, `${c.name}: CandleSeries applies the decoded snapshot`);
    candleVectors++;
  } else if (got.type === "bbo") {
    const top = new m.TopOfBook(got.channel);
    check(top.apply(got) === "applied" && top.seq === got.seq && top.bid === (got.bid ?? null), `${c.name}: TopOfBook applies it`);
  }
}

check(candleVectors >= 3, `${candleVectors} candles vectors decoded`);

// Truncated messages are errors; bytes after the channel (variable data
// of a later version) are ignored.
for (const c of vectors) {
  const b = bytes(c.hex);
  for (let n = 0; n < b.length; n++) check(outcome(b.subarray(0, n), c.name)[0] === "error", `${c.name}: truncated to ${n} bytes is not an error`);
  const longer = new Uint8Array(b.length + 1);
  longer.set(b);
  check(show(outcome(longer, c.name)[1]) === show(m.parseMessage(c.json)), `${c.name}: a byte after the message is not ignored`);
}

// Malformed messages, each a vector with a few bytes changed.
const named = Object.fromEntries(vectors.map((c) => [c.name, c.hex]));
const cases = [
  ["schemaId 2", "snapshot", [[4, 2]], "error"],
  ["version 0", "snapshot", [[6, 0]], "error"],
  ["short root block", "snapshot", [[0, 29]], "error"],
  ["price scale 19", "snapshot", [[8 + 28, 19]], "error"],
  ["size scale 255", "trades", [[9, 255]], "error"],
  ["trade side 3", "trades", [[8 + 2 + 6 + 24, 3]], "error"],
  ["trade side 0", "trades", [[8 + 2 + 6 + 24, 0]], "error"],
  ["2^32-1 trades", "trades", [[12, 255], [13, 255], [14, 255], [15, 255]], "error"],
  ["short trade entries", "trades", [[10, 24]], "error"],
  ["status of a served book", "status stale gap", [[8, 0]], "error"],
  ["half an ask", "bbo no ask", [[8 + 48, 1]], "error"],
  ["channel not UTF-8", "trades", [[-1, 0xff]], "error"],
  ["string longer than the message", "trades", [[-15, 0xff]], "error"],
  ["unknown template 99", "trades", [[2, 99]], "null"],
  ["unknown template 9", "trades", [[2, 9]], "null"],
  ["resolution 5", "candles snapshot", [[8 + 8, 5]], "error"],
  ["snapshot 2", "candles snapshot", [[8 + 9, 2]], "error"],
  ["final 7", "candles update", [[8 + 12 + 6 + 80, 7]], "error"],
  ["null candle volume", "candles update", [[8 + 12 + 6 + 55, 0x80]], "error"],
  ["short candle entries", "candles update", [[8 + 12, 80]], "error"],
  ["candle price scale 19", "candles update", [[8 + 10, 19]], "error"],
  ["later version", "trades", [[6, 2]], "message"],
  ["unknown status reads as stale", "status waiting", [[8, 9]], "message"],
];
for (const [name, vec, edits, want] of cases) {
  const b = bytes(named[vec]);
  for (const [at, v] of edits) b[at < 0 ? b.length + at : at] = v;
  const [how, got] = outcome(b, name);
  check(how === want, `${name}: ${how} (${got && got.message}), want ${want}`);
  if (name.startsWith("unknown status")) check(got && got.status === "stale", `${name}: status ${got && got.status}`);
}

// formatDecimal: numbers (its fast path) as BigInts, at every scale.
for (let scale = 0; scale <= 18; scale++) {
  for (const v of [0, 1, -1, 5, -5, 99, 6412310, -6412310, 50000000, 2 ** 53 - 1, -(2 ** 53 - 1), 123456789012345]) {
    check(m.formatDecimal(v, scale) === m.formatDecimal(BigInt(v), scale), `formatDecimal(${v}, ${scale}) = ${m.formatDecimal(v, scale)}`);
  }
}
check(m.formatDecimal(-5, 2) === "-0.05" && m.formatDecimal(6412310n, 2) === "64123.10" && m.formatDecimal(0, 8) === "0.00000000" &&
  m.formatDecimal(-(2n ** 63n), 18) === "-9.223372036854775808", "formatDecimal examples");

// Fuzz: seeded random changes of 1 to 4 bytes of every vector, a quarter
// of them truncated too. Each ends
// as an error, a skipped template, or a message of the protocol's shape.
let seed = 0x9e3779b9; // mulberry32
const rand = (n) => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
};
const decimal = /^-?[0-9]+(\.[0-9]+)?$/;
const types = new Set(["snapshot", "update", "status", "bbo", "ticker", "tickers", "trades", "candles"]);
function shaped(msg) {
  if (!types.has(msg.type) || typeof msg.channel !== "string") return false;
  for (const k of ["seq", "first_seq"]) if (k in msg && !(typeof msg[k] === "bigint" && msg[k] >= 0n)) return false;
  for (const k of ["bid", "bid_size", "ask", "ask_size", "last", "last_size", "open", "high", "low", "volume", "quote_volume", "vwap", "change", "change_pct"]) {
    if (k in msg && !decimal.test(msg[k])) return false;
  }
  for (const side of [msg.bids, msg.asks]) if (side && !side.every((l) => decimal.test(l[0]) && decimal.test(l[1]))) return false;
  if (msg.trades && !msg.trades.every((t) => decimal.test(t.price) && decimal.test(t.size) && (t.side === "buy" || t.side === "sell"))) return false;
  if (msg.tickers && !msg.tickers.every(shaped)) return false;
  if (msg.candles && !msg.candles.every((k) => ["open", "high", "low", "close", "volume", "quote_volume"].every((f) => decimal.test(k[f])) &&
    Number.isInteger(k.start) && Number.isInteger(k.count) && typeof k.final === "boolean")) return false;
  return true;
}
const runs = Number(process.env.FUZZ_RUNS || 2000);
const seen = { error: 0, null: 0, message: 0 };
for (const c of vectors) {
  const orig = bytes(c.hex);
  for (let i = 0; i < runs; i++) {
    const b = orig.slice();
    for (let k = 1 + rand(4); k > 0; k--) b[rand(b.length)] = rand(256);
    const [how, got] = outcome(rand(4) === 0 ? b.subarray(0, rand(b.length)) : b, `${c.name} fuzz ${i}`);
    seen[how]++;
    if (how === "message") check(shaped(got), `${c.name} fuzz ${i}: ${show(got)} is not a protocol message`);
  }
}
check(seen.error > 0 && seen.message > 0, `fuzz outcomes ${show(seen)}`);

for (const f of fails) console.log("FAIL " + f);
console.log(`${checks} checks, ${fails.length} failures (fuzz: ${seen.error} errors, ${seen.null} skipped, ${seen.message} messages)`);
process.exit(fails.length || checks === 0 ? 1 : 0);
