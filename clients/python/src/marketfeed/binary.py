"""The decoder of the binary market-data messages of the subprotocol
``marketfeed.v1.bin`` (schemas/binary.md).

:func:`decode_binary` turns one binary frame into exactly the dict that
decoding the JSON twin of the message gives: ``seq``, ``epoch``, ``ts``,
``checksum`` and ``count`` as ints, prices and sizes as the decimal strings
the JSON protocol sends (the mantissa written at the message's scale),
levels as ``[price, size]`` lists, absent fields absent. Everything
downstream (books, their checksums, events) is therefore the same for
both encodings. Pure functions; safe for concurrent use.
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Final

from .errors import BinaryDecodeError
from .protocol import RESOLUTIONS  # the binary Resolution enum numbers them in this order

__all__ = ["SUBPROTOCOL_BINARY", "SUBPROTOCOL_JSON", "decode_binary", "format_decimal"]

#: The subprotocol of binary market data.
SUBPROTOCOL_BINARY: Final = "marketfeed.v1.bin"
#: The subprotocol of JSON messages, the default.
SUBPROTOCOL_JSON: Final = "marketfeed.v1.json"

_SCHEMA_ID = 1
_SCHEMA_VERSION = 1
_MAX_SCALE = 18
_NULL = -(1 << 63)  # the null of an optional int64; an int128's high half
_STATUS = ("", "waiting", "stale")
_REASON = ("", "gap", "feed_down", "silent", "crossed")
_SIDE = (None, "buy", "sell")

_HEADER = struct.Struct("<HHHH")  # blockLength, templateId, schemaId, version
_GROUP = struct.Struct("<HI")  # blockLength, numInGroup
_U16 = struct.Struct("<H")
_SNAPSHOT = struct.Struct("<QQqIBB")  # seq, epoch, ts, checksum, scales: 30
_UPDATE = struct.Struct("<QQQqIBB")  # firstSeq first: 38
_STATUS_BLOCK = struct.Struct("<BB")  # status, reason: 2
_BBO = struct.Struct("<QQqqqqqBB")  # seq, epoch, ts, bid, bidSize, ask, askSize, scales: 58
# ts, three levels, open, high, low, count, windowStart, five int128 (lo,
# hi), status, reason, scales: 180.
_TICKER = struct.Struct("<q6q3qqq" + "Qq" * 5 + "BBBB")
_TICKERS = struct.Struct("<q")  # ts: 8
_TRADES = struct.Struct("<BB")  # scales: 2
_LEVEL = struct.Struct("<qq")  # price, size: 16
_TRADE = struct.Struct("<qqqB")  # ts, price, size, side: 25
_CANDLES = struct.Struct("<qBBBB")  # windowStart, resolution, snapshot, scales: 12
# start, open, high, low, close, volume and quote volume (lo, hi), count,
# final: 81.
_CANDLE = struct.Struct("<qqqqqQqQqqB")


def format_decimal(m: int, scale: int) -> str:
    """Writes mantissa ``m`` with exactly ``scale`` fractional digits, as
    the JSON protocol writes prices: 6412310 at scale 2 is ``"64123.10"``,
    -5 is ``"-0.05"``; scale 0 has no point."""
    if scale == 0:
        return str(m)
    neg = m < 0
    s = str(-m if neg else m)
    if len(s) <= scale:
        s = "0" * (scale + 1 - len(s)) + s
    s = s[:-scale] + "." + s[-scale:]
    return "-" + s if neg else s


def _make_formatter(scale: int) -> Callable[[int], str]:
    """format_decimal at one scale, in fewer steps."""
    if scale == 0:
        return str
    zeros = tuple("0" * (scale - n) for n in range(scale + 1))  # by digit count

    def fmt(m: int) -> str:
        if m < 0:
            return "-" + fmt(-m)
        s = str(m)
        n = len(s)
        if n > scale:
            return s[:-scale] + "." + s[-scale:]
        return "0." + zeros[n] + s

    return fmt


#: The formatter of each scale, 0 to 36 (a ticker's quote volume is at
#: priceScale + sizeScale).
_FORMATTERS: Final = tuple(_make_formatter(i) for i in range(2 * _MAX_SCALE + 1))


class _Reader:
    __slots__ = ("b", "off")

    def __init__(self, b: bytes | bytearray | memoryview) -> None:
        self.b = b
        self.off = 0

    def fail(self, detail: str, at: int | None = None) -> BinaryDecodeError:
        return BinaryDecodeError(self.off if at is None else at, detail)

    def need(self, n: int) -> None:
        if n > len(self.b) - self.off:
            raise self.fail("truncated")

    def block(self, st: struct.Struct, block_length: int) -> tuple[Any, ...]:
        """Reads a root block of ``block_length`` bytes whose known fields
        are ``st``, and skips the rest (fields of a later version)."""
        if block_length < st.size:
            raise self.fail(f"block length {block_length} shorter than {st.size}")
        self.need(block_length)
        v = st.unpack_from(self.b, self.off)
        self.off += block_length
        return v

    def group(self, known: int) -> tuple[int, int]:
        """Reads a group's dimension: the entries' block length (at least
        ``known``) and their number, which must fit in what is left."""
        self.need(6)
        bl, n = _GROUP.unpack_from(self.b, self.off)
        if bl < known:
            raise self.fail(f"group block length {bl} shorter than {known}")
        self.off += 6
        if n > (len(self.b) - self.off) // bl:
            raise self.fail(f"group of {n} entries longer than the message")
        return bl, n

    def str(self) -> str:
        self.need(2)
        (n,) = _U16.unpack_from(self.b, self.off)
        self.off += 2
        self.need(n)
        try:
            s = bytes(self.b[self.off:self.off + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("string is not UTF-8") from None
        self.off += n
        return s


def _scales(r: _Reader, ps: int, ss: int, at: int) -> None:
    if ps > _MAX_SCALE or ss > _MAX_SCALE:
        raise r.fail(f"scale above {_MAX_SCALE}", at)


def _levels(r: _Reader, ps: int, ss: int) -> list[list[str]]:
    bl, n = r.group(_LEVEL.size)
    start = r.off
    r.off += bl * n
    fp, fs = _FORMATTERS[ps], _FORMATTERS[ss]
    if bl == _LEVEL.size:
        return [[fp(p), fs(s)] for p, s in _LEVEL.iter_unpack(r.b[start:r.off])]
    return [[fp(p), fs(s)] for p, s in (_LEVEL.unpack_from(r.b, start + i * bl) for i in range(n))]


def _book(r: _Reader, block_length: int, update: bool) -> dict[str, Any]:
    at = r.off
    if update:
        first, seq, epoch, ts, ck, ps, ss = r.block(_UPDATE, block_length)
        _scales(r, ps, ss, at + 36)
        msg: dict[str, Any] = {"type": "update", "channel": "", "first_seq": first, "seq": seq}
    else:
        seq, epoch, ts, ck, ps, ss = r.block(_SNAPSHOT, block_length)
        _scales(r, ps, ss, at + 28)
        msg = {"type": "snapshot", "channel": "", "seq": seq}
    msg["epoch"] = epoch
    msg["ts"] = ts
    msg["checksum"] = ck
    msg["bids"] = _levels(r, ps, ss)
    msg["asks"] = _levels(r, ps, ss)
    return msg


def _state(status: int, reason: int) -> tuple[str, str]:
    """An unknown status reads as stale, an unknown reason as unknown."""
    return (_STATUS[status] if status < len(_STATUS) else "stale",
            _REASON[reason] if reason < len(_REASON) else "unknown")


def _status(r: _Reader, block_length: int) -> dict[str, Any]:
    at = r.off
    st, reason = _state(*r.block(_STATUS_BLOCK, block_length))
    if not st:
        raise r.fail("status of a served book", at)
    msg: dict[str, Any] = {"type": "status", "channel": "", "status": st}
    if reason:
        msg["reason"] = reason
    return msg


def _side(r: _Reader, msg: dict[str, Any], names: tuple[str, str], p: int, s: int, ps: int, ss: int) -> None:
    """Sets an optional price and size: both null (absent), or neither."""
    if (p == _NULL) != (s == _NULL):
        raise r.fail(f"one of {names[0]} and {names[1]} is null")
    if p != _NULL:
        msg[names[0]] = _FORMATTERS[ps](p)
        msg[names[1]] = _FORMATTERS[ss](s)


def _bbo(r: _Reader, block_length: int) -> dict[str, Any]:
    at = r.off
    seq, epoch, ts, bid, bid_size, ask, ask_size, ps, ss = r.block(_BBO, block_length)
    _scales(r, ps, ss, at + 56)
    msg: dict[str, Any] = {"type": "bbo", "channel": "", "seq": seq, "epoch": epoch, "ts": ts}
    _side(r, msg, ("bid", "bid_size"), bid, bid_size, ps, ss)
    _side(r, msg, ("ask", "ask_size"), ask, ask_size, ps, ss)
    return msg


def _int128(lo: int, hi: int, scale: int) -> str | None:
    return None if hi == _NULL else _FORMATTERS[scale]((hi << 64) + lo)


def _ticker(r: _Reader, v: tuple[Any, ...], at: int) -> dict[str, Any]:
    """The ticker message (without its channel) of a ticker block's fields."""
    ts, bid, bid_size, ask, ask_size, last, last_size, open_, high, low, count, window_start = v[:12]
    st, reason, ps, ss = v[22:26]
    _scales(r, ps, ss, at + 178)
    msg: dict[str, Any] = {"type": "ticker", "channel": "", "ts": ts}
    _side(r, msg, ("bid", "bid_size"), bid, bid_size, ps, ss)
    _side(r, msg, ("ask", "ask_size"), ask, ask_size, ps, ss)
    _side(r, msg, ("last", "last_size"), last, last_size, ps, ss)
    for name, m in (("open", open_), ("high", high), ("low", low)):
        if m != _NULL:
            msg[name] = _FORMATTERS[ps](m)
    for name, lo, hi, scale in (("volume", v[12], v[13], ss), ("quote_volume", v[14], v[15], ps + ss),
                                ("vwap", v[16], v[17], ps), ("change", v[18], v[19], ps),
                                ("change_pct", v[20], v[21], 2)):
        d = _int128(lo, hi, scale)
        if d is not None:
            msg[name] = d
    if count != _NULL:
        msg["count"] = count
    if window_start != _NULL:
        msg["window_start"] = window_start
    status, why = _state(st, reason)
    if status:
        msg["status"] = status
        if why:
            msg["reason"] = why
    return msg


def _tickers(r: _Reader, block_length: int) -> dict[str, Any]:
    (ts,) = r.block(_TICKERS, block_length)
    bl, n = r.group(_TICKER.size)
    out = []
    for _ in range(n):
        at = r.off
        r.need(bl)  # the strings of the entries before may have taken it
        t = _ticker(r, _TICKER.unpack_from(r.b, at), at)
        r.off = at + bl
        t["channel"] = r.str()
        out.append(t)
    return {"type": "tickers", "channel": "", "ts": ts, "tickers": out}


def _trades(r: _Reader, block_length: int) -> dict[str, Any]:
    at = r.off
    ps, ss = r.block(_TRADES, block_length)
    _scales(r, ps, ss, at)
    bl, n = r.group(_TRADE.size)
    out = []
    fp, fs = _FORMATTERS[ps], _FORMATTERS[ss]
    for _ in range(n):
        at = r.off
        r.need(bl)  # the ids of the trades before may have taken it
        ts, price, size, side = _TRADE.unpack_from(r.b, at)
        s = _SIDE[side] if side < len(_SIDE) else None
        if s is None:
            raise r.fail(f"trade side {side}", at + 24)
        r.off = at + bl
        out.append({"id": r.str(), "ts": ts, "price": fp(price), "size": fs(size), "side": s})
    return {"type": "trades", "channel": "", "trades": out}


def _candles(r: _Reader, block_length: int) -> dict[str, Any]:
    at = r.off
    window_start, res, snapshot, ps, ss = r.block(_CANDLES, block_length)
    if res >= len(RESOLUTIONS):
        raise r.fail(f"resolution {res}", at + 8)
    if snapshot > 1:
        raise r.fail(f"boolean {snapshot}", at + 9)
    _scales(r, ps, ss, at + 10)
    msg: dict[str, Any] = {"type": "candles", "channel": "", "resolution": RESOLUTIONS[res]}
    if snapshot:
        msg["snapshot"] = True
    if window_start != _NULL:
        msg["window_start"] = window_start
    bl, n = r.group(_CANDLE.size)
    fp = _FORMATTERS[ps]
    out = []
    for _ in range(n):
        at = r.off
        start, open_, high, low, close, vlo, vhi, qlo, qhi, count, final = _CANDLE.unpack_from(r.b, at)
        volume, quote_volume = _int128(vlo, vhi, ss), _int128(qlo, qhi, ps + ss)
        if volume is None or quote_volume is None:
            raise r.fail("null candle sum", at + 40)
        if final > 1:
            raise r.fail(f"boolean {final}", at + 80)
        r.off = at + bl
        out.append({"start": start, "open": fp(open_), "high": fp(high), "low": fp(low), "close": fp(close),
                    "volume": volume, "quote_volume": quote_volume, "count": count, "final": final == 1})
    msg["candles"] = out
    return msg


def _ticker_message(r: _Reader, block_length: int) -> dict[str, Any]:
    at = r.off
    return _ticker(r, r.block(_TICKER, block_length), at)


_DECODERS = {
    1: lambda r, bl: _book(r, bl, False),
    2: lambda r, bl: _book(r, bl, True),
    3: _status,
    4: _bbo,
    5: _ticker_message,
    6: _tickers,
    7: _trades,
    8: _candles,
}


def decode_binary(data: bytes | bytearray | memoryview) -> dict[str, Any] | None:
    """Decodes one binary frame into the message its JSON twin is.

    Returns None for a message of a template this client does not know (a
    later version's message type, to skip as an unknown JSON type is).
    Raises :class:`~marketfeed.BinaryDecodeError` for a malformed message:
    shorter than its header, blocks, groups or strings say, of another
    schema or an earlier version, a block shorter than this version's, a
    scale above 18, an unknown trade side or candle resolution, a boolean
    other than 0 and 1, a null candle sum, a status of a served book, half
    of an optional level, or a string that is not UTF-8 (binary.md section
    4: a protocol violation). Bytes after the channel name, variable data a
    later version may append, are ignored."""
    r = _Reader(data)
    r.need(_HEADER.size)
    block_length, template, schema, version = _HEADER.unpack_from(data, 0)
    if schema != _SCHEMA_ID:
        raise r.fail(f"schemaId {schema}, not {_SCHEMA_ID}", 4)
    if version < _SCHEMA_VERSION:
        raise r.fail(f"version {version} before {_SCHEMA_VERSION}", 6)
    r.off = _HEADER.size
    dec = _DECODERS.get(template)
    if dec is None:
        return None
    msg = dec(r, block_length)
    msg["channel"] = r.str()
    return msg  # bytes after the channel: variable data of a later version
