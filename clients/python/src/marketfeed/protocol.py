"""The vocabulary of the marketfeed WebSocket protocol, version 1
(schemas/websocket.md): channel kinds, depths, intervals, lag policies,
error codes and close codes. Everything else in the package takes these
values from here."""

from __future__ import annotations

from typing import Final

#: Protocol version this client speaks (``welcome.protocol``).
PROTOCOL_VERSION: Final = 1

#: Channel kinds: ``book.<SYMBOL>``, ``bbo.<SYMBOL>``, ``ticker.<SYMBOL>``,
#: ``trades.<SYMBOL>``, ``candles.<SYMBOL>``, and ``tickers`` (every
#: symbol's ticker, no symbol).
CHANNEL_KINDS: Final = ("book", "bbo", "ticker", "trades", "candles", "tickers")

#: Candle resolutions of a candles subscription (``resolution``); the
#: server's default is ``1m``.
RESOLUTIONS: Final = ("1m", "5m", "15m", "1h", "1d")

#: The all-market tickers channel.
TICKERS_CHANNEL: Final = "tickers"

#: Book depths the server offers; the server's default is 20.
DEPTHS: Final = (1, 5, 10, 20, 50, 100, 500, 1000)
#: The server's default book depth.
DEFAULT_DEPTH: Final = 20

#: Update intervals. The server's defaults: ``raw`` for books, bbo and trades,
#: ``100ms`` for tickers.
INTERVALS: Final = ("raw", "100ms", "1s")

#: Lag policies of a book subscription (``lag``): ``snapshot`` (a lagging
#: stream skips ahead to a fresh snapshot) or ``evict`` (the connection is
#: closed with 4001).
LAG_POLICIES: Final = ("snapshot", "evict")

#: Book statuses the protocol defines; clients must tolerate others.
STATUS_WAITING: Final = "waiting"
STATUS_STALE: Final = "stale"

#: Stable error codes of ``error`` messages (websocket.md section 6).
ERROR_CODES: Final[dict[str, str]] = {
    "invalid_json": "the message is not valid JSON",
    "invalid_request": "a field is missing, has the wrong type or an invalid value",
    "unknown_op": "op is not a known operation",
    "unknown_channel": "malformed channel name or unknown channel kind",
    "unknown_symbol": "the channel's symbol is not served",
    "invalid_depth": "depth is not an offered depth",
    "invalid_interval": "interval is not raw, 100ms or 1s",
    "invalid_resolution": "resolution is not 1m, 5m, 15m, 1h or 1d",
    "already_subscribed": "the connection is already subscribed to the channel",
    "not_subscribed": "the connection is not subscribed to the channel",
    "too_many_subscriptions": "the per-connection subscription limit is reached",
    "rate_limited": "commands sent too fast; the command was dropped",
    "unauthorized": "the API key is missing, invalid, revoked or expired",
    "not_entitled": "the key's plan does not include the channel, symbol, depth or interval",
    "not_served": "REST only: the book is not served (waiting or stale), or cannot be read now",
    "unsupported_protocol": "upgrade only (HTTP 400): none of the offered subprotocols is marketfeed.v1.json or marketfeed.v1.bin",
}

#: Close codes (websocket.md section 7).
CLOSE_CODES: Final[dict[int, str]] = {
    1000: "normal closure",
    1001: "server shutting down",
    1002: "WebSocket protocol error",
    1003: "binary frame received",
    1007: "invalid UTF-8 in a text frame",
    1008: "policy violation",
    1009: "client frame larger than the limit",
    1011: "internal server error",
    4000: "idle timeout",
    4001: "slow consumer",
    4002: "too many invalid messages",
    4003: "unauthorized: the API key was revoked, expired or removed",
    4004: "connection limit of the API key",
    4005: "connection lifetime reached",
}

#: Close codes after which reconnecting may help: the server went away, the
#: connection was idle, slow, too old, or broke without a close frame (1006).
RETRYABLE_CLOSE_CODES: Final = frozenset({1000, 1001, 1005, 1006, 1011, 4000, 4001, 4005})

#: Notice codes: the server is shutting down, or the connection reached its
#: maximum lifetime. Either way the close follows; the client reconnects at
#: once.
NOTICE_CODES: Final = ("shutdown", "lifetime")


def channel_kind(channel: str) -> str:
    """Returns the kind of a channel name (``book`` for ``book.BTC-USD``)
    and raises ValueError for a name the protocol does not define."""
    if channel == TICKERS_CHANNEL:
        return channel
    kind, dot, symbol = channel.partition(".")
    if not dot or kind not in CHANNEL_KINDS or kind == TICKERS_CHANNEL or not symbol:
        raise ValueError(
            f"invalid channel {channel!r}: expected book.SYMBOL, bbo.SYMBOL, ticker.SYMBOL, trades.SYMBOL, candles.SYMBOL or tickers"
        )
    return kind
