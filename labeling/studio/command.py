"""`srcrel studio up | down | status`: the managed server's life, and what a server answers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from labeling.studio.config import StudioAction, StudioConfig, StudioSettings
from labeling.studio.connection import (
    credentials_path,
    gateway_url,
    managed_url,
    resolve_connection,
)
from labeling.studio.database import describe_database, in_use
from labeling.studio.records import MLBackend
from labeling.studio.server import gateway_pid, health, running_pid, start_server, stop_server
from srcrel_core.errors import ConfigError
from srcrel_core.settings import to_dataclass

__all__ = ["ServerStatus", "read_status", "run_from_config"]


@dataclass(frozen=True)
class ServerStatus:
    state: Literal["up", "down"]
    url: str
    version: str = ""
    projects: tuple[str, ...] = ()
    pid: int | None = None
    gateway: str = ""  # the annotators' address when srcrel's gateway runs for this server
    database: str = ""  # what the managed server stores its data in (empty for an external server)
    instances: tuple[str, ...] = ()  # extra Label Studio processes answering behind the gateway
    ml_backends: tuple[MLBackend, ...] = ()  # every project's: Label Studio sends them tasks and answers


def read_status(settings: StudioSettings) -> ServerStatus:
    """Up or down, at the server the other stages would use. An external server named by
    LABEL_STUDIO_URL without its key is an error, not the managed server reported down."""
    external = settings.url or os.environ.get("LABEL_STUDIO_URL", "")
    database = "" if external else describe_database(in_use(settings)).describe()
    if not external and not credentials_path(settings).is_file():
        return ServerStatus(state="down", url=managed_url(settings), database=database)
    conn = resolve_connection(settings)
    if not health(conn.url):
        return ServerStatus(state="down", url=conn.url, database=database)
    from labeling.studio import api  # the SDK (a second to import) only for a server that is up

    version, projects, backends = api.describe_server(conn)
    gateway = gateway_url(settings) if conn.managed and gateway_pid(settings) else ""
    instances = tuple(f"http://127.0.0.1:{port}" for port in settings.instance_ports
                      if conn.managed and health(f"http://127.0.0.1:{port}"))
    return ServerStatus(state="up", url=conn.url, version=version, projects=projects,
                        pid=running_pid(settings) if conn.managed else None, gateway=gateway,
                        database=database, instances=instances, ml_backends=backends)


def run_from_config(cfg: Any) -> None:
    config: StudioConfig = to_dataclass(cfg, StudioConfig)
    settings = config.studio
    if config.action == StudioAction.up:
        if settings.url or os.environ.get("LABEL_STUDIO_URL"):
            raise ConfigError("LABEL_STUDIO_URL is set: srcrel uses that server and does not start its own; "
                              "unset it to use `srcrel studio up`")
        path = start_server(settings)
        print(f"Label Studio is up at {managed_url(settings)} (administrators and srcrel's commands); "
              f"admin login and API token in {path}")
        if settings.gateway:
            print(f"annotator gateway up at {gateway_url(settings)}: the only address to give annotators")
    elif config.action == StudioAction.down:
        stopped = stop_server(settings)
        print("Label Studio stopped" if stopped else "Label Studio was not running")
    else:
        status = read_status(settings)
        print(f"Label Studio is {status.state} at {status.url}")
        if status.database:
            print(f"database: {status.database}")
        if status.state == "up":
            print(f"version {status.version}; {len(status.projects)} project(s)"
                  + (": " + ", ".join(status.projects) if status.projects else ""))
            if status.instances:
                print(f"{len(status.instances)} more instance(s) on the same database: {', '.join(status.instances)}")
            for b in status.ml_backends:
                print(f"ML backend {b.title!r} on project {b.project_id}: {b.url}, {b.state}"
                      + (f", model {b.model_version}" if b.model_version else "")
                      + (f", error: {b.error.splitlines()[0][:120]}" if b.error else ""))
            print(f"annotator gateway up at {status.gateway}" if status.gateway else
                  "annotator gateway: not running (annotators would reach Label Studio unguarded)")
