// CandleChart draws a CandleSeries (candles.js) on a <canvas>: candlesticks
// over a price axis, volume bars below, UTC times along the bottom. It
// positions marks with floating point (pixels only); every label is an
// exact decimal string: the axis ticks are multiples of a round step
// computed in integers at the instrument's price scale, the last price and
// the largest volume are the server's strings.
//
// The canvas exposes what it drew, for tests and tools: data-state
// ("empty" or "drawn"), data-resolution, data-drawn (candles drawn) and
// data-last (the newest candle drawn, as JSON, exactly as received).

import { DEFAULT_RESOLUTION, RESOLUTION_US } from "./candles.js";

const COLORS = {
  bg: "#12161c", grid: "#1e252e", text: "#7b8794", up: "#16c784", down: "#f6465d",
  upVol: "rgba(22, 199, 132, .35)", downVol: "rgba(246, 70, 93, .35)", last: "#f0b90b",
};
const SLOT = 9; // least px per period (7 px of body, 2 of gap); up to 3× while few candles are held
const AXIS = 78; // px of the price axis on the right
const TIME = 18; // px of the time axis at the bottom
const FONT = '11px ui-monospace, "JetBrains Mono", Menlo, Consolas, monospace';


// fracLen returns the number of fractional digits of the decimal string s.
export function fracLen(s) {
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

// toScaled returns the decimal string s as a BigInt at scale (s has at
// most scale fractional digits).
export function toScaled(s, scale) {
  const neg = s.startsWith("-");
  const [i, f = ""] = s.replace(/^-/, "").split(".");
  const v = BigInt(i + f.padEnd(scale, "0").slice(0, scale));
  return neg ? -v : v;
}

// fromScaled returns the BigInt v at scale as a decimal string with
// exactly scale fractional digits.
export function fromScaled(v, scale) {
  const neg = v < 0n;
  let s = (neg ? -v : v).toString().padStart(scale + 1, "0");
  if (scale > 0) s = s.slice(0, -scale) + "." + s.slice(-scale);
  return (neg ? "-" : "") + s;
}

// niceStep returns the least step of 1, 2, 2.5 or 5 × 10^k (a whole
// number of units of the scale) that cuts span into at most n intervals.
function niceStep(span, n) {
  const raw = span / BigInt(n) || 1n;
  let p = 1n;
  while (p * 10n <= raw) p *= 10n;
  const steps = p >= 10n ? [p, 2n * p, (5n * p) / 2n, 5n * p] : [p, 2n * p, 5n * p];
  for (const s of steps) if (s >= raw) return s;
  return 10n * p;
}

function timeLabel(us, resolution) {
  const iso = new Date(Math.floor(us / 1000)).toISOString();
  return resolution === "1d" ? iso.slice(5, 10) : iso.slice(11, 16);
}

export class CandleChart {
  /** canvas is the element to draw on; it is sized to its parent and follows its size. */
  constructor(canvas) {
    this.canvas = canvas;
    this.series = null;
    this.resize();
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(() => { this.resize(); this.draw(); }).observe(canvas.parentElement);
    }
  }

  /** Sets the CandleSeries to draw (null: none). */
  setSeries(series) {
    this.series = series;
  }

  resize() {
    const box = this.canvas.parentElement.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = Math.max(200, Math.floor(box.width));
    this.h = Math.max(120, Math.floor(box.height));
    this.canvas.width = this.w * dpr;
    this.canvas.height = this.h * dpr;
    this.canvas.style.width = this.w + "px";
    this.canvas.style.height = this.h + "px";
    this.ctx = this.canvas.getContext("2d");
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  /** Draws the series' newest candles that fit, by time: a period without trades is a gap. */
  draw() {
    const { ctx, w, h } = this;
    ctx.fillStyle = COLORS.bg;
    ctx.fillRect(0, 0, w, h);
    ctx.font = FONT;
    const s = this.series;
    const all = s && s.synced ? s.candles : [];
    const el = this.canvas;
    el.dataset.resolution = s ? s.resolution : "";
    if (!all.length) {
      el.dataset.state = "empty";
      el.dataset.drawn = "0";
      el.dataset.last = "";
      ctx.fillStyle = COLORS.text;
      ctx.textAlign = "center";
      ctx.fillText(s && s.synced ? "no trade yet" : "waiting for candles…", w / 2, h / 2);
      return;
    }
    const period = RESOLUTION_US[s.resolution] || RESOLUTION_US[DEFAULT_RESOLUTION];
    const plotW = w - AXIS;
    const last = all[all.length - 1];
    // Periods from the first candle held: while they are few, wider candles.
    const span = Math.round((last.start - all[0].start) / period) + 3;
    const slot = Math.max(SLOT, Math.min(3 * SLOT, Math.floor(plotW / span)));
    const body = Math.max(3, Math.round(slot * 0.75)) | 1; // odd: the wick in its middle
    this._slot = slot;
    const slots = Math.max(1, Math.floor(plotW / slot));
    const first = last.start - (slots - 1) * period; // start of the leftmost slot
    const shown = all.filter((c) => c.start >= first);
    const scale = Math.max(...shown.map((c) => fracLen(c.high)), fracLen(last.close));
    let lo = toScaled(shown[0].low, scale), hi = toScaled(shown[0].high, scale);
    for (const c of shown) {
      const l = toScaled(c.low, scale), u = toScaled(c.high, scale);
      if (l < lo) lo = l;
      if (u > hi) hi = u;
    }
    if (hi === lo) { hi += 1n; lo -= 1n; }
    const pad = (hi - lo) / 20n;
    hi += pad; lo -= pad;
    const volH = Math.round((h - TIME) * 0.22);
    const priceH = h - TIME - volH - 6;
    const y = (v) => 4 + (priceH - 4) * (1 - Number(v - lo) / Number(hi - lo));
    const x = (start) => Math.round(((start - first) / period) * slot) + 1;

    this._priceAxis(lo, hi, scale, y, plotW, priceH);
    const ups = shown.map((c) => toScaled(c.close, scale) >= toScaled(c.open, scale));
    this._volumes(shown, ups, x, body, priceH + 6, volH);
    this._timeAxis(first, period, slots, s.resolution, plotW);
    shown.forEach((c, i) => {
      const up = ups[i];
      ctx.strokeStyle = ctx.fillStyle = up ? COLORS.up : COLORS.down;
      const cx = x(c.start) + (body - 1) / 2 + 0.5;
      ctx.beginPath();
      ctx.moveTo(cx, y(toScaled(c.high, scale)));
      ctx.lineTo(cx, y(toScaled(c.low, scale)));
      ctx.stroke();
      const top = y(toScaled(up ? c.close : c.open, scale));
      const bottom = y(toScaled(up ? c.open : c.close, scale));
      ctx.fillRect(x(c.start), top, body, Math.max(1, bottom - top));
    });
    this._lastPrice(last.close, y(toScaled(last.close, scale)), plotW);
    el.dataset.state = "drawn";
    el.dataset.drawn = String(shown.length);
    el.dataset.last = JSON.stringify(last);
  }

  _priceAxis(lo, hi, scale, y, plotW, priceH) {
    const { ctx } = this;
    const step = niceStep(hi - lo, Math.max(3, Math.floor(priceH / 32)));
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    let v = (lo / step) * step; // BigInt division truncates toward zero
    if (v < lo) v += step;
    for (; v <= hi; v += step) {
      const py = Math.round(y(v)) + 0.5;
      ctx.strokeStyle = COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(0, py);
      ctx.lineTo(plotW, py);
      ctx.stroke();
      ctx.fillStyle = COLORS.text;
      ctx.fillText(fromScaled(v, scale), plotW + 6, py);
    }
  }

  _volumes(shown, ups, x, body, top, height) {
    const { ctx } = this;
    // Bar heights are a display ratio only; the label is the exact string.
    let max = shown[0];
    for (const c of shown) if (Number(c.volume) > Number(max.volume)) max = c;
    const vmax = Number(max.volume) || 1;
    shown.forEach((c, i) => {
      const bh = Math.max(1, Math.round((Number(c.volume) / vmax) * (height - 2)));
      ctx.fillStyle = ups[i] ? COLORS.upVol : COLORS.downVol;
      ctx.fillRect(x(c.start), top + height - bh, body, bh);
    });
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText("vol " + max.volume, 4, top);
  }

  _timeAxis(first, period, slots, resolution, plotW) {
    const { ctx, h } = this;
    const every = Math.max(1, Math.ceil(90 / this._slot)); // a label every ~90 px
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    for (let i = 0; i < slots; i++) {
      const start = first + i * period;
      if (Math.round(start / period) % every !== 0) continue;
      const px = i * this._slot + this._slot / 2;
      if (px < 20 || px > plotW - 20) continue;
      ctx.fillText(timeLabel(start, resolution), px, h - 3);
    }
  }

  _lastPrice(close, py, plotW) {
    const { ctx } = this;
    ctx.strokeStyle = COLORS.last;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(0, Math.round(py) + 0.5);
    ctx.lineTo(plotW, Math.round(py) + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = COLORS.last;
    ctx.fillRect(plotW + 1, py - 8, AXIS - 2, 16);
    ctx.fillStyle = "#0b0e11";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(close, plotW + 6, py);
  }
}
