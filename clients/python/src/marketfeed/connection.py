"""The connection machinery of a :class:`~marketfeed.Feed`: opening a
connection and reading its welcome, the reader that routes each message
to its channel's subscriptions, the reconnection loop, and the commands
sent to the server (subscribes grouped per turn of the event loop,
resyncs, unsubscribes).

Concurrency: see :mod:`marketfeed.feed`; everything here runs on the
feed's event loop.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Mapping, Sequence

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from . import _json
from .binary import SUBPROTOCOL_BINARY, decode_binary
from .errors import (
    SUBSCRIPTION_ERRORS,
    AuthenticationError,
    BinaryDecodeError,
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
    Connected,
    Disconnected,
    ErrorEvent,
    Event,
    Notice,
    Subscribed,
    Unsubscribed,
    merge_candles,
)
from .protocol import CLOSE_CODES, PROTOCOL_VERSION, RETRYABLE_CLOSE_CODES
from . import _resume
from .subscription import _END, _Channel, _Watch

__all__ = ["backoff"]

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


def backoff(lo: float, hi: float, failures: int) -> float:
    """The delay before attempt ``failures + 1``: ``lo * 2**failures``
    capped at ``hi``, of which a random half is taken away (jitter), so that
    clients dropped together do not come back together."""
    d = min(hi, lo * float(2 ** min(failures, 32)))
    return d / 2 + random.random() * d / 2


class _Session:
    """What a connection's end tells the reconnection loop."""

    __slots__ = ("code", "reason", "error", "planned", "healthy", "fatal", "violation")

    def __init__(self) -> None:
        self.code: int | None = None
        self.reason = ""
        self.error: BaseException | None = None
        self.planned = False  # left after a notice
        self.healthy = False  # a subscription was confirmed
        self.fatal: MarketFeedError | None = None
        self.violation = False  # left after a malformed binary message


class _Connection:
    """The state of a :class:`~marketfeed.Feed` and its connection
    machinery; the Feed adds its lifecycle and subscriptions."""

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
        binary: bool = False,
        urls: Sequence[str] = (),
    ) -> None:
        if retry_min <= 0 or retry_max < retry_min:
            raise ValueError("need 0 < retry_min <= retry_max")
        self.url = url
        self._urls = [url, *urls]  # connection attempts go to each in turn
        self._attempts = 0
        self._connected_url = url
        self._headers = dict(headers or {})
        if api_key:
            self._headers[api_key_header] = api_key
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.open_timeout = open_timeout
        self._compression = "deflate" if compression else None
        self._queue_size = queue_size
        self._subprotocols = [Subprotocol(SUBPROTOCOL_BINARY)] if binary else None
        #: The encoding of the current connection's market data, as its
        #: welcome says: ``"json"`` or ``"bin"``.
        self.encoding = "json"
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

    # -- commands -------------------------------------------------------

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
                resume = _resume.option(cmd["channels"], self._channels)
                if resume is not None:
                    cmd["resume"] = resume
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
        """Connects (to the next of the URLs) and reads the welcome."""
        url = self._urls[self._attempts % len(self._urls)]
        self._attempts += 1
        try:
            ws = await ws_connect(
                url,
                additional_headers=self._headers,
                subprotocols=self._subprotocols,
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
            raise ConnectError(f"cannot connect to {url}: {e}") from e
        try:
            first = await asyncio.wait_for(ws.recv(), self.open_timeout)
            welcome = _json.loads(first)
        except (ConnectionClosed, TimeoutError, asyncio.TimeoutError, ValueError) as e:
            await ws.close()
            if isinstance(e, ConnectionClosed) and e.rcvd is not None and e.rcvd.code not in RETRYABLE_CLOSE_CODES:
                raise self._close_fatal(e.rcvd.code, e.rcvd.reason) from None
            raise ConnectError(f"{url}: no welcome from the server: {e}") from e
        if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
            await ws.close()
            raise ProtocolMismatch(f"{url}: first message is not a welcome: {str(first)[:100]}")
        if welcome.get("protocol") != PROTOCOL_VERSION:
            await ws.close()
            raise ProtocolMismatch(f"{url}: server speaks protocol {welcome.get('protocol')!r}, "
                                   f"this client {PROTOCOL_VERSION}")
        self.connections += 1
        enc = welcome.get("encoding")
        self.encoding = enc if isinstance(enc, str) else "json"
        self._connected_url = url
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
        await self._broadcast(Connected(self._connected_url, int(welcome.get("ts", 0))))
        for ch in self._channels.values():
            ch.new_connection()
            self._send_subscribe(ch)
        loads = _json.loads
        channels = self._channels
        try:
            async for raw in ws:
                if type(raw) is bytes:  # a binary frame (marketfeed.v1.bin)
                    try:
                        msg = decode_binary(raw)
                    except BinaryDecodeError as e:
                        # A protocol violation (binary.md 4): what it
                        # carried is lost; start again on a new connection.
                        s.error, s.violation = e, True
                        break
                    if msg is None:
                        continue  # a later version's template
                else:
                    try:
                        msg = loads(raw)
                    except ValueError:
                        continue  # not JSON: nothing to route
                    if type(msg) is not dict:
                        continue
                t = msg.get("type")
                if t in ("update", "snapshot", "bbo", "trades", "ticker", "tickers", "candles", "status"):
                    route = channels.get(msg.get("channel"))  # type: ignore[arg-type]
                    if route is not None:
                        route.last = msg  # where a resume starts
                        if route.kind == "bbo":
                            route.state = msg
                        elif route.kind == "candles" and t == "candles":
                            route.state = merge_candles(route.state, msg)
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
        if s.violation:
            self._spawn(ws.close(1002, "malformed binary message"))
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
        reason = msg.get("resume_reason")
        ev = Subscribed(ch.name, depth if type(depth) is int else None,
                        interval if isinstance(interval, str) else None,
                        msg.get("resumed") is True, reason if isinstance(reason, str) else None)
        ch.resume = None  # answered
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
