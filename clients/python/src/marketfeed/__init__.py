"""Python client of marketfeed, the market-data streaming server.

::

    import asyncio, marketfeed

    async def main() -> None:
        async with marketfeed.connect("ws://127.0.0.1:8080/ws") as feed:
            async for event in feed.subscribe("book.BTC-USD", depth=20):
                if isinstance(event, marketfeed.BookUpdate):
                    print(event.seq, event.book.best_bid(), event.book.best_ask())

    asyncio.run(main())

Every book is verified on every message (sequence continuity and the
checksum of the whole view, schemas/websocket.md 5.7); the feed asks for a
fresh snapshot by itself after a gap or mismatch and reconnects by itself
after a drop. Prices and sizes are :class:`decimal.Decimal`.
"""

from __future__ import annotations

from .binary import SUBPROTOCOL_BINARY, SUBPROTOCOL_JSON, decode_binary
from .book import Level, OrderBook, canonical_string, view_checksum
from .errors import (
    AuthenticationError,
    BinaryDecodeError,
    ConnectError,
    ConnectionLimitError,
    ForbiddenError,
    HandshakeRejected,
    InvalidSubscription,
    MarketFeedError,
    NotEntitled,
    ProtocolMismatch,
    ServerClosed,
    ServerError,
    SubscriptionError,
    TooManyAttempts,
    UnknownChannel,
    UnknownSymbol,
)
from .events import (
    BBO,
    BBOStatus,
    BBOUpdate,
    BookStatus,
    BookUpdate,
    Candle,
    CandlesUpdate,
    Connected,
    Disconnected,
    ErrorEvent,
    Event,
    Notice,
    Resync,
    Subscribed,
    Ticker,
    TickerUpdate,
    TickersUpdate,
    Trade,
    Trades,
    Unsubscribed,
)
from .feed import Feed, Subscription, backoff, connect

__version__ = "0.1.0"

__all__ = [
    "connect", "Feed", "Subscription", "backoff", "OrderBook", "Level", "view_checksum",
    "canonical_string", "Event", "Connected", "Disconnected", "Subscribed", "Unsubscribed",
    "BookUpdate", "BookStatus", "Resync", "Trades", "Trade", "TickerUpdate", "TickersUpdate", "Ticker", "BBOUpdate", "BBOStatus", "BBO",
    "CandlesUpdate", "Candle", "Notice",
    "ErrorEvent", "MarketFeedError", "ConnectError", "HandshakeRejected", "AuthenticationError",
    "ForbiddenError", "TooManyAttempts", "ProtocolMismatch", "ServerClosed",
    "ConnectionLimitError", "ServerError", "SubscriptionError", "UnknownSymbol", "UnknownChannel",
    "NotEntitled", "InvalidSubscription", "BinaryDecodeError", "decode_binary", "SUBPROTOCOL_BINARY",
    "SUBPROTOCOL_JSON",
]
