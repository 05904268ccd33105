"""The client against a real marketfeed: books equal the server's through
reconnects, gaps, checksum mismatches, shutdowns and lifetime notices;
refusals are clear errors, not hangs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import pytest
import websockets

import marketfeed
from marketfeed import events as ev

from conftest import REPO, Demo, new_secret, symbols, within, write_keys
from faultproxy import FaultProxy

SYM = "BTC-USD"
CH = f"book.{SYM}"


async def reference(url: str, key: str, channel: str = CH, depth: int = 20) -> tuple[int, list[tuple[str, str]], list[tuple[str, str]]]:
    """The server's view: the snapshot of a fresh subscription on a plain
    WebSocket connection (no code of the client under test)."""
    async with websockets.connect(url, additional_headers={"X-API-Key": key}, proxy=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channel": channel, "depth": depth, "interval": "raw"}))
        async with within(15):
            async for raw in ws:
                m = json.loads(raw)
                if m.get("type") == "snapshot" and m.get("channel") == channel:
                    return m["seq"], [tuple(x) for x in m["bids"]], [tuple(x) for x in m["asks"]]
    raise AssertionError("no snapshot")


def metric(port: int, name: str) -> float:
    """A Prometheus sample of the server (the sum over label sets when
    name has no labels)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or ("{" not in name and line.startswith(name + "{")):
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Recorder:
    """Consumes a subscription, keeping every event and the verified view
    after each book message."""

    sub: marketfeed.Subscription
    events: list[Any] = field(default_factory=list)
    views: list[tuple[int, str, list[tuple[str, str]], list[tuple[str, str]]]] = field(default_factory=list)
    error: BaseException | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    running: asyncio.Event = field(default_factory=asyncio.Event)  # cleared: the consumer stalls

    def __post_init__(self) -> None:
        self.running.set()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            async for e in self.sub:
                await self.running.wait()
                self.events.append(e)
                if isinstance(e, ev.BookUpdate):
                    assert e.book.synced
                    assert e.book.compute_checksum() == e.book.checksum
                    self.views.append((e.seq, e.kind, e.book.raw_bids(), e.book.raw_asks()))
                self.changed.set()
        except BaseException as e:  # noqa: BLE001 - inspected by the tests
            self.error = e
            self.changed.set()

    async def until(self, cond: Callable[[], bool], what: str, timeout: float = 20) -> None:
        async with within(timeout):
            while not cond():
                if self.error is not None:
                    raise AssertionError(f"waiting for {what}: subscription failed: {self.error!r}")
                self.changed.clear()
                await self.changed.wait()

    def index(self, cls: type, start: int = 0, **attrs: Any) -> int:
        for i in range(start, len(self.events)):
            e = self.events[i]
            if isinstance(e, cls) and all(getattr(e, k) == v for k, v in attrs.items()):
                return i
        return -1

    def view_at(self, seq: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]] | None:
        """The client's verified view at seq: the last view at or before seq
        when the next one continues it (an update), None when unknown."""
        for i in range(len(self.views) - 1, -1, -1):
            s, _, bids, asks = self.views[i]
            if s == seq:
                return bids, asks
            if s < seq:
                if i + 1 < len(self.views) and self.views[i + 1][1] == "update":
                    return bids, asks
                return None
        return None

    async def close(self) -> None:
        await self.sub.aclose()
        self.task.cancel()


def resumed_at(rec: Recorder, start: int) -> int:
    """The index of the first book event after a resumed subscription
    (events[start:]), -1 when none yet."""
    j = next((i for i in range(start, len(rec.events))
              if isinstance(rec.events[i], ev.Subscribed) and rec.events[i].resumed), -1)
    return -1 if j < 0 else rec.index(ev.BookUpdate, j)


async def assert_equals_server(rec: Recorder, demo: Demo, times: int = 2) -> None:
    """The client's view equals server A's at seqs taken from fresh
    snapshots of A."""
    checked = 0
    for _ in range(times * 5):
        seq, bids, asks = await reference(demo.url, demo.key)
        await rec.until(lambda: bool(rec.views) and rec.views[-1][0] > seq, f"the client past seq {seq}")
        view = rec.view_at(seq)
        if view is None:
            continue  # a snapshot at that point: take another reference
        assert view == (bids, asks), f"client's view at seq {seq} differs from the server's"
        checked += 1
        if checked == times:
            return
    raise AssertionError(f"only {checked} comparisons possible")


@pytest.fixture
async def proxy_to(request: pytest.FixtureRequest) -> Any:
    proxies: list[FaultProxy] = []

    async def make(port: int) -> FaultProxy:
        p = await FaultProxy(port).start()
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        await p.close()


async def test_books_equal_the_servers(demo: Demo) -> None:
    async with marketfeed.connect(demo.url, api_key=demo.key) as feed:
        rec = Recorder(feed.subscribe(CH, depth=20))
        await rec.until(lambda: len(rec.views) > 5, "verified updates")
        sub = rec.events[rec.index(ev.Subscribed)]
        assert sub.depth == 20 and sub.interval == "raw" and rec.index(ev.Subscribed) < rec.index(ev.BookUpdate)
        assert rec.views[0][1] == "snapshot"
        await assert_equals_server(rec, demo, times=3)
        assert rec.index(ev.Resync) == -1
        await rec.close()


async def test_shared_channel_unsubscribe_and_subscribe_again(demo: Demo) -> None:
    async with marketfeed.connect(demo.url, api_key=demo.key) as feed:
        one = Recorder(feed.subscribe(CH))
        await one.until(lambda: len(one.views) > 1, "verified updates")
        two = Recorder(feed.subscribe(CH))  # shares the server subscription
        await two.until(lambda: len(two.views) > 2, "the second subscription's book")
        assert two.views[0][1] == "snapshot" and two.index(ev.Subscribed) >= 0
        with pytest.raises(ValueError):
            feed.subscribe(CH, depth=5)
        await one.close()
        n = len(two.views)
        await two.until(lambda: len(two.views) > n + 2, "updates after the first one closed")
        await assert_equals_server(two, demo, times=1)
        await two.close()
        three = Recorder(feed.subscribe(CH, depth=5))  # a new server subscription
        await three.until(lambda: len(three.views) > 2, "the new subscription's book")
        assert three.events[three.index(ev.Subscribed)].depth == 5
        assert all(len(b) <= 5 and len(a) <= 5 for _, _, b, a in three.views)
        assert three.error is None
        await three.close()


async def test_rate_limited_commands_are_sent_again(demo: Demo, servers: Any) -> None:
    b = servers("-websocket.max_messages_per_second", "2")
    names = sorted(symbols(b.port))[:5]
    async with marketfeed.connect(b.url, retry_min=0.2) as feed:
        recs = []
        for name in names:  # one command each, faster than the server allows
            recs.append(Recorder(feed.subscribe(f"book.{name}")))
            await asyncio.sleep(0.02)
        for r in recs:
            await r.until(lambda r=r: bool(r.views), f"a book of {r.sub.channel}")
            assert r.error is None
        limited = [e for r in recs for e in r.events if isinstance(e, ev.ErrorEvent)]
        assert limited and all(e.error.code == "rate_limited" for e in limited)
        assert feed.connections == 1
        # Subscribes of one turn of the event loop go out as one command,
        # which the refilled allowance takes.
        await asyncio.sleep(1.2)
        more = [Recorder(feed.subscribe(f"trades.{name}")) for name in names]
        for r in more:
            await r.until(lambda r=r: r.index(ev.Subscribed) >= 0, f"{r.sub.channel} subscribed")
            assert r.index(ev.ErrorEvent) == -1
        for r in recs + more:
            await r.close()


@pytest.mark.parametrize("lag", ["snapshot", "evict"])
async def test_a_stalled_consumer_gets_a_verified_book_again(demo: Demo, servers: Any, lag: str) -> None:
    # A small budget and socket buffer: a consumer that stops reading for
    # a few seconds exceeds it.
    b = servers("-websocket.queue_frames", "32", "-websocket.max_queue_bytes", "16384",
                "-websocket.socket_send_buffer", "4096")
    async with marketfeed.connect(b.url, retry_min=0.1, queue_size=8) as feed:
        recs = [Recorder(feed.subscribe(f"book.{name}", lag=lag)) for name in sorted(symbols(b.port))]
        rec = next(r for r in recs if r.sub.channel == CH)
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        evicted = 'marketfeed_ws_disconnects_total{reason="slow_consumer"}'
        for attempt in range(5):  # the buffers fill more slowly on a busy machine
            base = await asyncio.to_thread(metric, b.port, evicted)
            for r in recs:
                r.running.clear()
            # Stall for 8 s: the socket buffers on the way fill in a few
            # seconds (more on a busy machine), then the server's queue
            # passes half of its byte budget; the server tears down a socket
            # that accepts nothing for websocket.write_timeout (10 s)
            # whatever the policy.
            for _ in range(80):
                await asyncio.sleep(0.1)
                if lag == "evict" and await asyncio.to_thread(metric, b.port, evicted) > base:
                    break
            n = len(rec.events)
            for r in recs:
                r.running.set()
            # Skipped ahead to a snapshot on the connection, or evicted and
            # resumed from its position on the next one.
            healed = (lambda: rec.index(ev.BookUpdate, n, kind="snapshot")) if lag == "snapshot" else (lambda: resumed_at(rec, n))
            try:
                await rec.until(lambda: healed() >= 0, "a fresh snapshot" if lag == "snapshot" else "a resume",
                                timeout=3 if lag == "snapshot" else 20)
                break
            except TimeoutError:
                continue  # not behind enough yet
        else:
            kinds = [type(e).__name__ + (f"({e.kind})" if isinstance(e, ev.BookUpdate) else "")
                     for e in rec.events if not isinstance(e, ev.BookUpdate) or e.kind == "snapshot"]
            raise AssertionError(f"the server never found the consumer behind: {kinds}, "
                                 f"connections {feed.connections}")
        lagged = rec.events[n:healed()]
        if lag == "snapshot":  # skipped ahead on the same connection
            assert not any(isinstance(e, (ev.Disconnected, ev.Resync)) for e in lagged)
            assert feed.connections == 1
            assert metric(b.port, "marketfeed_ws_lag_snapshots_total") >= 1
        else:  # evicted (4001, or torn down when even the close frame cannot go), reconnected
            d = next(e for e in lagged if isinstance(e, ev.Disconnected))
            assert d.code in (4001, None) and feed.connections >= 2
            assert metric(b.port, 'marketfeed_ws_disconnects_total{reason="slow_consumer"}') >= 1
        assert all(r.error is None and r.index(ev.Resync) == -1 for r in recs)
        await assert_equals_server(rec, demo, times=1)
        for r in recs:
            await r.close()


async def test_forced_reconnect(demo: Demo, servers: Any, proxy_to: Any) -> None:
    b = servers()
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url, retry_min=0.05, retry_max=0.5) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        for round in range(2):
            n = len(rec.events)
            assert proxy.cut() == 1
            await rec.until(lambda: rec.index(ev.Disconnected, n) >= 0, "a disconnect")
            d = rec.events[rec.index(ev.Disconnected, n)]
            assert d.code is None and d.retry_in <= 0.5
            # The book resumes on the new connection: kept, no snapshot.
            await rec.until(lambda: resumed_at(rec, n) >= 0, "the book resumed after reconnecting")
            i = rec.index(ev.Connected, n)
            assert n < i < rec.index(ev.Subscribed, n) < resumed_at(rec, n)
            assert rec.events[resumed_at(rec, n)].kind == "update" and rec.index(ev.BookUpdate, n, kind="snapshot") == -1
            await assert_equals_server(rec, demo, times=1)
        assert proxy.connections == 3 and feed.connections == 3
        await rec.close()


async def test_injected_gap(demo: Demo, servers: Any, proxy_to: Any) -> None:
    b = servers()
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        n = len(rec.events)
        dropped = json.loads(await asyncio.wait_for(proxy.drop_next_update(CH), 20))
        await rec.until(lambda: rec.index(ev.Resync, n) >= 0, "a resync")
        r = rec.events[rec.index(ev.Resync, n)]
        assert r.reason == "sequence" and r.seq == dropped["first_seq"] - 1
        await rec.until(lambda: rec.index(ev.BookUpdate, rec.index(ev.Resync, n), kind="snapshot") >= 0,
                        "the resync's snapshot")
        assert not any(s == dropped["seq"] and k == "update" for s, k, _, _ in rec.views)
        await assert_equals_server(rec, demo)
        assert feed.connections == 1  # healed on the same connection
        await rec.close()


async def test_checksum_mismatch(demo: Demo, servers: Any, proxy_to: Any) -> None:
    b = servers()
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        n = len(rec.events)
        bad = json.loads(await asyncio.wait_for(proxy.corrupt_next_update(CH), 20))
        await rec.until(lambda: rec.index(ev.Resync, n) >= 0, "a resync")
        r = rec.events[rec.index(ev.Resync, n)]
        assert r.reason == "checksum" and r.seq == bad["seq"] and not r.book.synced
        # The altered update was never delivered as a verified book.
        assert not any(s == bad["seq"] and k == "update" for s, k, _, _ in rec.views)
        await rec.until(lambda: rec.index(ev.BookUpdate, rec.index(ev.Resync, n), kind="snapshot") >= 0,
                        "the resync's snapshot")
        await assert_equals_server(rec, demo)
        await rec.close()


async def test_statuses_are_surfaced_and_freeze_the_book(demo: Demo, servers: Any, proxy_to: Any) -> None:
    b = servers()
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url, retry_min=0.05) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        n = len(rec.events)
        # The statuses of later servers: a reason, an unknown status, unknown fields.
        assert proxy.inject(json.dumps({"type": "status", "channel": CH, "status": "stale", "reason": "feed_down"})) == 1
        await rec.until(lambda: rec.index(ev.BookStatus, n) >= 0, "the stale status")
        st = rec.events[rec.index(ev.BookStatus, n)]
        assert (st.status, st.reason, st.book.synced) == ("stale", "feed_down", False)
        proxy.inject(json.dumps({"type": "status", "channel": CH, "status": "halted", "reason": "auction", "until": 1}))
        await rec.until(lambda: rec.index(ev.BookStatus, n, status="halted") >= 0, "the unknown status")
        assert rec.events[rec.index(ev.BookStatus, n, status="halted")].reason == "auction"
        # Frozen: the server's updates are not delivered until a snapshot.
        views = len(rec.views)
        await asyncio.sleep(1)
        assert len(rec.views) == views and rec.index(ev.Resync, n) == -1
        proxy.cut()
        await rec.until(lambda: rec.index(ev.BookUpdate, n, kind="snapshot") >= 0, "a snapshot")
        await assert_equals_server(rec, demo, times=1)
        await rec.close()


async def test_a_resync_snapshot_that_does_not_verify_is_asked_again(demo: Demo, servers: Any,
                                                                     proxy_to: Any) -> None:
    b = servers()
    proxy = await proxy_to(b.port)
    async with marketfeed.connect(proxy.url, compression=False, retry_min=0.2) as feed:  # plain frames
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        n = len(rec.events)
        bad_snapshot = proxy.corrupt_next_update(CH, type="snapshot")
        await asyncio.wait_for(proxy.drop_next_update(CH), 20)
        await asyncio.wait_for(bad_snapshot, 20)
        await rec.until(lambda: rec.index(ev.BookUpdate, n, kind="snapshot") >= 0, "a verified snapshot")
        resyncs = [e.reason for e in rec.events[n:] if isinstance(e, ev.Resync)]
        assert resyncs == ["sequence", "checksum"]
        await assert_equals_server(rec, demo)
        await rec.close()


async def test_server_shutdown_and_restart(demo: Demo, servers: Any) -> None:
    b = servers()
    async with marketfeed.connect(b.url, retry_min=0.1, retry_max=0.5) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 2, "verified updates")
        n = len(rec.events)
        assert await asyncio.to_thread(b.stop) == 0
        await rec.until(lambda: rec.index(ev.Disconnected, n) >= 0, "a disconnect")
        i = rec.index(ev.Notice, n)
        assert i >= 0 and rec.events[i].code == "shutdown"
        assert rec.index(ev.Disconnected, n) > i
        await asyncio.to_thread(b.start)  # same port; reads the look-back window
        # Resumed when the restarted server has caught up with the client's
        # position when it comes back (no snapshot), else a snapshot.
        def healed() -> bool:
            j = rec.index(ev.Subscribed, n)
            return j > 0 and (rec.index(ev.BookUpdate, j, kind="snapshot") > 0 or resumed_at(rec, j) > 0)
        await rec.until(healed, "the book on the restarted server", timeout=40)
        s = rec.events[rec.index(ev.Subscribed, n)]
        assert (s.resumed and rec.index(ev.BookUpdate, n, kind="snapshot") == -1) or (
            not s.resumed and s.resume_reason in ("ahead", "not_served", "history")), s
        # While down, every attempt failed and was reported with its delay.
        downs = [e for e in rec.events[n:] if isinstance(e, ev.Disconnected)]
        assert downs and all(0 < d.retry_in <= 0.5 for d in downs)
        assert rec.error is None
        await assert_equals_server(rec, demo)
        await rec.close()


async def test_lifetime_notice_reconnects_before_the_close(demo: Demo, servers: Any) -> None:
    b = servers("-websocket.max_lifetime", "3s", "-websocket.lifetime_notice", "2s")
    async with marketfeed.connect(b.url, retry_min=0.2) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: rec.index(ev.Notice) >= 0, "a lifetime notice", timeout=10)
        notice = rec.events[rec.index(ev.Notice)]
        assert notice.code == "lifetime" and notice.close_in_ms is not None and notice.close_in_ms > 1000
        await rec.until(lambda: rec.index(ev.Disconnected) >= 0, "leaving the connection")
        d = rec.events[rec.index(ev.Disconnected)]
        assert d.retry_in <= 0.2 and d.code is None  # left by the client, not closed with 4005
        # Same server, its history holds the position: resumed, no snapshot.
        await rec.until(lambda: resumed_at(rec, rec.index(ev.Disconnected)) >= 0, "the book resumed on the new connection")
        assert rec.index(ev.BookUpdate, rec.index(ev.Disconnected), kind="snapshot") == -1
        await assert_equals_server(rec, demo, times=1)
        assert rec.error is None
        await rec.close()


async def test_bad_key_is_a_clear_error(demo: Demo) -> None:
    async with within(10):
        with pytest.raises(marketfeed.AuthenticationError) as e:
            async with marketfeed.connect(demo.url, api_key=new_secret()):
                pass
    assert e.value.status == 401


async def test_forbidden_origin(demo: Demo, servers: Any, tmp_path: Path) -> None:
    key = new_secret()
    write_keys(tmp_path / "keys.json", {"bot": key})
    b = servers("-auth.keys_file", str(tmp_path / "keys.json"), "-auth.origins", "https://ok.example")
    async with within(10):
        with pytest.raises(marketfeed.ForbiddenError) as e:
            async with marketfeed.connect(b.url, api_key=key, headers={"Origin": "https://evil.example"}):
                pass
        assert e.value.status == 403
        async with marketfeed.connect(b.url, api_key=key, headers={"Origin": "https://ok.example"}) as feed:
            book = await feed.watch_order_book(SYM)
            assert book.synced


async def test_revoked_key_ends_the_feed(demo: Demo, servers: Any, tmp_path: Path) -> None:
    key = new_secret()
    keys = tmp_path / "keys.json"
    write_keys(keys, {"bot": key})
    b = servers("-auth.keys_file", str(keys), "-auth.keys_poll", "100ms")
    async with marketfeed.connect(b.url, api_key=key) as feed:
        rec = Recorder(feed.subscribe(CH))
        await rec.until(lambda: len(rec.views) > 1, "verified updates")
        write_keys(keys, {})
        await rec.until(lambda: rec.error is not None, "the end of the feed", timeout=10)
        assert isinstance(rec.error, marketfeed.AuthenticationError)
        assert rec.error.close_code == 4003
        with pytest.raises(marketfeed.AuthenticationError):
            await feed.watch_order_book("ETH-USD")


async def test_unknown_symbol_and_not_entitled(demo: Demo) -> None:
    async with within(10):
        async with marketfeed.connect(demo.url) as feed:  # anonymous: depth up to 20
            with pytest.raises(marketfeed.UnknownSymbol) as e:
                async for _ in feed.subscribe("book.NOPE-USD"):
                    pass
            assert e.value.code == "unknown_symbol" and e.value.channel == "book.NOPE-USD"
            with pytest.raises(marketfeed.NotEntitled) as ne:
                await feed.watch_order_book(SYM, depth=1000, interval="100ms")
            assert "depth" in str(ne.value)
            # The feed goes on for what the plan includes.
            book = await feed.watch_order_book(SYM, depth=20, interval="100ms")
            assert book.synced and book.best_bid() is not None


async def test_watch_calls_and_typed_messages(demo: Demo) -> None:
    async with marketfeed.connect(demo.url, api_key=demo.key) as feed:
        async with within(20):
            book = await feed.watch_order_book(SYM, depth=10)
            assert book.synced and len(book.bids()) <= 10
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None and bid.price < ask.price
            assert isinstance(bid.price, Decimal) and book.compute_checksum() == book.checksum
            later = await feed.watch_order_book(SYM, depth=10)
            assert later.seq > book.seq
            ticker = await feed.watch_ticker(SYM)
            assert isinstance(ticker, marketfeed.Ticker) and ticker.bid is not None
            trades = await feed.watch_trades(SYM)
            assert trades and all(isinstance(t.price, Decimal) and t.side in ("buy", "sell")
                                  for t in trades)


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    sec = text[text.index("## Python client"):]
    sec = sec[:sec.index("\n## ", 5)]
    code = re.search(r"```python\n(.*?)```", sec, re.S)
    assert code is not None, "README's Python client section has no example"
    return code.group(1)


async def test_readme_example(demo: Demo) -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 15
    env = dict(os.environ, MARKETFEED_URL=demo.url)
    env.pop("MARKETFEED_API_KEY", None)  # the anonymous plan of the demo
    p = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], env=env,
                                capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"BTC-USD seq \d+: bid [0-9.]+ @ [0-9.]+, ask [0-9.]+ @ [0-9.]+ \(verified\)\n", p.stdout), p.stdout


async def test_cli_watch(demo: Demo) -> None:
    run = lambda *a: subprocess.run([sys.executable, "-m", "marketfeed", "watch", "--url", demo.url, *a],  # noqa: E731
                                    capture_output=True, text=True, timeout=30)
    p = await asyncio.to_thread(run, "--count", "3", "--interval", "100ms", CH)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 3 and all(ln.startswith(f"{CH} seq ") and ln.endswith("verified)") for ln in lines)
    assert "subscribed to book.BTC-USD" in p.stderr
    p = await asyncio.to_thread(run, "--count", "1", "ticker.ETH-USD")
    assert p.returncode == 0 and re.match(r"ticker.ETH-USD bid [0-9.]+ ask [0-9.]+ ", p.stdout), p.stdout + p.stderr
    p = await asyncio.to_thread(run, "--count", "2", "--interval", "100ms", "bbo.ETH-USD")
    assert p.returncode == 0 and all(re.match(r"bbo.ETH-USD seq \d+  bid [0-9.]+ @ [0-9.]+  ask [0-9.]+ @ [0-9.]+$", ln)
                                     for ln in p.stdout.splitlines()), p.stdout + p.stderr
    p = await asyncio.to_thread(run, "--count", "2", "--interval", "100ms", "trades.BTC-USD")
    assert p.returncode == 0 and all(re.match(r"trades.BTC-USD (buy|sell) [0-9.]+ @ [0-9.]+  id ", ln)
                                     for ln in p.stdout.splitlines()), p.stdout + p.stderr
    p = await asyncio.to_thread(run, "book.NOPE-USD")
    assert p.returncode == 1 and "unknown_symbol" in p.stderr
    p = await asyncio.to_thread(run, "--api-key", new_secret(), CH)
    assert p.returncode == 1 and "401" in p.stderr

