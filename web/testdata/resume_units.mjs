// Checks the resume state of marketfeed.js (resume.js, LocalBook's
// suspend, position and resumed) under Node.js, with no server:
//   node web/testdata/resume_units.mjs
// Prints one line per failure and exits 1 when there is any.
import { load } from "./load.mjs";

const { m, resume } = await load();
const fails = [];
let checks = 0;
const check = (ok, what) => {
  checks++;
  if (!ok) fails.push(what);
};
const same = (a, b) => JSON.stringify(a, (k, v) => (typeof v === "bigint" ? v.toString() + "n" : v)) === JSON.stringify(b, (k, v) => (typeof v === "bigint" ? v.toString() + "n" : v));

// Commands carry seqs up to 2^64-1 exactly.
const cmd = { op: "subscribe", id: 7, channels: ["book.X", "ticker.X"], resume: { "book.X": { epoch: 3, seq: 18446744073709551615n }, "ticker.X": {} } };
check(resume.stringify(cmd) === '{"op":"subscribe","id":7,"channels":["book.X","ticker.X"],"resume":{"book.X":{"epoch":3,"seq":18446744073709551615},"ticker.X":{}}}', "stringify: " + resume.stringify(cmd));
check(resume.stringify({ op: "ping", id: 1 }) === '{"op":"ping","id":1}', "stringify without BigInt");

// A synced book is kept across a reconnection, a book in any other state is reset.
const ch = "book.X";
const b = new m.LocalBook(ch);
b.apply({ type: "snapshot", channel: ch, seq: 10, epoch: 4, bids: [["1.5", "2"]], asks: [["1.6", "1"]] });
b.suspend();
check(b.state === "resuming" && !b.synced && b.bids().length === 1 && b.seq === 10n, "suspended book keeps its view: " + b.state);
check(same(b.position(), { epoch: 4, seq: 10n }), "position of a suspended book");
check(b.apply({ type: "update", channel: ch, first_seq: 11, seq: 11, epoch: 4, bids: [["1.4", "1"]] }) === "ignored", "update while resuming");
b.suspend();
check(b.state === "resuming" && b.position() !== null, "a second failed attempt keeps the book");
b.resumed();
check(b.synced && b.apply({ type: "update", channel: ch, first_seq: 11, seq: 11, epoch: 4, bids: [["1.4", "1"]] }) === "applied" && b.bids().length === 2, "resumed book continues from seq + 1");
b.apply({ type: "update", channel: ch, first_seq: 20, seq: 20, epoch: 4, bids: [] });
b.suspend();
check(b.state === "empty" && b.position() === null && b.bids().length === 0, "a book in gap is reset");

// Positions per channel kind, only for channels the server confirmed.
const sub = (channel) => ({ opts: {}, book: channel.startsWith("book.") ? new m.LocalBook(channel) : null, top: channel.startsWith("bbo.") ? new m.TopOfBook(channel) : undefined });
const subs = new Map(["book.X", "bbo.X", "ticker.X", "tickers", "trades.X"].map((c) => [c, sub(c)]));
check(resume.resumeOption([...subs.keys()], subs) === undefined, "no position before the server confirmed anything");
for (const [c, s] of subs) check(same(resume.subscribed(s, { type: "subscribed", channel: c }), { resumed: false }), "first subscribed of " + c);
check(same(resume.resumeOption([...subs.keys()], subs), { "ticker.X": {}, tickers: {} }), "ticker and tickers resume with {}: " + resume.stringify(resume.resumeOption([...subs.keys()], subs)));
const bk = subs.get("book.X").book;
bk.apply({ type: "snapshot", channel: "book.X", seq: 5, bids: [], asks: [] });
subs.get("bbo.X").top.apply({ type: "bbo", channel: "bbo.X", seq: 6, epoch: 2, bid: "1", bid_size: "1" });
resume.noteTrades(subs.get("trades.X"), { type: "trades", channel: "trades.X", trades: [{ id: "a1", ts: 100 }, { id: "a2", ts: 101 }] });
check(resume.resumeOption(["book.X"], subs) === undefined, "a synced book has no position until the connection ends");
for (const s of subs.values()) resume.suspend(s);
check(same(resume.resumeOption(["book.X", "bbo.X", "trades.X"], subs), { "book.X": { epoch: 0, seq: 5n }, "bbo.X": { epoch: 2, seq: 6n }, "trades.X": { trade_id: "a2", ts: 101 } }),
  "positions: " + resume.stringify(resume.resumeOption(["book.X", "bbo.X", "trades.X"], subs)));
check(same(resume.subscribed(subs.get("book.X"), { type: "subscribed", channel: "book.X", resumed: false, resume_reason: "history" }), { resumed: false, resumeReason: "history" }) && bk.state === "empty",
  "not resumed: the book is reset");
bk.apply({ type: "snapshot", channel: "book.X", seq: 9, bids: [], asks: [] });
resume.suspend(subs.get("book.X"));
check(same(resume.subscribed(subs.get("book.X"), { type: "subscribed", channel: "book.X", resumed: true }), { resumed: true }) && bk.synced && bk.seq === 9n, "resumed: the book is synced again");

for (const f of fails) console.log("FAIL " + f);
console.log(`${checks} checks, ${fails.length} failures`);
process.exit(fails.length ? 1 : 0);
