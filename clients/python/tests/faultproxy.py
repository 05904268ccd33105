"""A TCP proxy between the client and a real marketfeed server that injects
faults into the server's WebSocket stream: it reads the server's frames
(RFC 6455, unmasked) and can drop one book update (a gap), alter a size
in one (a wrong book, which only the checksum reveals), or cut every
connection without a close frame. Frames are otherwise passed on byte for
byte; only uncompressed text frames (RSV1 clear) are touched."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field


@dataclass
class _Fault:
    kind: str  # "drop" or "corrupt"
    channel: bytes
    done: asyncio.Future[bytes]
    type: bytes = b'"type":"update"'


@dataclass
class FaultProxy:
    upstream_port: int
    host: str = "127.0.0.1"
    port: int = 0
    faults: list[_Fault] = field(default_factory=list)
    connections: int = 0
    _server: asyncio.Server | None = None
    _pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = field(default_factory=set)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> int:
        """Drops every proxied connection at once (no close frame)."""
        n = 0
        for a, b in list(self._pairs):
            for w in (a, b):
                w.transport.abort()
            n += 1
        self._pairs.clear()
        return n

    def inject(self, text: str) -> int:
        """Sends a text message to every client, as if from the server,
        between two of the server's frames."""
        data = text.encode()
        n = len(data)
        head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")
        for cw, _ in self._pairs:
            cw.write(head + data)
        return len(self._pairs)

    def drop_next_update(self, channel: str) -> asyncio.Future[bytes]:
        """Drops the next plain update of channel; the future gets its payload."""
        return self._arm("drop", channel)

    def corrupt_next_update(self, channel: str, type: str = "update") -> asyncio.Future[bytes]:
        """Alters a size digit in the next plain message of that type
        (``update`` or ``snapshot``) of channel (same length, so the frame
        stays valid); the future gets the payload as it was sent on."""
        return self._arm("corrupt", channel, type)

    def _arm(self, kind: str, channel: str, type: str = "update") -> asyncio.Future[bytes]:
        f = _Fault(kind, f'"channel":"{channel}"'.encode(), asyncio.get_running_loop().create_future(),
                   f'"type":"{type}"'.encode())
        self.faults.append(f)
        return f.done

    async def _handle(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            sr, sw = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            cw.transport.abort()
            return
        self.connections += 1
        pair = (cw, sw)
        self._pairs.add(pair)
        up = asyncio.create_task(self._pipe(cr, sw))
        try:
            await self._downstream(sr, cw)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            up.cancel()
            self._pairs.discard(pair)
            for w in (cw, sw):
                w.transport.abort()

    @staticmethod
    async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        w.transport.abort()

    async def _downstream(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(await r.readuntil(b"\r\n\r\n"))  # the HTTP response
        while True:
            head = await r.readexactly(2)
            n = head[1] & 0x7F
            ext = b""
            if n == 126:
                ext = await r.readexactly(2)
                n = int.from_bytes(ext, "big")
            elif n == 127:
                ext = await r.readexactly(8)
                n = int.from_bytes(ext, "big")
            payload = bytearray(await r.readexactly(n))
            fin, rsv1, opcode = head[0] & 0x80, head[0] & 0x40, head[0] & 0x0F
            if fin and not rsv1 and opcode == 1 and self.faults:
                f = next((f for f in self.faults if f.channel in payload and f.type in payload), None)
                if f is not None:
                    if f.kind == "drop":
                        self.faults.remove(f)
                        f.done.set_result(bytes(payload))
                        continue
                    m = re.search(rb'\[\["[0-9.]+","([0-9])', bytes(payload))
                    if m is not None:
                        i = m.start(1)
                        payload[i] = ord("1") if payload[i] == ord("0") else ord("0")
                        self.faults.remove(f)
                        f.done.set_result(bytes(payload))
            w.write(head + ext + bytes(payload))
            await w.drain()
