"""Verified local order books (schemas/websocket.md 5.7).

An :class:`OrderBook` holds the view of one book channel: the top ``depth``
levels of each side, as the server sent them. :meth:`OrderBook.apply`
takes the decoded ``snapshot``, ``update`` and ``status`` messages of the
channel and checks every one of them: an update must continue the previous
message (``first_seq == seq + 1``) and the CRC-32 of the whole view after
each message must equal the message's ``checksum``. A book that fails a
check is no longer :attr:`~OrderBook.synced` until the next snapshot.

Prices and sizes never go through floating point: levels are ordered by
:class:`decimal.Decimal` value, and the strings the server sent are kept
for the checksum and for display.

Concurrency: an OrderBook is a plain object, not safe for concurrent
mutation; :class:`~marketfeed.Feed` applies messages on the task that
iterates the subscription.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from decimal import Decimal
from typing import Any, Literal, NamedTuple, Sequence

from .protocol import STATUS_STALE, STATUS_WAITING

#: The outcome of :meth:`OrderBook.apply`: ``applied``; ``ignored`` (another
#: channel or message type, or an update while the book is not synced);
#: ``sequence`` (the update does not continue the view); ``epoch`` (an
#: update of another publisher epoch than the view's snapshot); ``level``
#: (a price or size that is not a plain decimal, or a negative size);
#: ``invalid`` (a malformed message); ``checksum`` (the view after the
#: message does not have the message's checksum).
ApplyResult = Literal["applied", "ignored", "sequence", "epoch", "level", "invalid", "checksum"]

#: The results after which the book needs a fresh snapshot (a resync).
RESYNC_RESULTS = frozenset({"sequence", "epoch", "level", "invalid", "checksum"})

# Book states besides a status string sent by the server (``waiting``,
# ``stale`` or one a later server defines).
EMPTY = "empty"
SYNCED = "synced"
GAP = "gap"
#: Kept across a reconnection, until the server resumes the book (see
#: :meth:`OrderBook.suspend`).
RESUMING = "resuming"

_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?\Z", re.ASCII)


def valid_decimal(s: object) -> bool:
    """Reports whether s is a plain decimal string of the protocol
    (``-?[0-9]+(\\.[0-9]+)?``, ASCII digits only)."""
    return isinstance(s, str) and _DECIMAL.match(s) is not None


def is_zero_decimal(s: str) -> bool:
    """Reports whether every digit of the valid decimal s is zero."""
    return not s.strip("-0.")


def compare_decimal(a: str, b: str) -> int:
    """Compares two valid decimal strings by value: -1, 0 or 1."""
    x, y = Decimal(a), Decimal(b)
    return (x > y) - (x < y)


def view_checksum(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> int:
    """The checksum of a book view (websocket.md 5.7.1): the CRC-32 (IEEE,
    as zlib) of ``price:size;`` for each bid, best first, then ``|``, then
    each ask, best first, with the strings exactly as the server sent them."""
    return zlib.crc32(canonical_string(bids, asks).encode("ascii"))


def canonical_string(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> str:
    """The canonical string of a book view, whose CRC-32 is its checksum."""
    return "".join(f"{p}:{s};" for p, s in bids) + "|" + "".join(f"{p}:{s};" for p, s in asks)


class Level(NamedTuple):
    """One price level: exact decimals."""

    price: Decimal
    size: Decimal


class _Side:
    """One side of a view, best first. keys are sort keys (the price, negated
    for bids, so that ascending order is best first); text and frags are
    the strings as sent and their canonical fragments ``price:size;``."""

    __slots__ = ("bid", "keys", "text", "frags")

    def __init__(self, bid: bool) -> None:
        self.bid = bid
        self.keys: list[Decimal] = []
        self.text: list[tuple[str, str]] = []
        self.frags: list[str] = []

    def clear(self) -> None:
        self.keys.clear()
        self.text.clear()
        self.frags.clear()

    def set(self, key: Decimal, price: str, size: str) -> None:
        keys = self.keys
        i = bisect_left(keys, key)
        found = i < len(keys) and keys[i] == key
        if not size.strip("-0."):
            if found:
                del keys[i], self.text[i], self.frags[i]
        elif found:
            self.text[i] = (price, size)
            self.frags[i] = f"{price}:{size};"
        else:
            keys.insert(i, key)
            self.text.insert(i, (price, size))
            self.frags.insert(i, f"{price}:{size};")

    def copy(self) -> _Side:
        c = _Side(self.bid)
        c.keys, c.text, c.frags = self.keys[:], self.text[:], self.frags[:]
        return c


def _entries(raw: Any, bid: bool) -> list[tuple[Decimal, str, str]] | None:
    """Validates the entries of one side of a message; None when one is
    not a [price, size] pair of plain decimals with a non-negative size."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        return None
    out = []
    match = _DECIMAL.match
    for e in raw:
        if not isinstance(e, list) or len(e) != 2:
            return None
        p, s = e
        if not isinstance(p, str) or not isinstance(s, str) or match(p) is None or match(s) is None:
            return None
        if s[0] == "-" and s.strip("-0."):
            return None
        k = Decimal(p)
        out.append((-k if bid else k, p, s))
    return out


def _uint(v: Any) -> bool:
    return type(v) is int and v >= 0


class OrderBook:
    """A client-side view of one book channel (``book.<SYMBOL>``).

    Attributes:
        channel: the channel it follows.
        state: ``empty`` (no snapshot yet), ``synced`` (the levels are the
            server's view at :attr:`seq`), ``gap`` (a check failed; frozen
            until the next snapshot), ``resuming`` (the view at :attr:`seq`
            kept while the feed reconnects, not to be trusted until the
            server resumes it), or the last status the server sent
            (``waiting``, ``stale``, or a status a later server defines).
        reason: with a ``stale`` status, the server's reason (``gap``,
            ``feed_down``, ``silent``, ``crossed``...); after a failed check,
            the result that failed it (``sequence``, ``checksum``...).
        seq: the sequence of the last snapshot or update applied.
        epoch: the publisher epoch of the last snapshot (0 without epochs).
        ts: exchange time of event :attr:`seq`, microseconds.
        checksum: the checksum of the view, as verified.
    """

    __slots__ = ("channel", "state", "reason", "seq", "epoch", "ts", "checksum", "_bids", "_asks")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.state: str = EMPTY
        self.reason: str | None = None
        self.seq = 0
        self.epoch = 0
        self.ts = 0
        self.checksum: int | None = None
        self._bids = _Side(True)
        self._asks = _Side(False)

    @property
    def synced(self) -> bool:
        """True when the levels are the server's verified view at seq."""
        return self.state == SYNCED

    def reset(self) -> None:
        """Forgets every level; the book waits for its next snapshot."""
        self._bids.clear()
        self._asks.clear()
        self.state, self.reason, self.seq, self.epoch, self.ts, self.checksum = EMPTY, None, 0, 0, 0, None

    def suspend(self) -> None:
        """Keeps the view across a reconnection: a synced book becomes
        ``resuming`` (levels, seq and epoch kept; not synced) and stays so
        through failed attempts; any other book is reset."""
        if self.state in (SYNCED, RESUMING):
            self.state = RESUMING
        else:
            self.reset()

    def resumed(self) -> bool:
        """The server resumed the book from its seq: a ``resuming`` book is
        synced again (updates continue from seq + 1). Returns whether the
        book is synced."""
        if self.state == RESUMING:
            self.state = SYNCED
        return self.state == SYNCED

    def apply(self, msg: dict[str, Any]) -> ApplyResult:
        """Applies one decoded server message of the book's channel.

        A snapshot replaces the view; an update needs a synced book (else
        ``ignored``), ``first_seq == seq + 1`` and the epoch of the view;
        each entry sets the level at its price (a zero size deletes it). A
        message with an invalid level is not applied at all. After a
        snapshot or update the checksum of the whole view must equal the
        message's. A status sets :attr:`state` (and :attr:`reason`). Any
        result in :data:`RESYNC_RESULTS` leaves the book in state ``gap``
        until the next snapshot.
        """
        if msg.get("channel") != self.channel:
            return "ignored"
        t = msg.get("type")
        if t == "update":
            if self.state != SYNCED:
                return "ignored"
            first: int = msg.get("first_seq")  # type: ignore[assignment]
            seq: int = msg.get("seq")  # type: ignore[assignment]
            if not _uint(first) or not _uint(seq):
                return self._gap("invalid")
            if first != self.seq + 1 or seq < first:
                return self._gap("sequence")
            epoch = msg.get("epoch")
            if epoch is not None and epoch != self.epoch:
                return self._gap("epoch")
            bids = _entries(msg.get("bids"), True)
            asks = _entries(msg.get("asks"), False)
            if bids is None or asks is None:
                return self._gap("level")
            side = self._bids
            for k, p, s in bids:
                side.set(k, p, s)
            side = self._asks
            for k, p, s in asks:
                side.set(k, p, s)
            self.seq = seq
            ts = msg.get("ts")
            if type(ts) is int:
                self.ts = ts
            return self._verify(msg)
        if t == "snapshot":
            seq = msg.get("seq")  # type: ignore[assignment]
            epoch = msg.get("epoch", 0)
            if not _uint(seq) or not _uint(epoch):
                return self._gap("invalid")
            bids = _entries(msg.get("bids"), True)
            asks = _entries(msg.get("asks"), False)
            if bids is None or asks is None:
                return self._gap("level")
            self._bids.clear()
            self._asks.clear()
            # Entries in any order; for one price the last entry wins.
            for side, entries in ((self._bids, bids), (self._asks, asks)):
                for k, p, s in entries:
                    side.set(k, p, s)
            self.seq, self.epoch = seq, epoch
            snap_ts = msg.get("ts")
            self.ts = snap_ts if type(snap_ts) is int else 0
            self.state, self.reason = SYNCED, None
            return self._verify(msg)
        if t == "status":
            status = msg.get("status")
            if not isinstance(status, str) or not status:
                return "invalid"
            self.state = status
            reason = msg.get("reason")
            self.reason = reason if isinstance(reason, str) else None
            return "applied"
        return "ignored"

    def _verify(self, msg: dict[str, Any]) -> ApplyResult:
        want = msg.get("checksum")
        if want is None:
            self.checksum = None
            return "applied"
        got = zlib.crc32(
            ("".join(self._bids.frags) + "|" + "".join(self._asks.frags)).encode("ascii")
        )
        self.checksum = got
        if got != want:
            return self._gap("checksum")
        return "applied"

    def _gap(self, why: ApplyResult) -> ApplyResult:
        self.state, self.reason = GAP, why
        return why

    def compute_checksum(self) -> int:
        """The checksum of the levels as they stand (websocket.md 5.7.1)."""
        return zlib.crc32(
            ("".join(self._bids.frags) + "|" + "".join(self._asks.frags)).encode("ascii")
        )

    def bids(self, n: int | None = None) -> list[Level]:
        """The best n bids (all when n is None), highest price first."""
        return [Level(Decimal(p), Decimal(s)) for p, s in self._bids.text[:n]]

    def asks(self, n: int | None = None) -> list[Level]:
        """The best n asks (all when n is None), lowest price first."""
        return [Level(Decimal(p), Decimal(s)) for p, s in self._asks.text[:n]]

    def raw_bids(self) -> list[tuple[str, str]]:
        """The bids as the server's strings, best first."""
        return list(self._bids.text)

    def raw_asks(self) -> list[tuple[str, str]]:
        """The asks as the server's strings, best first."""
        return list(self._asks.text)

    def best_bid(self) -> Level | None:
        """The highest bid, or None when there is none."""
        t = self._bids.text
        return Level(Decimal(t[0][0]), Decimal(t[0][1])) if t else None

    def best_ask(self) -> Level | None:
        """The lowest ask, or None when there is none."""
        t = self._asks.text
        return Level(Decimal(t[0][0]), Decimal(t[0][1])) if t else None

    def spread(self) -> Decimal | None:
        """Best ask minus best bid, or None when a side is empty."""
        b, a = self.best_bid(), self.best_ask()
        return None if b is None or a is None else a.price - b.price

    def copy(self) -> OrderBook:
        """An independent copy (for keeping a book as it stands)."""
        c = OrderBook(self.channel)
        c.state, c.reason, c.seq, c.epoch, c.ts, c.checksum = (
            self.state, self.reason, self.seq, self.epoch, self.ts, self.checksum)
        c._bids, c._asks = self._bids.copy(), self._asks.copy()
        return c

    def __repr__(self) -> str:
        b, a = self.best_bid(), self.best_ask()
        return (f"OrderBook({self.channel!r}, state={self.state!r}, seq={self.seq}, "
                f"bid={b.price if b else None}, ask={a.price if a else None})")
