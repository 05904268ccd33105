// marketfeed.js: a dependency-free client of the marketfeed WebSocket
// protocol (version 1, see schemas/websocket.md) for browsers. Copy it into
// your own UI, together with book.js, binary.js and resume.js, which it imports.
//
//   import { MarketFeed } from "./marketfeed.js";
//   const feed = new MarketFeed("ws://127.0.0.1:8080/ws", { apiKey: "..." });
//   feed.on("state", (s) => console.log(s.state, s.detail));
//   feed.subscribe("book.BTC-USD", { depth: 20, interval: "100ms" }, (msg, book) => {
//     if (book.synced) console.log(book.seq, book.bestBid(), book.bestAsk());
//   });
//   feed.subscribe("trades.BTC-USD", {}, (msg) => console.log(msg.trades));
//   feed.subscribe("candles.BTC-USD", { resolution: "5m" }, (msg, series) => {
//     if (series.synced) console.log(series.last());
//   });
//   feed.subscribe("bbo.BTC-USD", {}, (msg, top) => {
//     if (top.live) console.log(top.seq, top.bid, top.ask);
//   });
//
// The feed connects, subscribes, keeps a LocalBook per book channel
// (snapshot, then updates whose first_seq must follow the previous seq and
// whose checksum must match the view, websocket.md 5.7.1), asks for a
// fresh snapshot (op resync) by itself when a book loses continuity, and
// reconnects with capped, jittered exponential backoff, subscribing again.
// Every reconnection resumes each channel from where it was (resume.js):
// a book the server resumes keeps its levels and continues with updates,
// with no snapshot; the "subscribed" event says whether it resumed.
//
// Prices and sizes stay the exact decimal strings the server sent; they are
// ordered by comparing digits, never through floating point. Sequence
// numbers (seq, first_seq) go up to 2^64-1, beyond what a JavaScript number
// holds exactly (websocket.md section 1): parseMessage reads them as BigInt
// from the message text, and LocalBook.seq is a BigInt.
//
// With { binary: true } the feed asks for the subprotocol marketfeed.v1.bin:
// market data then comes in binary frames (schemas/binary.md), which
// binary.js decodes into exactly the messages the JSON frames give, so the
// handlers, books and checksums work the same.
//
// Commands are paced (at most `rate` per second, default 5): subscriptions
// made together are sent in one subscribe message per set of options, and a
// command the server drops with rate_limited is sent again.

import { BinaryDecodeError, decodeBinary, SUBPROTOCOL_BINARY } from "./binary.js";
import { LocalBook, parseMessage, TopOfBook } from "./book.js";
import { CandleSeries } from "./candles.js";
import * as resume from "./resume.js";

export { CandleSeries, DEFAULT_RESOLUTION, RESOLUTIONS } from "./candles.js";

export { BinaryDecodeError, decodeBinary, formatDecimal, SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON } from "./binary.js";
export { compareDecimal, crc32, isZeroDecimal, LocalBook, parseMessage, TopOfBook, viewChecksum } from "./book.js";

/**
 * MarketFeed is a self-healing connection to a marketfeed server.
 * Options: apiKey (sent as the api_key query parameter), urls (further
 * endpoints of the same feed, replicas: connection attempts go to url and
 * then to each of urls in turn, and resume wherever they land; default
 * none), retryMin (ms,
 * default 250), retryMax (ms, default 10000), rate (commands per second the
 * feed sends at most, default 5, in bursts of as many), binary (default
 * false: JSON; true offers the subprotocol marketfeed.v1.bin, and market
 * data arrives in binary frames, decoded to the same messages; a malformed
 * binary frame is an "error" {code: "invalid_message"} and the feed
 * reconnects). feed.encoding is the connection's encoding as its welcome
 * says ("json" or "bin").
 * Events (feed.on): "state" {state: "connecting"|"open"|"closed", detail,
 * retryIn}, "subscribed" {channel, interval, depth, resumed, resumeReason}
 * (resumed: the channel continued from where it was before a reconnection;
 * resumeReason: why not, when a position was sent), "error" {code, message,
 * channel}, "resync" {channel, seq, why}, "notice" {code, message,
 * closeInMs} (the feed then reconnects at once).
 */
export class MarketFeed {
  constructor(url, options = {}) {
    this.url = url;
    this._urls = [url, ...(options.urls || [])];
    this._attempts = 0; // connection attempts, which pick the URL
    this.apiKey = options.apiKey || "";
    this.retryMin = options.retryMin || 250;
    this.retryMax = options.retryMax || 10000;
    this.rate = options.rate || 5;
    this.binary = !!options.binary;
    this.encoding = "json";
    this.state = "closed";
    this._subs = new Map(); // channel -> {opts, handler, book}
    this._toSubscribe = new Set(); // channels to subscribe at the next flush
    this._toUnsubscribe = new Set(); // channels to unsubscribe at the next flush
    this._flushing = false;
    this._pending = new Map(); // subscribe id -> Set of channels not answered yet
    this._unsubs = new Map(); // unsubscribe id -> Set of channels not answered yet
    this._resyncs = new Map(); // resync id -> channel
    this._queue = []; // commands waiting for the rate budget
    this._tokens = this.rate;
    this._tokensAt = 0;
    this._drainTimer = null;
    this._gen = 0; // connection generation, so timers of an old connection do nothing
    this._dropped = 0; // rate_limited errors in a row
    this._listeners = new Map();
    this._id = 0;
    this._failures = 0;
    this._ws = null;
    this._timer = null;
    this._stopped = false;
    this._planned = false;
    this._connect();
  }

  /** Adds a listener for "state", "subscribed", "error", "resync" or "notice". */
  on(type, fn) {
    if (!this._listeners.has(type)) this._listeners.set(type, []);
    this._listeners.get(type).push(fn);
    return this;
  }

  /**
   * Subscribes to channel (book.X, bbo.X, ticker.X, trades.X, tickers) with opts
   * {depth, interval, lag, resolution}; handler(msg, state) gets every
   * message of the channel, state being the LocalBook for book channels,
   * the TopOfBook for bbo channels and the CandleSeries for candles
   * channels (and what subscribe returns). Kept across
   * reconnections.
   * Subscriptions made in one go are sent together, in one subscribe
   * message per set of options.
   */
  subscribe(channel, opts, handler) {
    const sub = { opts: opts || {}, handler, book: channel.startsWith("book.") ? new LocalBook(channel) : null };
    if (channel.startsWith("bbo.")) sub.top = new TopOfBook(channel);
    if (channel.startsWith("candles.")) sub.candles = new CandleSeries(channel, sub.opts.resolution);
    this._subs.set(channel, sub);
    // After an unsubscribe not sent yet, both go out, in that order.
    if (this.state === "open") this._later(this._toSubscribe, channel);
    return sub.book || sub.top || sub.candles || null;
  }

  /** Cancels the subscription to channel. */
  unsubscribe(channel) {
    if (!this._subs.delete(channel)) return;
    if (this._toSubscribe.delete(channel)) return; // never sent
    if (this.state === "open") this._later(this._toUnsubscribe, channel);
  }

  /** Closes the connection for good. */
  close() {
    this._stopped = true;
    clearTimeout(this._timer);
    this._clearQueue();
    if (this._ws) this._ws.close(1000);
    this._setState("closed", "closed");
  }

  _emit(type, ev) {
    for (const fn of this._listeners.get(type) || []) fn(ev);
  }

  _setState(state, detail, retryIn) {
    this.state = state;
    this._emit("state", { state, detail, retryIn });
  }

  _connect() {
    const endpoint = this._urls[this._attempts++ % this._urls.length];
    let url = endpoint;
    if (this.apiKey) url += (url.includes("?") ? "&" : "?") + "api_key=" + encodeURIComponent(this.apiKey);
    this._setState("connecting", "connecting to " + endpoint);
    this._gen++;
    let ws;
    try {
      ws = this.binary ? new WebSocket(url, [SUBPROTOCOL_BINARY]) : new WebSocket(url);
    } catch (e) {
      this._retry(String(e));
      return;
    }
    this._ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => this._onMessage(e.data, ws);
    // The end of the connection: its close, or an error (some runtimes
    // fire no close after a failed opening handshake), whichever is first.
    const gone = (e) => {
      if (this._ws !== ws) return;
      this._ws = null;
      if (e.type === "error" && ws.readyState !== WebSocket.CLOSED) ws.close();
      if (!this._stopped) this._retry(e.code ? `closed (${e.code}${e.reason ? " " + e.reason : ""})` : "connection failed");
    };
    ws.onclose = gone;
    ws.onerror = gone;
  }

  // _retry reconnects after min(retryMax, retryMin * 2^failures), of which
  // a random half is taken away so that dropped clients do not return
  // together.
  // A close the server announced (notice) is planned: the feed comes back
  // at once, within retryMin, without counting a failure.
  _retry(why) {
    let delay;
    if (this._planned) {
      this._planned = false;
      delay = Math.round(Math.random() * this.retryMin);
    } else {
      const full = Math.min(this.retryMax, this.retryMin * 2 ** Math.min(this._failures, 20));
      delay = Math.round(full / 2 + Math.random() * (full / 2));
      this._failures++;
    }
    this._clearQueue();
    for (const sub of this._subs.values()) {
      sub.resyncing = false;
      resume.suspend(sub); // a synced book is kept for a resume
    }
    this._setState("closed", why, delay);
    this._timer = setTimeout(() => this._connect(), delay);
  }

  // _clearQueue forgets every command not sent or not answered: on the next
  // connection every subscription is made afresh.
  _clearQueue() {
    this._queue = [];
    this._toSubscribe.clear();
    this._toUnsubscribe.clear();
    this._pending.clear();
    this._unsubs.clear();
    this._resyncs.clear();
    clearTimeout(this._drainTimer);
    this._drainTimer = null;
    this._dropped = 0;
  }

  // _later adds channel to set and flushes both sets once the current task
  // is done, so that subscriptions made together go out together.
  _later(set, channel) {
    set.add(channel);
    if (this._flushing) return;
    this._flushing = true;
    queueMicrotask(() => {
      this._flushing = false;
      this._flush();
    });
  }

  // _flush sends the queued unsubscriptions in one message, then the queued
  // subscriptions in one message per set of options (at most 100 channels
  // each, the protocol's limit).
  _flush() {
    if (this.state !== "open") return;
    const unsubs = [...this._toUnsubscribe];
    this._toUnsubscribe.clear();
    for (let i = 0; i < unsubs.length; i += 100) {
      const chunk = unsubs.slice(i, i + 100);
      const id = ++this._id;
      this._unsubs.set(id, new Set(chunk));
      this._send(withChannels({ op: "unsubscribe", id }, chunk));
    }
    const groups = new Map(); // options key -> {opts, channels}
    for (const channel of this._toSubscribe) {
      const sub = this._subs.get(channel);
      if (!sub) continue;
      const o = { interval: sub.opts.interval, depth: sub.book ? sub.opts.depth : undefined, lag: sub.book ? sub.opts.lag : undefined };
      o.resolution = sub.candles ? sub.opts.resolution : undefined;
      const key = `${o.depth}|${o.interval}|${o.lag}|${o.resolution}`;
      if (!groups.has(key)) groups.set(key, { o, channels: [] });
      groups.get(key).channels.push(channel);
    }
    this._toSubscribe.clear();
    for (const { o, channels } of groups.values()) {
      for (let i = 0; i < channels.length; i += 100) {
        const chunk = channels.slice(i, i + 100);
        const id = ++this._id;
        this._pending.set(id, new Set(chunk));
        const cmd = withChannels({ op: "subscribe", id }, chunk);
        if (o.depth) cmd.depth = o.depth;
        if (o.interval) cmd.interval = o.interval;
        if (o.lag) cmd.lag = o.lag;
        if (o.resolution) cmd.resolution = o.resolution;
        const positions = resume.resumeOption(chunk, this._subs);
        if (positions) cmd.resume = positions;
        this._send(cmd);
      }
    }
  }

  // _send queues cmd and sends what the rate budget allows: a bucket of
  // `rate` tokens refilled at `rate` per second.
  _send(cmd) {
    this._queue.push(cmd);
    this._drain();
  }

  _drain() {
    this._drainTimer = null;
    const now = Date.now();
    this._tokens = Math.min(this.rate, this._tokens + ((now - this._tokensAt) * this.rate) / 1000);
    this._tokensAt = now;
    while (this._queue.length && this._tokens >= 1) {
      if (!this._ws || this._ws.readyState !== WebSocket.OPEN) return;
      this._ws.send(resume.stringify(this._queue.shift()));
      this._tokens--;
    }
    if (this._queue.length && !this._drainTimer) {
      this._drainTimer = setTimeout(() => this._drain(), Math.ceil(((1 - this._tokens) * 1000) / this.rate));
    }
  }

  // _redo sends again, after a pause growing with each refusal in a row,
  // the commands a rate_limited error dropped: those of id, or when the
  // error carries no id, every command still unanswered by then (the pause
  // leaves time for the answers to the others).
  _redo(id) {
    const wait = Math.min(this.retryMax, Math.max(1000, this.retryMin * 2 ** this._dropped));
    this._dropped = Math.min(this._dropped + 1, 20);
    const ids = id ? [id] : null;
    const upTo = this._id, gen = this._gen;
    setTimeout(() => {
      if (this.state !== "open" || this._gen !== gen) return;
      const queued = new Set(this._queue.map((c) => c.id)); // not sent yet
      const skip = (cid) => queued.has(cid) || (ids ? !ids.includes(cid) : cid > upTo);
      for (const [pid, chans] of this._pending) {
        if (skip(pid)) continue;
        this._pending.delete(pid);
        for (const ch of chans) if (this._subs.has(ch)) this._later(this._toSubscribe, ch);
      }
      for (const [uid, chans] of this._unsubs) {
        if (skip(uid)) continue;
        this._unsubs.delete(uid);
        for (const ch of chans) if (!this._subs.has(ch)) this._later(this._toUnsubscribe, ch);
      }
      for (const [rid, ch] of this._resyncs) {
        if (skip(rid)) continue;
        this._resyncs.delete(rid);
        const sub = this._subs.get(ch);
        if (sub) {
          sub.resyncing = false;
          this._resync(ch, sub);
        }
      }
    }, wait);
  }

  // _answered removes channel from the unanswered channels of command id
  // in m.
  _answered(m, id, channel) {
    const chans = m.get(id);
    if (!chans) return false;
    chans.delete(channel);
    if (!chans.size) m.delete(id);
    return true;
  }

  // _resync asks for a fresh snapshot of a book that lost continuity with
  // the resync operation; the subscription stays and its next book message
  // is the snapshot. If the server refuses, the channel is subscribed anew.
  _resync(channel, sub) {
    if (sub.resyncing) return;
    sub.resyncing = true;
    this._emit("resync", { channel, seq: sub.book.seq, why: sub.book.why });
    const id = ++this._id;
    this._resyncs.set(id, channel);
    this._send({ op: "resync", id, channel });
  }

  // _subscribed takes the server's answer to a subscribe (resume.js) and
  // tells the application whether the channel resumed.
  _subscribed(msg) {
    const sub = this._subs.get(msg.channel);
    const r = sub ? resume.subscribed(sub, msg) : { resumed: false };
    this._emit("subscribed", { channel: msg.channel, interval: msg.interval, depth: msg.depth, ...r });
    // Resumed, but the book is not at the position: a snapshot is needed.
    if (r.resumed && sub.book && !sub.book.synced) this._resync(msg.channel, sub);
  }

  _onMessage(data, ws) {
    let msg;
    try {
      msg = typeof data === "string" ? parseMessage(data) : decodeBinary(data);
    } catch (e) {
      this._emit("error", { code: "invalid_message", message: String(e) });
      // A malformed binary frame is a protocol violation (binary.md 4):
      // what it carried is lost, so start again on a new connection.
      if (e instanceof BinaryDecodeError && ws === this._ws) ws.close(1000);
      return;
    }
    if (!msg) return; // a binary message of a later version's template
    switch (msg.type) {
      case "welcome":
        this.encoding = msg.encoding || "json";
        this._setState("open", `connected to ${msg.server || "server"} (protocol ${msg.protocol})`);
        this._tokens = this.rate;
        this._tokensAt = Date.now();
        for (const channel of this._subs.keys()) this._later(this._toSubscribe, channel);
        return;
      case "subscribed":
        if (this._answered(this._pending, msg.id, msg.channel)) {
          this._failures = 0;
          this._dropped = 0;
        }
        this._subscribed(msg);
        return;
      case "unsubscribed":
        this._answered(this._unsubs, msg.id, msg.channel);
        return;
      case "notice":
        // The server will close this connection (shutdown or lifetime):
        // leave now and reconnect at once.
        this._emit("notice", { code: msg.code, message: msg.message, closeInMs: msg.close_in_ms });
        if (this._ws) {
          this._planned = true;
          this._ws.close(1000);
        }
        return;
      case "error": {
        if (msg.code === "rate_limited") {
          this._redo(msg.id);
        } else if (msg.code === "already_subscribed" && this._answered(this._pending, msg.id, msg.channel)) {
          // The server has the subscription (sent again after a
          // rate_limited error, or made twice): a book that has no
          // snapshot yet asks for one.
          const sub = this._subs.get(msg.channel);
          if (sub && sub.book && !sub.book.synced) this._resync(msg.channel, sub);
          return;
        } else if (msg.code === "not_subscribed" && this._answered(this._unsubs, msg.id, msg.channel)) {
          return;
        } else {
          const refused = this._resyncs.get(msg.id);
          if (refused) {
            this._resyncs.delete(msg.id);
            this._later(this._toUnsubscribe, refused);
            this._later(this._toSubscribe, refused);
          }
          this._answered(this._pending, msg.id, msg.channel);
        }
        this._emit("error", { code: msg.code, message: msg.message, channel: msg.channel });
        return;
      }
    }
    const sub = this._subs.get(msg.channel);
    if (!sub) return;
    if (sub.book && (msg.type === "snapshot" || msg.type === "update" || msg.type === "status")) {
      const r = sub.book.apply(msg);
      if (r === "gap") this._resync(msg.channel, sub);
      if (r === "applied" && msg.type === "snapshot") {
        sub.resyncing = false;
        for (const [id, ch] of this._resyncs) if (ch === msg.channel) this._resyncs.delete(id);
      }
    }
    if (sub.top) sub.top.apply(msg);
    resume.noteTrades(sub, msg);
    if (sub.candles) sub.candles.apply(msg);
    if (sub.handler) sub.handler(msg, sub.book || sub.top || sub.candles);
  }
}

// withChannels sets the channel field of cmd for one channel, channels for
// several.
function withChannels(cmd, channels) {
  if (channels.length === 1) cmd.channel = channels[0];
  else cmd.channels = channels;
  return cmd;
}
