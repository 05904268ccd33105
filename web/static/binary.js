// binary.js: the decoder of the binary market-data messages of the
// subprotocol marketfeed.v1.bin (schemas/binary.md), dependency-free, for
// browsers and Node.js. marketfeed.js imports it; copy both (and
// candles.js, whose resolutions it names).
//
//   import { decodeBinary } from "./binary.js";
//   ws.binaryType = "arraybuffer";
//   ws.onmessage = (e) => {
//     const msg = typeof e.data === "string" ? parseMessage(e.data) : decodeBinary(e.data);
//   };
//
// decodeBinary returns exactly the object parseMessage returns for the
// JSON twin of the message, keys in the same order: seq and first_seq as
// BigInt, epoch, ts, checksum and count as numbers, prices and sizes as
// the decimal strings the JSON protocol sends (the mantissa written at the
// message's scale), absent fields absent. So a book is verified with the
// same checksum code either way (websocket.md 5.7.1).

/** The subprotocol of binary market data. */
export const SUBPROTOCOL_BINARY = "marketfeed.v1.bin";
/** The subprotocol of JSON messages, the default. */
export const SUBPROTOCOL_JSON = "marketfeed.v1.json";

/**
 * BinaryDecodeError reports a malformed binary message: offset is the
 * byte where the problem was found, detail what it is. binary.md section 4
 * makes it a protocol violation.
 */
export class BinaryDecodeError extends Error {
  constructor(offset, detail) {
    super(`malformed binary message at byte ${offset}: ${detail}`);
    this.name = "BinaryDecodeError";
    this.offset = offset;
    this.detail = detail;
  }
}

import { RESOLUTIONS } from "./candles.js";

const SCHEMA_ID = 1;
const SCHEMA_VERSION = 1;
const MAX_SCALE = 18;
// Root blocks, entries and their known lengths (binary.md section 2).
const SNAPSHOT_ROOT = 30, UPDATE_ROOT = 38, STATUS_ROOT = 2, BBO_ROOT = 58;
const TICKER_ROOT = 180, TICKERS_ROOT = 8, TRADES_ROOT = 2, LEVEL_ENTRY = 16, TRADE_ENTRY = 25;
const CANDLES_ROOT = 12, CANDLE_ENTRY = 81;
// The null of an optional int64, -2^63, as its high 32-bit word and low word.
const NULL_HI = -0x80000000;
const STATUS = ["", "waiting", "stale"];
const REASON = ["", "gap", "feed_down", "silent", "crossed"];
const SIDE = [undefined, "buy", "sell"];
const utf8 = new TextDecoder("utf-8", { fatal: true });
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i); // exact doubles
const ZEROS = Array.from({ length: MAX_SCALE + 1 }, (_, i) => "0".repeat(i));

/**
 * decodeBinary decodes one binary frame's payload (an ArrayBuffer, a typed
 * array or a DataView) into the message its JSON twin is. It returns null
 * for a message of a template this decoder does not know (a later
 * version's message type, to skip as an unknown JSON type is), and throws
 * a BinaryDecodeError for a malformed message: shorter than its header,
 * blocks, groups or strings say, of another schema or an earlier version,
 * a block shorter than this version's, a scale above 18, an unknown trade
 * side or candle resolution, a boolean other than 0 and 1, a null candle
 * sum, a status message of a served book, half of an optional level, or
 * invalid UTF-8. Bytes after the channel name, variable data a later
 * version may append, are ignored (binary.md section 4).
 */
export function decodeBinary(data) {
  const r = new Reader(data);
  const blockLength = r.u16(), template = r.u16(), schema = r.u16(), version = r.u16();
  if (schema !== SCHEMA_ID) r.fail(`schemaId ${schema}, not ${SCHEMA_ID}`, 4);
  if (version < SCHEMA_VERSION) r.fail(`version ${version} before ${SCHEMA_VERSION}`, 6);
  let msg; // each with its channel second, as in JSON, set at the end
  switch (template) {
    case 1: msg = book(r, blockLength, false); break;
    case 2: msg = book(r, blockLength, true); break;
    case 3: msg = status(r, blockLength); break;
    case 4: msg = bbo(r, blockLength); break;
    case 5: msg = tickerMessage(r, blockLength); break;
    case 6: msg = tickers(r, blockLength); break;
    case 7: msg = trades(r, blockLength); break;
    case 8: msg = candles(r, blockLength); break;
    default: return null;
  }
  msg.channel = r.str();
  return msg; // bytes after the channel: variable data of a later version
}

class Reader {
  constructor(data) {
    let b;
    if (data instanceof Uint8Array) b = data;
    else if (ArrayBuffer.isView(data)) b = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else if (data instanceof ArrayBuffer) b = new Uint8Array(data);
    else throw new BinaryDecodeError(0, "not binary data");
    this.b = b;
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.off = 0;
  }

  fail(detail, at = this.off) {
    throw new BinaryDecodeError(at, detail);
  }

  need(n) {
    if (n > this.b.length - this.off) this.fail("truncated");
  }

  u8() {
    this.need(1);
    return this.b[this.off++];
  }

  u16() {
    this.need(2);
    const x = this.v.getUint16(this.off, true);
    this.off += 2;
    return x;
  }

  u32() {
    this.need(4);
    const x = this.v.getUint32(this.off, true);
    this.off += 4;
    return x;
  }

  // u64 reads an unsigned 64-bit integer as a BigInt (seq, first_seq).
  u64() {
    this.need(8);
    const x = this.v.getBigUint64(this.off, true);
    this.off += 8;
    return x;
  }

  // num reads an unsigned (or, signed, a signed) 64-bit integer as a
  // number, as JSON.parse reads the same digits (epoch, ts, count).
  num(signed) {
    this.need(8);
    const x = signed ? this.v.getBigInt64(this.off, true) : this.v.getBigUint64(this.off, true);
    this.off += 8;
    return Number(x);
  }

  // mantissa reads a signed 64-bit mantissa: a number when exact, else a
  // BigInt; null for the null value -2^63.
  mantissa() {
    this.need(8);
    const lo = this.v.getUint32(this.off, true), hi = this.v.getInt32(this.off + 4, true);
    this.off += 8;
    if (hi >= -0x200000 && hi < 0x200000) return hi * 0x100000000 + lo;
    if (hi === NULL_HI && lo === 0) return null;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  // decimal reads a mantissa and writes it at scale; a null one is
  // undefined when optional (-2^63 written out otherwise).
  decimal(scale, optional) {
    const m = this.mantissa();
    if (m === null) return optional ? undefined : formatDecimal(-(2n ** 63n), scale);
    return formatDecimal(m, scale);
  }

  // decimal128 reads an optional signed 128-bit mantissa (lo u64, hi i64)
  // and writes it at scale; undefined when null.
  decimal128(scale) {
    this.need(16);
    const v = this.v, o = this.off;
    const w0 = v.getUint32(o, true), w1 = v.getInt32(o + 4, true), w2 = v.getUint32(o + 8, true), w3 = v.getInt32(o + 12, true);
    this.off += 16;
    // hi = 0 or -1 with lo's sign: the value is lo as a signed 64-bit integer.
    if (w2 === (w1 < 0 ? 0xffffffff : 0) && w3 === (w1 < 0 ? -1 : 0) && w1 >= -0x200000 && w1 < 0x200000) {
      return formatDecimal(w1 * 0x100000000 + w0, scale);
    }
    if (w3 === NULL_HI && w2 === 0) return undefined;
    const lo = v.getBigUint64(o, true), hi = v.getBigInt64(o + 8, true);
    return formatDecimal((hi << 64n) + lo, scale);
  }

  // bool reads a BooleanType field: 0 false, 1 true.
  bool() {
    const x = this.u8();
    if (x > 1) this.fail(`boolean ${x}`, this.off - 1);
    return x === 1;
  }

  // enter starts a block of blockLength bytes of which this version knows
  // the first known; it returns where the block ends.
  enter(blockLength, known) {
    if (blockLength < known) this.fail(`block length ${blockLength} shorter than ${known}`);
    this.need(blockLength);
    return this.off + blockLength;
  }

  str() {
    const n = this.u16();
    this.need(n);
    let s;
    try {
      s = utf8.decode(this.b.subarray(this.off, this.off + n));
    } catch {
      this.fail("string is not UTF-8");
    }
    this.off += n;
    return s;
  }

  // group reads a group's dimension: the entries' block length (at least
  // known) and their number, which must fit in what is left.
  group(known) {
    const bl = this.u16(), n = this.u32();
    if (bl < known) this.fail(`group block length ${bl} shorter than ${known}`);
    if (n > (this.b.length - this.off) / bl) this.fail(`group of ${n} entries longer than the message`);
    return [bl, n];
  }

  scales() {
    const p = this.u8(), s = this.u8();
    if (p > MAX_SCALE || s > MAX_SCALE) this.fail(`scale above ${MAX_SCALE}`, this.off - 2);
    return [p, s];
  }

  // state reads a status and a reason: an unknown status reads as stale,
  // an unknown reason as "unknown".
  state() {
    const s = this.u8(), rs = this.u8();
    return [s < STATUS.length ? STATUS[s] : "stale", rs < REASON.length ? REASON[rs] : "unknown"];
  }
}

/**
 * formatDecimal writes mantissa m (a number or BigInt integer) with
 * exactly scale fractional digits, as the JSON protocol writes prices:
 * 6412310 at scale 2 is "64123.10", -5 is "-0.05"; scale 0 has no point.
 */
export function formatDecimal(m, scale) {
  if (typeof m === "number" && scale < POW10.length) {
    // Exact for a safe integer: m % 10^scale and the quotient are exact.
    if (scale === 0) return "" + m;
    const neg = m < 0;
    if (neg) m = -m;
    const p = POW10[scale], f = m % p, fs = "" + f;
    const s = (m - f) / p + "." + ZEROS[scale - fs.length] + fs;
    return neg ? "-" + s : s;
  }
  const neg = m < 0;
  let s = (neg ? -m : m).toString();
  if (scale > 0) {
    if (s.length <= scale) s = "0".repeat(scale + 1 - s.length) + s;
    s = s.slice(0, s.length - scale) + "." + s.slice(s.length - scale);
  }
  return neg ? "-" + s : s;
}

function book(r, blockLength, update) {
  const end = r.enter(blockLength, update ? UPDATE_ROOT : SNAPSHOT_ROOT);
  const msg = { type: update ? "update" : "snapshot", channel: "" };
  if (update) msg.first_seq = r.u64();
  msg.seq = r.u64();
  msg.epoch = r.num(false);
  msg.ts = r.num(true);
  msg.checksum = r.u32();
  const [ps, ss] = r.scales();
  r.off = end;
  msg.bids = levels(r, ps, ss);
  msg.asks = levels(r, ps, ss);
  return msg;
}

function levels(r, ps, ss) {
  const [bl, n] = r.group(LEVEL_ENTRY);
  const out = new Array(n);
  const v = r.v;
  let o = r.off;
  for (let i = 0; i < n; i++, o += bl) {
    // The mantissas' high words: exact doubles in the usual range.
    const ph = v.getInt32(o + 4, true), sh = v.getInt32(o + 12, true);
    if (ph >= -0x200000 && ph < 0x200000 && sh >= -0x200000 && sh < 0x200000) {
      out[i] = [formatDecimal(ph * 0x100000000 + v.getUint32(o, true), ps), formatDecimal(sh * 0x100000000 + v.getUint32(o + 8, true), ss)];
    } else {
      r.off = o;
      out[i] = [r.decimal(ps, false), r.decimal(ss, false)];
    }
  }
  r.off = o;
  return out;
}

function status(r, blockLength) {
  const end = r.enter(blockLength, STATUS_ROOT);
  const [st, reason] = r.state();
  if (st === "") r.fail("status of a served book", r.off - 2);
  r.off = end;
  const msg = { type: "status", channel: "", status: st };
  if (reason) msg.reason = reason;
  return msg;
}

// side reads an optional price and size into msg's fields: both null (the
// fields stay absent), or neither.
function side(r, msg, price, size, ps, ss) {
  const p = r.mantissa(), s = r.mantissa();
  if ((p === null) !== (s === null)) r.fail("one of a price and its size is null", r.off - 16);
  if (p === null) return;
  msg[price] = formatDecimal(p, ps);
  msg[size] = formatDecimal(s, ss);
}

function bbo(r, blockLength) {
  const end = r.enter(blockLength, BBO_ROOT);
  const msg = { type: "bbo", channel: "", seq: r.u64(), epoch: r.num(false), ts: r.num(true) };
  const at = r.off;
  r.off = at + 32;
  const [ps, ss] = r.scales();
  r.off = at;
  side(r, msg, "bid", "bid_size", ps, ss);
  side(r, msg, "ask", "ask_size", ps, ss);
  r.off = end;
  return msg;
}

function tickerMessage(r, blockLength) {
  const end = r.enter(blockLength, TICKER_ROOT);
  const msg = tickerBlock(r);
  r.off = end;
  return msg;
}

// tickerBlock reads the 180-byte block of a ticker (also the block of a
// tickers entry) into a ticker message without its channel.
function tickerBlock(r) {
  const start = r.off;
  r.off = start + TICKER_ROOT - 2;
  const [ps, ss] = r.scales();
  r.off = start;
  const msg = { type: "ticker", channel: "", ts: r.num(true) };
  side(r, msg, "bid", "bid_size", ps, ss);
  side(r, msg, "ask", "ask_size", ps, ss);
  side(r, msg, "last", "last_size", ps, ss);
  let d;
  if ((d = r.decimal(ps, true)) !== undefined) msg.open = d;
  if ((d = r.decimal(ps, true)) !== undefined) msg.high = d;
  if ((d = r.decimal(ps, true)) !== undefined) msg.low = d;
  const count = r.mantissa(), windowStart = r.mantissa();
  if ((d = r.decimal128(ss)) !== undefined) msg.volume = d;
  if ((d = r.decimal128(ps + ss)) !== undefined) msg.quote_volume = d;
  if ((d = r.decimal128(ps)) !== undefined) msg.vwap = d;
  if ((d = r.decimal128(ps)) !== undefined) msg.change = d;
  if ((d = r.decimal128(2)) !== undefined) msg.change_pct = d;
  if (count !== null) msg.count = Number(count);
  if (windowStart !== null) msg.window_start = Number(windowStart);
  const [st, reason] = r.state();
  if (st) msg.status = st;
  if (st && reason) msg.reason = reason;
  r.off = start + TICKER_ROOT;
  return msg;
}

function tickers(r, blockLength) {
  const end = r.enter(blockLength, TICKERS_ROOT);
  const msg = { type: "tickers", channel: "", ts: r.num(true) };
  r.off = end;
  const [bl, n] = r.group(TICKER_ROOT);
  msg.tickers = new Array(n);
  for (let i = 0; i < n; i++) {
    const entryEnd = r.off + bl;
    const t = tickerBlock(r);
    r.off = entryEnd;
    t.channel = r.str();
    msg.tickers[i] = t;
  }
  return msg;
}

function trades(r, blockLength) {
  const end = r.enter(blockLength, TRADES_ROOT);
  const [ps, ss] = r.scales();
  r.off = end;
  const [bl, n] = r.group(TRADE_ENTRY);
  const list = new Array(n);
  for (let i = 0; i < n; i++) {
    const entryEnd = r.off + bl;
    const ts = r.num(true), price = r.decimal(ps, false), size = r.decimal(ss, false);
    const sd = SIDE[r.u8()];
    if (sd === undefined) r.fail(`trade side ${r.b[r.off - 1]}`, r.off - 1);
    r.off = entryEnd;
    list[i] = { id: r.str(), ts, price, size, side: sd };
  }
  return { type: "trades", channel: "", trades: list };
}

function candles(r, blockLength) {
  const end = r.enter(blockLength, CANDLES_ROOT);
  const windowStart = r.mantissa(), code = r.u8();
  const resolution = RESOLUTIONS[code]; // the Resolution enum numbers them in this order
  if (resolution === undefined) r.fail(`resolution ${code}`, r.off - 1);
  const snapshot = r.bool();
  const [ps, ss] = r.scales();
  r.off = end;
  const msg = { type: "candles", channel: "", resolution };
  if (snapshot) msg.snapshot = true;
  if (windowStart !== null) msg.window_start = Number(windowStart);
  const [bl, n] = r.group(CANDLE_ENTRY);
  const list = new Array(n);
  for (let i = 0; i < n; i++) {
    const entryEnd = r.off + bl;
    const c = { start: r.num(true), open: r.decimal(ps, false), high: r.decimal(ps, false), low: r.decimal(ps, false), close: r.decimal(ps, false) };
    const at = r.off;
    c.volume = r.decimal128(ss);
    c.quote_volume = r.decimal128(ps + ss);
    if (c.volume === undefined || c.quote_volume === undefined) r.fail("null candle sum", at);
    c.count = r.num(true);
    c.final = r.bool();
    r.off = entryEnd;
    list[i] = c;
  }
  msg.candles = list;
  return msg;
}
