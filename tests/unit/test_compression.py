"""Big answers are gzipped cheaply on a lower-priority thread; small ones as before."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from analytics_gateway.http import compression
from analytics_gateway.http.compression import BULK_BYTES, Compression

# numbers as a series answer holds them: compressible, but not trivially
BIG = b"[" + b",".join(str(1_700_000_000_000 + i * 10_007).encode() for i in range(30_000)) + b"]"
SMALL = BIG[:4096]


def _app() -> Starlette:
    async def big(_: Request) -> Response:
        return Response(BIG, media_type="application/json")

    async def small(_: Request) -> Response:
        return Response(SMALL, media_type="application/json")

    async def stream(_: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield SMALL
            yield BIG

        return StreamingResponse(chunks(), media_type="application/json")

    return Starlette(
        routes=[Route("/big", big), Route("/small", small), Route("/stream", stream)],
        middleware=[Middleware(Compression, minimum_size=1024, compresslevel=5)],
    )


async def _get(path: str, encoding: str = "gzip") -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get(path, headers={"Accept-Encoding": encoding})


async def test_a_big_body_is_gzipped_at_the_bulk_level_and_reads_back_whole() -> None:
    assert len(BIG) >= BULK_BYTES
    response = await _get("/big")
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == BIG  # httpx decoded it
    # the size of a level-1 stream, not of a level-5 one (markedly smaller here)
    sent = int(response.headers["content-length"])
    assert len(zlib.compress(BIG, 5)) + 64 < sent <= len(zlib.compress(BIG, 1)) + 64


async def test_a_small_body_keeps_the_configured_level() -> None:
    response = await _get("/small")
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == SMALL
    assert int(response.headers["content-length"]) < len(zlib.compress(SMALL, 1))


async def test_a_stream_whose_later_chunk_is_big_still_reads_back_whole() -> None:
    response = await _get("/stream")
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == SMALL + BIG


async def test_without_gzip_in_accept_encoding_the_body_goes_as_it_is() -> None:
    response = await _get("/big", encoding="identity")
    assert "content-encoding" not in response.headers
    assert response.content == BIG
    assert int(response.headers["content-length"]) == len(BIG)


@pytest.mark.skipif(sys.platform != "linux", reason="threads have a priority of their own on Linux")
async def test_the_bulk_thread_runs_behind_the_event_loop() -> None:
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop = asyncio.get_running_loop()
    bulk = await loop.run_in_executor(compression.bulk_executor(), nice)
    assert bulk >= min(nice() + compression.BULK_NICE, 19)
    assert bulk > nice()
