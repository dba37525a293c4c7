"""How every stage finds the Label Studio it talks to: the managed server (its URL and the
token in its 0600 credentials file) or an external one (LABEL_STUDIO_URL + LABEL_STUDIO_API_KEY)."""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from labeling.studio.config import StudioSettings
from srcrel_core.errors import StudioError
from srcrel_core.io import write_private_file

__all__ = ["GATEWAY_HEALTH_PATH", "Connection", "credentials_path", "ensure_credentials", "gateway_url", "managed_url",
           "port_taken", "public_address", "resolve_connection"]

ADMIN = "admin@srcrel.local"
GATEWAY_HEALTH_PATH = "/gateway-health"  # the annotator gateway's own health check (labeling/gateway/)


@dataclass(frozen=True)
class Connection:
    url: str
    api_key: str
    managed: bool  # True: srcrel's own server, whose data dir and `label-studio` commands we own

    def __repr__(self) -> str:  # keep the key out of tracebacks and logs
        return f"Connection(url={self.url!r}, managed={self.managed})"


def credentials_path(settings: StudioSettings) -> Path:
    return Path(settings.data_dir).resolve() / "credentials.json"


def ensure_credentials(settings: StudioSettings) -> dict[str, str]:
    """The managed server's secrets, generated once into a 0600 file: the admin's password and
    legacy API token, and the password of srcrel's own PostgreSQL cluster."""
    path = credentials_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    creds = dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}
    fresh = {"username": ADMIN, "password": secrets.token_urlsafe(24), "token": secrets.token_hex(20),
             "database_password": secrets.token_urlsafe(24)}
    if not fresh.keys() <= creds.keys():
        creds = fresh | creds
        write_private_file(path, json.dumps(creds, indent=2) + "\n")
    return creds


def managed_url(settings: StudioSettings) -> str:
    return f"http://127.0.0.1:{settings.port}"


def gateway_url(settings: StudioSettings) -> str:
    """Where srcrel's gateway listens (srcrel's own calls go there; see public_address)."""
    return f"http://{settings.public_host}:{settings.public_port}"


def public_address(settings: StudioSettings, *, recorded: bool = True) -> str:
    """The address annotators are given: studio.public_url (e.g. behind TLS), else the gateway's
    own, by this machine's name when it listens on every interface; never Label Studio itself.
    `recorded`: the address `studio up` wrote when it started the gateway wins over the settings'
    defaults (a push run without the studio.public_* it was started with still names the right one)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    started = Path(settings.data_dir).resolve() / "gateway.json"  # what `studio up` started, if it did
    if recorded and not (settings.url or os.environ.get("LABEL_STUDIO_URL")) and started.is_file():
        try:
            address = json.loads(started.read_text(encoding="utf-8")).get("address")
        except (OSError, ValueError):
            address = None
        if isinstance(address, str) and address.startswith("http"):
            return address
    host = socket.getfqdn() if settings.public_host in ("0.0.0.0", "::") else settings.public_host
    return f"http://{host}:{settings.public_port}"


def resolve_connection(settings: StudioSettings) -> Connection:
    """External server when studio.url / LABEL_STUDIO_URL is set (key from LABEL_STUDIO_API_KEY),
    else the managed one (key from its credentials.json)."""
    url = settings.url or os.environ.get("LABEL_STUDIO_URL", "")
    if url:
        key = os.environ.get("LABEL_STUDIO_API_KEY", "")
        if not key:
            raise StudioError(f"LABEL_STUDIO_URL is {url} but LABEL_STUDIO_API_KEY is not set: export "
                              "the API token of your Label Studio account (Account & Settings)")
        return Connection(url=url.rstrip("/"), api_key=key, managed=False)
    path = credentials_path(settings)
    if not path.is_file():
        raise StudioError(f"no Label Studio credentials at {path}: run `srcrel studio up` first, or set "
                          "LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY for a server you run yourself")
    creds = json.loads(path.read_text(encoding="utf-8"))
    return Connection(url=managed_url(settings), api_key=creds["token"], managed=True)


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Django does: TIME_WAIT is free
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False
