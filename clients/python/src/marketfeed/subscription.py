"""Per-channel state and the subscriptions of a :class:`~marketfeed.Feed`.

A :class:`Subscription` buffers the messages the feed's reader routes to
it and turns them into events on the task that iterates it: book messages
are checked and applied to the subscription's own verified book there, so
the book an event carries is the view at that event's seq. The channel
records what the feed keeps subscribed on the server and how far its
resyncs got. Concurrency: as the feed, these belong to its event loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from . import _resume
from .book import RESUMING, RESYNC_RESULTS, OrderBook
from .errors import MarketFeedError
from .events import (
    BBOStatus,
    BBOUpdate,
    BookStatus,
    BookUpdate,
    CandlesUpdate,
    Disconnected,
    Event,
    Resync,
    Subscribed,
    TickerUpdate,
    TickersUpdate,
    Trades,
    parse_bbo,
    parse_candles,
    parse_ticker,
    parse_trades,
)

if TYPE_CHECKING:
    from .feed import Feed

__all__ = ["Subscription"]

_END = object()  # ends a subscription's iteration


class _Channel:
    """A channel the feed keeps subscribed, and its subscriptions."""

    __slots__ = ("name", "kind", "command", "subs", "confirmed", "resyncing", "resyncs", "state", "last", "resume")

    def __init__(self, name: str, kind: str, command: dict[str, Any]) -> None:
        self.name = name
        self.kind = kind
        self.command = command
        self.subs: list[Subscription] = []
        self.confirmed: Subscribed | None = None
        self.resyncing = False  # a resync was sent, its snapshot not received
        self.resyncs = 0  # resyncs since the last verified snapshot
        # bbo channels: the last bbo or status message; candles channels:
        # the candles held, as one snapshot message. A subscription joining
        # the channel starts from it.
        self.state: dict[str, Any] | None = None
        # The last book, bbo or trades message routed (whatever its checks),
        # and the resume position of the next subscribe (_resume.py).
        self.last: dict[str, Any] | None = None
        self.resume: dict[str, Any] | None = None

    def new_connection(self) -> None:
        """Starts the channel on a new connection: its next subscribe
        resumes from where the last one got (_resume.py)."""
        _resume.next_connection(self)
        self.confirmed, self.resyncing, self.resyncs, self.state = None, False, 0, None


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
            if self.book is not None:
                if isinstance(item, Disconnected):
                    self.book.suspend()  # kept for a resume
                elif isinstance(item, Subscribed):
                    self._subscribed(item)
            return item  # type: ignore[no-any-return]

    def _subscribed(self, ev: Subscribed) -> None:
        """A resumed book is synced again; one not resumed is reset (its
        snapshot follows). A resumed channel whose book is not synced at
        the position (a check failed after the connection ended) asks for
        a snapshot."""
        book = self.book
        assert book is not None
        if not ev.resumed:
            if book.state == RESUMING:
                book.reset()
        elif not book.resumed():
            self._feed._resync(self._ch)

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
        if t == "tickers":
            items = msg.get("tickers")
            return TickersUpdate(self.channel, {
                str(m.get("channel", ""))[len("ticker."):]: parse_ticker(m)
                for m in (items if isinstance(items, list) else []) if isinstance(m, dict)
            })
        if t == "bbo":
            return BBOUpdate(self.channel, parse_bbo(msg))
        if t == "candles":
            ws = msg.get("window_start")
            return CandlesUpdate(self.channel, str(msg.get("resolution", "")), msg.get("snapshot") is True,
                                 ws if type(ws) is int else None, parse_candles(msg))
        if t == "status":
            reason = msg.get("reason")
            return BBOStatus(self.channel, str(msg.get("status", "")), reason if isinstance(reason, str) else None)
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
                elif isinstance(ev, BBOUpdate):
                    value = ev.bbo
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
