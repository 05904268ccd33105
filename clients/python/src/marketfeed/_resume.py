"""Resume across reconnections (schemas/websocket.md 3.1, Resume).

Between two connections the feed keeps where each channel was, from the
last message its reader routed: for a book or bbo channel the ``epoch``
and ``seq`` of the last snapshot, update or bbo (none after a status, or
while a resync is unanswered), for a trades channel the ``id`` and ``ts``
of the last trade received (``trade_id``, ``ts``), and ``{}`` for ticker
and tickers. The next connection subscribes with these positions. A book
the server resumes (``"resumed": true``) keeps its levels and continues
with updates from ``seq + 1``, verified as always; one it does not resume
is reset and starts again from the snapshot that follows.

Concurrency: as the feed, on its event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .subscription import _Channel


def position(ch: _Channel) -> dict[str, Any] | None:
    """The resume position of a channel the server confirmed on the
    connection that ended, or None when there is nothing to resume from."""
    last = ch.last
    if ch.kind in ("book", "bbo"):
        if last is None or last.get("type") not in ("snapshot", "update", "bbo") or ch.resyncing:
            return None
        seq, epoch = last.get("seq"), last.get("epoch", 0)
        if type(seq) is not int or type(epoch) is not int or seq < 0 or epoch < 0:
            return None
        return {"epoch": epoch, "seq": seq}
    if ch.kind == "trades":
        trades = last.get("trades") if last is not None else None
        t = trades[-1] if isinstance(trades, list) and trades else None
        if isinstance(t, dict) and isinstance(t.get("id"), str) and t["id"] and type(t.get("ts")) is int:
            return {"trade_id": t["id"], "ts": t["ts"]}
        return None
    return {}  # ticker, tickers: the current state


def next_connection(ch: _Channel) -> None:
    """Sets the position the channel's next subscribe carries: from the
    connection that ended when the server had confirmed the channel there,
    else the one its last subscribe carried (nothing arrived since)."""
    if ch.confirmed is not None:
        ch.resume = position(ch)


def option(channels: list[str], by_name: dict[str, _Channel]) -> dict[str, Any] | None:
    """The ``resume`` option of a subscribe of channels, None when none of
    them has a position."""
    out = {n: by_name[n].resume for n in channels if by_name[n].resume is not None}
    return out or None
