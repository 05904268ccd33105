// book.js: the verified local book of the marketfeed.js client module, and
// the protocol's exact decimals, checksums and message decoding it rests on
// (websocket.md sections 1 and 5.7). marketfeed.js imports it and exports
// everything it exports; copy both files together.
//
// Prices and sizes stay the exact decimal strings the server sent; they are
// ordered by comparing digits, never through floating point. Sequence
// numbers (seq, first_seq) are BigInt.

/** Compares two plain decimal strings (-?[0-9]+(\.[0-9]+)?) by value: -1, 0 or 1. */
export function compareDecimal(a, b) {
  const na = a.startsWith("-") && !isZeroDecimal(a);
  const nb = b.startsWith("-") && !isZeroDecimal(b);
  if (na !== nb) return na ? -1 : 1;
  const m = compareMagnitude(a.replace(/^-/, ""), b.replace(/^-/, ""));
  return na ? -m : m;
}

function compareMagnitude(a, b) {
  let [ai, af = ""] = a.split(".");
  let [bi, bf = ""] = b.split(".");
  ai = ai.replace(/^0+(?=\d)/, "");
  bi = bi.replace(/^0+(?=\d)/, "");
  if (ai.length !== bi.length) return ai.length < bi.length ? -1 : 1;
  if (ai !== bi) return ai < bi ? -1 : 1;
  const n = Math.max(af.length, bf.length);
  af = af.padEnd(n, "0");
  bf = bf.padEnd(n, "0");
  return af === bf ? 0 : af < bf ? -1 : 1;
}

/** Reports whether every digit of a decimal string is zero. */
export function isZeroDecimal(s) {
  return /^-?[0.]*$/.test(s);
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

// SEQ_FIELD matches a seq or first_seq member and its integer value. Inside
// a JSON string every quote is escaped, so the pattern only matches members.
const SEQ_FIELD = /"(first_seq|seq)"(\s*):(\s*)(\d+)/g;

/**
 * parseMessage parses a server message (JSON text) like JSON.parse, except
 * that seq and first_seq are read exactly, as BigInt, whatever their size
 * (a JSON number above 2^53 would lose digits in a JavaScript number).
 */
export function parseMessage(text) {
  const msg = JSON.parse(text.replace(SEQ_FIELD, '"$1"$2:$3"$4"'));
  if (msg && typeof msg === "object") {
    if (typeof msg.seq === "string") msg.seq = BigInt(msg.seq);
    if (typeof msg.first_seq === "string") msg.first_seq = BigInt(msg.first_seq);
  }
  return msg;
}

// toSeq returns v (a BigInt, or an integer number or digit string) as a
// BigInt, or undefined when it is not a valid sequence number.
function toSeq(v) {
  if (typeof v === "bigint") return v >= 0n ? v : undefined;
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === "string" && /^\d+$/.test(v)) return BigInt(v);
  return undefined;
}

/** canonical returns a key equal for equal values ("1.50" and "1.5"). */
function canonical(s) {
  let [i, f = ""] = s.replace(/^-/, "").split(".");
  i = i.replace(/^0+(?=\d)/, "");
  f = f.replace(/0+$/, "");
  return f ? `${i}.${f}` : i;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** crc32 is the CRC-32 (IEEE, as zlib) of an ASCII string, as an unsigned integer. */
export function crc32(str) {
  let c = 0xffffffff;
  for (let i = 0; i < str.length; i++) c = CRC_TABLE[(c ^ str.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * viewChecksum is the checksum of a book view (websocket.md 5.7.1): the
 * CRC-32 of "price:size;" for each bid, best first, then "|", then each
 * ask, best first, with the strings exactly as the server sent them.
 */
export function viewChecksum(bids, asks) {
  let s = "";
  for (const [p, z] of bids) s += p + ":" + z + ";";
  s += "|";
  for (const [p, z] of asks) s += p + ":" + z + ";";
  return crc32(s);
}

/**
 * LocalBook is a client-side view of one book channel. apply() is the one
 * place where a book message is validated; it returns "applied", "ignored"
 * (other channel or type, or an update while not synced) or "gap" (the
 * update does not follow, carries an invalid level, or the view after it
 * does not match the message's checksum: the book is frozen until the next
 * snapshot; why says which).
 */
export class LocalBook {
  constructor(channel) {
    this.channel = channel;
    /** the seq of the last applied snapshot or update, a BigInt */
    this.seq = 0n;
    /** publisher epoch of seq: a snapshot of a restarted publisher changes it, and seq may then go down */
    this.epoch = 0;
    /** "empty", "synced", "waiting", "stale", "gap" or "resuming" (kept across a reconnection, see suspend) */
    this.state = "empty";
    /** with state "stale": why ("gap", "feed_down", "silent", "crossed", or a later server's value) */
    this.reason = "";
    this._bids = new Map(); // canonical price -> [price, size]
    this._asks = new Map();
    /** why the book last lost sync: "sequence", "epoch", "level" or "checksum" */
    this.why = "";
  }

  /** Forgets every level; the book waits for its next snapshot. */
  reset() {
    this._bids.clear();
    this._asks.clear();
    this.seq = 0n;
    this.epoch = 0;
    this.state = "empty";
    this.reason = "";
  }

  get synced() {
    return this.state === "synced";
  }

  /**
   * Keeps the view across a reconnection: a synced book becomes
   * "resuming" (levels, seq and epoch kept, not to be trusted until
   * resumed()), and stays so through failed attempts; any other book is
   * reset.
   */
  suspend() {
    if (this.synced || this.state === "resuming") this.state = "resuming";
    else this.reset();
  }

  /** The position {epoch, seq} of a "resuming" book, else null. */
  position() {
    return this.state === "resuming" ? { epoch: this.epoch, seq: this.seq } : null;
  }

  /** The server resumed the book from its position: synced again, updates continue from seq + 1. */
  resumed() {
    if (this.state === "resuming") this.state = "synced";
  }

  apply(msg) {
    if (!msg || msg.channel !== this.channel) return "ignored";
    switch (msg.type) {
      case "snapshot": {
        const seq = toSeq(msg.seq);
        if (seq === undefined) return this._gap("sequence");
        if (!validLevels(msg)) return this._gap("level");
        this._bids.clear();
        this._asks.clear();
        setLevels(this._bids, msg.bids);
        setLevels(this._asks, msg.asks);
        this.seq = seq;
        this.epoch = msg.epoch || 0;
        this.state = "synced";
        this.reason = "";
        return this._verify(msg);
      }
      case "update": {
        if (!this.synced) return "ignored";
        const first = toSeq(msg.first_seq), seq = toSeq(msg.seq);
        if (first === undefined || seq === undefined || first !== this.seq + 1n || seq < first) return this._gap("sequence");
        if ((msg.epoch || 0) !== this.epoch) return this._gap("epoch");
        if (!validLevels(msg)) return this._gap("level");
        setLevels(this._bids, msg.bids);
        setLevels(this._asks, msg.asks);
        this.seq = seq;
        return this._verify(msg);
      }
      case "status":
        // Any status but "waiting" (including one this module does not
        // know) means the server does not vouch for the book.
        this.state = msg.status === "waiting" ? "waiting" : "stale";
        this.reason = this.state === "stale" ? msg.reason || "" : "";
        return "applied";
    }
    return "ignored";
  }

  // _verify checks the view against the message's checksum, when it has one.
  _verify(msg) {
    if (typeof msg.checksum === "number" && viewChecksum(this.bids(), this.asks()) !== msg.checksum) return this._gap("checksum");
    return "applied";
  }

  _gap(why) {
    this.state = "gap";
    this.why = why;
    return "gap";
  }

  /** The best n bids as [price, size], highest first (all when n is omitted). */
  bids(n) {
    return top(this._bids, n, (a, b) => compareDecimal(b[0], a[0]));
  }

  /** The best n asks as [price, size], lowest first (all when n is omitted). */
  asks(n) {
    return top(this._asks, n, (a, b) => compareDecimal(a[0], b[0]));
  }

  bestBid() {
    return this.bids(1)[0];
  }

  bestAsk() {
    return this.asks(1)[0];
  }
}

function validLevels(msg) {
  for (const side of [msg.bids || [], msg.asks || []]) {
    for (const l of side) {
      if (!Array.isArray(l) || !DECIMAL.test(l[0]) || !DECIMAL.test(l[1])) return false;
      if (l[1].startsWith("-") && !isZeroDecimal(l[1])) return false;
    }
  }
  return true;
}

function setLevels(side, levels) {
  for (const [price, size] of levels || []) {
    if (isZeroDecimal(size)) side.delete(canonical(price));
    else side.set(canonical(price), [price, size]);
  }
}

function top(side, n, cmp) {
  const all = [...side.values()].sort(cmp);
  return n === undefined ? all : all.slice(0, n);
}

/**
 * TopOfBook is the state of a bbo channel: the book's best bid and ask
 * (bid, bidSize, ask, askSize: the decimal strings as sent, null for an
 * empty side) at seq (a BigInt) of epoch, exchange time ts (µs). state is
 * "waiting" before the first bbo, "live" after one, or the status the
 * server announced ("stale" with reason...) until the next bbo: the top
 * is then not to be trusted.
 */
export class TopOfBook {
  constructor(channel) {
    this.channel = channel;
    this.state = "waiting";
    this.reason = "";
    this.seq = null;
    this.epoch = 0;
    this.ts = 0;
    this.bid = this.bidSize = this.ask = this.askSize = null;
  }

  get live() {
    return this.state === "live";
  }

  /**
   * Applies a bbo or status message of the channel. Returns "applied"
   * (a bbo), "status", or "ignored": another message, or a bbo older than
   * the current one (a lower seq of the same epoch).
   */
  apply(msg) {
    if (msg.type === "status") {
      this.state = msg.status || "stale";
      this.reason = msg.reason || "";
      return "status";
    }
    if (msg.type !== "bbo") return "ignored";
    const seq = toSeq(msg.seq);
    const epoch = Number(msg.epoch || 0);
    if (seq === undefined) return "ignored";
    if (this.seq !== null && epoch === this.epoch && seq < this.seq) return "ignored";
    this.seq = seq;
    this.epoch = epoch;
    this.ts = msg.ts || 0;
    this.bid = msg.bid ?? null;
    this.bidSize = msg.bid_size ?? null;
    this.ask = msg.ask ?? null;
    this.askSize = msg.ask_size ?? null;
    this.state = "live";
    this.reason = "";
    return "applied";
  }
}
