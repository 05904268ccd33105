"""OrderBook behaviour beyond the shared vectors: epochs, statuses of
later servers, malformed messages, accessors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marketfeed import OrderBook, view_checksum

CH = "book.T"


def snap(seq: int, bids: list[list[str]], asks: list[list[str]], **kw: Any) -> dict[str, Any]:
    return {"type": "snapshot", "channel": CH, "seq": seq, "bids": bids, "asks": asks,
            "checksum": view_checksum(bids, asks), **kw}


def synced(seq: int = 10, **kw: Any) -> OrderBook:
    b = OrderBook(CH)
    assert b.apply(snap(seq, [["100.00", "1.0"], ["99.00", "2.0"]], [["101.00", "3.0"]], **kw)) == "applied"
    return b


def test_an_update_of_another_epoch_is_a_resync() -> None:
    b = synced(epoch=3)
    assert b.epoch == 3
    r = b.apply({"type": "update", "channel": CH, "epoch": 4, "first_seq": 11, "seq": 11,
                 "bids": [], "asks": [], "checksum": b.compute_checksum()})
    assert r == "epoch" and not b.synced and b.reason == "epoch"
    assert b.apply(snap(2, [], [], epoch=4)) == "applied" and b.synced and b.epoch == 4 and b.seq == 2


def test_unknown_status_is_surfaced_and_not_synced() -> None:
    b = synced()
    assert b.apply({"type": "status", "channel": CH, "status": "halted", "reason": "auction"}) == "applied"
    assert (b.state, b.reason, b.synced) == ("halted", "auction", False)
    assert b.apply({"type": "update", "channel": CH, "first_seq": 11, "seq": 11, "bids": [], "asks": []}) == "ignored"
    assert b.apply({"type": "status", "channel": CH}) == "invalid"


def test_malformed_messages() -> None:
    for bad, want in [
        ({"first_seq": "11", "seq": 11}, "invalid"),
        ({"first_seq": 11}, "invalid"),
        ({"first_seq": True, "seq": 11}, "invalid"),
        ({"first_seq": 11, "seq": 11, "bids": {"100": "1"}}, "level"),
        ({"first_seq": 11, "seq": 11, "bids": [["100.00"]]}, "level"),
        ({"first_seq": 11, "seq": 11, "bids": [[100, "1.0"]]}, "level"),
        ({"first_seq": 11, "seq": 11, "asks": [["101.00", 1.5]]}, "level"),
    ]:
        b = synced()
        before = (b.raw_bids(), b.raw_asks())
        assert b.apply({"type": "update", "channel": CH, **bad}) == want, bad
        assert not b.synced and (b.raw_bids(), b.raw_asks()) == before  # nothing applied
    b = OrderBook(CH)
    assert b.apply({"type": "snapshot", "channel": CH, "seq": -1, "bids": [], "asks": []}) == "invalid"
    assert b.apply({"type": "snapshot", "channel": "book.OTHER", "seq": 1}) == "ignored"
    assert b.apply({"type": "trades", "channel": CH}) == "ignored"


def test_accessors_are_exact_decimals() -> None:
    b = synced()
    assert b.best_bid() == (Decimal("100.00"), Decimal("1.0"))
    assert b.best_ask() == (Decimal("101.00"), Decimal("3.0"))
    assert b.spread() == Decimal("1.00")
    assert [lv.price for lv in b.bids()] == [Decimal("100.00"), Decimal("99.00")]
    assert b.bids(1) == [b.best_bid()]
    c = b.copy()
    assert b.apply({"type": "update", "channel": CH, "first_seq": 11, "seq": 12,
                    "bids": [["100.00", "0"]], "asks": [], "checksum": view_checksum([["99.00", "2.0"]], [["101.00", "3.0"]])}) == "applied"
    assert c.best_bid() == (Decimal("100.00"), Decimal("1.0")) and c.seq == 10  # the copy kept its state
    assert b.best_bid() == (Decimal("99.00"), Decimal("2.0")) and b.seq == 12
    b.reset()
    assert (b.state, b.seq, b.best_bid(), b.spread()) == ("empty", 0, None, None)


def test_deep_books_keep_order() -> None:
    import random
    rnd = random.Random(7)
    b = OrderBook(CH)
    levels: dict[Decimal, str] = {}
    assert b.apply(snap(1, [], [])) == "applied"
    for seq in range(2, 3000):
        p = f"{rnd.randint(1, 400) / 100:.2f}"
        size = rnd.choice(["0.00", "1.50", "2.25", "10.00"])
        if size == "0.00":
            levels.pop(Decimal(p), None)
        else:
            levels[Decimal(p)] = size
        want = [[f"{k:.2f}", levels[k]] for k in sorted(levels, reverse=True)]
        r = b.apply({"type": "update", "channel": CH, "first_seq": seq, "seq": seq, "bids": [[p, size]],
                     "asks": [], "checksum": view_checksum(want, [])})
        assert r == "applied"
    assert [list(x) for x in b.raw_bids()] == want
