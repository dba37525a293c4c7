"""`srcrel backend project.name=NAME`: serve the project's current baseline to Label Studio on
127.0.0.1:port, connect it to the project, and retrain as annotations come in, until Ctrl-C.

    backend = build_backend(config, project_id=7)
    with serve_in_thread(backend) as url:   # what tests and the benchmark use too
        register_backend(config, url)
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette

from labeling.studio import api
from labeling.studio.connection import port_taken, resolve_connection
from srcrel.backend.app import build_app
from srcrel.backend.config import HOST, BackendConfig
from srcrel.backend.store import ModelStore, Serving
from srcrel.backend.trainer import Trainer, retrain
from srcrel_core.errors import ConfigError, StudioError
from srcrel_core.labelset import load_label_set
from srcrel_core.settings import to_dataclass

__all__ = ["Backend", "backend_url", "build_backend", "register_backend", "run_backend", "run_from_config",
           "serve_in_thread"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    config: BackendConfig
    store: ModelStore
    serving: Serving
    trainer: Trainer
    app: Starlette


def backend_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def check_config(config: BackendConfig) -> None:
    if not 1 <= config.port <= 65535:
        raise ConfigError(f"port={config.port} is not a TCP port: give one in 1-65535")
    if config.port in (config.studio.port, config.studio.public_port):
        raise ConfigError(f"port={config.port} is Label Studio's or its gateway's: give the backend its own")
    if config.debounce < 0 or config.max_wait < config.debounce:
        raise ConfigError(f"debounce={config.debounce}, max_wait={config.max_wait}: give seconds with "
                          "0 <= debounce <= max_wait (e.g. debounce=5 max_wait=60)")


def build_backend(config: BackendConfig, *, project_id: int | None = None) -> Backend:
    """Load the current version from model_dir (if any) and wire the app to its trainer."""
    check_config(config)
    labels = load_label_set(config.label_set).names
    store = ModelStore(Path(config.model_dir))
    serving = Serving(store.load_current())
    trainer = Trainer(partial(retrain, config, store, serving, labels), debounce=config.debounce,
                      max_wait=config.max_wait)
    return Backend(config, store, serving, trainer, build_app(serving, trainer, project_id=project_id))


@contextmanager
def serve_in_thread(backend: Backend, *, start_timeout: float = 30.0) -> Iterator[str]:
    """Serve the backend (uvicorn on 127.0.0.1:port) and run its trainer until the block ends;
    yields the backend's URL once it answers."""
    port = backend.config.port
    if port_taken(port):
        raise StudioError(f"port {port} is taken by another process: stop it or choose another with port=N")
    server = uvicorn.Server(uvicorn.Config(backend.app, host=HOST, port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, name="srcrel-backend-http", daemon=True)
    backend.trainer.start()
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise StudioError(f"the backend did not start on {backend_url(port)}: see the log above")
            time.sleep(0.02)
        yield backend_url(port)
    finally:
        server.should_exit = True
        thread.join(10)
        backend.trainer.stop()


def _connect(config: BackendConfig) -> tuple[Any, int]:
    client = api.connect(resolve_connection(config.studio))
    project = api.find_project(client, config.project.name)
    if project is None:
        raise StudioError(f"Label Studio has no project {config.project.name!r}: push it first "
                          f"(`srcrel push project.name={config.project.name} input=...`), or fix project.name")
    return client, project.id


def register_backend(config: BackendConfig, url: str) -> api.MLBackend:
    """Connect the backend at URL (this backend's own address, nothing else) to the project; the
    project's other ML backends are reported, not removed."""
    parts = urlsplit(url)
    if (parts.scheme, parts.hostname, parts.port) != ("http", HOST, config.port) or parts.path.strip("/"):
        raise ConfigError(f"srcrel registers only its own backend, {backend_url(config.port)}, not {url}: "
                          "Label Studio lets loopback ML backends in for this one (ML_BLOCK_LOCAL_IP=false)")
    client, project_id = _connect(config)
    mine, others = api.register_ml_backend(client, project_id, url=url, title=config.title,
                                           preannotate=config.preannotate)
    for other in others:
        log.warning("project %r has another ML backend: %r at %s (id %d); srcrel only answers for its own: "
                    "delete it in the project's Model settings if you did not add it", config.project.name,
                    other.title, other.url, other.id)
    if mine.state not in ("Connected", "Training", "Predicting"):
        raise StudioError(f"Label Studio registered {url} but reports it {mine.state or 'unknown'}: "
                          f"{mine.error or 'see the server log'}")
    return mine


def run_backend(config: BackendConfig) -> None:
    check_config(config)
    _, project_id = _connect(config)
    backend = build_backend(config, project_id=project_id)
    served = backend.serving.current()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve_in_thread(backend) as url:
        print(f"srcrel backend serving {served.version if served else 'no model yet'} at {url} "
              f"(models in {Path(config.model_dir).resolve()})")
        if config.register:
            mine = register_backend(config, url)
            print(f"registered to project {config.project.name!r} as ML backend {mine.id} "
                  f"(pre-annotation {'on' if config.preannotate else 'off'})")
        if config.train_on_start:
            backend.trainer.notify()  # labels given while the backend was down
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
    print("srcrel backend stopped")


def run_from_config(cfg: Any) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run_backend(to_dataclass(cfg, BackendConfig))
