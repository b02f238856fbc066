"""Real processes for fault-injection tests: the service itself, and private brokers and
databases that a test may kill without disturbing anyone else."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

__all__ = ["PrivateMosquitto", "PrivatePostgres", "PrivateRedis", "ServiceProcess", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port}") from None
            await asyncio.sleep(0.05)


class ServiceProcess:
    """``koprogo-graph serve`` (or ``demo``) in a subprocess, as production runs it."""

    def __init__(self, env: Mapping[str, str], log_path: Path, command: str = "serve") -> None:
        self.command = command
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "koprogo_graph.cli", self.command, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"service exited: {self.log_path.read_text()[-2000:]}")
                try:
                    if (await client.get(f"{self.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("service did not become healthy")
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, whatever was in flight is in flight."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class _PrivateServer:
    """A server process of our own on a free port, that a test may stop and start again."""

    port: int
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        await _wait_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"


class PrivateMosquitto(_PrivateServer):
    """A broker of our own, with persistence; with ``admin`` (user, password), accounts are
    Mosquitto's dynamic security plugin's, that user its admin; with ``tls`` (certificate,
    key, PEM), the listener speaks TLS 1.2+ only."""

    def __init__(
        self,
        *,
        admin: tuple[str, str] | None = None,
        tls: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="koprogo-mosquitto-"))
        user = "mosquitto" if _user_exists("mosquitto") else "root"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.dir}/",
            "max_queued_messages 100000",
            "max_inflight_messages 0",
            f"user {user}",
        ]
        if admin is None:
            lines.append("allow_anonymous true")
        else:
            config = self.dir / "dynamic-security.json"
            subprocess.run(
                ["mosquitto_ctrl", "dynsec", "init", str(config), *admin],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            lines += [
                "allow_anonymous false",
                f"plugin {DYNSEC_PLUGIN}",
                f"plugin_opt_config_file {config}",
            ]
        if tls is not None:  # in the broker's own folder: its user reads nothing else
            (self.dir / "server.pem").write_bytes(tls[0])
            (self.dir / "server.key").write_bytes(tls[1])
            lines += [
                f"certfile {self.dir / 'server.pem'}",
                f"keyfile {self.dir / 'server.key'}",
                "tls_version tlsv1.2",
            ]
        for path in self.dir.iterdir():
            shutil.chown(path, user) if user == "mosquitto" else None
        shutil.chown(self.dir, user) if user == "mosquitto" else None
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return ["mosquitto", "-c", str(self.conf)]

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb as the postgres user) that a test may stop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="koprogo-pg-"))
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
        shutil.chown(self.dir, "postgres")

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def init(self) -> None:
        await asyncio.to_thread(
            self._as_postgres,
            str(self.bin / "initdb"),
            "-D",
            str(self.dir / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
        )
        await self.start()

    async def start(self) -> None:
        await asyncio.to_thread(
            self._as_postgres,
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-l",
            str(self.dir / "log"),
            "start",
        )

    async def stop(self) -> None:
        await asyncio.to_thread(
            self._as_postgres,
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-m",
            "fast",
            "-w",
            "stop",
        )

    async def cleanup(self) -> None:
        try:
            await self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class PrivateRedis(_PrivateServer):
    """A Redis of our own, keeping nothing on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
