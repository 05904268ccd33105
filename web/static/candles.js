// CandleSeries: the candles of one candles.<SYMBOL> channel at one
// resolution, as the server sends them (schemas/websocket.md, section
// 5.8.2). Prices and volumes stay the exact decimal strings received.

// RESOLUTION_US is each resolution's period in microseconds, the unit of
// the candles' start times.
export const RESOLUTION_US = { "1m": 60e6, "5m": 300e6, "15m": 900e6, "1h": 3600e6, "1d": 86400e6 };
export const RESOLUTIONS = Object.keys(RESOLUTION_US);
export const DEFAULT_RESOLUTION = "1m";

export class CandleSeries {
  /** channel is candles.<SYMBOL>; resolution the one subscribed ("1m" when omitted). */
  constructor(channel, resolution) {
    this.channel = channel;
    this.resolution = resolution || DEFAULT_RESOLUTION;
    this.synced = false;
    this.windowStart = 0;
    this.candles = []; // by start, oldest first: {start, open, high, low, close, volume, quote_volume, count, final}
  }

  /**
   * Applies a candles message of the channel. Returns "snapshot" (the
   * candles were replaced), "applied", or "ignored": another message, one
   * of another resolution (a subscription being replaced), or an update
   * before the snapshot. Each candle replaces the one with the same start.
   */
  apply(msg) {
    if (msg.type !== "candles" || msg.channel !== this.channel || msg.resolution !== this.resolution) return "ignored";
    if (!msg.snapshot && !this.synced) return "ignored";
    if (msg.snapshot) {
      this.candles = [];
      this.synced = true;
      this.windowStart = msg.window_start || 0;
    } else if (msg.window_start) {
      this.windowStart = msg.window_start;
    }
    for (const c of msg.candles || []) this._put(c);
    return msg.snapshot ? "snapshot" : "applied";
  }

  _put(c) {
    const list = this.candles;
    let i = list.length;
    while (i > 0 && list[i - 1].start > c.start) i--; // updates come at the end
    if (i > 0 && list[i - 1].start === c.start) list[i - 1] = c;
    else list.splice(i, 0, c);
  }

  /** The newest candle (the one in progress when there is one), or null. */
  last() {
    return this.candles.length ? this.candles[this.candles.length - 1] : null;
  }
}
