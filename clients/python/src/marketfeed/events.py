"""Events yielded by a subscription (``async for event in
feed.subscribe(...)``), and the typed trades, tickers, best bid/offer
and candles they carry."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Union

from .book import OrderBook


@dataclass(frozen=True, slots=True)
class Trade:
    """One trade; ``side`` is the aggressor's, ``buy`` or ``sell``."""

    id: str
    ts: int
    price: Decimal
    size: Decimal
    side: str


@dataclass(frozen=True, slots=True)
class Ticker:
    """Top of book and rolling 24 h statistics; a field the server did not
    send (no bid, no trade in the window...) is None."""

    channel: str
    ts: int
    bid: Decimal | None = None
    bid_size: Decimal | None = None
    ask: Decimal | None = None
    ask_size: Decimal | None = None
    last: Decimal | None = None
    last_size: Decimal | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: Decimal | None = None
    quote_volume: Decimal | None = None
    vwap: Decimal | None = None
    change: Decimal | None = None
    change_pct: Decimal | None = None
    count: int | None = None


_TICKER_DECIMALS = ("bid", "bid_size", "ask", "ask_size", "last", "last_size", "open", "high",
                    "low", "volume", "quote_volume", "vwap", "change", "change_pct")


def _dec(v: Any) -> Decimal | None:
    return Decimal(v) if isinstance(v, str) else None


def parse_ticker(msg: dict[str, Any]) -> Ticker:
    """A Ticker from a decoded ``ticker`` message."""
    kw: dict[str, Any] = {k: _dec(msg.get(k)) for k in _TICKER_DECIMALS}
    count = msg.get("count")
    return Ticker(channel=msg.get("channel", ""), ts=int(msg.get("ts", 0)),
                  count=count if type(count) is int else None, **kw)


@dataclass(frozen=True, slots=True)
class BBO:
    """The book's best bid and ask at ``seq`` of ``epoch`` (``ts``: the
    exchange time of that event, µs); an empty side is None."""

    channel: str
    seq: int
    epoch: int
    ts: int
    bid: Decimal | None = None
    bid_size: Decimal | None = None
    ask: Decimal | None = None
    ask_size: Decimal | None = None


def parse_bbo(msg: dict[str, Any]) -> BBO:
    """A BBO from a decoded ``bbo`` message."""
    return BBO(channel=msg.get("channel", ""), seq=int(msg.get("seq", 0)), epoch=int(msg.get("epoch", 0)),
               ts=int(msg.get("ts", 0)), bid=_dec(msg.get("bid")), bid_size=_dec(msg.get("bid_size")),
               ask=_dec(msg.get("ask")), ask_size=_dec(msg.get("ask_size")))


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV candle: ``start`` (µs, a UTC boundary of the resolution),
    the prices of its first, highest, lowest and last trade, the sums of
    sizes (``volume``) and of price × size (``quote_volume``), the number of
    trades, and whether it is closed (``final``) or in progress."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    count: int
    final: bool


def parse_candles(msg: dict[str, Any]) -> tuple[Candle, ...]:
    """The candles of a decoded ``candles`` message, oldest first."""
    return tuple(Candle(start=int(c.get("start", 0)), open=Decimal(c["open"]), high=Decimal(c["high"]),
                        low=Decimal(c["low"]), close=Decimal(c["close"]), volume=Decimal(c["volume"]),
                        quote_volume=Decimal(c["quote_volume"]), count=int(c.get("count", 0)),
                        final=c.get("final") is True)
                 for c in msg.get("candles") or ())


def merge_candles(held: dict[str, Any] | None, msg: dict[str, Any]) -> dict[str, Any] | None:
    """The candles held after ``msg``, as one snapshot message: a snapshot
    replaces them, another message replaces the candles of its starts (None
    before the first snapshot)."""
    if msg.get("snapshot") is True:
        return dict(msg, candles=list(msg.get("candles") or ()))
    if held is None or held.get("resolution") != msg.get("resolution"):
        return held
    by = {c.get("start"): c for c in held["candles"]}
    for c in msg.get("candles") or ():
        by[c.get("start")] = c
    out = dict(held, candles=[by[k] for k in sorted(by)])
    if "window_start" in msg:
        out["window_start"] = msg["window_start"]
    return out


def parse_trades(msg: dict[str, Any]) -> tuple[Trade, ...]:
    """The trades of a decoded ``trades`` message, oldest first."""
    return tuple(Trade(id=str(t.get("id", "")), ts=int(t.get("ts", 0)), price=Decimal(t["price"]),
                       size=Decimal(t["size"]), side=str(t.get("side", "")))
                 for t in msg.get("trades") or ())


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection was established (the server at ``url`` said welcome); the
    subscriptions are being sent, each from where it was (a resume)."""

    url: str
    server_ts: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection ended; the feed reconnects after ``retry_in`` seconds
    and subscribes again, resuming each channel from where it was.
    ``code`` is the close code (None without a close frame), ``error``
    what ended it. Every book is not synced until the new connection: a
    synced one is kept (state ``resuming``) for the server to resume it,
    the others are reset and wait for their snapshot."""

    error: BaseException | None
    code: int | None
    retry_in: float


@dataclass(frozen=True, slots=True)
class Subscribed:
    """The server accepted the subscription, with its effective depth
    (books) and interval. ``resumed``: the channel continues from where it
    was before a reconnection (a book keeps its levels, with no snapshot);
    ``resume_reason``: why not (``history``, ``epoch``, ``ahead``,
    ``not_served``, or a value of a later server), when the feed sent a
    position and the server did not resume from it."""

    channel: str
    depth: int | None
    interval: str | None
    resumed: bool = False
    resume_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """The server ended the subscription (after a ``not_entitled`` error
    when a plan is narrowed) or confirmed an unsubscribe."""

    channel: str


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """A snapshot or update was applied and verified. ``book`` is the
    subscription's live book, exactly the server's view at ``seq`` while
    this event is being handled (``book.copy()`` keeps it)."""

    channel: str
    kind: Literal["snapshot", "update"]
    seq: int
    book: OrderBook


@dataclass(frozen=True, slots=True)
class BookStatus:
    """The server says the book is not served as it stands: ``waiting`` (not
    known yet), ``stale`` (with ``reason``: ``gap``, ``feed_down``,
    ``silent``, ``crossed``...), or a status a later server defines. The
    book is not synced until the next snapshot, which the server sends by
    itself on recovery."""

    channel: str
    status: str
    reason: str | None
    book: OrderBook


@dataclass(frozen=True, slots=True)
class Resync:
    """A book message failed its check (``reason``: ``sequence``,
    ``checksum``, ``epoch``, ``level`` or ``invalid``); the book is not
    synced and a fresh snapshot was asked for (op ``resync``)."""

    channel: str
    reason: str
    seq: int
    book: OrderBook


@dataclass(frozen=True, slots=True)
class Trades:
    """One or more trades, oldest first."""

    channel: str
    trades: tuple[Trade, ...]


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """A ticker message."""

    channel: str
    ticker: Ticker


@dataclass(frozen=True, slots=True)
class TickersUpdate:
    """A tickers message: the ticker of every symbol the key may see, by
    symbol."""

    channel: str
    tickers: dict[str, Ticker]


@dataclass(frozen=True, slots=True)
class CandlesUpdate:
    """A candles message: with ``snapshot`` the channel's candles (the
    last closed ones, then the one in progress), replacing those held;
    else the candles that changed, each replacing the one held with its
    start. ``window_start`` (µs) is from when they hold every trade the
    server read (None when it did not say)."""

    channel: str
    resolution: str
    snapshot: bool
    window_start: int | None
    candles: tuple[Candle, ...]


@dataclass(frozen=True, slots=True)
class BBOUpdate:
    """A bbo message: the top of the book until the next one."""

    channel: str
    bbo: BBO


@dataclass(frozen=True, slots=True)
class BBOStatus:
    """The book of a bbo channel is not served (``status``: ``waiting``,
    ``stale`` or one a later server defines; ``reason`` with ``stale``):
    the last BBO is not to be trusted until the next BBOUpdate."""

    channel: str
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """The server will close the connection (``code``: ``shutdown`` or
    ``lifetime``, or one a later server defines); the feed reconnects at
    once."""

    code: str
    message: str
    close_in_ms: int | None


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """An error the server reported that does not end the subscription
    (``rate_limited``: the feed sends the command again later)."""

    error: Exception


Event = Union[Connected, Disconnected, Subscribed, Unsubscribed, BookUpdate, BookStatus, Resync,
              Trades, TickerUpdate, TickersUpdate, BBOUpdate, BBOStatus, CandlesUpdate, Notice, ErrorEvent]
