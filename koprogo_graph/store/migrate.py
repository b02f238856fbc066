"""Versioned SQL migrations, applied in file-name order under an advisory lock.

Several replicas may start at once: the first takes the lock and migrates, the others wait for it
and then find nothing left to do.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import asyncpg

from ..domain.sensors import SENSOR_TYPES

__all__ = ["apply_migrations", "migration_files"]

log = logging.getLogger(__name__)

# Any constant shared by all replicas; "kopr" in ASCII.
_LOCK_KEY = 0x6B6F7072


def _migrations_dir() -> Path:
    source_tree = Path(__file__).resolve().parents[2] / "migrations"
    if source_tree.is_dir():
        return source_tree
    return Path(str(resources.files("koprogo_graph") / "_migrations"))


def migration_files() -> list[Path]:
    """The migration files, in the order they apply."""
    return sorted(_migrations_dir().glob("[0-9][0-9][0-9][0-9]_*.sql"))


async def _declare_sensor_types(con: asyncpg.Connection) -> None:
    """The sensor types the code declares (SENSOR_TYPES), for sensors to refer to (0014)."""
    await con.execute(
        "INSERT INTO sensor_types (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
        [t.value for t in SENSOR_TYPES],
    )


async def apply_migrations(dsn: str) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    con = await asyncpg.connect(dsn)
    try:
        await con.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await con.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version text PRIMARY KEY,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {r["version"] for r in await con.fetch("SELECT version FROM schema_migrations")}
            applied = []
            for path in migration_files():
                version = path.stem
                if version in done:
                    continue
                log.info("applying migration %s", version)
                async with con.transaction():
                    await con.execute(path.read_text(encoding="utf-8"))
                    await con.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", version
                    )
                applied.append(version)
            await _declare_sensor_types(con)
            return applied
        finally:
            await con.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await con.close()
