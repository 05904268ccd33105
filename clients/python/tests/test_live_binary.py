"""The binary subprotocol against the real server: a feed that asks for
marketfeed.v1.bin and a JSON feed of the same channels see the same
verified books, tops and trades."""

from __future__ import annotations

import marketfeed
from marketfeed import events as ev

from conftest import Demo
from test_live import CH, SYM, Recorder


async def test_binary_and_json_feeds_agree(demo: Demo) -> None:
    """A binary and a JSON subscriber of the same raw book rebuild identical
    verified views at every seq both saw; their bbo and trades agree too."""
    async with marketfeed.connect(demo.url, api_key=demo.key) as js, \
            marketfeed.connect(demo.url, api_key=demo.key, binary=True) as bn:
        jb, bb = Recorder(js.subscribe(CH, depth=20)), Recorder(bn.subscribe(CH, depth=20))
        jt, bt = Recorder(js.subscribe(f"trades.{SYM}")), Recorder(bn.subscribe(f"trades.{SYM}"))
        jo, bo = Recorder(js.subscribe(f"bbo.{SYM}")), Recorder(bn.subscribe(f"bbo.{SYM}"))
        await bb.until(lambda: len(bb.views) > 60, "binary book messages")
        await jb.until(lambda: jb.views[-1][0] >= bb.views[-1][0], "the JSON book at the binary one's seq")
        assert bn.encoding == "bin" and js.encoding == "json"
        jviews = {seq: (bids, asks) for seq, _, bids, asks in jb.views}
        common = [(seq, (bids, asks)) for seq, _, bids, asks in bb.views if seq in jviews]
        assert len(common) > 50, len(common)
        for seq, view in common:
            assert view == jviews[seq], seq

        def tops(r: Recorder) -> dict[int, tuple[object, ...]]:
            return {e.bbo.seq: tuple(str(v) for v in (e.bbo.bid, e.bbo.bid_size, e.bbo.ask, e.bbo.ask_size))
                    for e in r.events if isinstance(e, ev.BBOUpdate)}

        await bo.until(lambda: len(tops(bo)) > 10, "binary bbo messages")
        await jo.until(lambda: max(tops(jo), default=0) >= max(tops(bo)), "the JSON bbo")
        jtops, btops = tops(jo), tops(bo)
        shared = [s for s in btops if s in jtops]
        assert len(shared) > 5 and all(btops[s] == jtops[s] for s in shared)

        def trades(r: Recorder) -> list[tuple[object, ...]]:
            return [(t.id, t.ts, str(t.price), str(t.size), t.side)
                    for e in r.events if isinstance(e, ev.Trades) for t in e.trades]

        await bt.until(lambda: len(trades(bt)) > 5, "binary trades")
        await jt.until(lambda: any(t[0] == trades(bt)[-1][0] for t in trades(jt)), "the JSON trades")
        btr, jtr = trades(bt), trades(jt)
        ids = [t[0] for t in jtr]
        start = ids.index(btr[0][0]) if btr[0][0] in ids else -1
        if start < 0:  # the JSON feed began later: align on its first trade
            start_b = [t[0] for t in btr].index(jtr[0][0])
            btr, start = btr[start_b:], 0
        n = min(len(btr), len(jtr) - start)
        assert n > 3 and btr[:n] == jtr[start:start + n]
        for r in (jb, bb, jt, bt, jo, bo):
            await r.close()


async def test_binary_and_json_candles_agree(demo: Demo) -> None:
    """A binary and a JSON subscriber of the same raw candles channel get
    binary and JSON frames that make the same candles: each candle state
    (start and trade count) both saw is the same exact candle."""
    async with marketfeed.connect(demo.url, api_key=demo.key) as js, \
            marketfeed.connect(demo.url, api_key=demo.key, binary=True) as bn:
        jc = Recorder(js.subscribe(f"candles.{SYM}", resolution="1m", interval="raw"))
        bc = Recorder(bn.subscribe(f"candles.{SYM}", resolution="1m", interval="raw"))

        def states(r: Recorder) -> dict[tuple[int, int], marketfeed.Candle]:
            return {(c.start, c.count): c for e in r.events if isinstance(e, ev.CandlesUpdate) for c in e.candles}

        def common() -> list[tuple[int, int]]:
            j = states(jc)
            return [k for k in states(bc) if k in j]

        await bc.until(lambda: sum(isinstance(e, ev.CandlesUpdate) for e in bc.events) > 5, "binary candles updates")
        await jc.until(lambda: len(common()) > 5, "the JSON candles")
        assert bn.encoding == "bin" and js.encoding == "json"
        first = next(e for e in bc.events if isinstance(e, ev.CandlesUpdate))
        assert first.snapshot and first.resolution == "1m"
        j, b = states(jc), states(bc)
        for k in common():
            assert b[k] == j[k], k
        for r in (jc, bc):
            await r.close()
