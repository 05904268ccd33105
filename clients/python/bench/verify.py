"""How many book updates per second one Python process verifies.

  python bench/verify.py record --url ws://127.0.0.1:8080/ws --key KEY --seconds 20 stream.jsonl
  python bench/verify.py books stream.jsonl            # decode + verify, no socket
  python bench/verify.py feed stream.jsonl             # the whole client over loopback

``record`` subscribes to every symbol's book at depth 20, raw, and writes
each server message as received, one per line (snapshots first, then the
sequenced updates). ``books`` decodes every line and applies it to an
OrderBook (continuity and the CRC-32 of the whole view checked on every
message), as the client does for each message. ``feed`` serves the
recording from a second process over a loopback WebSocket (as fast as it
can send) to a marketfeed.Feed with one subscription per channel, and
counts the verified BookUpdate events the subscriptions yield: WebSocket
frames, JSON, routing, queues, checks and events, all in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
import urllib.request
from pathlib import Path

import marketfeed
from marketfeed import _json


async def record(url: str, key: str, seconds: float, out: Path, depth: int) -> None:
    import websockets

    base = url.replace("ws://", "http://").rsplit("/ws", 1)[0]
    with urllib.request.urlopen(base + "/v1/symbols") as r:
        syms = [s["symbol"] for s in json.load(r)]
    n = 0
    async with websockets.connect(url, additional_headers={"X-API-Key": key}, proxy=None,
                                  max_size=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": [f"book.{s}" for s in syms],
                                  "depth": depth, "interval": "raw"}))
        deadline = time.monotonic() + seconds
        with out.open("w") as f:
            async for raw in ws:
                m = json.loads(raw)
                if m.get("type") in ("snapshot", "update"):
                    f.write(raw if isinstance(raw, str) else raw.decode())
                    f.write("\n")
                    n += 1
                if time.monotonic() > deadline:
                    break
    print(f"recorded {n} book messages of {len(syms)} channels at depth {depth} to {out}")


def load(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    # Start each channel at its first snapshot.
    seen: set[str] = set()
    out = []
    for ln in lines:
        m = json.loads(ln)
        ch = m["channel"]
        if ch not in seen:
            if m["type"] != "snapshot":
                continue
            seen.add(ch)
        out.append(ln)
    return out


def bench_books(lines: list[str], rounds: int) -> None:
    books: dict[str, marketfeed.OrderBook] = {}
    loads = _json.loads
    for ln in lines:
        ch = loads(ln)["channel"]
        books.setdefault(ch, marketfeed.OrderBook(ch))
    updates = sum(1 for ln in lines if '"type":"update"' in ln)
    best = 0.0
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        for ln in lines:
            m = loads(ln)
            if books[m["channel"]].apply(m) != "applied":
                raise SystemExit(f"not verified: {ln[:120]}")
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        best = max(best, len(lines) / dt)
        print(f"  {len(lines)} messages ({updates} updates) in {dt:.3f} s: {len(lines) / dt:,.0f} messages/s, "
              f"{len(lines) / cpu:,.0f} per CPU second")
    print(f"books: best {best:,.0f} verified book messages/s (parser {_json.PARSER})")


def _serve(lines: list[str], rounds: int, port_q: "multiprocessing.Queue[int]") -> None:
    import websockets
    from websockets.asyncio.server import serve

    channels = sorted({json.loads(ln)["channel"] for ln in lines})

    async def handler(ws: websockets.asyncio.server.ServerConnection) -> None:
        await ws.send(json.dumps({"type": "welcome", "protocol": 1, "server": "replay",
                                  "ping_interval_ms": 20000, "ts": 0}))
        pending = set(channels)
        while pending:
            cmd = json.loads(await ws.recv())
            if cmd.get("op") == "subscribe":
                for ch in cmd.get("channels") or [cmd["channel"]]:
                    pending.discard(ch)
                    await ws.send(json.dumps({"type": "subscribed", "id": cmd.get("id"), "channel": ch,
                                              "depth": 20, "interval": "raw"}))
        for _ in range(rounds):
            for i in range(0, len(lines), 64):
                for ln in lines[i:i + 64]:
                    await ws.send(ln)
        await ws.close()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as srv:
            port_q.put(list(srv.sockets)[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


async def bench_feed(lines: list[str], rounds: int) -> None:
    ctx = multiprocessing.get_context("spawn")
    port_q: multiprocessing.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_serve, args=(lines, rounds, port_q), daemon=True)
    proc.start()
    try:
        port = port_q.get(timeout=30)
        channels = sorted({json.loads(ln)["channel"] for ln in lines})
        want = len(lines) * rounds
        counts = {"book": 0, "updates": 0}
        first = last = 0.0
        cpu0 = cpu1 = 0.0

        async def consume(sub: marketfeed.Subscription) -> None:
            nonlocal first, last, cpu0, cpu1
            async for ev in sub:
                if isinstance(ev, marketfeed.BookUpdate):
                    if not first:
                        first, cpu0 = time.perf_counter(), time.process_time()
                    counts["book"] += 1
                    if ev.kind == "update":
                        counts["updates"] += 1
                    last, cpu1 = time.perf_counter(), time.process_time()
                elif isinstance(ev, marketfeed.Resync):
                    raise SystemExit(f"resync: {ev}")
                elif isinstance(ev, marketfeed.Disconnected):
                    return

        async with marketfeed.connect(f"ws://127.0.0.1:{port}/ws", compression=False) as feed:
            tasks = [asyncio.create_task(consume(feed.subscribe(ch, depth=20))) for ch in channels]
            await asyncio.wait(tasks, timeout=600)
        if not counts["book"]:
            raise SystemExit("no book message verified")
        dt, cpu = last - first, cpu1 - cpu0
        print(f"feed: {counts['book']} of {want} book messages verified ({counts['updates']} updates) in "
              f"{dt:.2f} s: {counts['updates'] / dt:,.0f} updates/s, {counts['updates'] / cpu:,.0f} per CPU second "
              f"of this process (parser {_json.PARSER})")
    finally:
        proc.terminate()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--url", default="ws://127.0.0.1:8080/ws")
    r.add_argument("--key", required=True)
    r.add_argument("--seconds", type=float, default=20)
    r.add_argument("--depth", type=int, default=20)
    r.add_argument("out", type=Path)
    for name in ("books", "feed"):
        s = sub.add_parser(name)
        s.add_argument("stream", type=Path)
        s.add_argument("--rounds", type=int, default=5 if name == "books" else 3)
    a = p.parse_args()
    if a.cmd == "record":
        asyncio.run(record(a.url, a.key, a.seconds, a.out, a.depth))
    elif a.cmd == "books":
        bench_books(load(a.stream), a.rounds)
    else:
        asyncio.run(bench_feed(load(a.stream), a.rounds))


if __name__ == "__main__":
    sys.exit(main())
