"""Live subscriptions seen from the outside: the server's gauges and bare websocket clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import websockets

from .conftest import RunningServer


async def gauge(http, server: RunningServer, name: str) -> float:
    """One of the process's gauges (shared by the in-process test servers)."""
    text = (await http.get(f"{server.url}/metrics")).text
    return next(float(line.split()[1]) for line in text.splitlines() if line.startswith(f"{name} "))


async def live_subscriptions(http, server: RunningServer) -> float:
    return await gauge(http, server, "koprogo_live_subscribers")


@asynccontextmanager
async def subscriptions_registered(server: RunningServer, http, count: int):
    """Around code that starts ``count`` subscriptions: wait until the server holds them."""
    baseline = await live_subscriptions(http, server)
    yield
    for _ in range(400):
        if await live_subscriptions(http, server) >= baseline + count:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("subscriptions never registered")


@asynccontextmanager
async def raw_subscription(
    server: RunningServer,
    token: str,
    query: str,
    variables: dict | None = None,
    **connect_options: Any,
) -> AsyncIterator[Callable[[], Awaitable[dict]]]:
    """A graphql-transport-ws subscription over a bare websocket (``connect_options`` for
    websockets.connect); yields a reader of the next result's data (``whole``: its payload)."""
    async with websockets.connect(
        server.ws_url, subprotocols=["graphql-transport-ws"], **connect_options
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": variables or {}},
                }
            )
        )

        async def next_data(*, whole: bool = False) -> dict:
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert message["type"] == "next", message
            return message["payload"] if whole else message["payload"]["data"]

        yield next_data


@asynccontextmanager
async def registered_subscription(
    server: RunningServer, http, token: str, query: str, variables: dict | None = None
) -> AsyncIterator[Callable[..., Awaitable[dict]]]:
    """``raw_subscription``, yielded once the server holds it (events can reach it)."""
    async with AsyncExitStack() as stack:
        async with subscriptions_registered(server, http, 1):
            next_data = await stack.enter_async_context(
                raw_subscription(server, token, query, variables)
            )
        yield next_data
