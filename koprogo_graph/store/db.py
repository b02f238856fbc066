"""Connection pools and transaction scopes.

Two pools share one DATABASE_URL and differ by the role each connection switches to:

* ``api_pool`` runs as ``koprogo_app``: row-level security limits every statement to the
  organization set in the transaction (``app.org_id``); with it unset, nothing is visible.
* ``system_pool`` runs as ``koprogo_system``: the ingestor, watchdog and notifier, which work
  across organizations on data no user chose.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

__all__ = ["Database", "is_transient", "open_database"]

API_ROLE = "koprogo_app"
SYSTEM_ROLE = "koprogo_system"
OWNER_ROLE = "koprogo_owner"  # an owner's transactions: koprogo_app narrowed to their units


async def _init_connection(con: asyncpg.Connection, role: str) -> None:
    # The role survives asyncpg's RESET ALL on release (role is not reset by RESET ALL).
    await con.execute(f"SET ROLE {role}")
    for name in ("json", "jsonb"):
        await con.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


# SQLSTATE classes that mean "this data can never be written" (data exception, integrity,
# syntax or access rule, program limit): retrying would loop forever on a poison batch.
_POISON_CLASSES = frozenset({"22", "23", "42", "54"})


def is_transient(exc: BaseException) -> bool:
    """True when a database step may succeed if tried again (outage, restart, lost connection)."""
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "")[:2] not in _POISON_CLASSES
    # A connection dropped mid-operation surfaces as OSError, a timeout, or asyncpg's
    # InterfaceError / InternalClientError ("cannot switch to state ...") on release.
    return isinstance(
        exc, OSError | TimeoutError | asyncpg.InterfaceError | asyncpg.InternalClientError
    )


@dataclass(slots=True)
class Database:
    """The service's PostgreSQL access, owned by the app lifespan."""

    api_pool: asyncpg.Pool
    system_pool: asyncpg.Pool

    @asynccontextmanager
    async def tenant(
        self, organization_id: uuid.UUID, *, owner: uuid.UUID | None = None
    ) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction that can only see ``organization_id``'s rows; with
        ``owner``, only the sensors of no unit or of that user's units, and what hangs off
        them (``koprogo_owner``, migration 0019)."""
        async with self.api_pool.acquire() as con, con.transaction():
            await con.execute("SELECT set_config('app.org_id', $1, true)", str(organization_id))
            if owner is not None:  # SET LOCAL: the pooled connection is koprogo_app again after
                await con.execute("SELECT set_config('app.user_id', $1, true)", str(owner))
                await con.execute(f"SET LOCAL ROLE {OWNER_ROLE}")
            yield con

    @asynccontextmanager
    async def system(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection in a transaction for background work across organizations."""
        async with self.system_pool.acquire() as con, con.transaction():
            yield con

    async def ping(self) -> bool:
        """True when the database answers a trivial query within two seconds."""
        try:
            async with self.api_pool.acquire(timeout=2) as con:
                answer: int = await con.fetchval("SELECT 1", timeout=2)
                return answer == 1
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False


@asynccontextmanager
async def open_database(dsn: str, *, pool_size: int = 10) -> AsyncIterator[Database]:
    """Open both pools; close them on exit."""
    async with (
        asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=pool_size,
            init=lambda con: _init_connection(con, API_ROLE),
        ) as api_pool,
        asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=max(2, pool_size // 2),
            init=lambda con: _init_connection(con, SYSTEM_ROLE),
        ) as system_pool,
    ):
        yield Database(api_pool=api_pool, system_pool=system_pool)
