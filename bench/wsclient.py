"""A lean `graphql-transport-ws` subscriber for the fan-out benchmark.

One asyncio `Protocol` per connection: an RFC 6455 handshake, then frames parsed
straight from the socket buffer, with permessage-deflate (RFC 7692) offered
like browsers do. It exists because a general client (the `websockets` library)
spends ~30 us of CPU per received frame, as much as the bare server spends
sending it, so the benchmark measured the clients; this one spends a few us.
It only handles what the benchmark needs: one subscription per connection,
text frames, ping/pong and close.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import zlib
from collections.abc import Callable
from typing import Any, cast

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

OnMessage = Callable[[dict[str, Any], int, float], None]
"""Called with each `next` message, its size in bytes (decompressed) and arrival time."""


def _mask(payload: bytes) -> bytes:
    key = os.urandom(4)
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return key + masked


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, unfragmented client frame."""
    n = len(payload)
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return header + _mask(payload)


class Subscriber(asyncio.Protocol):
    """Connects, sends `connection_init` and, once acked, one `subscribe`."""

    def __init__(
        self, host: str, path: str, init: dict[str, object], subscribe: dict[str, object],
        on_message: OnMessage, deflate: bool = True,
    ) -> None:  # fmt: skip
        self._host = host
        self._path = path
        self._init = orjson.dumps(init)
        self._subscribe = orjson.dumps(subscribe)
        self._on_message = on_message
        self._offer_deflate = deflate
        self._key = base64.b64encode(os.urandom(16))
        self._buffer = bytearray()
        self._upgraded = False
        self._inflate: zlib._Decompress | None = None
        self._reset_inflate = False
        self._fragments: list[bytes] = []
        self._fragment_compressed = False
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.deflate_negotiated = False

    # -- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not `asyncio.Transport` subclasses, but behave as one
        self._transport = cast(asyncio.Transport, transport)
        lines = [
            f"GET {self._path} HTTP/1.1",
            f"Host: {self._host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key.decode()}",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Protocol: graphql-transport-ws",
        ]
        if self._offer_deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        self._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self._buffer += data
        if not self._upgraded and not self._handshake():
            return
        self._frames(now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- protocol ---------------------------------------------------------

    def _fail(self, message: str) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(message))
        if self._transport is not None:
            self._transport.close()

    def _handshake(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        del self._buffer[: end + 4]
        if not head[0].startswith("HTTP/1.1 101"):
            self._fail(f"handshake refused: {head[0]}")
            return False
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        accept = base64.b64encode(hashlib.sha1(self._key + GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            self._fail("bad Sec-WebSocket-Accept")
            return False
        extensions = headers.get("sec-websocket-extensions", "")
        if "permessage-deflate" in extensions:
            self.deflate_negotiated = True
            self._reset_inflate = "server_no_context_takeover" in extensions
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        self._upgraded = True
        self.send_text(self._init)
        return True

    def send_text(self, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(encode_frame(OP_TEXT, payload))

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(encode_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
            self._transport.close()

    def _frames(self, now: float) -> None:
        buf = self._buffer
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length = b1 & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = int.from_bytes(buf[2:4], "big")
                offset = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = int.from_bytes(buf[2:10], "big")
                offset = 10
            if len(buf) < offset + length:
                return
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            opcode = b0 & 0x0F
            if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if opcode != OP_CONT:
                    self._fragment_compressed = bool(b0 & 0x40)
                self._fragments.append(payload)
                if b0 & 0x80:  # FIN
                    message = b"".join(self._fragments)
                    self._fragments = []
                    if self._fragment_compressed:
                        message = self._decompress(message)
                    self._message(message, now)
            elif opcode == OP_PING:
                if self._transport is not None:
                    self._transport.write(encode_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self.close()
                return

    def _decompress(self, data: bytes) -> bytes:
        if self._inflate is None:
            raise ConnectionError("compressed frame without permessage-deflate")
        out = self._inflate.decompress(data + b"\x00\x00\xff\xff")
        if self._reset_inflate:
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        return out

    def _message(self, raw: bytes, now: float) -> None:
        message = orjson.loads(raw)
        kind = message.get("type")
        if kind == "next":
            self._on_message(message, len(raw), now)
        elif kind == "connection_ack":
            self.send_text(self._subscribe)
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif kind == "ping":
            self.send_text(b'{"type":"pong"}')
        elif kind in {"error", "complete", "connection_error"}:
            self._fail(f"subscription ended: {message}")


async def open_subscriber(
    host: str, port: int, path: str, init: dict[str, object], subscribe: dict[str, object],
    on_message: OnMessage, *, deflate: bool = True, timeout_s: float = 30.0,
) -> Subscriber:  # fmt: skip
    """Connect and subscribe; returns once the `subscribe` message is sent."""
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: Subscriber(f"{host}:{port}", path, init, subscribe, on_message, deflate),
        host,
        port,
    )
    await asyncio.wait_for(protocol.subscribed, timeout_s)
    return protocol
