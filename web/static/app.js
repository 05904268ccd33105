// The marketfeed page: ticker board, candle chart, order-book ladder and
// trades tape, built on the marketfeed.js client module.
import { DEFAULT_RESOLUTION, MarketFeed, RESOLUTIONS } from "./marketfeed.js";
import { CandleChart, fracLen, fromScaled, toScaled } from "./chart.js";

const ROWS = 20; // ladder levels per side (those that fit are shown)
const DEPTH = 20; // levels subscribed per side
const TAPE = 60; // trades kept on the tape

const $ = (id) => document.getElementById(id);
const wsURL = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";

let feed = null;
let symbols = [];
let selected = "";
const tickers = new Map(); // symbol -> last ticker message
let book = null; // LocalBook of the selected symbol
let trades = []; // newest first
let dirty = { board: true, book: true, trades: true, header: true };
let newTrades = 0;
let resolution = localStorage.getItem("marketfeed.resolution") || DEFAULT_RESOLUTION;
let candles = null; // CandleSeries of the selected symbol
let chart = null; // CandleChart

// ---- exact decimal helpers for display (BigInt, no floating point) ----

// spreadMid returns ask - bid and (bid + ask) / 2, exactly.
function spreadMid(bid, ask) {
  const scale = Math.max(fracLen(bid), fracLen(ask));
  const b = toScaled(bid, scale + 1);
  const a = toScaled(ask, scale + 1);
  const spread = fromScaled((a - b) / 10n, scale);
  let mid = fromScaled((a + b) / 2n, scale + 1);
  if (mid.endsWith("0") && scale > 0) mid = mid.slice(0, -1);
  else if (mid.endsWith(".0")) mid = mid.slice(0, -2);
  return { spread, mid };
}

// short truncates a decimal string to at most n fractional digits.
function short(s, n) {
  if (!s) return "—";
  const i = s.indexOf(".");
  return i < 0 || s.length - i - 1 <= n ? s : s.slice(0, n === 0 ? i : i + 1 + n);
}

function signClass(s) {
  if (!s) return "flat";
  if (/^-?[0.]*$/.test(s)) return "flat";
  return s.startsWith("-") ? "down" : "up";
}

function signed(s) {
  return s && signClass(s) === "up" ? "+" + s : s || "—";
}

// ---- connection ----

function connect() {
  if (feed) feed.close();
  const apiKey = localStorage.getItem("marketfeed.apiKey") || "";
  feed = new MarketFeed(wsURL, { apiKey });
  feed.on("state", showState);
  feed.on("error", (e) => console.warn("marketfeed error", e.code, e.channel || "", e.message || ""));
  feed.on("resync", (e) => console.info("resynchronising", e.channel, "after seq", e.seq));
  // One tickers subscription feeds the whole board: every second, the
  // ticker of each symbol the key may see.
  feed.subscribe("tickers", { interval: "1s" }, (msg) => {
    if (msg.type !== "tickers") return;
    for (const t of msg.tickers) {
      const s = t.channel.slice("ticker.".length);
      tickers.set(s, t);
      if (s === selected) dirty.header = true;
    }
    dirty.board = true;
  });
  if (selected) follow(selected);
}

function showState(s) {
  dirty.book = true; // a dropped connection empties the book
  const el = $("conn");
  el.dataset.state = s.state;
  let text = s.state === "open" ? "live" : s.state === "connecting" ? "connecting…" : "disconnected";
  if (s.state === "closed" && s.retryIn !== undefined) text = `${s.detail} · retry in ${(s.retryIn / 1000).toFixed(1)} s`;
  $("conn-text").textContent = text;
  el.title = s.detail || "";
}

// follow subscribes to the book and trades of sym, dropping the previous.
function follow(sym) {
  if (selected && selected !== sym) {
    feed.unsubscribe("book." + selected);
    feed.unsubscribe("trades." + selected);
    feed.unsubscribe("candles." + selected);
  }
  selected = sym;
  book = null;
  trades = [];
  dirty = { board: true, book: true, trades: true, header: true, chart: true };
  followCandles(sym);
  feed.subscribe("book." + sym, { depth: DEPTH, interval: "100ms" }, (msg, b) => {
    book = b;
    dirty.book = true;
  });
  feed.subscribe("trades." + sym, { interval: "100ms" }, (msg) => {
    if (msg.type !== "trades") return;
    for (const t of msg.trades) trades.unshift(t);
    newTrades += msg.trades.length;
    trades.length = Math.min(trades.length, TAPE);
    dirty.trades = true;
  });
}

// followCandles subscribes to the candles of sym at the chosen resolution,
// each second (the channel's default).
function followCandles(sym) {
  candles = feed.subscribe("candles." + sym, { resolution }, () => { dirty.chart = true; });
  chart.setSeries(candles);
}

function setResolution(r) {
  if (r === resolution || !RESOLUTIONS.includes(r)) return;
  resolution = r;
  localStorage.setItem("marketfeed.resolution", r);
  renderResolutions();
  if (selected && feed) {
    feed.unsubscribe("candles." + selected);
    followCandles(selected);
  }
  dirty.chart = true;
}

function renderResolutions() {
  const el = $("resolutions");
  if (!el.children.length) {
    for (const r of RESOLUTIONS) {
      const b = document.createElement("button");
      b.textContent = b.dataset.resolution = r;
      b.onclick = () => setResolution(r);
      el.appendChild(b);
    }
  }
  for (const b of el.children) b.classList.toggle("sel", b.dataset.resolution === resolution);
}

function renderChart() {
  chart.draw();
  const c = candles && candles.last();
  $("chart-meta").textContent = c ? `${resolution} · O ${c.open} H ${c.high} L ${c.low} C ${c.close} · vol ${c.volume}` : resolution;
}

function select(sym) {
  if (sym === selected || !symbols.includes(sym)) return;
  history.replaceState(null, "", "#" + sym);
  follow(sym);
}

// ---- rendering ----

function renderBoard() {
  const body = $("board").tBodies[0];
  if (body.rows.length !== symbols.length) {
    body.innerHTML = "";
    for (const s of symbols) {
      const tr = body.insertRow();
      tr.dataset.symbol = s;
      tr.innerHTML = `<td>${s}</td><td class="r"></td><td class="r"></td><td class="r"></td>`;
      tr.onclick = () => select(s);
    }
  }
  for (const tr of body.rows) {
    const s = tr.dataset.symbol;
    const t = tickers.get(s) || {};
    tr.classList.toggle("sel", s === selected);
    const last = t.last || t.bid || "—";
    if (tr.cells[1].textContent !== last) tr.cells[1].textContent = last;
    tr.cells[2].textContent = t.change_pct ? signed(t.change_pct) + "%" : "—";
    tr.cells[2].className = "r " + signClass(t.change_pct);
    tr.cells[3].textContent = short(t.volume, 2);
  }
}

function renderHeader() {
  $("sym").textContent = selected || "—";
  const t = tickers.get(selected) || {};
  $("hdr-last").textContent = t.last || "—";
  $("hdr-last").className = "big num " + signClass(t.change);
  // change_pct is absent when the window opened at price 0.
  $("hdr-change").textContent = t.change ? signed(t.change) + (t.change_pct ? ` (${signed(t.change_pct)}%)` : "") : "—";
  $("hdr-change").className = "num " + signClass(t.change);
  $("hdr-high").textContent = t.high || "—";
  $("hdr-low").textContent = t.low || "—";
  $("hdr-vol").textContent = short(t.volume, 2);
  document.title = t.last ? `${t.last} ${selected} · marketfeed` : "marketfeed · live market";
}

function levelRow(side, [price, size], maxSize) {
  const pct = maxSize > 0 ? Math.max(1, Math.min(100, (Number(size) / maxSize) * 100)) : 0;
  return `<div class="row ${side}" data-price="${price}"><div class="bar" style="width:${pct.toFixed(1)}%"></div>` +
    `<span class="price">${price}</span><span class="size">${size}</span></div>`;
}

function renderBook() {
  const el = $("ladder");
  const meta = $("book-meta");
  if (!book || book.state === "empty") {
    el.dataset.state = book ? book.state : "empty";
    el.innerHTML = `<div class="empty">waiting for the ${selected || ""} book…</div>`;
    meta.textContent = "";
    return;
  }
  const bids = book.bids(ROWS);
  const asks = book.asks(ROWS);
  // Bar widths are a display ratio only; prices and sizes stay strings.
  const maxSize = Math.max(0, ...bids.map((l) => Number(l[1])), ...asks.map((l) => Number(l[1])));
  let html = `<div class="asks">`;
  for (let i = asks.length - 1; i >= 0; i--) html += levelRow("ask", asks[i], maxSize);
  let mid = "—", info = "";
  if (bids.length && asks.length) {
    const sm = spreadMid(bids[0][0], asks[0][0]);
    mid = sm.mid;
    info = "spread " + sm.spread;
  }
  html += `</div><div class="spread"><span class="mid">${mid}</span><span class="info">${info}</span></div><div class="bids">`;
  for (const l of bids) html += levelRow("bid", l, maxSize);
  html += `</div>`;
  el.innerHTML = html;
  el.dataset.state = book.state;
  el.dataset.seq = String(book.seq);
  el.dataset.bestBid = bids.length ? bids[0][0] : "";
  el.dataset.bestAsk = asks.length ? asks[0][0] : "";
  const ok = book.synced;
  meta.innerHTML = `seq <span id="book-seq">${book.seq}</span> · <span class="${ok ? "ok" : "warn"}">${ok ? "in sync" : book.state}</span>`;
}

function renderTrades() {
  const el = $("trades");
  if (!trades.length) {
    el.innerHTML = `<div class="empty">waiting for trades…</div>`;
    return;
  }
  let html = "";
  trades.forEach((t, i) => {
    const time = new Date(Math.floor(t.ts / 1000)).toISOString().slice(11, 23);
    html += `<div class="trade ${t.side}${i < newTrades ? " new" : ""}"><span class="t">${time}</span>` +
      `<span class="p">${t.price}</span><span class="s">${t.size}</span></div>`;
  });
  newTrades = 0;
  el.innerHTML = html;
}

function render() {
  if (dirty.board) renderBoard();
  if (dirty.header) renderHeader();
  if (dirty.book) renderBook();
  if (dirty.trades) renderTrades();
  if (dirty.chart) renderChart();
  dirty = { board: false, book: false, trades: false, header: false, chart: false };
}

// ---- start ----

async function loadSymbols() {
  for (;;) {
    try {
      const res = await fetch("v1/symbols", { cache: "no-store" });
      const list = await res.json();
      if (Array.isArray(list) && list.length) return list.map((s) => s.symbol).sort(compareSymbols);
    } catch (e) {
      console.warn("loading symbols", e);
    }
    $("conn-text").textContent = "waiting for symbols…";
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function compareSymbols(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function main() {
  $("api-key").value = localStorage.getItem("marketfeed.apiKey") || "";
  $("key-form").onsubmit = (e) => {
    e.preventDefault();
    localStorage.setItem("marketfeed.apiKey", $("api-key").value.trim());
    connect();
  };
  if (!RESOLUTIONS.includes(resolution)) resolution = DEFAULT_RESOLUTION;
  chart = new CandleChart($("chart"));
  renderResolutions();
  symbols = await loadSymbols();
  const want = decodeURIComponent(location.hash.slice(1));
  selected = symbols.includes(want) ? want : symbols.includes("BTC-USD") ? "BTC-USD" : symbols[0];
  connect();
  setInterval(render, 100);
  render();
}

main();
