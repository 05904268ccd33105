"""``python -m marketfeed watch CHANNEL``: print a channel live, verified.

Books print one line per verified snapshot or update (seq, best bid and
ask); bbo, trades and tickers one line per message; connection events, statuses
and resyncs go to standard error. Exits 1 with the error when reconnecting
cannot help (a rejected API key, an unknown symbol...), 0 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from . import connect
from .errors import MarketFeedError
from .events import (BBOStatus, BBOUpdate, BookStatus, BookUpdate, Connected, Disconnected, Notice,
                     Resync, Subscribed, TickerUpdate, Trades)
from .protocol import DEPTHS, INTERVALS, channel_kind


async def watch(url: str, channel: str, depth: int | None, interval: str | None, api_key: str | None,
                count: int, binary: bool = False) -> None:
    out, err = sys.stdout, sys.stderr
    seen = 0
    async with connect(url, api_key=api_key, binary=binary) as feed:
        async for ev in feed.subscribe(channel, depth=depth if channel_kind(channel) == "book" else None,
                                       interval=interval):
            if isinstance(ev, BookUpdate):
                b, a = ev.book.best_bid(), ev.book.best_ask()
                bid = f"{b.size} @ {b.price}" if b else "-"
                ask = f"{a.size} @ {a.price}" if a else "-"
                print(f"{ev.channel} seq {ev.seq}  bid {bid}  ask {ask}  ({ev.kind}, verified)", file=out)
            elif isinstance(ev, Trades):
                for t in ev.trades:
                    print(f"{ev.channel} {t.side} {t.size} @ {t.price}  id {t.id}", file=out)
            elif isinstance(ev, BBOUpdate):
                q = ev.bbo
                bid = f"{q.bid_size} @ {q.bid}" if q.bid is not None else "-"
                ask = f"{q.ask_size} @ {q.ask}" if q.ask is not None else "-"
                print(f"{ev.channel} seq {q.seq}  bid {bid}  ask {ask}", file=out)
            elif isinstance(ev, TickerUpdate):
                tk = ev.ticker
                print(f"{ev.channel} bid {tk.bid} ask {tk.ask} last {tk.last} 24h {tk.change_pct}% "
                      f"volume {tk.volume}", file=out)
            else:
                if isinstance(ev, Connected):
                    text = f"connected to {ev.url}"
                elif isinstance(ev, Disconnected):
                    text = f"disconnected ({ev.error}); reconnecting in {ev.retry_in:.2f}s"
                elif isinstance(ev, Subscribed):
                    text = f"subscribed to {ev.channel} (depth {ev.depth}, interval {ev.interval})"
                    if ev.resumed or ev.resume_reason:
                        text += " resumed" if ev.resumed else f" not resumed ({ev.resume_reason})"
                elif isinstance(ev, (BookStatus, BBOStatus)):
                    text = f"{ev.channel}: {ev.status}" + (f" ({ev.reason})" if ev.reason else "")
                elif isinstance(ev, Resync):
                    text = f"{ev.channel}: {ev.reason} at seq {ev.seq}; resyncing"
                elif isinstance(ev, Notice):
                    text = f"notice {ev.code}: {ev.message}"
                else:
                    text = repr(ev)
                print(text, file=err)
                continue
            out.flush()
            seen += 1
            if count and seen >= count:
                return


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m marketfeed", description="marketfeed client")
    sub = p.add_subparsers(dest="command", required=True)
    w = sub.add_parser("watch", help="print a channel live (book.SYM, bbo.SYM, ticker.SYM or trades.SYM)")
    w.add_argument("channel")
    w.add_argument("--url", default=os.environ.get("MARKETFEED_URL", "ws://127.0.0.1:8080/ws"),
                   help="server WebSocket URL (env MARKETFEED_URL)")
    w.add_argument("--api-key", default=os.environ.get("MARKETFEED_API_KEY") or None,
                   help="API key, sent as X-API-Key (env MARKETFEED_API_KEY)")
    w.add_argument("--depth", type=int, choices=DEPTHS, default=None, help="book depth (server default 20)")
    w.add_argument("--interval", choices=INTERVALS, default=None, help="update interval (server default)")
    w.add_argument("--count", type=int, default=0, help="stop after this many data lines (0: never)")
    w.add_argument("--binary", action="store_true", help="market data in binary frames (marketfeed.v1.bin)")
    args = p.parse_args(argv)
    try:
        channel_kind(args.channel)
    except ValueError as e:
        p.error(str(e))
    try:
        asyncio.run(watch(args.url, args.channel, args.depth, args.interval, args.api_key, args.count, args.binary))
    except KeyboardInterrupt:
        return 0
    except MarketFeedError as e:
        print(f"marketfeed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
