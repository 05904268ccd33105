"""The client's vocabulary against the protocol specification, and the
pure parts of the connection logic."""

from __future__ import annotations

import re
import statistics

import marketfeed
from marketfeed import errors, protocol

from conftest import REPO

SPEC = (REPO / "schemas" / "websocket.md").read_text()


def section(title: str) -> str:
    s = SPEC[SPEC.index(title):]
    return s[:s.index("\n## ", 5)]


def test_error_codes_are_the_specs() -> None:
    codes = re.findall(r"^\| `([a-z_]+)` \|", section("## 6. Error codes"), re.M)
    assert codes and set(codes) == set(protocol.ERROR_CODES)


def test_close_codes_are_the_specs() -> None:
    codes = {int(c) for c in re.findall(r"^\| (\d{4}) \|", section("## 7. Close codes"), re.M)}
    assert codes and codes == set(protocol.CLOSE_CODES)


def test_every_close_code_is_retried_or_raised() -> None:
    for code in protocol.CLOSE_CODES:
        if code in protocol.RETRYABLE_CLOSE_CODES:
            continue
        e = errors.close_error(code)
        assert isinstance(e, marketfeed.ServerClosed) and e.code == code
    assert isinstance(errors.close_error(4004), marketfeed.ConnectionLimitError)
    # 4003 is raised as an AuthenticationError by the feed (with the error message before it).
    assert 4003 not in protocol.RETRYABLE_CLOSE_CODES


def test_subscription_refusals_have_classes() -> None:
    for code in ("unknown_symbol", "unknown_channel", "not_entitled", "invalid_depth", "invalid_interval",
                 "invalid_request", "too_many_subscriptions"):
        cls = errors.SUBSCRIPTION_ERRORS[code]
        e = cls(code, "why", "book.X", 3)
        assert isinstance(e, marketfeed.SubscriptionError) and e.code == code and "book.X" in str(e)


def test_handshake_statuses() -> None:
    assert isinstance(errors.handshake_error(401), marketfeed.AuthenticationError)
    assert isinstance(errors.handshake_error(403), marketfeed.ForbiddenError)
    assert isinstance(errors.handshake_error(429), marketfeed.TooManyAttempts)
    e = errors.handshake_error(503, "busy")
    assert type(e) is marketfeed.HandshakeRejected and e.status == 503


def test_depths_and_intervals_are_the_specs() -> None:
    s = section("## 4. Channels")
    assert "1, 5, 10, 20, 50, 100, 500, 1000 (default 20)" in s
    assert protocol.DEPTHS == (1, 5, 10, 20, 50, 100, 500, 1000) and protocol.DEFAULT_DEPTH == 20
    for iv in protocol.INTERVALS:
        assert f"`{iv}`" in s


def test_backoff_is_capped_and_jittered() -> None:
    for failures in range(40):
        d = [marketfeed.backoff(0.25, 10.0, failures) for _ in range(200)]
        full = min(10.0, 0.25 * 2**failures)
        assert all(full / 2 <= x <= full for x in d)
        assert statistics.pstdev(d) > 0  # not all the same
    assert max(marketfeed.backoff(0.25, 10.0, 1000) for _ in range(100)) <= 10.0


def test_subscribe_arguments_are_checked() -> None:
    feed = marketfeed.connect("ws://127.0.0.1:1/ws")
    for kwargs in ({"depth": 25}, {"interval": "5s"}, {"lag": "drop"}):
        try:
            feed.subscribe("book.BTC-USD", **kwargs)  # type: ignore[arg-type]
        except ValueError:
            continue
        raise AssertionError(f"{kwargs} accepted")
    for bad in ("BTC-USD", "bok.BTC-USD", "book."):
        try:
            feed.subscribe(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")
