// resume.js: resume across reconnections for the marketfeed.js client
// module (websocket.md section 3.1, Resume). marketfeed.js imports it;
// copy it with marketfeed.js and book.js.
//
// Between two connections a MarketFeed keeps each subscription's state:
// a synced book keeps its levels (state "resuming": kept, not to be
// trusted until the server answers), a bbo its last top, a trades channel
// its last trade. The next connection subscribes with the resume option:
// {epoch, seq} of the last book or bbo message applied, {trade_id, ts} of
// the last trade received, {} for ticker and tickers. A book the server
// resumes ("resumed":true) is synced again and continues with updates
// (first_seq = seq + 1, checksums verified as always); one it does not
// resume is reset and waits for the snapshot that follows.

/**
 * suspend is called for each subscription when the connection ends: a
 * synced book keeps its view for a resume, any other book is reset.
 */
export function suspend(sub) {
  if (sub.book) sub.book.suspend();
}

/**
 * position returns the resume position of a subscription, or undefined
 * when there is none: a channel the server never confirmed, a book that
 * was not synced when the connection ended, a bbo without a live top, a
 * trades channel before its first trade.
 */
export function position(channel, sub) {
  if (!sub.confirmed) return undefined;
  if (sub.book) return sub.book.position() || undefined;
  if (sub.top) return sub.top.live ? { epoch: sub.top.epoch, seq: sub.top.seq } : undefined;
  if (channel.startsWith("trades.")) return sub.lastTrade;
  if (channel === "tickers" || channel.startsWith("ticker.")) return {};
  return undefined;
}

/** resumeOption returns the resume option of a subscribe of channels, or undefined when none has a position. */
export function resumeOption(channels, subs) {
  let out;
  for (const ch of channels) {
    const sub = subs.get(ch);
    const p = sub && position(ch, sub);
    if (p) (out ||= {})[ch] = p;
  }
  return out;
}

/**
 * subscribed records the server's answer to a subscribe: the channel is
 * confirmed; a resuming book is synced again when "resumed" is true, else
 * reset (its snapshot follows). Returns the event's resume fields.
 */
export function subscribed(sub, msg) {
  sub.confirmed = true;
  const resumed = msg.resumed === true;
  if (sub.book) {
    if (resumed) sub.book.resumed();
    else if (sub.book.state === "resuming") sub.book.reset();
  }
  const ev = { resumed };
  if (typeof msg.resume_reason === "string") ev.resumeReason = msg.resume_reason;
  return ev;
}

/** noteTrades records the last trade of a trades message as the channel's position. */
export function noteTrades(sub, msg) {
  const t = msg.type === "trades" && Array.isArray(msg.trades) ? msg.trades[msg.trades.length - 1] : undefined;
  if (t && typeof t.id === "string" && Number.isSafeInteger(t.ts)) sub.lastTrade = { trade_id: t.id, ts: t.ts };
}

// A BigInt value is written as a marker string, which stringify turns
// into the plain JSON integer (JSON.stringify refuses BigInt).
const BIG = "\u0000bigint:";
const BIG_TEXT = /"\\u0000bigint:(\d+)"/g;

/** stringify is JSON.stringify for client commands, writing BigInt values (seq) as exact JSON integers. */
export function stringify(cmd) {
  return JSON.stringify(cmd, (k, v) => (typeof v === "bigint" ? BIG + v.toString() : v)).replace(BIG_TEXT, "$1");
}
