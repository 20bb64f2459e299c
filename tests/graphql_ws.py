"""A small graphql-transport-ws client over the `websockets` library, for tests."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class GraphQLWS:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, url: str, payload: dict[str, Any] | None) -> GraphQLWS:
        connection = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        client = cls(connection)
        await client.send({"type": "connection_init", "payload": payload or {}})
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def ack(self) -> dict[str, Any]:
        message = await self.receive()
        assert message["type"] == "connection_ack", message
        return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(self._ids))
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        return op_id

    async def next_data(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            message = await self.receive(timeout)
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            assert message["type"] == "next", message
            return message

    async def close(self) -> None:
        await self.connection.close()
