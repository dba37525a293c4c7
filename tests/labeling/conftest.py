"""Shared fixtures: small simulated corpora and hand-written Label Studio exports."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from labeling.annotations.synthetic import simulate_annotations
from labeling.studio.config import Database, StudioSettings
from labeling.studio.server import start_server, stop_server
from tests.conftest import STUDIO_EXECUTABLE, free_port
from tests.simulated_export import write_simulated_export

LABELS = ("sourced", "opinion", "unverifiable")


@pytest.fixture(scope="session", params=[Database.sqlite, Database.postgresql])
def studio_on_each_database(request: pytest.FixtureRequest) -> Iterator[StudioSettings]:
    """A managed Label Studio (and its gateway) in a fresh data dir on free ports, on each
    database, stopped at the end: the studio and gateway suites run on both."""
    if not STUDIO_EXECUTABLE.is_file():
        pytest.fail(f"{STUDIO_EXECUTABLE} missing: run `make` to create .venv-studio")
    for var in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "POSTGRE_HOST"):
        os.environ.pop(var, None)  # the managed server, not a developer's own
    # PostgreSQL runs as the postgres account when the tests run as root: its cluster must be
    # reachable (pytest's own temp dirs are private to root)
    base = Path(tempfile.mkdtemp(prefix=f"srcrel-{request.param}-"))
    base.chmod(0o711)
    settings = StudioSettings(port=free_port(), data_dir=str(base / "studio"), executable=str(STUDIO_EXECUTABLE),
                              public_port=free_port(), database=request.param, database_port=free_port())
    start_server(settings)
    yield settings
    stop_server(settings)
    shutil.rmtree(base, ignore_errors=True)

_TEMPLATES = {
    "sourced": ["{who} said the {thing} would reopen on {day}, according to a statement.",
                "According to {who}, the {thing} was closed after the vote.",
                "{who} told reporters that the {thing} had been inspected."],
    "opinion": ["This {thing} is a disgrace and {who} should be ashamed.",
                "Frankly, the {thing} looks like a terrible idea.",
                "It is absurd that anyone still defends the {thing}."],
    "unverifiable": ["The {thing} was closed on {day}.",
                     "Thousands of people crossed the {thing} last {day}.",
                     "The {thing} cost more than expected."],
}
_WHO = ["the minister", "a police spokesman", "the mayor", "officials", "the company"]
_THING = ["bridge", "border crossing", "factory", "school", "hospital", "budget"]
_DAY = ["Monday", "Tuesday", "Friday", "week", "month"]


def make_corpus(n_articles: int, per_article: int, *, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Sentences (srcrel column names) and their reference labels."""
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for a in range(n_articles):
        article = f"art{a:04d}"
        texts = []
        for i in range(per_article):
            label = LABELS[rng.choice(3, p=[0.45, 0.3, 0.25])]
            template = _TEMPLATES[label][rng.integers(3)]
            texts.append(template.format(who=_WHO[rng.integers(5)], thing=_THING[rng.integers(6)],
                                         day=_DAY[rng.integers(5)]))
            truth[f"{article}-{i:03d}"] = label
        for i, text in enumerate(texts):
            rows.append({"sentence_id": f"{article}-{i:03d}", "article_id": article, "text": text,
                         "prev_text": texts[i - 1] if i else "",
                         "next_text": texts[i + 1] if i + 1 < len(texts) else "",
                         "lang": "en", "title": f"Article {a}"})
    return pd.DataFrame(rows), pd.Series(truth, name="label")


CONFUSIONS = {
    "1": [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.15, 0.75]],
    "2": [[0.8, 0.1, 0.1], [0.05, 0.9, 0.05], [0.2, 0.1, 0.7]],
    "3": [[0.85, 0.1, 0.05], [0.15, 0.7, 0.15], [0.05, 0.05, 0.9]],
}


@pytest.fixture
def simulated_export(tmp_path: Path) -> Path:
    sentences, truth = make_corpus(30, 10, seed=1)
    answers = simulate_annotations(truth.items(), CONFUSIONS, label_names=LABELS, seed=2)
    return write_simulated_export(tmp_path / "export-1-20260101T000000Z.json", sentences, answers)


def choice(label: str, origin: str = "manual") -> list[dict[str, Any]]:
    return [{"id": "r", "type": "choices", "from_name": "label", "to_name": "sentence",
             "origin": origin, "value": {"choices": [label]}}]


def write_tasks(path: Path, tasks: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps(tasks, option=orjson.OPT_INDENT_2))
    return path
