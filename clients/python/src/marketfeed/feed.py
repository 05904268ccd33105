"""The connection: :func:`connect` and :class:`Feed`.

A Feed keeps one WebSocket connection to a marketfeed server open for as
long as it is used: it reconnects with capped, jittered exponential backoff
after a drop or a server close, at once (spread over ``retry_min``) after a
``notice`` announcing a shutdown or the end of the connection's lifetime,
and subscribes every channel again, each from where it was (a resume,
schemas/websocket.md 3.1): a book the server resumes keeps its levels and
continues with updates, with no snapshot; one it does not resume starts
over from the new connection's snapshot (:class:`~marketfeed.Subscribed`
says which).

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
import dataclasses
from typing import Any, Mapping, Sequence

from .book import OrderBook
from .connection import DEFAULT_API_KEY_HEADER as DEFAULT_API_KEY_HEADER
from .connection import DEFAULT_OPEN_TIMEOUT as DEFAULT_OPEN_TIMEOUT
from .connection import DEFAULT_QUEUE_SIZE as DEFAULT_QUEUE_SIZE
from .connection import DEFAULT_RETRY_MAX as DEFAULT_RETRY_MAX
from .connection import DEFAULT_RETRY_MIN as DEFAULT_RETRY_MIN
from .connection import _Connection, backoff
from .errors import MarketFeedError, SubscriptionError
from .events import BBO, Ticker, Trade
from .protocol import DEPTHS, INTERVALS, LAG_POLICIES, RESOLUTIONS, channel_kind
from .subscription import _END, Subscription, _Channel, _Watch

__all__ = ["connect", "Feed", "Subscription", "backoff"]


class Feed(_Connection):
    """A self-healing connection to a marketfeed server; see :func:`connect`."""

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
        resolution: str | None = None,
    ) -> Subscription:
        """Subscribes to a channel (``book.SYM``, ``bbo.SYM``, ``ticker.SYM``,
        ``trades.SYM`` or ``candles.SYM``) and returns the subscription to iterate. None
        leaves the server's default: depth 20; interval ``raw`` for books,
        bbo and trades, ``100ms`` for tickers, ``1s`` for candles; lag
        ``snapshot`` (``evict`` on servers older than that default);
        resolution ``1m`` (candles channels only). Several
        subscriptions of one channel share the server subscription and must
        ask for the same parameters."""
        if self._closing:
            raise MarketFeedError("feed closed")
        kind = channel_kind(channel)
        if depth is not None and (kind != "book" or depth not in DEPTHS):
            raise ValueError(f"depth {depth!r}: book channels only, one of {DEPTHS}")
        if interval is not None and interval not in INTERVALS:
            raise ValueError(f"interval {interval!r}: one of {INTERVALS}")
        if resolution is not None and (kind != "candles" or resolution not in RESOLUTIONS):
            raise ValueError(f"resolution {resolution!r}: candles channels only, one of {RESOLUTIONS}")
        if lag is not None and (kind != "book" or lag not in LAG_POLICIES):
            raise ValueError(f"lag {lag!r}: book channels only, one of {LAG_POLICIES}")
        cmd: dict[str, Any] = {"op": "subscribe", "channel": channel}
        if depth is not None:
            cmd["depth"] = depth
        if interval is not None:
            cmd["interval"] = interval
        if lag is not None:
            cmd["lag"] = lag
        if resolution is not None:
            cmd["resolution"] = resolution
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
                # A new subscription resumes nothing: its book starts from a snapshot.
                sub._put_now(dataclasses.replace(ch.confirmed, resumed=False, resume_reason=None))
                if kind in ("bbo", "candles") and ch.state is not None:
                    # The current top or the book's status; the candles held.
                    sub._put_now(ch.state)
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

    async def watch_bbo(self, symbol: str, interval: str | None = None) -> BBO:
        """The next :class:`~marketfeed.BBO` of ``bbo.<symbol>``: the book's
        best bid and ask at its seq."""
        return await self._watch(f"bbo.{symbol}", interval=interval)  # type: ignore[no-any-return]

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
    binary: bool = False,
    urls: Sequence[str] = (),
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
        binary: offer the subprotocol ``marketfeed.v1.bin`` (default False:
            JSON): market data then arrives in binary frames
            (schemas/binary.md), decoded into the same messages, so every
            event and book is the same; ``feed.encoding`` says what the
            server chose. A malformed binary frame ends the connection
            (close 1002, a :class:`~marketfeed.Disconnected` event carrying
            the :class:`~marketfeed.BinaryDecodeError`) and the feed
            reconnects.
        urls: further endpoints of the same feed (replicas): the first
            connection goes to ``url``, each reconnection attempt to the
            next of ``url`` and ``urls`` in turn, and resumes there (seqs
            are the exchange's, the same on every replica); default none.
    """
    return Feed(url, api_key=api_key, api_key_header=api_key_header, headers=headers,
                retry_min=retry_min, retry_max=retry_max, open_timeout=open_timeout,
                compression=compression, queue_size=queue_size, binary=binary, urls=urls)

