"""The gateway's web server: uvicorn, with every connection bounded.

uvicorn bounds a request's headers in size (h11) and the whole server in concurrent connections
(`limit_concurrency`: 503 past it), and closes an idle keep-alive connection; it does not bound the
time a client takes to send its headers, nor how many connections one address holds. One slow
client could then hold every connection. `_BoundedH11` adds both: a connection whose request
headers have not all arrived within HEADER_DEADLINE seconds is closed, and an address past
`per_address` open connections is refused at once; and a request not answered in full within
REQUEST_DEADLINE (a client that stops reading its answer) is cut, with the copy of the answer it
held. Bodies are bounded by the app (bodies.py).

Run by `srcrel studio up` as `python -m labeling.gateway.serve`, configured through the
SRCREL_GATEWAY environment variable (JSON: data_dir, upstreams, host, port, workers, database,
rates); Label Studio's PostgreSQL, when the guard needs it, through POSTGRE_* variables. Nothing
secret goes on the command line; cookies and tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from labeling.gateway.app import Gateway
from labeling.gateway.guard import AnswerGuard, LocalGuard, PostgresGuard
from labeling.gateway.rates import Limits
from labeling.gateway.upstream import Upstream

__all__ = ["HEADER_DEADLINE", "REQUEST_DEADLINE", "create_app", "main", "settings_from_env"]

HEADER_DEADLINE = 10.0
REQUEST_DEADLINE = 150.0  # Label Studio's own answer may take up to 120 s (the upstream timeout)
DEFAULTS: dict[str, Any] = {"host": "127.0.0.1", "workers": 1, "database": "sqlite", "per_address": 64,
                            "connections": 1024, "account_rate": "50/second;3000/minute",
                            "address_rate": "60/minute", "login_rate": "10/minute", "handout_rate": "10/second"}


class _BoundedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a deadline on request headers and a cap per address."""

    per_address: int = DEFAULTS["per_address"]  # set from the settings in each worker process (0: no cap)
    _header_timer: asyncio.TimerHandle | None = None
    _request_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        host = _host(self)
        cap = type(self).per_address
        if cap and sum(_host(c) == host for c in self.connections) > cap:
            transport.close()
            return
        self._arm()

    def _arm(self) -> None:
        for timer in (self._header_timer, self._request_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self.loop.call_later(HEADER_DEADLINE, self._headers_too_slow)
        self._request_timer = self.loop.call_later(REQUEST_DEADLINE, self._request_too_slow)

    def _request_too_slow(self) -> None:
        under_way = self.cycle is not None and not self.cycle.response_complete
        if under_way and not self.transport.is_closing():
            self.transport.close()

    def _headers_too_slow(self) -> None:
        waiting = self.cycle is None or self.cycle.response_complete  # no request under way
        if waiting and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._request_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)


def _host(connection: object) -> str:
    client = getattr(connection, "client", None)
    return str(client[0]) if client else ""


def settings_from_env() -> dict[str, Any]:
    return {**DEFAULTS, **json.loads(os.environ["SRCREL_GATEWAY"])}


def _postgres_conninfo() -> str:
    env = os.environ
    from psycopg.conninfo import make_conninfo

    return make_conninfo(host=env.get("POSTGRE_HOST", "127.0.0.1"), port=env.get("POSTGRE_PORT", "5432"),
                         dbname=env.get("POSTGRE_NAME", "postgres"), user=env.get("POSTGRE_USER", "postgres"),
                         password=env.get("POSTGRE_PASSWORD", ""), application_name="srcrel-gateway")


def create_app(settings: dict[str, Any] | None = None) -> Starlette:
    settings = settings or settings_from_env()
    _BoundedH11.per_address = int(settings["per_address"])
    data_dir = Path(settings["data_dir"]).resolve()
    creds = json.loads((data_dir / "credentials.json").read_text(encoding="utf-8"))
    upstream = Upstream(list(settings["upstreams"]), creds["token"], serial_hand_out=settings["database"] == "sqlite")
    guard: AnswerGuard = PostgresGuard(_postgres_conninfo()) if settings["database"] == "postgresql" else LocalGuard()
    limits = Limits(settings["account_rate"], settings["address_rate"], settings["login_rate"], settings["handout_rate"])
    gateway = Gateway(upstream, data_dir, guard, limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await upstream.close()
        await guard.close()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", gateway.handle, methods=methods)], lifespan=lifespan)


def main() -> None:
    import uvicorn

    settings = settings_from_env()
    data_dir = Path(settings["data_dir"]).resolve()
    logging.basicConfig(filename=data_dir / "gateway.log", level=logging.INFO,
                        format="%(asctime)s %(process)d %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    workers = int(settings["workers"])
    uvicorn.run("labeling.gateway.serve:create_app", factory=True, host=settings["host"], port=int(settings["port"]),
                workers=workers if workers > 1 else None, http=_BoundedH11, log_level="warning", access_log=False,
                limit_concurrency=int(settings["connections"]), timeout_keep_alive=5,
                h11_max_incomplete_event_size=16 * 1024)


if __name__ == "__main__":
    main()
