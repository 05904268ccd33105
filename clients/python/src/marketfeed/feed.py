"""The connection: :func:`connect` and :class:`Feed`.

A Feed keeps one WebSocket connection to a marketfeed server open for as
long as it is used: it reconnects with capped, jittered exponential backoff
after a drop or a server close, at once (spread over ``retry_min``) after a
``notice`` announcing a shutdown or the end of the connection's lifetime,
and subscribes every channel again; each book starts over from the new
connection's snapshot.

Concurrency: a Feed belongs to the asyncio event loop it was started on
and is not thread-safe. One reader task receives and routes messages; book
messages are checked and applied on the task that iterates the
subscription, so the book an event carries is the view at that event's
seq. Each subscription buffers at most ``queue_size`` messages: a consumer
that does not keep up makes the reader wait, TCP pushes back, and the
server either skips a lagging book stream ahead to a fresh snapshot (lag
policy ``snapshot``, the default) or closes the connection (4001), after
which the feed reconnects. Iterate every subscription you open, or close
it.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Mapping

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import _json
from .book import RESYNC_RESULTS, OrderBook
from .errors import (
    SUBSCRIPTION_ERRORS,
    AuthenticationError,
    ConnectError,
    HandshakeRejected,
    MarketFeedError,
    ProtocolMismatch,
    ServerError,
    SubscriptionError,
    TooManyAttempts,
    close_error,
    handshake_error,
)
from .events import (
    BookStatus,
    BookUpdate,
    Connected,
    Disconnected,
    ErrorEvent,
    Event,
    Notice,
    Resync,
    Subscribed,
    Ticker,
    TickerUpdate,
    Trade,
    Trades,
    Unsubscribed,
    parse_ticker,
    parse_trades,
)
from .protocol import (
    CLOSE_CODES,
    DEPTHS,
    INTERVALS,
    LAG_POLICIES,
    PROTOCOL_VERSION,
    RETRYABLE_CLOSE_CODES,
    channel_kind,
)

__all__ = ["connect", "Feed", "Subscription", "backoff"]

#: Default API key header (the server also accepts ``Authorization: Bearer``).
DEFAULT_API_KEY_HEADER = "X-API-Key"
#: Default first reconnection delay, seconds; it doubles per failure.
DEFAULT_RETRY_MIN = 0.25
#: Default cap of the reconnection delay, seconds.
DEFAULT_RETRY_MAX = 10.0
#: Default bound of the upgrade and of the wait for the welcome, seconds.
DEFAULT_OPEN_TIMEOUT = 10.0
#: Default number of messages a subscription buffers.
DEFAULT_QUEUE_SIZE = 4096

_END = object()  # ends a subscription's iteration


def backoff(lo: float, hi: float, failures: int) -> float:
    """The delay before attempt ``failures + 1``: ``lo * 2**failures``
    capped at ``hi``, of which a random half is taken away (jitter), so that
    clients dropped together do not come back together."""
    d = min(hi, lo * float(2 ** min(failures, 32)))
    return d / 2 + random.random() * d / 2


class _Session:
    """What a connection's end tells the reconnection loop."""

    __slots__ = ("code", "reason", "error", "planned", "healthy", "fatal")

    def __init__(self) -> None:
        self.code: int | None = None
        self.reason = ""
        self.error: BaseException | None = None
        self.planned = False  # left after a notice
        self.healthy = False  # a subscription was confirmed
        self.fatal: MarketFeedError | None = None


class _Channel:
    """A channel the feed keeps subscribed, and its subscriptions."""

    __slots__ = ("name", "kind", "command", "subs", "confirmed", "resyncing", "resyncs")

    def __init__(self, name: str, kind: str, command: dict[str, Any]) -> None:
        self.name = name
        self.kind = kind
        self.command = command
        self.subs: list[Subscription] = []
        self.confirmed: Subscribed | None = None
        self.resyncing = False  # a resync was sent, its snapshot not received
        self.resyncs = 0  # resyncs since the last verified snapshot


class Subscription:
    """One subscription of a :class:`Feed`: an async iterator of events
    (:mod:`marketfeed.events`) and an async context manager that ends it.

    For a book channel, :attr:`book` is the subscription's verified local
    book. Iteration raises :class:`~marketfeed.SubscriptionError` (e.g.
    :class:`~marketfeed.UnknownSymbol`, :class:`~marketfeed.NotEntitled`)
    when the server refuses or ends the subscription, and the feed's fatal
    error (:class:`~marketfeed.AuthenticationError`...) when reconnecting
    cannot help. It stops when the subscription or the feed is closed.
    """

    def __init__(self, feed: Feed, channel: _Channel, queue_size: int) -> None:
        self._feed = feed
        self._ch = channel
        self.channel = channel.name
        self.book: OrderBook | None = OrderBook(channel.name) if channel.kind == "book" else None
        self._q: asyncio.Queue[Any] = asyncio.Queue(queue_size)
        self._done = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        q = self._q
        while True:
            if self._done and q.empty():
                raise StopAsyncIteration
            try:
                item = q.get_nowait()
            except asyncio.QueueEmpty:
                item = await q.get()
            if type(item) is dict:
                ev = self._message(item)
                if ev is not None:
                    return ev
                continue
            if item is _END:
                self._done = True
                raise StopAsyncIteration
            if isinstance(item, BaseException):
                self._done = True
                self._feed._detach(self)
                raise item
            if isinstance(item, Disconnected) and self.book is not None:
                self.book.reset()
            return item  # type: ignore[no-any-return]

    def _message(self, msg: dict[str, Any]) -> Event | None:
        t = msg.get("type")
        book = self.book
        if book is not None:
            r = book.apply(msg)
            if t == "snapshot":
                self._ch.resyncing = False  # the answer, verified or not
            if r == "applied":
                if t == "status":
                    return BookStatus(self.channel, book.state, book.reason, book)
                if t == "snapshot":
                    self._ch.resyncs = 0
                return BookUpdate(self.channel, t, book.seq, book)  # type: ignore[arg-type]
            if r in RESYNC_RESULTS:
                self._feed._resync(self._ch)
                return Resync(self.channel, r, book.seq, book)
            return None
        if t == "trades":
            return Trades(self.channel, parse_trades(msg))
        if t == "ticker":
            return TickerUpdate(self.channel, parse_ticker(msg))
        return None

    async def _put(self, item: Any) -> None:
        try:
            self._q.put_nowait(item)
        except asyncio.QueueFull:
            await self._q.put(item)

    def _put_now(self, item: Any) -> None:
        """Queues an item that must not wait (end, errors): makes room by
        dropping the oldest messages, which the item supersedes."""
        while True:
            try:
                self._q.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._q.get_nowait()

    async def aclose(self) -> None:
        """Ends the subscription (the feed unsubscribes when it was the
        channel's last one)."""
        if not self._done:
            self._done = True
            self._feed._detach(self)
            self._put_now(_END)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Watch:
    """Keeps a subscription consumed for the watch_* calls."""

    def __init__(self, feed: Feed, sub: Subscription) -> None:
        self.sub = sub
        self.waiters: list[asyncio.Future[Any]] = []
        self.error: BaseException | None = None
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            async for ev in self.sub:
                value: Any = None
                if isinstance(ev, BookUpdate):
                    value = ev.book.copy()
                elif isinstance(ev, TickerUpdate):
                    value = ev.ticker
                elif isinstance(ev, Trades):
                    value = list(ev.trades)
                if value is not None:
                    waiters, self.waiters = self.waiters, []
                    for w in waiters:
                        if not w.done():
                            w.set_result(value)
            self.error = MarketFeedError("feed closed")
        except BaseException as e:  # noqa: BLE001 - handed to the callers
            self.error = e if isinstance(e, Exception) else MarketFeedError("feed closed")
        for w in self.waiters:
            if not w.done():
                w.set_exception(self.error)
        self.waiters = []

    async def next(self) -> Any:
        if self.error is not None:
            raise self.error
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        return await fut


class Feed:
    """A self-healing connection to a marketfeed server; see :func:`connect`."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        api_key_header: str = DEFAULT_API_KEY_HEADER,
        headers: Mapping[str, str] | None = None,
        retry_min: float = DEFAULT_RETRY_MIN,
        retry_max: float = DEFAULT_RETRY_MAX,
        open_timeout: float = DEFAULT_OPEN_TIMEOUT,
        compression: bool = True,
        queue_size: int = DEFAULT_QUEUE_SIZE,
    ) -> None:
        if retry_min <= 0 or retry_max < retry_min:
            raise ValueError("need 0 < retry_min <= retry_max")
        self.url = url
        self._headers = dict(headers or {})
        if api_key:
            self._headers[api_key_header] = api_key
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.open_timeout = open_timeout
        self._compression = "deflate" if compression else None
        self._queue_size = queue_size
        self._channels: dict[str, _Channel] = {}
        self._watches: dict[str, _Watch] = {}  # by channel and parameters
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[Any]] = set()  # sends and closes in flight
        self._unsubscribing: set[str] = set()  # unsubscribes sent, not yet answered
        self._pending_subs: dict[str, list[str]] = {}  # subscribes of this loop turn, by parameters
        self._rate_limited = 0  # rate_limited errors since the last confirmation
        self._reconcile_at: asyncio.TimerHandle | None = None
        self._next_id = 0
        self._closing = False
        self._fatal: MarketFeedError | None = None
        self._pending_fatal: MarketFeedError | None = None
        #: Connections established so far (1 after start).
        self.connections = 0

    # -- lifecycle ------------------------------------------------------

    async def __aenter__(self) -> Feed:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Opens the first connection. Raises what prevents it
        (:class:`~marketfeed.AuthenticationError` for HTTP 401,
        :class:`~marketfeed.ForbiddenError` for 403,
        :class:`~marketfeed.ConnectError` when the server cannot be
        reached...), so a wrong URL or key fails at once instead of
        hanging."""
        if self._task is not None:
            raise RuntimeError("feed already started")
        ws, welcome = await self._open()
        self._task = asyncio.get_running_loop().create_task(self._run(ws, welcome))

    async def close(self) -> None:
        """Closes the connection and ends every subscription."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for ch in list(self._channels.values()):
            for s in ch.subs:
                s._put_now(_END)
        for w in self._watches.values():
            w.task.cancel()
        self._channels.clear()

    @property
    def connected(self) -> bool:
        """True while a connection is open."""
        return self._ws is not None

    # -- subscriptions --------------------------------------------------

    def subscribe(
        self,
        channel: str,
        *,
        depth: int | None = None,
        interval: str | None = None,
        lag: str | None = None,
    ) -> Subscription:
        """Subscribes to a channel (``book.SYM``, ``ticker.SYM`` or
        ``trades.SYM``) and returns the subscription to iterate. None leaves
        the server's default: depth 20; interval ``raw`` for books and
        trades, ``100ms`` for tickers; lag ``snapshot`` (``evict`` on
        servers older than that default). Several
        subscriptions of one channel share the server subscription and must
        ask for the same parameters."""
        if self._closing:
            raise MarketFeedError("feed closed")
        kind = channel_kind(channel)
        if depth is not None and (kind != "book" or depth not in DEPTHS):
            raise ValueError(f"depth {depth!r}: book channels only, one of {DEPTHS}")
        if interval is not None and interval not in INTERVALS:
            raise ValueError(f"interval {interval!r}: one of {INTERVALS}")
        if lag is not None and (kind != "book" or lag not in LAG_POLICIES):
            raise ValueError(f"lag {lag!r}: book channels only, one of {LAG_POLICIES}")
        cmd: dict[str, Any] = {"op": "subscribe", "channel": channel}
        if depth is not None:
            cmd["depth"] = depth
        if interval is not None:
            cmd["interval"] = interval
        if lag is not None:
            cmd["lag"] = lag
        ch = self._channels.get(channel)
        if ch is not None and ch.command != cmd:
            raise ValueError(f"{channel} is already subscribed with other parameters")
        new = ch is None
        if ch is None:
            ch = self._channels[channel] = _Channel(channel, kind, cmd)
        sub = Subscription(self, ch, self._queue_size)
        ch.subs.append(sub)
        if self._fatal is not None:
            sub._put_now(self._fatal)
        elif new:
            self._send_subscribe(ch)
        else:
            if ch.confirmed is not None:
                sub._put_now(ch.confirmed)
            if kind == "book" and self._ws is not None:
                # A fresh snapshot for the new book (the others reset to it).
                self._send({"op": "resync", "channel": channel})
        return sub

    async def watch_order_book(self, symbol: str, depth: int = 20, interval: str | None = None) -> OrderBook:
        """The verified book of ``book.<symbol>`` after its next snapshot or
        update: a copy, synced, exactly the server's view at its seq. The
        first call subscribes; the subscription stays for the next calls."""
        return await self._watch(f"book.{symbol}", depth=depth, interval=interval)  # type: ignore[no-any-return]

    async def watch_ticker(self, symbol: str, interval: str | None = None) -> Ticker:
        """The next :class:`~marketfeed.Ticker` of ``ticker.<symbol>``."""
        return await self._watch(f"ticker.{symbol}", interval=interval)  # type: ignore[no-any-return]

    async def watch_trades(self, symbol: str) -> list[Trade]:
        """The trades of the next ``trades.<symbol>`` message, oldest
        first."""
        return await self._watch(f"trades.{symbol}")  # type: ignore[no-any-return]

    async def _watch(self, channel: str, **params: Any) -> Any:
        # A refused subscription stays refused for the same parameters.
        key = channel + repr(sorted(params.items()))
        w = self._watches.get(key)
        if w is None or (w.error is not None and not isinstance(w.error, SubscriptionError)):
            w = self._watches[key] = _Watch(self, self.subscribe(channel, **params))
        return await w.next()

    def _detach(self, sub: Subscription) -> None:
        ch = self._channels.get(sub.channel)
        if ch is None or sub not in ch.subs:
            return
        ch.subs.remove(sub)
        if not ch.subs:
            del self._channels[ch.name]
            if any(ch.name in names for names in self._pending_subs.values()):
                return  # its subscribe was not sent (the flush skips it)
            if self._ws is not None:
                # Confirmed or still unanswered: the server handles commands
                # in order, so this ends the subscription either way.
                self._unsubscribing.add(ch.name)
                self._send({"op": "unsubscribe", "channel": ch.name})

    def _send_subscribe(self, ch: _Channel) -> None:
        """Queues a subscribe; the subscribes of one turn of the event loop
        go out together, one command per set of parameters (the server
        counts commands against its rate limit, not channels)."""
        if self._ws is None:
            return
        if not self._pending_subs:
            asyncio.get_running_loop().call_soon(self._flush_subscribes)
        key = _json.dumps({k: v for k, v in ch.command.items() if k not in ("op", "channel")})
        names = self._pending_subs.setdefault(key, [])
        if ch.name not in names:
            names.append(ch.name)

    def _flush_subscribes(self) -> None:
        pending, self._pending_subs = self._pending_subs, {}
        for key, names in pending.items():
            live = [n for n in names if n in self._channels and self._channels[n].confirmed is None]
            for i in range(0, len(live), 100):  # at most 100 channels per command
                cmd: dict[str, Any] = {"op": "subscribe", "id": self._id()}
                cmd.update(_json.loads(key))
                cmd["channels"] = live[i:i + 100]
                self._send(cmd)

    def _resync(self, ch: _Channel) -> None:
        """Asks for a fresh snapshot of a book channel: at once the first
        time, after a growing delay when the snapshots that came since do
        not verify either."""
        if ch.resyncing or self._ws is None or ch.confirmed is None:
            return
        ch.resyncing = True
        ch.resyncs += 1
        if ch.resyncs == 1:
            self._send({"op": "resync", "id": self._id(), "channel": ch.name})
            return
        delay = backoff(self.retry_min, self.retry_max, ch.resyncs - 2)
        asyncio.get_running_loop().call_later(delay, self._resync_later, ch)

    def _resync_later(self, ch: _Channel) -> None:
        if ch.resyncing and self._channels.get(ch.name) is ch and self._ws is not None:
            self._send({"op": "resync", "id": self._id(), "channel": ch.name})

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _send(self, cmd: dict[str, Any]) -> None:
        ws = self._ws
        if ws is not None:
            self._spawn(self._send_now(ws, _json.dumps(cmd)))

    def _spawn(self, coro: Any) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._sends.add(t)
        t.add_done_callback(self._sends.discard)

    @staticmethod
    async def _send_now(ws: ClientConnection, text: str) -> None:
        try:
            await ws.send(text)
        except ConnectionClosed:
            pass  # the reader sees the close and reconnects

    # -- connection -----------------------------------------------------

    async def _open(self) -> tuple[ClientConnection, dict[str, Any]]:
        """Connects and reads the welcome."""
        try:
            ws = await ws_connect(
                self.url,
                additional_headers=self._headers,
                user_agent_header=f"marketfeed-python websockets/{websockets.version.version}",
                compression=self._compression,
                open_timeout=self.open_timeout,
                max_size=16 << 20,
                close_timeout=2,
                max_queue=256,
                proxy=None,
            )
        except InvalidStatus as e:
            body = e.response.body.decode("utf-8", "replace") if e.response.body else ""
            raise handshake_error(e.response.status_code, body[:200]) from None
        except (OSError, InvalidHandshake, TimeoutError, asyncio.TimeoutError) as e:
            raise ConnectError(f"cannot connect to {self.url}: {e}") from e
        try:
            first = await asyncio.wait_for(ws.recv(), self.open_timeout)
            welcome = _json.loads(first)
        except (ConnectionClosed, TimeoutError, asyncio.TimeoutError, ValueError) as e:
            await ws.close()
            if isinstance(e, ConnectionClosed) and e.rcvd is not None and e.rcvd.code not in RETRYABLE_CLOSE_CODES:
                raise self._close_fatal(e.rcvd.code, e.rcvd.reason) from None
            raise ConnectError(f"{self.url}: no welcome from the server: {e}") from e
        if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
            await ws.close()
            raise ProtocolMismatch(f"{self.url}: first message is not a welcome: {str(first)[:100]}")
        if welcome.get("protocol") != PROTOCOL_VERSION:
            await ws.close()
            raise ProtocolMismatch(f"{self.url}: server speaks protocol {welcome.get('protocol')!r}, "
                                   f"this client {PROTOCOL_VERSION}")
        self.connections += 1
        return ws, welcome

    def _close_fatal(self, code: int, reason: str) -> MarketFeedError:
        if code == 4003:
            pending = self._pending_fatal
            return pending if pending is not None else AuthenticationError(0, reason, close_code=code)
        return close_error(code, reason)

    async def _run(self, ws: ClientConnection, welcome: dict[str, Any]) -> None:
        failures = 0
        try:
            while True:
                s = await self._session(ws, welcome)
                if self._closing:
                    return
                if s.fatal is not None:
                    self._fail(s.fatal)
                    return
                if s.healthy:
                    failures = 0
                if s.planned:
                    delay = random.random() * self.retry_min
                else:
                    delay = backoff(self.retry_min, self.retry_max, failures)
                    failures += 1
                await self._broadcast(Disconnected(s.error, s.code, delay))
                while True:
                    await asyncio.sleep(delay)
                    try:
                        ws, welcome = await self._open()
                        break
                    except ConnectError as e:
                        err: BaseException = e
                    except HandshakeRejected as e:
                        if not isinstance(e, TooManyAttempts) and e.status < 500:
                            self._fail(e)  # 401, 403...: retrying cannot help
                            return
                        err = e  # 429, 503 (the server's connection limit)...
                    except MarketFeedError as e:
                        self._fail(e)
                        return
                    delay = backoff(self.retry_min, self.retry_max, failures)
                    failures += 1
                    await self._broadcast(Disconnected(err, None, delay))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug must not leave the subscriptions hanging
            self._fail(MarketFeedError(f"internal error: {e!r}"))
            raise

    def _fail(self, err: MarketFeedError) -> None:
        self._fatal = err
        for ch in list(self._channels.values()):
            for sub in ch.subs:
                sub._put_now(err)

    async def _broadcast(self, ev: Event) -> None:
        for ch in list(self._channels.values()):
            for sub in list(ch.subs):
                await sub._put(ev)

    async def _session(self, ws: ClientConnection, welcome: dict[str, Any]) -> _Session:
        s = _Session()
        self._ws = ws
        self._pending_fatal = None
        self._unsubscribing.clear()
        self._pending_subs.clear()
        if self._reconcile_at is not None:
            self._reconcile_at.cancel()
            self._reconcile_at = None
        s.healthy = not self._channels
        await self._broadcast(Connected(self.url, int(welcome.get("ts", 0))))
        for ch in self._channels.values():
            ch.confirmed, ch.resyncing, ch.resyncs = None, False, 0
            self._send_subscribe(ch)
        loads = _json.loads
        channels = self._channels
        try:
            async for raw in ws:
                try:
                    msg = loads(raw)
                except ValueError:
                    continue  # not JSON: nothing to route
                if type(msg) is not dict:
                    continue
                t = msg.get("type")
                if t in ("update", "snapshot", "trades", "ticker", "status"):
                    route = channels.get(msg.get("channel"))  # type: ignore[arg-type]
                    if route is not None:
                        for sub in route.subs:
                            q = sub._q
                            try:
                                q.put_nowait(msg)
                            except asyncio.QueueFull:
                                await q.put(msg)
                elif t == "subscribed":
                    await self._subscribed(msg, s)
                elif t == "error":
                    await self._error(msg)
                elif t == "unsubscribed":
                    name = msg.get("channel")
                    if name in self._unsubscribing:
                        self._unsubscribing.discard(name)
                        continue  # the answer to our unsubscribe
                    ch = channels.pop(name, None)  # type: ignore[arg-type]
                    if ch is not None:
                        for sub in ch.subs:
                            await sub._put(Unsubscribed(ch.name))
                            sub._put_now(_END)
                elif t == "notice":
                    ms = msg.get("close_in_ms")
                    await self._broadcast(Notice(str(msg.get("code", "")), str(msg.get("message", "")),
                                                 ms if type(ms) is int else None))
                    s.planned = True
                    s.error = MarketFeedError(f"server notice {msg.get('code')!r}: {msg.get('message', '')}")
                    break
                # welcome, pong, subscriptions, authenticated and types of
                # later protocol versions: nothing to do.
        except ConnectionClosed as e:
            s.error = e
        finally:
            self._ws = None
        if s.planned:
            # Close in the background: reconnecting must not wait for the
            # close handshake of a server that is going away.
            self._spawn(ws.close())
            return s
        code = ws.close_code
        s.code = code
        s.reason = ws.close_reason or ""
        if s.error is None:
            s.error = MarketFeedError(f"connection closed ({code}: {CLOSE_CODES.get(code or 0, 'no close frame')})")
        if code is not None and code in CLOSE_CODES and code not in RETRYABLE_CLOSE_CODES:
            s.fatal = self._close_fatal(code, s.reason)
        elif code is None or code == 1006:
            s.code = None
        return s

    async def _subscribed(self, msg: dict[str, Any], s: _Session) -> None:
        ch = self._channels.get(msg.get("channel"))  # type: ignore[arg-type]
        if ch is None:
            return
        depth, interval = msg.get("depth"), msg.get("interval")
        ev = Subscribed(ch.name, depth if type(depth) is int else None,
                        interval if isinstance(interval, str) else None)
        ch.confirmed = ev
        s.healthy = True
        self._rate_limited = 0
        for sub in ch.subs:
            await sub._put(ev)

    async def _error(self, msg: dict[str, Any]) -> None:
        code = str(msg.get("code", ""))
        channel = msg.get("channel")
        mid = msg.get("id")
        text = str(msg.get("message", ""))
        ch = self._channels.get(channel) if isinstance(channel, str) else None
        if code == "unauthorized":
            self._pending_fatal = AuthenticationError(0, text, close_code=4003)
            return
        if code == "rate_limited":
            # A command was dropped (the server may not say which): after a
            # growing delay, send again what is still unanswered.
            self._rate_limited += 1
            if self._reconcile_at is None:
                delay = backoff(self.retry_min, self.retry_max, self._rate_limited)
                self._reconcile_at = asyncio.get_running_loop().call_later(delay, self._reconcile)
            err = ServerError(code, text, ch.name if ch else None, mid if type(mid) is int else None)
            await self._broadcast(ErrorEvent(err))
            return
        if ch is None:
            err = ServerError(code, text, channel if isinstance(channel, str) else None,
                              mid if type(mid) is int else None)
            await self._broadcast(ErrorEvent(err))
            return
        if code == "not_subscribed" and ch.kind == "book":
            ch.resyncing, ch.confirmed = False, None  # a refused resync: subscribe again
            self._send_subscribe(ch)
            return
        if code == "already_subscribed":
            return
        exc = SUBSCRIPTION_ERRORS.get(code, SubscriptionError)(code, text, ch.name, mid if type(mid) is int else None)
        del self._channels[ch.name]
        for sub in ch.subs:
            sub._put_now(exc)

    def _reconcile(self) -> None:
        """Sends again the subscribes and resyncs not answered yet."""
        self._reconcile_at = None
        if self._ws is None:
            return
        for ch in self._channels.values():
            if ch.confirmed is None:
                self._send_subscribe(ch)  # already_subscribed, if it was not lost, is ignored
            elif ch.resyncing:
                self._send({"op": "resync", "id": self._id(), "channel": ch.name})


def connect(
    url: str,
    *,
    api_key: str | None = None,
    api_key_header: str = DEFAULT_API_KEY_HEADER,
    headers: Mapping[str, str] | None = None,
    retry_min: float = DEFAULT_RETRY_MIN,
    retry_max: float = DEFAULT_RETRY_MAX,
    open_timeout: float = DEFAULT_OPEN_TIMEOUT,
    compression: bool = True,
    queue_size: int = DEFAULT_QUEUE_SIZE,
) -> Feed:
    """A :class:`Feed` to the server at ``url`` (``ws://host:8080/ws`` or
    ``wss://``), to use as ``async with marketfeed.connect(url) as feed:``.

    Args:
        api_key: sent on every upgrade request in ``api_key_header``
            (default ``X-API-Key``); None sends none.
        headers: further upgrade request headers.
        retry_min: first reconnection delay, seconds (default 0.25); it
            doubles after each failure, capped at ``retry_max`` (default
            10), of which a random half is taken away.
        open_timeout: bound of the upgrade and of the wait for the welcome,
            seconds (default 10).
        compression: offer permessage-deflate (default True).
        queue_size: messages each subscription buffers (default 4096).
    """
    return Feed(url, api_key=api_key, api_key_header=api_key_header, headers=headers,
                retry_min=retry_min, retry_max=retry_max, open_timeout=open_timeout,
                compression=compression, queue_size=queue_size)

