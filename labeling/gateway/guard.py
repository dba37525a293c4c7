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
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

__all__ = ["AnswerGuard", "GuardUnavailable", "LocalGuard", "PostgresGuard"]

log = logging.getLogger(__name__)
_NAMESPACE = 0x5C7E1  # the first key of pg_advisory_xact_lock(int, int): srcrel's gateway
WAIT = 30.0  # seconds a submit waits for another one to the same task before giving up


class GuardUnavailable(Exception):
    """The lock could not be taken (its database is down or the wait ran out): nothing was sent."""


class AnswerGuard(Protocol):
    def hold(self, kind: int, key: tuple[int, ...]) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def close(self) -> None: ...


class LocalGuard:
    """Per-key asyncio locks, dropped when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[tuple[int, tuple[int, ...]], tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, kind: int, key: tuple[int, ...]) -> AsyncIterator[None]:
        lock, users = self._locks.get((kind, key), (asyncio.Lock(), 0))
        self._locks[(kind, key)] = (lock, users + 1)
        try:
            try:
                async with asyncio.timeout(WAIT):
                    await lock.acquire()
            except TimeoutError as exc:
                raise GuardUnavailable(f"waited {WAIT:.0f} s for another submit to the same task") from exc
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
    as the block runs (released by the commit, or by PostgreSQL if the process dies).

    The lock's second key is a 31-bit integer: a task id as it is, a (user, task) pair by its CRC.
    Two pairs with one CRC only wait for each other's short check, never for a body. Every
    connection is checked before use, so a PostgreSQL restart costs one failed submit at most
    (502, nothing sent), not a pool of dead connections."""

    def __init__(self, conninfo: str, *, size: int = 10) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool: Any = AsyncConnectionPool(conninfo, min_size=1, max_size=size, open=False, timeout=WAIT,
                                              check=AsyncConnectionPool.check_connection)
        self._opened = False
        self._opening = asyncio.Lock()  # two first submits at once must not both open the pool

    @staticmethod
    def _int4(key: tuple[int, ...]) -> int:
        if len(key) == 1 and 0 <= key[0] < 2**31:
            return key[0]
        return zlib.crc32(":".join(map(str, key)).encode()) & 0x7FFFFFFF

    @contextlib.asynccontextmanager
    async def hold(self, kind: int, key: tuple[int, ...]) -> AsyncIterator[None]:
        import psycopg
        import psycopg_pool

        try:
            async with self._opening:
                if not self._opened:
                    await self._pool.open(wait=True, timeout=WAIT)
                    self._opened = True
            conn = await self._pool.getconn()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise GuardUnavailable(f"the advisory lock's database: {type(exc).__name__}") from exc
        held = False
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = '{int(WAIT * 1000)}ms'")
                await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_NAMESPACE + kind, self._int4(key)))
                held = True
                yield
        except psycopg.Error as exc:
            if not held:
                raise GuardUnavailable(f"the advisory lock's database: {type(exc).__name__}") from exc
            # the call went through; the lock ends with its transaction or its dead connection
            log.warning("releasing the advisory lock: %s", type(exc).__name__)
        finally:
            await self._pool.putconn(conn)

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
