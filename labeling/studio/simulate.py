"""`srcrel simulate`: simulated annotators label a Label Studio project through the API.

Each annotator is a real Label Studio user of the managed server who takes tasks from the label
stream with their own API token (through the gateway when it runs), as a real annotator does;
their answer to a sentence is drawn from the sentence's reference label through a
seeded confusion matrix (accuracy on the diagonal, errors spread by a seeded Dirichlet draw).
When they answer sourced and the reference says who the source is, they mark it: the reference
span with probability `accuracy`, else the same words without the first one (a near miss); or they
tick "outside" where the reference says the source is outside the sentence.
Used by `make demo` and by anyone who wants to test a pipeline on known answers; datasets built
from such annotations must say so (`card.simulated_annotators=true`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from labeling.annotations.synthetic import simulate_annotations
from labeling.studio import api
from labeling.studio.config import SimulateConfig
from labeling.studio.connection import Connection, gateway_url, resolve_connection
from labeling.studio.interface import SPAN_LABEL, span_regions
from labeling.studio.ledger import state_dir_for
from labeling.studio.server import gateway_pid
from srcrel_core.errors import ConfigError, StudioError
from srcrel_core.io import read_label_records
from srcrel_core.labelset import load_label_set
from srcrel_core.progress import check_progress_mode, progress_bar
from srcrel_core.settings import to_dataclass
from srcrel_core.spans import WORD

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


def run_simulation(config: SimulateConfig) -> SimulationResult:
    label_set = load_label_set(config.label_set)
    references = [(r.sentence_id, r.label) for r in read_label_records(
        config.reference, label_names=label_set.names, what="reference",
        fix="pass the reference_labels.jsonl ({sentence_id, label}) that `srcrel ingest reference=...` "
            "writes into its output dir")]
    sources = _reference_sources(Path(config.reference))
    check_progress_mode(config.progress)
    if not config.annotators:
        raise ConfigError("annotators is empty: list at least one {email, accuracy}")
    for a in config.annotators:
        if not 0 <= a.anchoring <= 1:
            raise ConfigError(f"annotators: {a.email} has anchoring={a.anchoring}: give the probability of "
                              "keeping a pre-filled answer, in [0, 1]")
    conn = resolve_connection(config.studio)
    if not conn.managed:
        raise StudioError("srcrel simulate acts as each annotator with their own token, which only the managed "
                          "server (`srcrel studio up`) can issue: unset LABEL_STUDIO_URL")
    admin = api.connect(conn)
    project = api.find_project(admin, config.project.name)
    if project is None:
        raise StudioError(f"no project named {config.project.name!r}: run `srcrel push` first")
    task_of = {sid: task_id for task_id, sid in api.list_task_refs(admin, project.id)}
    references = [(sid, label) for sid, label in references if sid in task_of]
    names = label_set.names
    confusions = {a.email: confusion_for(a.accuracy, len(names), seed=config.seed + n)
                  for n, a in enumerate(config.annotators)}
    answers = simulate_annotations(references, confusions, label_names=names, seed=config.seed)
    rng = np.random.default_rng(config.seed)
    state = state_dir_for(config.state_dir, config.project.name)
    state.mkdir(parents=True, exist_ok=True)
    created = done = 0
    annotator_url = gateway_url(config.studio) if gateway_pid(config.studio) else conn.url
    answer_of = {(w, sid): str(label) for w, sid, label in zip(answers["worker"], answers["task"], answers["label"])}
    for annotator in config.annotators:
        api.create_user(admin, annotator.email)
        # annotators answer through the gateway when it runs, as real ones do: blind, own answers only
        client = api.connect(Connection(annotator_url, api.get_user_token(config.studio, annotator.email), True))
        ledger = state / f"simulated-{annotator.email}.txt"  # sentence_ids this annotator answered
        done += len(ledger.read_text(encoding="utf-8").split()) if ledger.is_file() else 0
        mine = int((answers["worker"] == annotator.email).sum())
        # the label stream, as a real annotator takes it: it honours each sentence's overlap (a
        # sentence outside the overlap sample goes to one annotator) and resumes by itself
        with ledger.open("a", encoding="utf-8") as out, \
                progress_bar(f"annotating as {annotator.email}", total=mine, mode=config.progress) as advance:
            while (handed := api.next_task(client, project.id)) is not None:
                sid = handed.sentence_id
                label = answer_of.get((annotator.email, sid))  # None: no reference label, so a skip
                # a pre-filled answer is kept unread with probability `anchoring` (a draw per task)
                anchored = handed.prediction is not None and label is not None and rng.random() < annotator.anchoring
                if anchored and handed.prediction is not None:
                    label = handed.prediction[1]
                spans, outside = sources.get(sid, ([], False)) if label == SPAN_LABEL else ([], False)
                marked = list(handed.prediction_spans) if anchored and handed.prediction_spans else \
                    _marked(spans, annotator.accuracy, rng)  # an anchored annotator keeps the pre-filled source too
                regions = span_regions(marked, outside=outside and not marked)
                api.annotate(client, handed.id, from_name="label", to_name="sentence", choice=label,
                             lead_time=round(float(rng.gamma(2.0, 4.0)), 2), prediction=handed.prediction,
                             regions=regions)
                out.write(f"{sid}\n")
                out.flush()
                created += 1
                advance()
    return SimulationResult(project.id, created, done, {k: v.round(4).tolist() for k, v in confusions.items()})


def _reference_sources(path: Path) -> dict[str, tuple[list[dict[str, Any]], bool]]:
    """sentence_id -> (reference source spans, source outside) from ingest's reference_labels.jsonl."""
    out = {}
    for line in path.read_bytes().splitlines():
        row = orjson.loads(line) if line.strip() else {}
        if row.get("source_spans") or row.get("source_outside"):
            out[str(row["sentence_id"])] = (list(row.get("source_spans") or []), bool(row.get("source_outside")))
    return out


def _marked(spans: list[dict[str, Any]], accuracy: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    marked = []
    for span in spans:
        words = list(WORD.finditer(span["text"]))
        if rng.random() >= accuracy and len(words) > 1:  # a near miss: the first word left out
            cut = words[1].start()
            span = {"start": span["start"] + cut, "end": span["end"], "text": span["text"][cut:]}
        marked.append(span)
    return marked
