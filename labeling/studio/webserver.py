"""How each Label Studio process is run: its own `label-studio start`, or its WSGI app under
gunicorn with several worker processes (studio.workers)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from labeling.studio.config import StudioSettings
from srcrel_core.errors import ConfigError

__all__ = ["WSGI_APP", "server_command", "wsgi_env"]

WSGI_APP = "core.wsgi:application"
_FIND_PACKAGE = "import label_studio, os; print(os.path.dirname(label_studio.__file__))"


def server_command(settings: StudioSettings, exe: Path, port: int) -> list[str]:
    """`label-studio start` (Django's threaded development server in one process, what Label
    Studio ships), or with studio.workers > 1 Label Studio's WSGI app under gunicorn: as many
    processes, so it can use every core (what its Docker image does with uwsgi)."""
    if settings.workers <= 1:
        return [str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port)]
    gunicorn = exe.parent / "gunicorn"
    if not gunicorn.is_file():
        raise ConfigError(f"studio.workers={settings.workers} needs gunicorn beside {exe}: run `make studio-install` "
                          f"(or `{exe.parent / 'pip'} install gunicorn`), or set studio.workers=1")
    package = subprocess.run([str(exe.parent / "python"), "-c", _FIND_PACKAGE], capture_output=True, text=True,
                             check=True, env={"PATH": "/usr/bin:/bin"}).stdout.strip()
    return [str(gunicorn), "--chdir", package, "--workers", str(settings.workers), "--threads", "8",
            "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--graceful-timeout", "10", WSGI_APP]


def wsgi_env(settings: StudioSettings) -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "core.settings.label_studio"} if settings.workers > 1 else {}
