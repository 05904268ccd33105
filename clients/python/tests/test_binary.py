"""The binary subprotocol marketfeed.v1.bin: the decoder against the shared
vectors (testdata/protocol/binary.json), which the Go client and
binary.js test against too; its robustness to truncated, malformed and
garbled frames; and a feed with ``binary=True`` over a real loopback
WebSocket, served the vectors' frames."""

from __future__ import annotations

import asyncio
import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

import marketfeed
from marketfeed import _json
from marketfeed import events as ev
from marketfeed.binary import _FORMATTERS, format_decimal
from marketfeed.events import parse_bbo, parse_candles, parse_ticker, parse_trades

VECTORS = json.loads((Path(__file__).resolve().parents[3] / "testdata" / "protocol" / "binary.json").read_text())["cases"]
BY_NAME = {c["name"]: c for c in VECTORS}


def decode(b: bytes | bytearray | memoryview) -> tuple[str, Any]:
    """How decoding b ends: ("message", msg), ("null", None) for a skipped
    template or ("error", the BinaryDecodeError); anything else raises."""
    try:
        msg = marketfeed.decode_binary(b)
    except marketfeed.BinaryDecodeError as e:
        return "error", e
    return ("null", None) if msg is None else ("message", msg)


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["name"])
def test_vector_decodes_to_its_json_twin(case: dict[str, Any]) -> None:
    b = bytes.fromhex(case["hex"])
    want = _json.loads(case["json"])
    got = marketfeed.decode_binary(b)
    assert got == want
    # Keys in the JSON order, ints as ints, strings as strings.
    assert json.dumps(got) == json.dumps(want)
    for view in (bytearray(b), memoryview(b), memoryview(b"xx" + b + b"yy")[2:-2]):
        assert marketfeed.decode_binary(view) == want
    # The decoded message makes the same events as the JSON one.
    if got["type"] == "bbo":
        assert parse_bbo(got) == parse_bbo(want)
    elif got["type"] == "ticker":
        assert parse_ticker(got) == parse_ticker(want)
    elif got["type"] == "trades":
        assert parse_trades(got) == parse_trades(want)
    elif got["type"] == "candles":
        assert parse_candles(got) == parse_candles(want)


def test_candles_vectors_are_exercised() -> None:
    """The shared vectors hold candles messages: a snapshot, an update
    and a message without window start and with sums past 64 bits."""
    names = {c["name"] for c in VECTORS if c["json"].startswith('{"type":"candles"')}
    assert {"candles snapshot", "candles update", "candles large"} <= names
    big = marketfeed.decode_binary(bytes.fromhex(BY_NAME["candles large"]["hex"]))
    assert big is not None and "window_start" not in big
    assert abs(int(Decimal(big["candles"][0]["quote_volume"]).scaleb(10))) >= 1 << 64


def test_books_verify_through_the_decoder() -> None:
    """Each update vector follows the snapshot before it; the book built
    from decoded messages verifies both checksums."""
    checked = 0
    book = None
    for c in VECTORS:
        msg = marketfeed.decode_binary(bytes.fromhex(c["hex"]))
        assert msg is not None
        if msg["type"] == "snapshot":
            book = marketfeed.OrderBook(msg["channel"])
            assert book.apply(msg) == "applied", c["name"]
        elif msg["type"] == "update":
            assert book is not None and book.channel == msg["channel"]
            assert book.apply(msg) == "applied", c["name"]
            assert book.seq == msg["seq"] and book.compute_checksum() == msg["checksum"]
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["name"])
def test_truncated_is_an_error(case: dict[str, Any]) -> None:
    """Every truncation is an error; bytes after the channel (variable
    data of a later version) are ignored."""
    b = bytes.fromhex(case["hex"])
    for n in range(len(b)):
        how, _ = decode(b[:n])
        assert how == "error", n
    assert decode(b + b"\x00\x01") == ("message", _json.loads(case["json"]))


MALFORMED = [
    # name, vector, edits (offset, byte; negative from the end), outcome
    ("schemaId 2", "snapshot", [(4, 2)], "error"),
    ("version 0", "snapshot", [(6, 0)], "error"),
    ("short root block", "snapshot", [(0, 29)], "error"),
    ("price scale 19", "snapshot", [(8 + 28, 19)], "error"),
    ("size scale 255", "trades", [(9, 255)], "error"),
    ("trade side 3", "trades", [(8 + 2 + 6 + 24, 3)], "error"),
    ("trade side 0", "trades", [(8 + 2 + 6 + 24, 0)], "error"),
    ("2^32-1 trades", "trades", [(12, 255), (13, 255), (14, 255), (15, 255)], "error"),
    ("short trade entries", "trades", [(10, 24)], "error"),
    ("status of a served book", "status stale gap", [(8, 0)], "error"),
    ("half an ask", "bbo no ask", [(8 + 48, 1)], "error"),
    ("channel not UTF-8", "trades", [(-1, 0xFF)], "error"),
    ("string longer than the message", "trades", [(-15, 0xFF)], "error"),
    ("unknown template 99", "trades", [(2, 99)], "null"),
    ("unknown template 9", "trades", [(2, 9)], "null"),
    ("resolution 5", "candles snapshot", [(8 + 8, 5)], "error"),
    ("snapshot 2", "candles snapshot", [(8 + 9, 2)], "error"),
    ("final 7", "candles update", [(8 + 12 + 6 + 80, 7)], "error"),
    ("null candle volume", "candles update", [(8 + 12 + 6 + 55, 0x80)], "error"),
    ("short candle entries", "candles update", [(8 + 12, 80)], "error"),
    ("candle price scale 19", "candles update", [(8 + 10, 19)], "error"),
    ("later version", "trades", [(6, 2)], "message"),
    ("unknown status reads as stale", "status waiting", [(8, 9)], "message"),
]


@pytest.mark.parametrize("name,vector,edits,want", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed(name: str, vector: str, edits: list[tuple[int, int]], want: str) -> None:
    b = bytearray.fromhex(BY_NAME[vector]["hex"])
    for at, v in edits:
        b[at] = v
    how, got = decode(bytes(b))
    assert how == want, got
    if how == "error":
        assert isinstance(got, marketfeed.MarketFeedError) and isinstance(got, ValueError)
        assert "malformed binary message at byte" in str(got)
    if name.startswith("unknown status"):
        assert got["status"] == "stale"


DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
TYPES = {"snapshot", "update", "status", "bbo", "ticker", "tickers", "trades", "candles"}
DECIMAL_FIELDS = ("bid", "bid_size", "ask", "ask_size", "last", "last_size", "open", "high", "low",
                  "volume", "quote_volume", "vwap", "change", "change_pct")


def shaped(msg: dict[str, Any]) -> bool:
    """A message of the protocol's shape: known type, a channel, seqs
    unsigned, every price and size a decimal string, sides known."""
    if msg.get("type") not in TYPES or not isinstance(msg.get("channel"), str):
        return False
    if any(k in msg and not (type(msg[k]) is int and msg[k] >= 0) for k in ("seq", "first_seq", "epoch", "checksum")):
        return False
    if any(k in msg and not DECIMAL.fullmatch(msg[k]) for k in DECIMAL_FIELDS):
        return False
    for side in (msg.get("bids", []), msg.get("asks", [])):
        if not all(DECIMAL.fullmatch(p) and DECIMAL.fullmatch(s) for p, s in side):
            return False
    if not all(DECIMAL.fullmatch(t["price"]) and DECIMAL.fullmatch(t["size"]) and t["side"] in ("buy", "sell")
               for t in msg.get("trades", [])):
        return False
    if not all(all(DECIMAL.fullmatch(k[f]) for f in ("open", "high", "low", "close", "volume", "quote_volume"))
               and type(k["start"]) is int and type(k["count"]) is int and type(k["final"]) is bool
               for k in msg.get("candles", [])):
        return False
    return all(shaped(t) for t in msg.get("tickers", []))


def test_fuzz_garbled_frames() -> None:
    """Seeded random changes of 1 to 4 bytes of every vector, a quarter of
    them truncated too: each ends as
    a BinaryDecodeError, a skipped template, or a message of the protocol's
    shape, never another exception."""
    rng = random.Random(20260101)
    seen = {"error": 0, "null": 0, "message": 0}
    for c in VECTORS:
        orig = bytes.fromhex(c["hex"])
        for _ in range(1000):
            b = bytearray(orig)
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            if rng.randrange(4) == 0:
                del b[rng.randrange(len(b)):]
            how, got = decode(bytes(b))
            seen[how] += 1
            if how == "message":
                assert shaped(got), (c["name"], b.hex(), got)
    assert seen["error"] > 0 and seen["message"] > 0, seen


def test_format_decimal() -> None:
    assert format_decimal(6412310, 2) == "64123.10"
    assert format_decimal(-5, 2) == "-0.05"
    assert format_decimal(0, 8) == "0.00000000"
    assert format_decimal(-(1 << 63), 0) == "-9223372036854775808"
    assert format_decimal(7, 0) == "7"
    # Against the decimal module, and the per-scale formatters the decoder
    # uses against format_decimal, at every scale.
    rng = random.Random(7)
    for scale in range(37):
        for _ in range(500):
            m = rng.choice([rng.randrange(-10**20, 10**20), rng.randrange(-1000, 1000), 0, -(1 << 63), (1 << 63) - 1])
            want = format(Decimal(m).scaleb(-scale), f".{scale}f")
            assert format_decimal(m, scale) == want, (m, scale)
            assert _FORMATTERS[scale](m) == want, (m, scale)


# -- a feed with binary=True over a loopback WebSocket -------------------


class Scripted:
    """A WebSocket server on 127.0.0.1 that answers a feed as marketfeed
    would, with the vectors' binary frames as the market data: the first
    connection gets the snapshot and update of book.BTC-USD, then a
    malformed frame; later ones the snapshot again."""

    def __init__(self) -> None:
        self.offered: list[str | None] = []
        self.connections = 0

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        self.offered.append(ws.request.headers.get("Sec-WebSocket-Protocol") if ws.request else None)
        enc = "bin" if ws.subprotocol == marketfeed.SUBPROTOCOL_BINARY else "json"
        await ws.send(json.dumps({"type": "welcome", "protocol": 1, "server": "marketfeed",
                                  "ping_interval_ms": 20000, "encoding": enc, "ts": 1}))
        cmd = json.loads(await ws.recv())
        for ch in cmd.get("channels", [cmd.get("channel")]):
            await ws.send(json.dumps({"type": "subscribed", "id": cmd["id"], "channel": ch, "depth": 20, "interval": "raw"}))
        await ws.send(bytes.fromhex(BY_NAME["snapshot"]["hex"]))
        if self.connections == 1:
            await ws.send(bytes.fromhex(BY_NAME["update"]["hex"]))
            await ws.send(bytes.fromhex(BY_NAME["update"]["hex"])[:-3])  # truncated
        await ws.wait_closed()

    @staticmethod
    def select(ws: ServerConnection, offered: Any) -> Any:
        return marketfeed.SUBPROTOCOL_BINARY if marketfeed.SUBPROTOCOL_BINARY in offered else None


async def test_feed_speaks_binary() -> None:
    """connect(binary=True) offers marketfeed.v1.bin; binary snapshots and
    updates make verified BookUpdate events; a malformed frame ends the
    connection with a Disconnected event carrying the BinaryDecodeError,
    and the feed reconnects and starts over from a snapshot."""
    s = Scripted()
    async with serve(s.handler, "127.0.0.1", 0, subprotocols=[marketfeed.SUBPROTOCOL_BINARY],  # type: ignore[list-item]
                     select_subprotocol=s.select) as server:
        port = server.sockets[0].getsockname()[1]
        async with marketfeed.connect(f"ws://127.0.0.1:{port}/ws", binary=True, retry_min=0.01, retry_max=0.05) as feed:
            assert feed.encoding == "bin"
            got: list[Any] = []
            async with feed.subscribe("book.BTC-USD") as sub:
                async def collect() -> None:
                    async for e in sub:
                        got.append(e if not isinstance(e, ev.BookUpdate) else (e.kind, e.seq, e.book.compute_checksum()))
                        if len([x for x in got if isinstance(x, tuple)]) == 3:
                            return
                await asyncio.wait_for(collect(), 10)
    assert s.offered[0] == marketfeed.SUBPROTOCOL_BINARY
    books = [x for x in got if isinstance(x, tuple)]
    assert books == [("snapshot", 1042, 4026326789), ("update", 1045, 2695600627), ("snapshot", 1042, 4026326789)]
    gone = [x for x in got if isinstance(x, ev.Disconnected)]
    assert len(gone) == 1 and isinstance(gone[0].error, marketfeed.BinaryDecodeError), got
    assert s.connections == 2
