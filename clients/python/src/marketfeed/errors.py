"""Exceptions of the client. Everything it raises derives from
:class:`MarketFeedError`. Errors that reconnecting cannot fix are raised
from the subscription iterators and the ``watch_*`` calls; the others are
reported as events and healed by reconnecting."""

from __future__ import annotations

from .protocol import CLOSE_CODES, ERROR_CODES


class MarketFeedError(Exception):
    """Base class of the client's exceptions."""


class ConnectError(MarketFeedError):
    """The server could not be reached or the upgrade failed for a reason
    other than the refusals below (raised by the first connection only;
    later ones are retried)."""


class HandshakeRejected(MarketFeedError):
    """The server refused the WebSocket upgrade with an HTTP status."""

    def __init__(self, status: int, body: str = "") -> None:
        self.status = status
        self.body = body
        detail = f": {body.strip()}" if body.strip() else ""
        super().__init__(f"server refused the connection: HTTP {status}{detail}")


class AuthenticationError(HandshakeRejected):
    """No valid API key: HTTP 401 at the upgrade, or the key was revoked,
    expired or removed while connected (``unauthorized`` error, close 4003).
    ``status`` is 401, or 0 for a close; ``close_code`` is 4003 for a close."""

    def __init__(self, status: int, body: str = "", close_code: int | None = None) -> None:
        super().__init__(status, body)
        self.close_code = close_code
        if close_code is not None:
            self.args = (f"API key no longer valid (close {close_code}){': ' + body if body else ''}",)


class ForbiddenError(HandshakeRejected):
    """HTTP 403: the request's Origin is not allowed by the server."""


class TooManyAttempts(HandshakeRejected):
    """HTTP 429: too many failed attempts from this address (retried with
    backoff after the first connection)."""


class ProtocolMismatch(MarketFeedError):
    """The server sent no welcome, or announced a protocol version this
    client does not speak."""


class BinaryDecodeError(MarketFeedError, ValueError):
    """A malformed binary message of the ``marketfeed.v1.bin`` subprotocol
    (schemas/binary.md section 4): ``offset`` is the byte where the problem
    was found, ``detail`` what it is. The feed treats it as a protocol
    violation: it closes the connection (1002) and reconnects."""

    def __init__(self, offset: int, detail: str) -> None:
        self.offset = offset
        self.detail = detail
        super().__init__(f"malformed binary message at byte {offset}: {detail}")


class ServerClosed(MarketFeedError):
    """The server closed the connection with a code reconnecting cannot fix
    (4002 too many invalid messages, 4004 connection limit of the key,
    1002/1003/1007/1008/1009 protocol violations)."""

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = code
        self.reason = reason
        meaning = CLOSE_CODES.get(code, "unknown close code")
        super().__init__(f"server closed the connection: {code} ({meaning}){': ' + reason if reason else ''}")


class ConnectionLimitError(ServerClosed):
    """Close 4004: the API key already has its plan's maximum of
    connections."""


class ServerError(MarketFeedError):
    """An ``error`` message of the server: ``code`` is a stable code
    (:data:`marketfeed.protocol.ERROR_CODES`)."""

    def __init__(self, code: str, message: str = "", channel: str | None = None, id: int | None = None) -> None:
        self.code = code
        self.message = message
        self.channel = channel
        self.id = id
        where = f" on {channel}" if channel else ""
        text = message or ERROR_CODES.get(code, "")
        super().__init__(f"server error {code}{where}{': ' + text if text else ''}")


class SubscriptionError(ServerError):
    """The server refused (or ended) a subscription."""


class UnknownSymbol(SubscriptionError):
    """``unknown_symbol``: the channel's symbol is not served."""


class UnknownChannel(SubscriptionError):
    """``unknown_channel``: malformed channel name or unknown kind."""


class NotEntitled(SubscriptionError):
    """``not_entitled``: the key's plan does not include the channel kind,
    symbol, depth or interval (the message says which), or no longer does."""


class InvalidSubscription(SubscriptionError):
    """``invalid_depth``, ``invalid_interval``, ``invalid_request``,
    ``too_many_subscriptions``: the subscription's parameters."""


#: The exception class of each error code refusing a subscription.
SUBSCRIPTION_ERRORS: dict[str, type[SubscriptionError]] = {
    "unknown_symbol": UnknownSymbol,
    "unknown_channel": UnknownChannel,
    "not_entitled": NotEntitled,
    "invalid_depth": InvalidSubscription,
    "invalid_interval": InvalidSubscription,
    "invalid_resolution": InvalidSubscription,
    "invalid_request": InvalidSubscription,
    "too_many_subscriptions": InvalidSubscription,
}


def handshake_error(status: int, body: str = "") -> HandshakeRejected:
    """The exception of an upgrade refused with an HTTP status."""
    if status == 401:
        return AuthenticationError(status, body)
    if status == 403:
        return ForbiddenError(status, body)
    if status == 429:
        return TooManyAttempts(status, body)
    return HandshakeRejected(status, body)


def close_error(code: int, reason: str = "") -> ServerClosed:
    """The exception of a close reconnecting cannot fix."""
    if code == 4004:
        return ConnectionLimitError(code, reason)
    return ServerClosed(code, reason)
