"""The one-answer guard: the check (handed? under the overlap? not answered yet?) and the submit
of one task must not interleave with another submit to the same task, or two requests at once
(a double click, a client's retry, two annotators taking the last place) both pass the check.

One lock per task, taken only once the request's body has been read (a slow body holds nothing).
In one gateway process an asyncio.Lock per key does it; when Label Studio runs on PostgreSQL,
several gateway processes may run side by side (studio.gateway_workers), and the lock is a
PostgreSQL transaction-level advisory lock, which every process sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = ["AnswerGuard", "LocalGuard", "PostgresGuard"]

_NAMESPACE = 0x5C7E1  # the first key of pg_advisory_xact_lock(int, int): srcrel's gateway
WAIT = 30.0  # seconds a submit waits for another one to the same task before giving up


class AnswerGuard(Protocol):
    def hold(self, kind: int, key: int) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def close(self) -> None: ...


class LocalGuard:
    """Per-key asyncio locks, dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[tuple[int, int], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, kind: int, key: int) -> AsyncIterator[None]:
        lock, users = self._locks.get((kind, key), (asyncio.Lock(), 0))
        self._locks[(kind, key)] = (lock, users + 1)
        try:
            async with asyncio.timeout(WAIT):
                await lock.acquire()
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[(kind, key)]
            if users == 1:
                del self._locks[(kind, key)]
            else:
                self._locks[(kind, key)] = (lock, users - 1)

    async def close(self) -> None:
        return None


class PostgresGuard:
    """pg_advisory_xact_lock on Label Studio's own PostgreSQL, held in a transaction for as long
    as the block runs (released by the commit, or by PostgreSQL if the process dies)."""

    def __init__(self, conninfo: str, *, size: int = 10) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool: Any = AsyncConnectionPool(conninfo, min_size=1, max_size=size, open=False, timeout=WAIT)
        self._opened = False

    @contextlib.asynccontextmanager
    async def hold(self, kind: int, key: int) -> AsyncIterator[None]:
        if not self._opened:
            await self._pool.open(wait=True, timeout=WAIT)
            self._opened = True
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{int(WAIT * 1000)}ms'")
            await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_NAMESPACE + kind, key))
            yield

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
