"""The state the feed keeps for a resume, with no server: a book kept
across a reconnection, and the position of each channel kind."""

from __future__ import annotations

from typing import Any

from marketfeed import OrderBook, view_checksum
from marketfeed._resume import next_connection, option, position
from marketfeed.events import Subscribed
from marketfeed.subscription import _Channel

CH = "book.T"


def snap(seq: int, **kw: Any) -> dict[str, Any]:
    bids, asks = [["100.00", "1.0"]], [["101.00", "3.0"]]
    return {"type": "snapshot", "channel": CH, "seq": seq, "bids": bids, "asks": asks,
            "checksum": view_checksum(bids, asks), **kw}


def test_a_synced_book_is_kept_across_a_reconnection() -> None:
    b = OrderBook(CH)
    assert b.apply(snap(10, epoch=2)) == "applied"
    b.suspend()
    assert b.state == "resuming" and not b.synced and b.seq == 10 and b.epoch == 2 and b.best_bid() is not None
    upd = {"type": "update", "channel": CH, "epoch": 2, "first_seq": 11, "seq": 11,
           "bids": [["100.00", "2.0"]], "asks": []}
    assert b.apply(dict(upd, checksum=0)) == "ignored"  # not synced while resuming
    b.suspend()  # a failed attempt: still kept
    assert b.state == "resuming"
    assert b.resumed() and b.synced
    upd["checksum"] = view_checksum([["100.00", "2.0"]], [["101.00", "3.0"]])
    assert b.apply(upd) == "applied" and b.seq == 11


def test_a_book_not_synced_is_reset() -> None:
    b = OrderBook(CH)
    assert b.apply(snap(10)) == "applied"
    assert b.apply({"type": "update", "channel": CH, "first_seq": 13, "seq": 13, "bids": [], "asks": []}) == "sequence"
    b.suspend()
    assert b.state == "empty" and b.seq == 0 and b.best_bid() is None
    assert not b.resumed()


def channel(name: str, kind: str, last: dict[str, Any] | None, confirmed: bool = True) -> _Channel:
    ch = _Channel(name, kind, {"op": "subscribe", "channel": name})
    ch.last = last
    ch.confirmed = Subscribed(name, None, None) if confirmed else None
    return ch


def test_positions_per_channel_kind() -> None:
    big = 2**64 - 1
    chans = {
        "book.T": channel("book.T", "book", {"type": "update", "seq": big, "epoch": 5}),
        "bbo.T": channel("bbo.T", "bbo", {"type": "bbo", "seq": 7}),
        "trades.T": channel("trades.T", "trades", {"type": "trades", "trades": [{"id": "a1", "ts": 1}, {"id": "a2", "ts": 2}]}),
        "ticker.T": channel("ticker.T", "ticker", None),
        "tickers": channel("tickers", "tickers", None),
        "book.U": channel("book.U", "book", {"type": "status", "status": "stale"}),
        "book.V": channel("book.V", "book", None),
    }
    assert position(chans["book.T"]) == {"epoch": 5, "seq": big}
    assert position(chans["bbo.T"]) == {"epoch": 0, "seq": 7}
    assert position(chans["trades.T"]) == {"trade_id": "a2", "ts": 2}
    assert position(chans["ticker.T"]) == {} and position(chans["tickers"]) == {}
    assert position(chans["book.U"]) is None and position(chans["book.V"]) is None
    chans["book.T"].resyncing = True  # a resync unanswered: the book is not at its last seq
    assert position(chans["book.T"]) is None
    chans["book.T"].resyncing = False
    for ch in chans.values():
        next_connection(ch)
    assert option(list(chans), chans) == {"book.T": {"epoch": 5, "seq": big}, "bbo.T": {"epoch": 0, "seq": 7},
                                          "trades.T": {"trade_id": "a2", "ts": 2}, "ticker.T": {}, "tickers": {}}
    # Not confirmed on the connection that ended (nothing arrived since the
    # last subscribe): the position that subscribe carried is kept.
    ch = chans["book.T"]
    ch.confirmed, ch.last = None, {"type": "update", "seq": 1}
    next_connection(ch)
    assert ch.resume == {"epoch": 5, "seq": big}
    assert option(["book.V"], chans) is None
