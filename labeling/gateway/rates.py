"""The gateway's rate limits (the `limits` library's moving windows, in memory, per process)."""

from __future__ import annotations

from limits import parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

__all__ = ["Limits"]


class Limits:
    """Requests per account (once known); the label stream's hand-outs per account (each costs
    Label Studio a locked query: on SQLite one at a time for everyone); log-in attempts per address
    and account; failed log-ins and made-up credentials per address."""

    def __init__(self, account: str, address: str, login: str, handout: str = "10/second") -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates = {"account": parse_many(account), "address": parse_many(address),
                       "login": parse_many(login), "handout": parse_many(handout)}

    async def allow(self, kind: str, key: str) -> bool:
        """Count one request; False once past any of the kind's rates."""
        for item in self._rates[kind]:
            if not await self._limiter.hit(item, kind, key):
                return False
        return True

    async def test(self, kind: str, key: str) -> bool:
        """Whether one more would pass, without counting it."""
        for item in self._rates[kind]:
            if not await self._limiter.test(item, kind, key):
                return False
        return True
