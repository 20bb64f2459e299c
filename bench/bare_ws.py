"""Baseline for the fan-out benchmark: a bare Starlette WebSocket fan-out server.

It speaks just enough `graphql-transport-ws` for the benchmark's clients
(`connection_init` -> `connection_ack`, `subscribe`, `ping`/`pong`), keeps the
subscribed sockets in a dict, and on each `POST /publish` (the same JSON body
as the gateway's `POST /analytics/metrics`) sends every subscriber the same
`next` frame the gateway would send, serialized once per operation id.

    python -m bench.bare_ws --port P
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

PROTOCOL = "graphql-transport-ws"


class FanOut:
    def __init__(self) -> None:
        self.subscribers: dict[WebSocket, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def websocket(self, ws: WebSocket) -> None:
        await ws.accept(subprotocol=PROTOCOL)
        try:
            while True:
                message = orjson.loads(await ws.receive_text())
                kind = message.get("type")
                if kind == "connection_init":
                    await ws.send_text('{"type":"connection_ack","payload":{"tenant":"bench"}}')
                elif kind == "subscribe":
                    self.subscribers[ws] = str(message["id"])
                elif kind == "complete":
                    self.subscribers.pop(ws, None)
                elif kind == "ping":
                    await ws.send_text('{"type":"pong"}')
        except WebSocketDisconnect:
            pass
        finally:
            self.subscribers.pop(ws, None)

    async def _send(self, point: dict[str, Any]) -> None:
        frames: dict[str, str] = {}
        for ws, op_id in list(self.subscribers.items()):
            frame = frames.get(op_id)
            if frame is None:
                frame = orjson.dumps(
                    {"id": op_id, "type": "next", "payload": {"data": {"metricPoints": point}}}
                ).decode()
                frames[op_id] = frame
            try:
                await ws.send_text(frame)
            except (WebSocketDisconnect, RuntimeError):
                self.subscribers.pop(ws, None)

    async def publish(self, request: Request) -> Response:
        items = orjson.loads(await request.body())
        now_ms = int(time.time() * 1000)
        for item in items:
            stamp = item.get("timestamp") or now_ms
            point = {
                "name": item["name"],
                "labels": item.get("labels") or {},
                "timestamp": datetime.fromtimestamp(stamp / 1000, tz=UTC).isoformat(),
                "value": float(item["value"]),
            }
            task = asyncio.create_task(self._send(point))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        body = orjson.dumps({"accepted": len(items), "rejected": []})
        return Response(body, media_type="application/json")

    async def stats(self, request: Request) -> Response:
        return Response(orjson.dumps({"subscribers": len(self.subscribers)}))


def create_app() -> Starlette:
    fan = FanOut()
    return Starlette(
        routes=[
            WebSocketRoute("/graphql", fan.websocket),
            Route("/publish", fan.publish, methods=["POST"]),
            Route("/stats", fan.stats),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    # The same uvicorn options as `analytics-gateway serve`.
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=args.port,
        log_config=None,
        access_log=False,
        ws="websockets-sansio",
    )


if __name__ == "__main__":
    main()
