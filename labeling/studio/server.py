"""The managed Label Studio server: start it (clean environment, generated admin credentials,
127.0.0.1 only), stop it, see whether it runs, and run its `label-studio` management commands.

This module manages a process and files; it never imports the SDK (see labeling/studio/api.py).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import requests
from limits import parse_many

import labeling
from labeling.studio.config import Database, StudioSettings
from labeling.studio.connection import (
    GATEWAY_HEALTH_PATH,
    credentials_path,
    ensure_credentials,
    gateway_url,
    managed_url,
    port_taken,
    public_address,
)
from labeling.studio.database import (
    check_external,
    database_env,
    describe_database,
    in_use,
    record_database,
    start_database,
    stop_database,
)
from labeling.studio.webserver import WSGI_APP, server_command, wsgi_env
from srcrel_core.errors import ConfigError, StudioError
from srcrel_core.progress import phase

__all__ = [
    "gateway_pid",
    "get_user_token",
    "health",
    "read_user_info",
    "run_manage_command",
    "running_pid",
    "server_env",
    "set_user_password",
    "start_gateway",
    "start_server",
    "stop_server",
]

# a source checkout keeps Label Studio in its own virtual env (`make` creates it)
_CHECKOUT_STUDIO = Path(__file__).resolve().parents[2] / ".venv-studio" / "bin" / "label-studio"


def _pid_path(settings: StudioSettings, port: int | None = None) -> Path:
    """{"pid", "port"} of a server srcrel started: server.json for the main instance (studio.port),
    server-<port>.json for each extra one (studio.instance_ports)."""
    name = "server.json" if port in (None, settings.port) else f"server-{port}.json"
    return Path(settings.data_dir).resolve() / name


def _executable(settings: StudioSettings) -> Path:
    if settings.executable:
        exe = Path(settings.executable)
    elif _CHECKOUT_STUDIO.is_file():
        exe = _CHECKOUT_STUDIO
    else:
        exe = Path(shutil.which("label-studio") or _CHECKOUT_STUDIO)
    if not exe.is_file():
        raise ConfigError(f"Label Studio not found at {exe}: run `make` (it creates .venv-studio), or "
                          "`pip install label-studio` in an env of its own and set "
                          "studio.executable=/path/to/bin/label-studio")
    return exe


def server_env(settings: StudioSettings, creds: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: Label Studio reads X, HEARTEX_X and LABEL_STUDIO_X, so a stray
    USERNAME, PORT or DEBUG from the user's shell must not leak in. `creds` only for the one
    bootstrap run (`label-studio init`): the running server never holds them."""
    settings = in_use(settings)
    data_dir = Path(settings.data_dir).resolve()
    (data_dir / "home").mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {
        "PATH": f"{_executable(settings).parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(data_dir / "home"),
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_SENTRY_DSN": "",
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
        # no HOST: the pages use relative URLs, so they work on the direct address (administrators)
        # and behind the gateway (annotators) alike
        "LABEL_STUDIO_HOST": "",
        # `srcrel backend` serves on 127.0.0.1: Label Studio's ML connector (registration check and
        # every /health, /setup, /predict, /webhook call) must reach loopback. SSRF_PROTECTION_ENABLED
        # stays at its default (on), so webhooks, exports and cloud storages still refuse local
        # addresses; who may register a backend at all is the gateway's business (annotators cannot)
        "LABEL_STUDIO_ML_BLOCK_LOCAL_IP": "false",
    } | database_env(settings)
    if creds:
        env |= {"LABEL_STUDIO_USERNAME": creds["username"], "LABEL_STUDIO_PASSWORD": creds["password"],
                "LABEL_STUDIO_USER_TOKEN": creds["token"]}
    return env


def health(url: str) -> bool:
    """True if `url` (a server's base URL, or a full health URL) answers {"status": "UP"}."""
    probe = url if url.endswith("health") else f"{url}/health"
    try:
        return bool(requests.get(probe, timeout=2).json().get("status") == "UP")
    except (requests.RequestException, ValueError):
        return False


def _live_pid(pid_file: Path, *markers: str) -> int | None:
    """The pid recorded in `pid_file` if that process still runs and its command line has every
    marker (a recycled pid belongs to something else)."""
    if not pid_file.is_file():
        return None
    pid = int(json.loads(pid_file.read_text(encoding="utf-8"))["pid"])
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    return pid if all(marker in cmdline for marker in markers) else None


def _label_studio_pid(pid_file: Path) -> int | None:
    return _live_pid(pid_file, "label-studio", " start") or _live_pid(pid_file, "gunicorn", WSGI_APP)


def running_pid(settings: StudioSettings, port: int | None = None) -> int | None:
    """The pid of the server srcrel started in this data dir (on `port`: an extra instance), if
    that process still runs."""
    return _label_studio_pid(_pid_path(settings, port))


def _log_tail(settings: StudioSettings, lines: int = 3) -> str:
    path = Path(settings.data_dir).resolve() / "server.log"
    if not path.is_file():
        return ""
    tail = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return " | ".join(tail[-lines:])


def _bootstrap(settings: StudioSettings, exe: Path) -> None:
    """Create the admin account, its token and the organization once, with `label-studio init`
    (migrations included), so the long-running server is started without any secret in its
    environment. A marker file records that it was done for this data dir."""
    info = describe_database(in_use(settings))  # each database gets its own admin account
    suffix = "" if info.kind == "sqlite" else "-" + "".join(
        c if c.isalnum() else "_" for c in info.where.split(" ")[0])
    marker = Path(settings.data_dir).resolve() / f".bootstrapped{suffix}"
    if marker.is_file():
        return
    creds = ensure_credentials(settings)
    log = Path(settings.data_dir).resolve() / "server.log"
    with log.open("ab") as out:
        done = subprocess.run([str(exe), "init", "--quiet", "--enable-legacy-api-token"],
                              env=server_env(settings, creds), stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, cwd=settings.data_dir, start_new_session=True,
                              timeout=settings.start_timeout, check=False)
    if done.returncode != 0:
        raise StudioError(f"`label-studio init` failed (code {done.returncode}); see {log}: {_log_tail(settings)}")
    marker.write_text("admin account and token created by `label-studio init`\n", encoding="utf-8")


def _spawn(args: list[str], *, env: dict[str, str], log: Path, cwd: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, start_new_session=True)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, *, what: str, timeout: float, log: Path,
                  pid_file: Path, tail: str) -> None:
    deadline = time.monotonic() + timeout
    with phase(f"starting {what} (a first start runs its database migrations: ~30-60 s)"):
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pid_file.unlink(missing_ok=True)
                raise StudioError(f"{what} exited during start-up (code {proc.returncode}); see {log}: {tail}")
            if health(url):
                return
            time.sleep(0.5)
    _terminate(proc.pid)
    pid_file.unlink(missing_ok=True)
    raise StudioError(f"{what} did not answer {url} within {timeout:.0f} s (raise studio.start_timeout); "
                      f"see {log}")


def _start_instance(settings: StudioSettings, exe: Path, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    if running_pid(settings, port) and health(url):
        return
    name = "server.log" if port == settings.port else f"server-{port}.log"
    log = Path(settings.data_dir).resolve() / name
    proc = _spawn(server_command(settings, exe, port), env=server_env(settings) | wsgi_env(settings),
                  log=log, cwd=settings.data_dir)
    _pid_path(settings, port).write_text(json.dumps({"pid": proc.pid, "port": port}), encoding="utf-8")
    _wait_healthy(proc, url, what=f"Label Studio on port {port}", timeout=settings.start_timeout, log=log,
                  pid_file=_pid_path(settings, port), tail=_log_tail(settings))


def _check_settings(settings: StudioSettings) -> None:
    ports = {"studio.port": settings.port, "studio.public_port": settings.public_port,
             "studio.database_port": settings.database_port,
             **{f"studio.instance_ports[{i}]": p for i, p in enumerate(settings.instance_ports)}}
    if settings.database != Database.postgresql:
        ports.pop("studio.database_port")
    if not settings.gateway:
        ports.pop("studio.public_port")
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise ConfigError(f"{name}={port} is not a TCP port: give one in 1-65535")
    clash = [name for name, port in ports.items() if list(ports.values()).count(port) > 1]
    if clash:
        raise ConfigError(f"{' and '.join(clash)} name the same port: give each its own")
    if settings.workers < 1:
        raise ConfigError(f"studio.workers={settings.workers}: give 1 (label-studio start) or more (gunicorn)")
    if settings.gateway_workers < 1 or (settings.gateway_workers > 1 and settings.database != Database.postgresql):
        raise ConfigError(f"studio.gateway_workers={settings.gateway_workers}: give 1, or more with "
                          "studio.database=postgresql (on SQLite one gateway process hands out tasks one at a time)")
    if settings.gateway_per_address < 0:
        raise ConfigError(f"studio.gateway_per_address={settings.gateway_per_address}: give 0 (no cap) or more")
    for name in ("gateway_account_rate", "gateway_login_rate", "gateway_address_rate", "gateway_handout_rate"):
        try:
            parse_many(getattr(settings, name))
        except ValueError:
            raise ConfigError(f"studio.{name}={getattr(settings, name)!r} is not a rate: write it as N/second, "
                              "N/minute or several joined by ';' (e.g. 50/second;3000/minute)") from None
    if settings.database == Database.postgresql:
        check_external()


def start_server(settings: StudioSettings) -> Path:
    """Start the database (srcrel's own PostgreSQL, if chosen), the managed server and its extra
    instances, and the annotator gateway in front of them (unless studio.gateway=false); return once
    all answer. Returns the credentials path."""
    if (settings.instance_ports or settings.workers > 1) and settings.database != Database.postgresql:
        raise ConfigError("studio.instance_ports and studio.workers > 1 need studio.database=postgresql: several "
                          "Label Studio processes cannot share one SQLite file safely")
    _check_settings(settings)
    exe = _executable(settings)
    for port in [settings.port, *settings.instance_ports]:  # before anything is started
        if not running_pid(settings, port) and port_taken(port):
            raise StudioError(f"port {port} is taken by another process: stop it or choose another with "
                              f"{'studio.port' if port == settings.port else 'studio.instance_ports'}")
    if running_pid(settings) and health(managed_url(settings)):
        settings = in_use(settings)  # already up: on the database it was started on
    else:
        recorded = in_use(settings).database
        if recorded != settings.database:
            raise ConfigError(f"{Path(settings.data_dir).resolve()} holds a Label Studio on {recorded}: start it "
                              f"with studio.database={recorded}, or give the {settings.database} one another "
                              "studio.data_dir")
        record_database(settings)
    start_database(settings)
    _bootstrap(settings, exe)
    for port in [settings.port, *settings.instance_ports]:
        _start_instance(settings, exe, port)
    if settings.gateway:
        start_gateway(settings)
    return credentials_path(settings)


def _gateway_pid_path(settings: StudioSettings) -> Path:
    return Path(settings.data_dir).resolve() / "gateway.json"


def gateway_pid(settings: StudioSettings) -> int | None:
    """The pid of the gateway srcrel started for this data dir, if it still runs."""
    return _live_pid(_gateway_pid_path(settings), "labeling.gateway.serve")


def start_gateway(settings: StudioSettings) -> str:
    """The annotator gateway on studio.public_host:public_port, in front of the managed server."""
    url = gateway_url(settings)
    probe = f"{url.replace('0.0.0.0', '127.0.0.1')}{GATEWAY_HEALTH_PATH}"
    if gateway_pid(settings) and health(probe):
        return url
    if port_taken(settings.public_port):
        raise StudioError(f"port {settings.public_port} (the annotator gateway) is taken by another process: "
                          "stop it or choose another with studio.public_port=N")
    database = in_use(settings).database
    data_dir = Path(settings.data_dir).resolve()
    gateway = {"data_dir": str(data_dir), "host": settings.public_host, "port": settings.public_port,
               "upstreams": [f"http://127.0.0.1:{port}" for port in [settings.port, *settings.instance_ports]],
               "workers": settings.gateway_workers, "database": str(database),
               "account_rate": settings.gateway_account_rate, "login_rate": settings.gateway_login_rate,
               "address_rate": settings.gateway_address_rate, "per_address": settings.gateway_per_address,
               "handout_rate": settings.gateway_handout_rate}
    # the guard's PostgreSQL credentials go by environment (0600 /proc), never on the command line
    pg = {k: v for k, v in database_env(in_use(settings)).items() if k.startswith("POSTGRE_")}
    # the gateway runs the code this process runs (a checkout, a worktree or an install)
    code = str(Path(labeling.__file__).resolve().parent.parent)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(data_dir / "home"),
           "PYTHONPATH": code, "SRCREL_GATEWAY": json.dumps(gateway), **pg}
    log = data_dir / "gateway.log"
    proc = _spawn([sys.executable, "-m", "labeling.gateway.serve"], env=env, log=log, cwd=str(data_dir))
    _gateway_pid_path(settings).write_text(json.dumps({"pid": proc.pid, "port": settings.public_port,
                                                       "address": public_address(settings, recorded=False)}),
                                           encoding="utf-8")
    _wait_healthy(proc, probe, what="the annotator gateway", timeout=60.0, log=log,
                  pid_file=_gateway_pid_path(settings), tail="")
    return url


def _terminate(pid: int, timeout: float = 15.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
        psutil.Process(pid).wait(timeout=timeout)
    except (ProcessLookupError, psutil.NoSuchProcess):
        return
    except psutil.TimeoutExpired:
        os.killpg(pid, signal.SIGKILL)


def stop_server(settings: StudioSettings) -> bool:
    """SIGTERM the gateway, the extra instances and the managed server, then stop srcrel's own
    PostgreSQL; False if the server was not running."""
    gateway = gateway_pid(settings)
    _gateway_pid_path(settings).unlink(missing_ok=True)
    if gateway is not None:
        _terminate(gateway)
    for pid_file in Path(settings.data_dir).resolve().glob("server-*.json"):  # every extra instance
        extra = _label_studio_pid(pid_file)
        pid_file.unlink(missing_ok=True)
        if extra is not None:
            _terminate(extra)
    pid = running_pid(settings)
    _pid_path(settings).unlink(missing_ok=True)
    if pid is None:
        if health(managed_url(settings)):
            raise StudioError(f"a Label Studio that srcrel did not start answers on port {settings.port}: "
                              "stop it where it was started")
        stop_database(in_use(settings))
        return False
    _terminate(pid)
    stop_database(in_use(settings))
    return True


def run_manage_command(settings: StudioSettings, args: list[str], *, stdin: str = "") -> str:
    """Run `label-studio ARGS` on the managed server's data dir (works while it runs)."""
    result = subprocess.run(
        [str(_executable(settings)), *args], env=server_env(settings), input=stdin, capture_output=True,
        check=False, text=True, cwd=settings.data_dir, start_new_session=True, timeout=300,  # no tty: getpass reads stdin
    )
    if result.returncode != 0:
        tail = " | ".join(result.stderr.strip().splitlines()[-2:])
        raise StudioError(f"`label-studio {args[0]}` failed (code {result.returncode}): {tail}")
    return result.stdout


def read_user_info(settings: StudioSettings, email: str) -> dict[str, Any]:
    """`label-studio user --username EMAIL` parsed: id, email, token (the legacy API token), ..."""
    out = run_manage_command(settings, ["user", "--username", email])
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("{")), "")
    info = ast.literal_eval(line) if line else {}
    if info.get("status") != "ok":
        raise StudioError(f"Label Studio has no user {email!r}: create it first (push annotators=[...])")
    return dict(info)


def set_user_password(settings: StudioSettings, email: str, password: str) -> None:
    """Managed server only: `label-studio reset_password`, the password sent on stdin, not argv."""
    out = run_manage_command(settings, ["reset_password", "--username", email], stdin=password + "\n")
    if "successfully" not in out and "same as current" not in out:
        raise StudioError(f"could not set the password of {email}: {out.strip().splitlines()[-1:]}")


def get_user_token(settings: StudioSettings, email: str) -> str:
    """Managed server only: the user's legacy API token (`label-studio user --username EMAIL`)."""
    return str(read_user_info(settings, email)["token"])
