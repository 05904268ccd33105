"""Client decode time per message of the Python client: the JSON text
frames (``_json.loads``: orjson when installed, and the standard library's
json) against the marketfeed.v1.bin frames (``decode_binary``), on the
same messages: the shared binary vectors (testdata/protocol/binary.json)
and book snapshots of 20 and 1000 levels per side.

  python bench/decode.py

The three are timed alternately, 5 runs each; the figures are the best
run, and the ratio (``_json.loads`` time over binary time) the median of
the 5 ratios of runs made back to back (the machine is shared: compare
within a run).
"""

from __future__ import annotations

import json
import platform
import struct
import timeit
from pathlib import Path

import marketfeed
from marketfeed import _json
from marketfeed.binary import format_decimal

VECTORS = Path(__file__).resolve().parents[3] / "testdata" / "protocol" / "binary.json"


def snapshot(n: int) -> tuple[str, str, bytes]:
    """A BTC-USD snapshot of n levels per side in both encodings
    (binary.md 2.1), the JSON text as the server writes it."""
    bids = [(6412310 - 10 * i, 50000000 + 1234567 * i) for i in range(n)]
    asks = [(6412320 + 10 * i, 30000000 + 7654321 * i) for i in range(n)]

    def dec(side: list[tuple[int, int]]) -> list[list[str]]:
        return [[format_decimal(p, 2), format_decimal(s, 8)] for p, s in side]

    checksum = marketfeed.view_checksum(dec(bids), dec(asks))
    channel = b"book.BTC-USD"
    text = (f'{{"type":"snapshot","channel":"book.BTC-USD","seq":1042,"epoch":0,"ts":1767225600100000,'
            f'"checksum":{checksum},"bids":{json.dumps(dec(bids), separators=(",", ":"))},'
            f'"asks":{json.dumps(dec(asks), separators=(",", ":"))}}}')
    b = struct.pack("<HHHHQQqIBB", 30, 1, 1, 1, 1042, 0, 1767225600100000, checksum, 2, 8)
    for side in (bids, asks):
        b += struct.pack("<HI", 16, n) + b"".join(struct.pack("<qq", p, s) for p, s in side)
    b += struct.pack("<H", len(channel)) + channel
    return f"snapshot {n} levels", text, b


def main() -> None:
    cases = json.loads(VECTORS.read_text())["cases"]
    by_name = {c["name"]: c for c in cases}
    msgs = [(name, by_name[name]["json"], bytes.fromhex(by_name[name]["hex"]))
            for name in ("snapshot", "update", "bbo", "ticker", "trades", "tickers")]
    msgs += [snapshot(20), snapshot(1000)]
    print(f"Python {platform.python_version()}, JSON parser {_json.PARSER}; ns per message, best of 5")
    print(f"{'message':22} {'JSON bytes':>10} {'bin bytes':>10} {_json.PARSER:>10} {'json':>10} {'binary':>10} {'ratio':>8}")
    for name, text, b in msgs:
        if marketfeed.decode_binary(b) != _json.loads(text):
            raise SystemExit(f"{name}: the two encodings differ")
        fns = (lambda: _json.loads(text), lambda: json.loads(text), lambda: marketfeed.decode_binary(b))
        timers = [timeit.Timer(fn) for fn in fns]
        ns = [t.autorange()[0] for t in timers]
        runs: list[list[float]] = [[], [], []]
        for _ in range(5):  # alternately, so that the three see the same load
            for i, t in enumerate(timers):
                runs[i].append(t.timeit(ns[i]) / ns[i] * 1e9)
        best = [min(r) for r in runs]
        ratio = sorted(a / c for a, c in zip(runs[0], runs[2]))[2]
        print(f"{name:22} {len(text):>10} {len(b):>10} {best[0]:>10.0f} {best[1]:>10.0f} {best[2]:>10.0f} {ratio:>8.2f}")

if __name__ == "__main__":
    main()
