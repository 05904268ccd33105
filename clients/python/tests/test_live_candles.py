"""The candles channel on the demo server: typed CandlesUpdate events, a
snapshot of the candles held, then the candles that change."""

from __future__ import annotations

from decimal import Decimal

import pytest

import marketfeed
from marketfeed import events as ev

from conftest import Demo
from test_live import SYM, Recorder


async def test_candles_snapshot_then_updates(demo: Demo) -> None:
    """A candles subscription at a resolution starts with a snapshot whose
    candles are sorted, exact, and all final but the last; updates follow
    at the interval; a second subscription of the channel starts from the
    candles held."""
    async with marketfeed.connect(demo.url, api_key=demo.key) as feed:
        first = Recorder(feed.subscribe(f"candles.{SYM}", resolution="1m", interval="100ms"))
        await first.until(lambda: sum(isinstance(e, ev.CandlesUpdate) for e in first.events) > 3, "candles updates")
        ups = [e for e in first.events if isinstance(e, ev.CandlesUpdate)]
        snap = ups[0]
        assert snap.snapshot and snap.resolution == "1m" and snap.window_start is not None
        assert all(c.final for c in snap.candles[:-1])  # the demo may not have traded yet
        assert not any(u.snapshot for u in ups[1:]) and all(u.candles for u in ups[1:])
        held: dict[int, marketfeed.Candle] = {}
        for u in ups:
            for c in u.candles:
                assert c.start % 60_000_000 == 0 and c.count >= 1 and c.volume > 0
                assert isinstance(c.close, Decimal) and c.low <= min(c.open, c.close) and c.high >= max(c.open, c.close)
                assert not held.get(c.start) or not held[c.start].final or held[c.start] == c, "a final candle changed"
                held[c.start] = c
        again = Recorder(feed.subscribe(f"candles.{SYM}", resolution="1m", interval="100ms"))
        await again.until(lambda: any(isinstance(e, ev.CandlesUpdate) for e in again.events), "the candles held")
        joined = next(e for e in again.events if isinstance(e, ev.CandlesUpdate))
        assert joined.snapshot and [c.start for c in joined.candles][:len(held)] == sorted(held)[:len(joined.candles)]
        with pytest.raises(ValueError):
            feed.subscribe(f"book.{SYM}", resolution="1m")
        for r in (first, again):
            await r.close()
