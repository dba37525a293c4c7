import json
import os
import socket
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
import requests

from labeling.studio import api
from labeling.studio.command import read_status
from labeling.studio.config import Database, StudioSettings
from labeling.studio.connection import credentials_path, resolve_connection
from labeling.studio.database import record_database
from labeling.studio.server import server_env, start_server, stop_server
from srcrel_core.errors import ConfigError, StudioError
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.studio


def _srcrel(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "srcrel.cli", *args], capture_output=True, check=False, text=True,
                          cwd=cwd, env=env, timeout=300)


def _settings_args(s: StudioSettings) -> list[str]:
    return [f"studio.port={s.port}", f"studio.data_dir={s.data_dir}", f"studio.executable={s.executable}",
            f"studio.public_port={s.public_port}"]


def test_status_reports_up_url_version_and_projects(studio_settings: StudioSettings, tmp_path: Path) -> None:
    status = read_status(studio_settings)
    assert status.state == "up" and status.url == f"http://127.0.0.1:{studio_settings.port}"
    assert status.version.startswith("1.23")
    out = _srcrel("studio", "status", *_settings_args(studio_settings), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "is up at" in out.stdout and "version 1.23" in out.stdout
    assert f"annotator gateway up at http://127.0.0.1:{studio_settings.public_port}" in out.stdout


def test_server_is_local_only_and_locked_down(studio_settings: StudioSettings) -> None:
    pid = json.loads((Path(studio_settings.data_dir) / "server.json").read_text())["pid"]
    proc = psutil.Process(pid)
    listening = [c.laddr for p in [proc, *proc.children(recursive=True)]
                 for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening)
    env = proc.environ()
    for stray in ("USERNAME", "PORT", "DEBUG", "HOST", "PASSWORD"):
        assert stray not in env
    assert env["LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK"] == "true"
    assert env["LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED"] == "false"
    assert env["LABEL_STUDIO_COLLECT_ANALYTICS"] == "false"
    assert "SSRF_PROTECTION_ENABLED" not in " ".join(env)  # left at its default: on
    assert env["LABEL_STUDIO_ML_BLOCK_LOCAL_IP"] == "false"  # only the ML connector may reach loopback
    # the admin account was made once by `label-studio init`: no secret in the server's environment
    creds = json.loads(credentials_path(studio_settings).read_text())
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    for name in ("LABEL_STUDIO_USERNAME", "LABEL_STUDIO_PASSWORD", "LABEL_STUDIO_USER_TOKEN"):
        assert name.encode() not in raw
    assert creds["password"].encode() not in raw and creds["token"].encode() not in raw
    # signup without an invite link is refused
    url = f"http://127.0.0.1:{studio_settings.port}"
    session = requests.Session()
    session.get(f"{url}/user/signup/", timeout=10)
    answer = session.post(f"{url}/user/signup/", allow_redirects=False, timeout=10,
                          headers={"Referer": f"{url}/user/signup/"},
                          data={"email": "stranger@example.com", "password": "Stranger-password-1",
                                "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")})
    assert answer.status_code == 403
    client = api.connect(resolve_connection(studio_settings))
    assert "stranger@example.com" not in {u.email for u in api.list_users(client)}


def test_clean_env_drops_strays(studio_settings: StudioSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("USERNAME", "PORT", "DEBUG"):
        monkeypatch.setenv(var, "stray")
    env = server_env(studio_settings)
    assert not {"USERNAME", "PORT", "DEBUG"} & set(env)


def test_credentials_are_private_and_never_printed(studio_settings: StudioSettings, tmp_path: Path) -> None:
    path = credentials_path(studio_settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    creds = json.loads(path.read_text())
    assert len(creds["token"]) == 40 and len(creds["password"]) >= 24
    out = _srcrel("studio", "up", *_settings_args(studio_settings), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert str(path) in out.stdout
    written = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    log = (Path(studio_settings.data_dir) / "server.log").read_text(errors="replace")
    for secret in (creds["token"], creds["password"]):
        assert secret not in out.stdout + out.stderr + written + log


def test_port_taken_fails_in_one_line(studio_settings: StudioSettings, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        other = replace(studio_settings, port=port, data_dir=str(tmp_path / "other"), database_port=free_port())
        with pytest.raises(StudioError, match=f"port {port} is taken"):
            start_server(other)
        out = _srcrel("studio", "up", f"studio.port={port}", f"studio.data_dir={tmp_path / 'x'}",
                      f"studio.executable={studio_settings.executable}", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "is taken" in out.stderr


def test_failed_start_shows_the_log_tail(studio_settings: StudioSettings, tmp_path: Path) -> None:
    fake = tmp_path / "label-studio"
    fake.write_text("#!/bin/sh\necho 'django.db.utils.OperationalError: disk I/O error'\nexit 3\n")
    fake.chmod(0o755)
    settings = replace(studio_settings, executable=str(fake), data_dir=str(tmp_path / "d"),
                       port=free_port(), database=Database.sqlite)  # Label Studio's own start-up
    with pytest.raises(StudioError, match="`label-studio init` failed .*disk I/O error"):
        start_server(settings)
    with pytest.raises(ConfigError, match="studio.executable"):
        start_server(replace(settings, executable=str(tmp_path / "missing")))


def test_external_server_needs_a_key(monkeypatch: pytest.MonkeyPatch, studio_settings: StudioSettings) -> None:
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("LABEL_STUDIO_API_KEY", raising=False)
    with pytest.raises(StudioError, match="LABEL_STUDIO_API_KEY is not set"):
        resolve_connection(studio_settings)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "k" * 40)
    conn = resolve_connection(studio_settings)
    assert (conn.url, conn.managed) == ("http://127.0.0.1:1", False)
    assert "kkkk" not in repr(conn)


def test_down_then_up_keeps_the_data(studio_settings: StudioSettings, tmp_path: Path) -> None:
    assert stop_server(studio_settings)
    assert read_status(studio_settings).state == "down"
    out = _srcrel("studio", "status", *_settings_args(studio_settings), cwd=tmp_path)
    assert "is down" in out.stdout
    assert not stop_server(studio_settings)
    start_server(studio_settings)
    assert read_status(studio_settings).state == "up"


def test_a_data_dir_keeps_its_database(studio_settings: StudioSettings, tmp_path: Path) -> None:
    """The other commands follow the database `studio up` used; `up` itself refuses to switch."""
    other = Database.sqlite if studio_settings.database == Database.postgresql else Database.postgresql
    stopped = replace(studio_settings, data_dir=str(tmp_path / "d"), port=free_port())  # its server is down
    record_database(stopped)
    with pytest.raises(ConfigError, match=f"holds a Label Studio on {studio_settings.database}: start it with "
                                          f"studio.database={studio_settings.database}"):
        start_server(replace(stopped, database=other))
    assert not (tmp_path / "d" / "server.json").exists()  # nothing was started
    out = _srcrel("studio", "status", *_settings_args(studio_settings), cwd=tmp_path)  # no database= given
    assert f"database: {studio_settings.database} " in out.stdout
