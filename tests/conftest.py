"""Shared test fixtures. Real third-party data lives in ../shared/data; tests that need it skip."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import venv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from labeling.studio.config import StudioSettings
from labeling.studio.server import start_server, stop_server

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO_ROOT.parent / "shared" / "data").resolve()
EXAMPLES = REPO_ROOT / "examples"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when that data is absent (a user's fresh clone)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} (real third-party data, not in the repository)")
    return path


STUDIO_EXECUTABLE = REPO_ROOT / ".venv-studio" / "bin" / "label-studio"

# no test reaches the Hugging Face hub (CI has no network but the package registries): a hub id
# resolves from the local cache only, in this process and in every srcrel it starts
os.environ["HF_HUB_OFFLINE"] = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def studio_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioSettings]:
    """A managed Label Studio in a fresh data dir on a free port, stopped at the end."""
    if not STUDIO_EXECUTABLE.is_file():
        pytest.fail(f"{STUDIO_EXECUTABLE} missing: run `make` to create .venv-studio")
    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"):
        os.environ.pop(var, None)  # the managed server, not a developer's own
    settings = StudioSettings(port=free_port(), data_dir=str(tmp_path_factory.mktemp("studio")),
                              executable=str(STUDIO_EXECUTABLE), public_port=free_port())
    start_server(settings)
    yield settings
    stop_server(settings)


def write_ingest_dir(path: Path, n: int, *, prefix: str = "s", texts: dict[int, str] | None = None,
                     per_article: int = 20) -> Path:
    """An ingest-shaped output dir (sentences.jsonl + tasks.json) with N sentences, PER_ARTICLE to
    an article."""
    path.mkdir(parents=True, exist_ok=True)
    texts = texts or {}
    sentences, tasks = [], []
    for i in range(n):
        text = texts.get(i, f"Sentence {i} of the test corpus, said the minister.")
        sid = f"{prefix}{i:06d}"
        sentences.append({"sentence_id": sid, "article_id": f"a{i // per_article}", "index": i % per_article, "text": text,
                          "char_start": 0, "char_end": len(text), "lang": "en",
                          "prev_text": f"Before {i}.", "next_text": f"After {i}.", "title": f"Article {i // per_article}",
                          "url": "", "outlet": "test", "published": "", "source": "test", "boilerplate": False})
        tasks.append({"data": {"sentence_id": sid, "article_id": f"a{i // per_article}", "index": i % per_article,
                               "sentence": text, "prev_sentence": f"Before {i}.",
                               "next_sentence": f"After {i}.", "title": f"Article {i // per_article}", "lang": "en"}})
    (path / "sentences.jsonl").write_text("".join(json.dumps(s) + "\n" for s in sentences), encoding="utf-8")
    (path / "tasks.json").write_text(json.dumps(tasks), encoding="utf-8")
    return path


@pytest.fixture
def ingest_dir(tmp_path: Path) -> Callable[..., Path]:
    def make(n: int, **kwargs: object) -> Path:
        return write_ingest_dir(tmp_path / f"ingest-{n}", n, **kwargs)  # type: ignore[arg-type]

    return make


def run_clean(args: list[str], *, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding srcrel from its wheel, not editable. Its dependencies are the
    test env's own, seen through a .pth line (that directory's editable-install hook is not run:
    Python processes .pth files of site directories only); `pip check` then proves that what the
    wheel declares is there. Installing them again from the index cost 2 1/2 minutes of the suite."""
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    # a clean copy: a developer's stale build/ or egg-info must not end up in the wheel
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".venv-studio", "build", "dist", "*.egg-info", "__pycache__", ".srcrel", "demo-output",
        "test-artifacts", ".pytest_cache", ".hypothesis", ".ruff_cache"))
    built = run_clean([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                  "-w", str(wheels), str(source)], cwd=root)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("srcrel-*.whl"))
    venv.create(root / "venv", with_pip=True)
    bin_dir = root / "venv" / "bin"
    import sysconfig

    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(run_clean([str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            cwd=root).stdout.strip())
    (theirs / "srcrel-test-dependencies.pth").write_text(f"{ours}\n", encoding="utf-8")
    done = run_clean([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    checked = run_clean([str(bin_dir / "python"), "-m", "pip", "check"], cwd=root)
    assert "srcrel" not in checked.stdout, checked.stdout  # every dependency the wheel declares is met
    return bin_dir


# `make test` runs the suite on two workers (pytest-xdist, `--dist loadgroup`). A group runs on one
# worker, in order: every test on srcrel's SQLite server is one group, every test on its
# PostgreSQL server another (each server starts once, as in a serial run, instead of once per
# module), and every other module is a group of its own. The longest groups go first, so that the
# last one to finish does not run alone for minutes.
_LONG_FIRST = ("studio-postgresql", "studio-sqlite", "tests/srcrel/test_demo.py", "tests/training/test_checkthat.py",
               "tests/test_newcomer.py", "tests/srcrel/test_loop.py")


def _group(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    database = callspec.params.get("studio_on_each_database") if callspec is not None else None
    return f"studio-{getattr(database, 'value', database)}" if database is not None else item.nodeid.split("::")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(_LONG_FIRST)}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))  # stable: each group keeps pytest's order
