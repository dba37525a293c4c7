"""Label Studio's database: its embedded SQLite file, srcrel's own PostgreSQL cluster (initialised
in <data_dir>/postgres, 127.0.0.1 only, started and stopped with the server), or an existing
PostgreSQL named by Label Studio's own variables in the environment.

Label Studio reads DJANGO_DB=default plus POSTGRE_HOST, POSTGRE_PORT, POSTGRE_NAME, POSTGRE_USER,
POSTGRE_PASSWORD (also with a LABEL_STUDIO_ prefix); it does not read DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from labeling.studio.config import Database, StudioSettings
from labeling.studio.connection import ensure_credentials, port_taken
from srcrel_core.errors import ConfigError, StudioError

__all__ = ["DatabaseInfo", "check_external", "database_env", "describe_database", "in_use", "record_database", "start_database",
           "stop_database"]

EXTERNAL_VARS = ("POSTGRE_HOST", "POSTGRE_PORT", "POSTGRE_NAME", "POSTGRE_USER", "POSTGRE_PASSWORD")
_USER = "srcrel"
_NAME = "labelstudio"
_SERVICE_ACCOUNT = "postgres"  # PostgreSQL refuses to run as root: as root, srcrel runs it as this user


@dataclass(frozen=True)
class DatabaseInfo:
    kind: str
    where: str  # file path, or host:port/name
    managed: bool  # srcrel starts and stops it

    def describe(self) -> str:
        owner = "srcrel's own" if self.managed else "external"
        return f"{self.kind} ({owner}) at {self.where}"


def _record_path(settings: StudioSettings) -> Path:
    return Path(settings.data_dir).resolve() / "database.json"


def record_database(settings: StudioSettings) -> None:
    """Remember, in the data dir, which database `studio up` started the server on."""
    path = _record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps({"database": str(settings.database), "database_port": settings.database_port}) + "\n",
                    encoding="utf-8")


def in_use(settings: StudioSettings) -> StudioSettings:
    """The settings with the database the managed server in this data dir was started on: every
    other command (push, pull, simulate, status, down) follows it without being told again."""
    path = _record_path(settings)
    if not path.is_file():  # a data dir from before the record: its SQLite file says which
        sqlite = (Path(settings.data_dir).resolve() / "label_studio.sqlite3").is_file()
        return replace(settings, database=Database.sqlite) if sqlite else settings
    recorded = json.loads(path.read_text(encoding="utf-8"))
    return replace(settings, database=Database(recorded["database"]), database_port=int(recorded["database_port"]))


def _external() -> bool:
    return bool(os.environ.get("POSTGRE_HOST"))


def _cluster(settings: StudioSettings) -> Path:
    return Path(settings.data_dir).resolve() / "postgres"


def describe_database(settings: StudioSettings) -> DatabaseInfo:
    if settings.database == Database.sqlite:
        return DatabaseInfo("sqlite", str(Path(settings.data_dir).resolve() / "label_studio.sqlite3"), managed=False)
    if _external():
        env = os.environ
        where = f"{env['POSTGRE_HOST']}:{env.get('POSTGRE_PORT', '5432')}/{env.get('POSTGRE_NAME', 'postgres')}"
        return DatabaseInfo("postgresql", where, managed=False)
    return DatabaseInfo("postgresql", f"127.0.0.1:{settings.database_port}/{_NAME} (cluster in "
                        f"{_cluster(settings)})", managed=True)


def check_external() -> None:
    """With POSTGRE_HOST set (an existing server), every variable Label Studio needs must be."""
    missing = [var for var in EXTERNAL_VARS if not os.environ.get(var)]
    if _external() and missing:
        raise ConfigError(f"POSTGRE_HOST is set but {', '.join(missing)} is not: export all of "
                          f"{', '.join(EXTERNAL_VARS)} for an external PostgreSQL, or unset POSTGRE_HOST "
                          "to let srcrel run its own")


def database_env(settings: StudioSettings) -> dict[str, str]:
    """The variables that point Label Studio at its database."""
    if settings.database == Database.sqlite:
        return {"DJANGO_DB": "sqlite"}
    if _external():
        check_external()
        return {"DJANGO_DB": "default"} | {var: os.environ[var] for var in EXTERNAL_VARS}
    return {"DJANGO_DB": "default", "POSTGRE_HOST": "127.0.0.1", "POSTGRE_PORT": str(settings.database_port),
            "POSTGRE_NAME": _NAME, "POSTGRE_USER": _USER,
            "POSTGRE_PASSWORD": ensure_credentials(settings)["database_password"]}


def _bin_dir(settings: StudioSettings) -> Path:
    if settings.postgres_bin:
        found = Path(settings.postgres_bin)
    else:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                            key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
        found = candidates[-1].parent if candidates else Path("/usr/lib/postgresql/VERSION/bin")
    if not (found / "pg_ctl").is_file():
        raise ConfigError(f"PostgreSQL server programs not found in {found}: run `make postgres-install` (as "
                          "root it installs Debian's postgresql package), or set studio.postgres_bin=DIR")
    return found


def _as_service(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin") or "runuser"
    return [runuser, "-u", _SERVICE_ACCOUNT, "--", *args]


def _run(settings: StudioSettings, args: list[str], *, what: str, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    done = subprocess.run(_as_service([str(_bin_dir(settings) / args[0]), *args[1:]]), env=base | (env or {}),
                          capture_output=True, text=True, check=False, timeout=120, stdin=subprocess.DEVNULL,
                          cwd="/")
    if check and done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-2:])
        raise StudioError(f"PostgreSQL {what} failed (code {done.returncode}): {tail}; see "
                          f"{_cluster(settings) / 'postgres.log'}")
    return done


def _hand_to_service_account(path: Path) -> None:
    """As root, the cluster belongs to the postgres account, which must be able to reach it."""
    if os.geteuid() != 0:
        return
    try:
        account = pwd.getpwnam(_SERVICE_ACCOUNT)
    except KeyError:
        raise ConfigError(f"no `{_SERVICE_ACCOUNT}` account on this machine (PostgreSQL runs as it when srcrel runs "
                          "as root): run `make postgres-install` (Debian's postgresql package creates it)") from None
    shutil.chown(path, account.pw_uid, account.pw_gid)
    if path.is_dir():  # the data dir above it: traversable, not listable, for the postgres account
        path.parent.chmod(path.parent.stat().st_mode | 0o011)
    probe = subprocess.run(_as_service(["/usr/bin/test", "-w", str(path)]), check=False)
    if probe.returncode != 0:
        raise ConfigError(f"the {_SERVICE_ACCOUNT} account cannot reach {path} (a parent folder is private): "
                          "`chmod o+x` its parents, or set studio.data_dir to a folder under one it can reach")


def _initialise(settings: StudioSettings, password: str) -> None:
    cluster = _cluster(settings)
    cluster.mkdir(parents=True, exist_ok=True, mode=0o700)
    _hand_to_service_account(cluster)
    pwfile = cluster / "initdb.pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    _hand_to_service_account(pwfile)
    try:
        _run(settings, ["initdb", "-D", str(cluster / "data"), "-U", _USER, f"--pwfile={pwfile}",
                        "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"], what="initdb")
    finally:
        pwfile.unlink(missing_ok=True)


def _running(settings: StudioSettings) -> bool:
    data = _cluster(settings) / "data"
    return data.is_dir() and _run(settings, ["pg_ctl", "-D", str(data), "status"], what="status",
                                  check=False).returncode == 0


def start_database(settings: StudioSettings) -> DatabaseInfo:
    """Start srcrel's own cluster if settings ask for it (initialised the first time)."""
    info = describe_database(settings)
    if not info.managed or _running(settings):
        return info
    if port_taken(settings.database_port):
        raise StudioError(f"port {settings.database_port} (srcrel's PostgreSQL) is taken by another process: stop "
                          "it or choose another with studio.database_port=N")
    password = ensure_credentials(settings)["database_password"]
    fresh = not (_cluster(settings) / "data" / "PG_VERSION").is_file()
    if fresh:
        _initialise(settings, password)
    options = f"-c listen_addresses=127.0.0.1 -p {settings.database_port} -c unix_socket_directories='' "
    options += "-c max_connections=200"
    _run(settings, ["pg_ctl", "-D", str(_cluster(settings) / "data"), "-l", str(_cluster(settings) / "postgres.log"),
                    "-w", "-t", "60", "-o", options, "start"], what="start")
    made = _run(settings, ["createdb", "-h", "127.0.0.1", "-p", str(settings.database_port), "-U", _USER, _NAME],
                what="createdb", env={"PGPASSWORD": password}, check=False)  # every start: a half-made cluster heals
    if made.returncode != 0 and "already exists" not in made.stderr:
        raise StudioError(f"PostgreSQL createdb failed (code {made.returncode}): {made.stderr.strip()[-300:]}; see "
                          f"{_cluster(settings) / 'postgres.log'}")
    return info


def stop_database(settings: StudioSettings) -> bool:
    """Stop srcrel's own cluster (fast shutdown: open transactions roll back); False if not running."""
    if not describe_database(settings).managed or not _running(settings):
        return False
    _run(settings, ["pg_ctl", "-D", str(_cluster(settings) / "data"), "-m", "fast", "-w", "stop"], what="stop")
    return True
