"""The bbo channel on the demo server: typed BBO events, each the top of
the verified book at its seq."""

from __future__ import annotations

from decimal import Decimal

import marketfeed
from marketfeed import events as ev

from conftest import Demo
from test_live import CH, SYM, Recorder


async def test_bbo_is_the_books_top(demo: Demo) -> None:
    """Every bbo equals the top of the verified depth-1 book at its seq; a
    second subscription of the channel starts from the current top."""
    async with marketfeed.connect(demo.url, api_key=demo.key) as feed:
        book = Recorder(feed.subscribe(CH, depth=1))
        bbo = Recorder(feed.subscribe(f"bbo.{SYM}"))
        await bbo.until(lambda: sum(isinstance(e, ev.BBOUpdate) for e in bbo.events) > 20, "bbo messages")
        await book.until(lambda: book.views[-1][0] >= last_bbo(bbo).seq, "the book at the last bbo")
        tops = {seq: (bids[:1], asks[:1]) for seq, _, bids, asks in book.views}
        checked = 0
        for e in bbo.events:
            if isinstance(e, ev.BBOUpdate) and e.bbo.seq in tops:
                b = e.bbo
                want = tops[b.seq]
                got = ([(str(b.bid), str(b.bid_size))] if b.bid is not None else [],
                       [(str(b.ask), str(b.ask_size))] if b.ask is not None else [])
                assert got == want, (b, want)
                assert isinstance(b.bid, Decimal) and b.channel == f"bbo.{SYM}"
                checked += 1
        assert checked > 10, checked
        again = Recorder(feed.subscribe(f"bbo.{SYM}"))
        await again.until(lambda: any(isinstance(e, ev.BBOUpdate) for e in again.events), "the current top")
        assert isinstance(await feed.watch_bbo(SYM), marketfeed.BBO)
        for r in (book, bbo, again):
            await r.close()


def last_bbo(r: Recorder) -> marketfeed.BBO:
    return [e for e in r.events if isinstance(e, ev.BBOUpdate)][-1].bbo
