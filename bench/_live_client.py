"""Cheap graphql-transport-ws subscribers for the live benchmarks (picows: frames parsed in C).

The subscribers share the machine with the service they measure, so each costs as little as it
can: no JSON decoding of `next` messages, only the reading's timestamp is sliced out.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

import jwt
from _common import JWT_SECRET, machine
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

TIMESTAMP = b'"timestamp":"'
QUERY = "subscription($b: ID) { readingAdded(buildingId: $b) { sensorId timestamp value quality } }"


class LiveSubscriber(WSListener):
    """Subscribes once acknowledged; appends receive time minus the reading's timestamp."""

    def __init__(
        self,
        token: str,
        query: str,
        variables: dict,
        latencies: list[float],
        subscribed: Callable[[], None],
    ) -> None:
        self.token, self.query, self.variables = token, query, variables
        self.latencies, self.subscribed = latencies, subscribed

    def on_ws_connected(self, transport: WSTransport) -> None:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.token}"}}
        transport.send(WSMsgType.TEXT, json.dumps(init).encode())

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type != WSMsgType.TEXT:
            return
        received = time.time()
        data = frame.get_payload_as_bytes()
        start = data.find(TIMESTAMP)
        if start >= 0:
            start += len(TIMESTAMP)
            stamp = data[start : data.index(b'"', start)].decode()
            self.latencies.append(received - datetime.fromisoformat(stamp).timestamp())
        elif b'"connection_ack"' in data:
            subscribe = {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": self.query, "variables": self.variables},
            }
            transport.send(WSMsgType.TEXT, json.dumps(subscribe).encode())
            self.subscribed()
        else:
            print("unexpected message:", data[:200], file=sys.stderr)


async def subscribe(
    url: str,
    token: str,
    query: str,
    variables: dict,
    latencies: list[float],
    subscribed: Callable[[], None],
) -> WSTransport:
    """Connect and subscribe; the caller disconnects the returned transport when done."""
    transport, _ = await ws_connect(
        lambda: LiveSubscriber(token, query, variables, latencies, subscribed),
        url,
        extra_headers={"Sec-WebSocket-Protocol": "graphql-transport-ws"},
    )
    return transport


def owner_token(org: uuid.UUID) -> str:
    return jwt.encode(
        {
            "sub": str(uuid.uuid4()),
            "role": "owner",
            "organization_id": str(org),
            "exp": int(time.time()) + 3600,
        },
        JWT_SECRET,
        algorithm="HS256",
    )


async def subscribe_buildings(
    url: str, org: uuid.UUID, buildings: Sequence[uuid.UUID], count: int, latencies: list[float]
) -> list[WSTransport]:
    """``count`` subscribers, subscriber i on building i % len(buildings)'s readingAdded, all
    subscribed (and given 2 s to be registered server-side) when this returns."""
    token, subscribed = owner_token(org), asyncio.Semaphore(0)
    clients = [
        await subscribe(
            url,
            token,
            QUERY,
            {"b": str(buildings[i % len(buildings)])},
            latencies,
            subscribed.release,
        )
        for i in range(count)
    ]
    for _ in range(count):
        await asyncio.wait_for(subscribed.acquire(), 120)
    await asyncio.sleep(2)
    return clients


async def report_cases(subscriber_counts: Sequence[int], run_case: Callable) -> None:
    """Print the machine, the command, then one JSON line per subscriber count."""
    print(f"machine: {machine()}")
    print(f"command: {' '.join(sys.argv)}")
    for count in subscriber_counts:
        print(json.dumps(await run_case(count)), flush=True)
