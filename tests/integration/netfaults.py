"""Network faults for tests: a TCP proxy whose connections can be made to go silent."""

from __future__ import annotations

import asyncio
from contextlib import suppress

__all__ = ["SilenceableProxy"]


class SilenceableProxy:
    """Forwards 127.0.0.1:<port> to a target. ``silence()`` makes every connection open so far
    stop carrying bytes, both ways, without closing it: what a peer that vanished behind a
    failover or a partition looks like. New connections are forwarded as usual."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    def url(self, scheme: str = "redis", path: str = "/0") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> SilenceableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self.silence()
        for writer in self._writers:
            writer.close()

    async def silence(self) -> None:
        pumps, self._pumps = self._pumps, set()
        for pump in pumps:
            pump.cancel()
        for pump in pumps:
            with suppress(asyncio.CancelledError):
                await pump
        # The sockets stay open (kept in _writers): nothing is sent, nothing is closed.

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self._writers += [writer, upstream_writer]
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pump = asyncio.create_task(_pump(source, sink))
            self._pumps.add(pump)


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(65_536):
        sink.write(data)
        await sink.drain()
