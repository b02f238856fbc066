"""What carries live events between processes: a message on a channel, and the backends that
move it (in memory within one process; Redis across replicas, ``redis_backend.py``).

Our own small interface (it was broadcaster's, whose private modules we had to import): the
hub (``hub.py``) needs nothing more.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Backend", "MemoryBackend", "Message"]


@dataclass(eq=False, slots=True)
class Message:
    channel: str
    message: str  # the encoded event (realtime/events.py)
    received_at: float | None = None  # when this process received it (set by the hub)
    decoded: Any = None  # the event it carries, decoded once for all its subscribers


class Backend(Protocol):
    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...
    async def publish(self, channel: str, message: str) -> None: ...
    async def next_published(self) -> Message:
        """The next message on a subscribed channel (waits for one)."""
        ...


class MemoryBackend:
    """Within one process (``memory://``): a single replica, or tests."""

    def __init__(self) -> None:
        self._subscribed: set[str] = set()
        self._published: asyncio.Queue[Message] = asyncio.Queue()

    async def connect(self) -> None:
        pass

    async def disconnect(self) -> None:
        pass

    async def subscribe(self, channel: str) -> None:
        self._subscribed.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.discard(channel)

    async def publish(self, channel: str, message: str) -> None:
        await self._published.put(Message(channel, message))

    async def next_published(self) -> Message:
        while True:
            message = await self._published.get()
            if message.channel in self._subscribed:
                return message
