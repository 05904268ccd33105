"""Resume on reconnection against real marketfeed servers: the server
behind the client's address goes away mid-stream and another one (a
restart) takes the address once it has caught up; the feed reconnects by
itself and resumes every channel, its books with no snapshot and no gap.
After a disconnect longer than the server's history, the books start
again from a snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

import marketfeed
from marketfeed import events as ev

from conftest import Demo, Server, free_port, wait_http
from test_live import CH, SYM, Recorder, assert_equals_server
from test_live import proxy_to as proxy_to  # noqa: F401 - the fixture

CH100 = "book.ETH-USD"
TRADES = f"trades.{SYM}"


def record_commands(feed: marketfeed.Feed) -> list[dict[str, Any]]:
    """Every command the feed sends, as it sends it."""
    sent: list[dict[str, Any]] = []
    send = feed._send

    def recording(cmd: dict[str, Any]) -> None:
        sent.append(cmd)
        send(cmd)

    feed._send = recording  # type: ignore[method-assign]
    return sent


def start_ready(servers: Any, *args: str) -> Server:
    """A server caught up with the topic (ready), as a balancer would
    require before sending it clients."""
    s: Server = servers(*args)
    wait_http(f"http://127.0.0.1:{s.port}/readyz", 30, s.proc)
    return s


async def take_over(proxy: Any, old: Server, servers: Any, pause: float, *args: str) -> Server:
    """The server behind the proxy shuts down; after pause seconds a new
    one, once ready, takes its place."""
    proxy.upstream_port = free_port()  # nothing listens: refused
    assert await asyncio.to_thread(old.stop) == 0
    await asyncio.sleep(pause)
    new = await asyncio.to_thread(start_ready, servers, *args)
    proxy.upstream_port = new.port
    return new


def resume_of(sent: list[dict[str, Any]], channel: str) -> Any:
    for cmd in reversed(sent):
        if cmd.get("op") == "subscribe" and channel in (cmd.get("resume") or {}):
            return cmd["resume"][channel]
    return None


def subscribed_after(rec: Recorder, start: int) -> ev.Subscribed:
    i = rec.index(ev.Subscribed, start)
    assert i >= 0
    return rec.events[i]  # type: ignore[no-any-return]


async def check_resumed_book(r: Recorder, start: int, sent: list[dict[str, Any]]) -> None:
    """After events[start:], the feed reconnected and sent the position of
    the last book message before the disconnection; the server resumed
    the book, which continues with verified updates and no snapshot."""
    d = r.index(ev.Disconnected, start)
    assert d >= 0
    last = [e for e in r.events[:d] if isinstance(e, ev.BookUpdate)][-1]
    pos = resume_of(sent, r.sub.channel)
    assert pos == {"epoch": last.book.epoch, "seq": last.seq}, (pos, last.seq)
    s = subscribed_after(r, d)
    assert s.resumed and s.resume_reason is None, s
    i = r.events.index(s)
    await r.until(lambda: r.index(ev.BookUpdate, i) >= 0, f"an update of {r.sub.channel} after the resume")
    after = [e for e in r.events[i:] if isinstance(e, ev.BookUpdate)]
    assert all(e.kind == "update" for e in after), "a snapshot after the resume"
    assert after[0].seq > pos["seq"] and r.index(ev.Resync) == -1


async def test_resume_after_a_server_restart(demo: Demo, servers: Any, proxy_to: Any) -> None:
    b = start_ready(servers)
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url, api_key=demo.key, retry_min=0.05, retry_max=0.3) as feed:
        sent = record_commands(feed)
        raw = Recorder(feed.subscribe(CH, depth=20))
        slow = Recorder(feed.subscribe(CH100, depth=10, interval="100ms"))
        bbo = Recorder(feed.subscribe(f"bbo.{SYM}"))
        ticker = Recorder(feed.subscribe(f"ticker.{SYM}"))
        trades = Recorder(feed.subscribe(TRADES))
        recs = [raw, slow, bbo, ticker, trades]
        for r in (raw, slow):
            await r.until(lambda r=r: len(r.views) > 3, f"verified updates of {r.sub.channel}")
        await trades.until(lambda: trades.index(ev.Trades) >= 0, "a trade")
        n = {id(r): len(r.events) for r in recs}
        b = await take_over(proxy, b, servers, 0.5)
        for r in recs:
            await r.until(lambda r=r: r.index(ev.Subscribed, n[id(r)]) >= 0, f"{r.sub.channel} subscribed again")
        last_trade = [e for e in trades.events[:n[id(trades)]] if isinstance(e, ev.Trades)][-1].trades[-1]
        for r in (raw, slow):
            await check_resumed_book(r, n[id(r)], sent)
        for r in (bbo, ticker):
            assert subscribed_after(r, n[id(r)]).resumed
            assert resume_of(sent, r.sub.channel) is not None
        # Trades: the position is the last trade received; the server
        # resumes from it, so every trade arrives once, in order, none lost
        # (the exchange numbers a symbol's trades one by one).
        assert resume_of(sent, TRADES) == {"trade_id": last_trade.id, "ts": last_trade.ts}
        s = subscribed_after(trades, n[id(trades)])
        assert s.resumed and s.resume_reason is None
        await trades.until(lambda: trades.index(ev.Trades, trades.events.index(s)) >= 0, "trades after reconnecting")
        ids = [int(t.id) for e in trades.events if isinstance(e, ev.Trades) for t in e.trades]
        assert ids == list(range(ids[0], ids[0] + len(ids))), ids
        await assert_equals_server(raw, demo, times=2)
        assert all(r.error is None for r in recs)
        for r in recs:
            await r.close()


async def test_a_long_disconnect_starts_again_from_a_snapshot(demo: Demo, servers: Any, proxy_to: Any) -> None:
    b = start_ready(servers)
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url, api_key=demo.key, retry_min=0.05, retry_max=0.3) as feed:
        sent = record_commands(feed)
        rec = Recorder(feed.subscribe(CH, depth=20))
        await rec.until(lambda: len(rec.views) > 3, "verified updates")
        n = len(rec.events)
        # Down for 3 s; the next server keeps 1 s of history.
        await take_over(proxy, b, servers, 3.0, "-history.window", "1s")
        await rec.until(lambda: rec.index(ev.Subscribed, n) >= 0, "subscribed again")
        assert resume_of(sent, CH) is not None
        s = subscribed_after(rec, n)
        assert not s.resumed and s.resume_reason == "history", s
        i = rec.events.index(s)
        await rec.until(lambda: rec.index(ev.BookUpdate, i) >= 0, "the book on the new server")
        assert rec.events[rec.index(ev.BookUpdate, i)].kind == "snapshot"
        assert rec.sub.book is not None and rec.index(ev.Resync) == -1
        await assert_equals_server(rec, demo, times=2)
        assert rec.error is None
        await rec.close()


async def test_resume_on_another_replica(demo: Demo, servers: Any) -> None:
    """Two servers of one topic (``urls``): the feed follows its channels on
    the first; when it shuts down the feed reconnects to the second and
    resumes there, with no snapshot and no gap."""
    a, b = start_ready(servers), start_ready(servers)
    async with marketfeed.connect(a.url, urls=[b.url], api_key=demo.key, retry_min=0.05, retry_max=0.3) as feed:
        sent = record_commands(feed)
        rec = Recorder(feed.subscribe(CH, depth=20))
        await rec.until(lambda: len(rec.views) > 3, "verified updates on the first server")
        n = len(rec.events)
        assert await asyncio.to_thread(a.stop) == 0
        await rec.until(lambda: rec.index(ev.Subscribed, n) >= 0, "subscribed on the second server")
        connected = rec.events[rec.index(ev.Connected, n)]
        assert connected.url == b.url, connected
        await check_resumed_book(rec, n, sent)
        await assert_equals_server(rec, demo, times=2)
        assert rec.error is None and feed.connections == 2
        await rec.close()
