"""The package is fully type-hinted: mypy --strict finds nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_mypy_strict() -> None:
    pytest.importorskip("mypy")
    src = Path(__file__).resolve().parents[1] / "src" / "marketfeed"
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(src)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
