"""Fixtures: a real marketfeed built from this repository.

``demo``: ``marketfeed demo`` (embedded Kafka-protocol broker, synthetic
exchange, server A with the demo's API keys). ``servers``: starts further
``marketfeed serve`` processes (server B...) consuming the demo's broker,
so a test can shut one down and start it again on the same port while the
exchange goes on. Both servers read the same topic, so at any seq their
books are the same: server A is the reference for a client of server B.

MARKETFEED_BIN names a built binary; otherwise the fixture builds one with
``go build``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def _within(seconds: float) -> AsyncIterator[None]:
    """asyncio.timeout for Python 3.10."""
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def fire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = asyncio.get_running_loop().call_later(seconds, fire)
    try:
        yield
    except asyncio.CancelledError:
        if expired:
            raise TimeoutError(f"timed out after {seconds}s") from None
        raise
    finally:
        handle.cancel()


#: Bounds a block of a test (asyncio.timeout from Python 3.11 on).
within = getattr(asyncio, "timeout", _within)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s")


@pytest.fixture(scope="session")
def marketfeed_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    if os.environ.get("MARKETFEED_BIN"):
        return os.environ["MARKETFEED_BIN"]
    go = shutil.which("go") or "/usr/local/go/bin/go"
    out = tmp_path_factory.mktemp("bin") / "marketfeed"
    subprocess.run([go, "build", "-o", str(out), "./cmd/marketfeed"], cwd=REPO, check=True)
    return str(out)


class _Lines:
    """Collects a process's output lines in a thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(text in ln for ln in self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {text!r} in output:\n" + "\n".join(self.lines))
                self.cond.wait(left)


@dataclass
class Demo:
    port: int
    broker: str
    key: str
    proc: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@pytest.fixture(scope="session")
def demo(marketfeed_bin: str) -> Iterator[Demo]:
    port = free_port()
    proc = subprocess.Popen([marketfeed_bin, "demo", "-listen", f"127.0.0.1:{port}", "-rate", "400",
                             "-log-level", "warn"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = _Lines(proc)
    try:
        out.wait_for("Press Ctrl-C", 60)
        wait_http(f"http://127.0.0.1:{port}/readyz", 30, proc)
        broker = out.lines[0].split("broker (", 1)[1].split(")", 1)[0]
        key = next(ln.strip() for ln in out.lines if ln.strip().startswith("mfk_"))
        d = Demo(port, broker, key, proc)
        wait_live(port, "BTC-USD", 30)
        yield d
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def symbols(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/symbols", timeout=2) as r:
        return {s["symbol"]: s for s in json.load(r)}


def wait_live(port: int, symbol: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if symbols(port).get(symbol, {}).get("state") == "live":
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{symbol} not live on port {port}")


def new_secret() -> str:
    return "mfk_" + base64.b32encode(os.urandom(20)).decode().lower()


def write_keys(path: Path, keys: dict[str, str], origins_plan: str = "pro") -> None:
    """A key file with an unlimited plan and the keys (id -> secret)."""
    f = {
        "plans": {"pro": {"symbols": ["*"], "max_depth": 1000, "min_interval": "raw"}},
        "keys": [{"id": i, "hash": "sha256:" + hashlib.sha256(s.encode()).hexdigest(), "plan": origins_plan}
                 for i, s in keys.items()],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(f))
    tmp.replace(path)


@dataclass
class Server:
    """A ``marketfeed serve`` process on the demo's broker."""

    bin: str
    broker: str
    args: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self, wait_symbol: str | None = "BTC-USD") -> None:
        self.proc = subprocess.Popen(
            [self.bin, "serve", "-listen", f"127.0.0.1:{self.port}", "-kafka.brokers", self.broker,
             "-kafka.topic", "marketdata", "-log.level", "warn", "-shutdown_timeout", "5s", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._lines = _Lines(self.proc)
        wait_http(f"http://127.0.0.1:{self.port}/healthz", 30, self.proc)
        if wait_symbol:
            wait_live(self.port, wait_symbol, 30)

    def stop(self) -> int:
        """SIGTERM: the graceful shutdown (notice, close 1001); its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(20)
        self.log.extend(self._lines.lines)
        self.proc = None
        return rc


@pytest.fixture
def servers(demo: Demo, marketfeed_bin: str) -> Iterator[Any]:
    started: list[Server] = []

    def start(*args: str, wait_symbol: str | None = "BTC-USD") -> Server:
        s = Server(marketfeed_bin, demo.broker, list(args))
        s.start(wait_symbol)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc is not None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture
def python() -> str:
    return sys.executable
