"""The shared protocol test vectors (testdata/protocol), which the Go
client and marketfeed.js test against too."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

import marketfeed
from marketfeed import _json
from marketfeed.book import compare_decimal, is_zero_decimal, valid_decimal
from marketfeed.events import merge_candles, parse_bbo, parse_candles, parse_ticker, parse_trades

VECTORS = Path(__file__).resolve().parents[3] / "testdata" / "protocol"


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def test_crc32() -> None:
    for c in load("checksum")["crc32"]:
        assert zlib.crc32(c["text"].encode("ascii")) == c["crc32"]


@pytest.mark.parametrize("view", load("checksum")["views"], ids=lambda v: v["name"])
def test_view_checksum(view: dict[str, Any]) -> None:
    assert marketfeed.canonical_string(view["bids"], view["asks"]) == view["canonical"]
    assert marketfeed.view_checksum(view["bids"], view["asks"]) == view["checksum"]
    # The same view reached through a book.
    b = marketfeed.OrderBook("book.X")
    r = b.apply({"type": "snapshot", "channel": "book.X", "seq": 1, "checksum": view["checksum"],
                 "bids": view["bids"], "asks": view["asks"]})
    assert r == "applied"
    assert b.compute_checksum() == view["checksum"]


def test_decimals() -> None:
    d = load("decimal")
    for s, want in d["valid"]:
        assert valid_decimal(s) is want, s
    for s, want in d["zero"]:
        assert is_zero_decimal(s) is want, s
    for a, b, want in d["compare"]:
        assert compare_decimal(a, b) == want, (a, b)


@pytest.mark.parametrize("case", load("books")["cases"], ids=lambda c: c["name"])
def test_book_case(case: dict[str, Any]) -> None:
    b = marketfeed.OrderBook(case["channel"])
    for i, step in enumerate(case["steps"]):
        assert b.apply(step["message"]) == step["result"], f"step {i}"
    assert b.state == case["state"]
    assert b.seq == case["seq"]
    if "bids" in case:
        assert b.raw_bids() == [tuple(x) for x in case["bids"]]
        assert b.raw_asks() == [tuple(x) for x in case["asks"]]


@pytest.mark.parametrize("case", load("messages")["cases"], ids=lambda c: c["name"])
def test_message_case(case: dict[str, Any]) -> None:
    msg = _json.loads(case["text"])
    want = case["expect"]
    for k, v in want.items():
        if k == "trades":
            trades = parse_trades(msg)
            assert [(t.id, t.ts, str(t.price), str(t.size), t.side) for t in trades] == \
                [(w["id"], w["ts"], w["price"], w["size"], w["side"]) for w in v]
        elif k == "bids" or k == "asks":
            assert msg[k] == v
        else:
            assert msg[k] == v and type(msg[k]) is type(v), k
    for k in case.get("absent", ()):
        assert k not in msg, k
    if msg["type"] == "bbo":
        b = parse_bbo(msg)
        assert (b.channel, b.seq, b.epoch, b.ts) == (want["channel"], want["seq"], want.get("epoch", 0), want["ts"])
        for k in ("bid", "bid_size", "ask", "ask_size"):
            assert (None if getattr(b, k) is None else str(getattr(b, k))) == want.get(k), k
    if msg["type"] == "candles":
        got = [(c.start, format(c.open, "f"), format(c.high, "f"), format(c.low, "f"), format(c.close, "f"),
                format(c.volume, "f"), format(c.quote_volume, "f"), c.count, c.final) for c in parse_candles(msg)]
        assert got == [(c["start"], c["open"], c["high"], c["low"], c["close"], c["volume"], c["quote_volume"],
                        c["count"], c["final"]) for c in want["candles"]]
        held = merge_candles(None, msg)
        if not msg.get("snapshot"):
            assert held is None  # an update before the snapshot
            held = merge_candles(merge_candles(None, {**msg, "snapshot": True, "candles": []}), msg)
        assert held is not None and held["candles"] == want["candles"]
        changed = {**want["candles"][-1], "count": want["candles"][-1]["count"] + 1}
        held = merge_candles(held, {"type": "candles", "channel": msg["channel"], "resolution": msg["resolution"],
                                    "candles": [changed]})
        assert held is not None and held["candles"] == want["candles"][:-1] + [changed]
    if msg["type"] == "tickers":
        assert [parse_ticker(t).channel for t in msg["tickers"]] == [t["channel"] for t in want["tickers"]]
        for t, w in zip(msg["tickers"], want["tickers"]):
            p = parse_ticker(t)
            for k in ("bid", "ask", "last", "volume", "quote_volume", "vwap"):
                assert (None if getattr(p, k) is None else format(getattr(p, k), "f")) == w.get(k), k
    if msg["type"] == "ticker":
        t = parse_ticker(msg)
        for k, v in want.items():
            if k not in ("type", "channel", "ts", "count"):
                assert str(getattr(t, k)) == v, k  # Decimal keeps the digits
        assert t.count == want.get("count")
