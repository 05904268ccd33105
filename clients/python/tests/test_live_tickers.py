"""The tickers channel on the demo server: one TickersUpdate per interval
with a typed Ticker for every symbol."""

from __future__ import annotations

import marketfeed
from marketfeed import events as ev

from conftest import Demo, symbols
from test_live import Recorder


async def test_tickers_hold_every_symbol(demo: Demo) -> None:
    """A keyed tickers subscription at 100ms gets TickersUpdate events
    holding every served symbol's ticker."""
    want = sorted(symbols(demo.port))
    async with marketfeed.connect(demo.url, api_key=demo.key) as feed:
        r = Recorder(feed.subscribe("tickers", interval="100ms"))
        def updates() -> list[ev.TickersUpdate]:
            return [e for e in r.events if isinstance(e, ev.TickersUpdate)]
        await r.until(lambda: len(updates()) >= 3 and sorted(updates()[-1].tickers) == want, "every symbol's ticker")
        last = updates()[-1]
        assert last.channel == "tickers"
        assert sorted(last.tickers) == want, (sorted(last.tickers), want)
        assert all(isinstance(t, marketfeed.Ticker) for t in last.tickers.values())
        await r.close()
