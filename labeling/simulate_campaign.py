"""`srcrel simulate`: simulated annotators label a Label Studio project through the API.

Each annotator is a real Label Studio user of the managed server who answers with their own
API token; their answer to a sentence is drawn from the sentence's reference label through a
seeded confusion matrix (accuracy on the diagonal, errors spread by a seeded Dirichlet draw).
Used by `make demo` and by anyone who wants to test a pipeline on known answers; datasets built
from such annotations must say so (`card.simulated_annotators=true`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from labeling import studio
from labeling.config import SimulateConfig, to_dataclass
from labeling.errors import ConfigError, InputError, StudioError
from labeling.labelset import load_label_set
from labeling.push import state_dir_for
from labeling.server import Connection, resolve_connection
from labeling.simulate import simulate_annotations
from labeling.summary import check_progress_mode, progress_bar

__all__ = ["SimulationResult", "confusion_for", "run_from_config", "run_simulation"]


@dataclass(frozen=True)
class SimulationResult:
    project_id: int
    annotations_created: int
    already_done: int
    confusions: dict[str, list[list[float]]]


def confusion_for(accuracy: float, n_labels: int, *, seed: int) -> np.ndarray:
    """accuracy on the diagonal; each row's errors spread over the other labels by a seeded Dirichlet."""
    if not 0 < accuracy <= 1:
        raise ConfigError(f"annotator accuracy {accuracy} must be in (0, 1]")
    rng = np.random.default_rng(seed)
    matrix = np.zeros((n_labels, n_labels))
    for i in range(n_labels):
        errors = rng.dirichlet(np.ones(n_labels - 1)) * (1 - accuracy)
        matrix[i] = np.insert(errors, i, accuracy)
    return matrix


def run_from_config(cfg: Any) -> SimulationResult:
    result = run_simulation(to_dataclass(cfg, SimulateConfig))
    print(f"project {result.project_id}: {result.annotations_created} simulated annotation(s) created, "
          f"{result.already_done} already there")
    return result


def _read_reference(path: Path) -> list[tuple[str, str]]:
    try:
        rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"reference={path}: unreadable ({exc}); pass the reference_labels.jsonl "
                         "written by `srcrel ingest reference=...`") from exc
    return [(str(r["sentence_id"]), str(r["label"])) for r in rows]


def run_simulation(config: SimulateConfig) -> SimulationResult:
    label_set = load_label_set(config.label_set)
    references = _read_reference(Path(config.reference))
    unknown = sorted({label for _, label in references} - set(label_set.names))
    if unknown:
        raise InputError(f"reference={config.reference}: labels {unknown} are not in label set {label_set.name}")
    check_progress_mode(config.progress)
    if not config.annotators:
        raise ConfigError("annotators is empty: list at least one {email, accuracy}")
    conn = resolve_connection(config.studio)
    if not conn.managed:
        raise StudioError("srcrel simulate acts as each annotator with their own token, which only the managed "
                          "server (`srcrel studio up`) can issue: unset LABEL_STUDIO_URL")
    admin = studio.connect(conn)
    project = studio.find_project(admin, config.project.name)
    if project is None:
        raise StudioError(f"no project named {config.project.name!r}: run `srcrel push` first")
    task_of = {sid: task_id for task_id, sid in studio.list_task_refs(admin, project.id)}
    references = [(sid, label) for sid, label in references if sid in task_of]
    names = label_set.names
    confusions = {a.email: confusion_for(a.accuracy, len(names), seed=config.seed + n)
                  for n, a in enumerate(config.annotators)}
    answers = simulate_annotations(references, confusions, label_names=names, seed=config.seed)
    rng = np.random.default_rng(config.seed)
    state = state_dir_for(config.state_dir, config.project.name)
    state.mkdir(parents=True, exist_ok=True)
    created = done = 0
    for annotator in config.annotators:
        studio.create_user(admin, annotator.email)
        client = studio.connect(Connection(conn.url, studio.get_user_token(config.studio, annotator.email), True))
        ledger = state / f"simulated-{annotator.email}.txt"  # sentence_ids already answered: re-runs resume
        seen = set(ledger.read_text(encoding="utf-8").split()) if ledger.is_file() else set()
        mine = answers[answers["worker"] == annotator.email]
        with ledger.open("a", encoding="utf-8") as out, \
                progress_bar(f"annotating as {annotator.email}", total=len(mine), mode=config.progress) as advance:
            for sid, label in zip(mine["task"], mine["label"]):
                advance()
                if sid in seen:
                    done += 1
                    continue
                studio.annotate(client, task_of[sid], from_name="label", to_name="sentence", choice=str(label),
                                lead_time=round(float(rng.gamma(2.0, 4.0)), 2))
                out.write(f"{sid}\n")
                out.flush()
                created += 1
    return SimulationResult(project.id, created, done, {k: v.round(4).tolist() for k, v in confusions.items()})
