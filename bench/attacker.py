"""`python -m bench.attacker`: one tenant attacking the gateway, for the isolation benchmark.

Runs in its own process, so its client work does not slow the victim's
measuring client. Each attack is what a hostile tenant found worked before the
gateway had per-tenant limits; each keeps `concurrency` requests in flight and
ignores `Retry-After` (at most `max_rate` requests per second, so the client
itself does not need a whole core), for `seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.common import run_async

Attack = Callable[[argparse.Namespace, httpx.AsyncClient], Awaitable[None]]
REDOS = "redos"
AMPLIFY = "amp"
BIG = "a_big"
SUBSCRIPTIONS_PER_CONNECTION = 25


async def _gql(http: httpx.AsyncClient, query: str, variables: Any = None) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    body: dict[str, Any] = orjson.loads(response.content) if response.content else {}
    return body


async def _blind(http: httpx.AsyncClient, query: str, variables: Any = None) -> None:
    """Send and take the answer as it comes, compressed, unread: an attacker on
    another machine would not spend this machine's CPU on decoding it."""
    body = {"query": query, "variables": variables or {}}
    async with http.stream("POST", "/graphql", json=body) as response:
        async for _ in response.aiter_raw():
            pass


async def _flood(
    args: argparse.Namespace, send: Callable[[], Awaitable[object]], concurrency: int
) -> None:
    """`concurrency` loops of `send` until the time is up, at most `max_rate` per second."""
    stop = time.monotonic() + args.seconds
    gap = concurrency / args.max_rate

    async def loop() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                await send()
            await asyncio.sleep(max(0.0, gap - (time.monotonic() - started)))

    await asyncio.gather(*(loop() for _ in range(concurrency)))


async def slow_webhook(args: argparse.Namespace, http: httpx.AsyncClient) -> None:
    """A channel to a receiver that accepts and never answers; test it over and over."""
    created = await _gql(
        http,
        'mutation($u: String!) { createChannel(input: {name: "tarpit", kind: WEBHOOK, url: $u, '
        'timeout: "20s", maxRetries: 5}) { id } }',
        {"u": f"http://127.0.0.1:{args.receiver_port}/hook"},
    )
    channel = created["data"]["createChannel"]["id"]
    await _gql(
        http,
        'mutation($c: ID!) { createAlert(input: {name: "always", condition: "a_big > -1", '
        'interval: "1s", channels: [$c]}) { id } }',
        {"c": channel},
    )
    test = "mutation($c: ID!) { testChannel(id: $c) { ok } }"
    await _flood(args, lambda: _blind(http, test, {"c": channel}), 8)


async def regex(args: argparse.Namespace, http: httpx.AsyncClient) -> None:
    """Nested-quantifier label matchers over a long label value, in simulations."""
    rule = {
        "name": "r",
        "condition": f'max({REDOS}{{x=~"(a+)+"}}[5m]) > 0',
        "interval": "1m",
    }
    query = 'query($r: AlertRuleInput!) { simulateAlert(rule: $r, last: "30m") { firing } }'
    await _flood(args, lambda: _blind(http, query, {"r": rule}), 4)


async def fanout(args: argparse.Namespace, http: httpx.AsyncClient) -> None:
    """Many subscriptions that never match, then big writes to their metric."""
    headers = {"Authorization": f"Bearer {args.key}"}
    connections = []
    ws_url = str(http.base_url).replace("http://", "ws://") + "/graphql"
    for c in range(args.connections):
        ws = await connect(ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init", "payload": headers}).decode())
        try:
            await ws.recv()
        except ConnectionClosed:  # refused (4429): on to the next, as an attacker would
            continue
        for s in range(SUBSCRIPTIONS_PER_CONNECTION):
            query = (
                f'subscription {{ metricPoints(name: "{AMPLIFY}", labels: {{x: "never-{c}-{s}"}})'
                " { value } }"
            )
            payload = {"id": str(s), "type": "subscribe", "payload": {"query": query}}
            await ws.send(orjson.dumps(payload).decode())
        connections.append(ws)
    base_ms = int(time.time() * 1000) - 600_000
    body = "\n".join(f"{AMPLIFY},x=h{i % 100} value={i} {base_ms + i}" for i in range(50_000))
    write = {"Authorization": f"Token {args.key}"}
    try:
        await _flood(
            args,
            lambda: http.post("/write", content=body, params={"precision": "ms"}, headers=write),
            2,
        )
    finally:
        for ws in connections:
            await ws.close()


async def ml(args: argparse.Namespace, http: httpx.AsyncClient) -> None:
    """Walk-forward detection over every series of a big metric, again and again."""
    query = f'{{ detectAnomalies(metrics: ["{BIG}"], window: "2h", detector: "knn") {{ points }} }}'
    await _flood(args, lambda: _blind(http, query), 4)


async def queries(args: argparse.Namespace, http: httpx.AsyncClient) -> None:
    """Raw reads of every series of a big metric."""
    query = f'{{ metrics(query: {{name: "{BIG}", last: "2h"}}) {{ data }} }}'
    await _flood(args, lambda: _blind(http, query), 8)


async def ingest(args: argparse.Namespace, http: httpx.AsyncClient) -> None:
    """Big line-protocol writes as fast as they are answered."""
    base_ms = int(time.time() * 1000) - 600_000
    body = "\n".join(f"flood,host=h{i % 500} value={i} {base_ms + i}" for i in range(20_000))
    headers = {"Authorization": f"Token {args.key}"}
    await _flood(
        args,
        lambda: http.post("/write", content=body, params={"precision": "ms"}, headers=headers),
        4,
    )


ATTACKS: dict[str, Attack] = {
    "slow webhook": slow_webhook,
    "regex": regex,
    "fan-out amplification": fanout,
    "ML flood": ml,
    "query flood": queries,
    "ingest flood": ingest,
}


async def _main(args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {args.key}"}
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(
        base_url=args.base, headers=headers, timeout=60, limits=limits, trust_env=False
    ) as http:
        await ATTACKS[args.attack](args, http)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attacker")
    parser.add_argument("--base", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--attack", required=True, choices=sorted(ATTACKS))
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--max-rate", type=float, default=400.0)
    parser.add_argument("--receiver-port", type=int, default=0)
    parser.add_argument("--connections", type=int, default=40)
    run_async(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
