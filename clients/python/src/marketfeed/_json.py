"""JSON decoding: orjson when installed (the ``fast`` extra), else the
standard library. Both decode integers exactly and keep decimal strings as
strings."""

from __future__ import annotations

import json
from typing import Any, Callable

loads: Callable[[str | bytes], Any]
try:  # pragma: no cover - depends on the environment
    import orjson

    loads = orjson.loads
    PARSER = "orjson"
except ImportError:  # pragma: no cover
    loads = json.loads
    PARSER = "json"


def dumps(obj: Any) -> str:
    """Encodes a client command compactly."""
    return json.dumps(obj, separators=(",", ":"))
