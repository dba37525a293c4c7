"""`srcrel loop next pool=DIR project.name=NAME batch_size=N` and `srcrel loop status ...`.

One round: pull the project's labels so far (srcrel pull + the long table + majority vote), fit
the configured baseline on the labels outside the audit sample, score it on the audit labels
(an unbiased macro-F1 with its bootstrap CI), score the sentences of the pool no task holds yet,
choose a batch (srcrel/loop/strategy.py) and push it with `loop_round`, `loop_strategy`,
`loop_audit`, `loop_score` (and the model's answer) in each task's meta, which annotators never
see. The round folder (`OUTPUT_DIR/round-NNN/`: tasks.json, the export, the model) is written
before the push, and
the round's line goes to `OUTPUT_DIR/rounds.jsonl` after it: a round killed half-way is pushed
again, unchanged, by the next `loop next`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from labeling.studio import api
from labeling.studio.config import PushConfig
from labeling.studio.connection import resolve_connection
from labeling.studio.context import add_context
from labeling.studio.interface import SPAN_LABEL, span_regions
from labeling.studio.ledger import open_ledger, reconcile, state_dir_for
from labeling.studio.push import push_tasks, read_tasks
from srcrel.loop.config import LoopConfig
from srcrel.loop.learner import (
    fit_baseline,
    fit_span_tagger,
    model_version,
    pool_frame,
    pull_labels,
    score_audit,
    score_frame,
)
from srcrel.loop.strategy import ColdStart, Strategy, select_batch
from srcrel.loop.summary import print_rounds
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.io import atomic_write
from srcrel_core.labelset import load_label_set
from srcrel_core.settings import to_dataclass
from training.data import model_inputs
from training.models import build_features, save_model

__all__ = ["loop_next", "loop_status", "read_rounds", "run_from_config"]


def _check(config: LoopConfig) -> None:
    s = config.loop
    if config.batch_size < 1:
        raise ConfigError(f"batch_size={config.batch_size}: give the number of sentences per round, e.g. batch_size=50")
    for key, value in (("loop.audit_share", s.audit_share), ("loop.anchoring_share", s.anchoring_share)):
        if not 0 <= value <= 1:
            raise ConfigError(f"{key}={value}: give a share in [0, 1], e.g. {key}=0.2")
    if s.anchoring_check and not s.preannotate:
        raise ConfigError("loop.anchoring_check=true measures pre-annotation: set loop.preannotate=true too")


def read_rounds(path: Path, project: str) -> list[dict[str, Any]]:
    """The round log of PROJECT (a torn last line from a kill is ignored)."""
    if not path.is_file():
        return []
    rounds = []
    lines = path.read_text(encoding="utf-8").split("\n")
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if n >= len(lines) - 1:
                break
            raise InputError(f"{path}:{n}: not a JSON line ({exc}); remove the line or the file") from exc
        if record.get("project") != project:
            raise InputError(f"{path}:{n} is the log of project {record.get('project')!r}, not {project!r}: "
                             "give each project its own output_dir=")
        rounds.append(record)
    return rounds


def _append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")


def _pushed(config: LoopConfig) -> tuple[dict[str, Any], set[str]]:
    """{"server", "project_id"} of the project (id None when it does not exist yet), and the
    sentences its tasks hold (the push ledger, reconciled)."""
    conn = resolve_connection(config.studio)
    client = api.connect(conn)
    project = api.find_project(client, config.project.name)
    if project is None:
        return {"server": conn.url, "project_id": None}, set()
    ledger = open_ledger(state_dir_for(config.state_dir, config.project.name) / "ledger.tsv",
                         url=conn.url, project_id=project.id)
    reconcile(client, ledger)
    return {"server": conn.url, "project_id": project.id}, set(ledger.tasks)


def _where(config: LoopConfig) -> dict[str, Any]:
    conn = resolve_connection(config.studio)
    project = api.find_project(api.connect(conn), config.project.name)
    return {"server": conn.url, "project_id": None if project is None else project.id}


def _check_owner(past: list[dict[str, Any]], where: dict[str, Any], output_dir: str, project: str) -> None:
    """A round log belongs to one project on one server: a fresh server or a new project of the
    same name never continues an old log (its rounds would be numbered after the old ones)."""
    if not past:
        return
    last = past[-1]
    logged = {"server": last.get("server"), "project_id": last.get("project_id")}
    if where["project_id"] is None or (logged["project_id"] is not None and logged != where):
        now = "does not exist there" if where["project_id"] is None else f"is project {where['project_id']}"
        raise InputError(f"output_dir={output_dir} holds the round log of {project!r} (project "
                         f"{logged['project_id'] or '?'} on {logged['server'] or 'an earlier server'}), but {project!r} "
                         f"on {where['server']} {now}: give this project its own output_dir=")


def _evaluate(config: LoopConfig, folder: Path, exists: bool, round_index: int) -> dict[str, Any]:
    """Labels so far, the model fitted on them (outside the audit sample) and its audit score."""
    names = load_label_set(config.label_set).names
    if not exists:
        return {"labels": pd.DataFrame(columns=["label", "audit"]), "estimator": None, "version": None, "tagger": None,
                "record": {"labels": 0, "annotations": 0, "train": 0, "audit_labels": 0, "model_version": None,
                           "audit_macro_f1": None, "audit_macro_f1_ci": None, "export": None}, "tasks": set()}
    pulled = pull_labels(project=config.project, studio=config.studio, output_dir=folder, label_names=names)
    labels = pulled.labels
    train, audit = labels[~labels["audit"].astype(bool)], labels[labels["audit"].astype(bool)]
    estimator = fit_baseline(train, model=config.model, features=config.features, seed=config.loop.seed)
    tagger = fit_span_tagger(train, seed=config.loop.seed) if estimator is not None else None
    version = model_version(train, round_index=round_index, model_name=config.model.name) if estimator else None
    scores = score_audit(estimator, audit, names, n_boot=config.loop.n_boot, seed=config.loop.seed,
                         confidence=config.loop.confidence)
    record = {"labels": len(labels), "annotations": pulled.n_annotations, "train": len(train),
              "audit_labels": len(audit), "model_version": version,
              "audit_macro_f1": None if scores is None else round(scores.macro_f1, 4),
              "audit_macro_f1_ci": None if scores is None else [round(x, 4) for x in scores.macro_f1_ci],
              "export": str(pulled.export)}
    return {"labels": labels, "estimator": estimator, "version": version, "record": record, "tagger": tagger,
            "tasks": set(pulled.tasks.index.astype(str)), "last_round": pulled.last_round}


def _features(config: LoopConfig, estimator: Any, frame: pd.DataFrame) -> Any:
    """The rows the diversity strategies cluster: the fitted model's own features, else TF-IDF
    fitted on the candidates (first round)."""
    steps = getattr(estimator, "named_steps", {})
    if "features" in steps:
        return steps["features"].transform(model_inputs(frame))
    return build_features(config.features).fit_transform(model_inputs(frame))


def _prefill(sentence_id: str, config: LoopConfig) -> bool:
    """The anchoring check's seeded draw: whether a task that could be pre-filled is."""
    if not config.loop.anchoring_check:
        return True
    digest = hashlib.sha256(f"anchoring:{config.loop.seed}:{sentence_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 >= config.loop.anchoring_share


def _items(config: LoopConfig, choices: list[Any], rows: dict[str, dict[str, Any]], scored: Any,
           candidates: list[str], version: str | None, round_index: int, tagger: Any = None) -> list[dict[str, Any]]:
    position = {sid: i for i, sid in enumerate(candidates)}
    items = []
    for choice in choices:
        # the bookkeeping goes in the task's meta: annotators must not see which sentences are
        # the audit sample, nor the model's answer where it is not pre-filled
        meta: dict[str, Any] = {"loop_round": round_index, "loop_strategy": choice.strategy,
                                "loop_audit": choice.audit, "loop_score": choice.score, "loop_prefilled": False}
        item: dict[str, Any] = {"data": rows[choice.sentence_id], "meta": meta}
        if scored is not None:
            i = position[choice.sentence_id]
            label, confidence = str(scored.pred[i]), float(scored.proba[i].max())
            meta |= {"loop_model_label": label, "loop_model_version": version}
            text = str(rows[choice.sentence_id].get("sentence") or "")
            spans = [{"start": a, "end": b, "text": text[a:b]} for a, b in tagger.predict(
                [text], [str(rows[choice.sentence_id].get("lang") or "")])[0]] if tagger and label == SPAN_LABEL else []
            if spans:  # who is the source, by the round's span tagger: for the anchoring check too
                meta["loop_model_spans"] = json.dumps(spans, ensure_ascii=False)
            if config.loop.preannotate and not choice.audit and _prefill(choice.sentence_id, config):
                meta["loop_prefilled"] = True
                item["predictions"] = [{"model_version": version, "score": round(confidence, 4), "result": [
                    {"from_name": "label", "to_name": "sentence", "type": "choices",
                     "value": {"choices": [label]}}, *span_regions(spans, outside=False, origin="prediction")]}]
        items.append(item)
    return items


def _push(config: LoopConfig, folder: Path, round_index: int) -> int:
    result = push_tasks(PushConfig(
        input=str(folder), project=config.project, label_set=config.label_set, guidelines=config.guidelines,
        interface=config.interface, annotators=list(config.annotators), batch=f"loop-r{round_index}",
        lock_wait=config.lock_wait, state_dir=config.state_dir, progress=config.progress, studio=config.studio))
    return result.imported


def loop_next(config: LoopConfig) -> dict[str, Any]:
    """Run one round; returns its record (also appended to OUTPUT_DIR/rounds.jsonl)."""
    _check(config)
    if not config.pool:
        raise ConfigError("pool= is missing: give the ingest output dir the loop draws from (srcrel ingest)")
    raw_rows, _ = read_tasks(Path(config.pool))
    rows = {r["sentence_id"]: r for r in raw_rows}
    out = Path(config.output_dir)
    log = out / "rounds.jsonl"
    past = read_rounds(log, config.project.name)
    where, pushed = _pushed(config)
    exists = where["project_id"] is not None
    _check_owner(past, where, config.output_dir, config.project.name)
    round_index = 1 + max([r["round"] for r in past], default=-1)
    folder = out / f"round-{round_index:03d}"
    plan = folder / "plan.json"
    if plan.is_file():  # chosen and written by a run killed before its log line: push it as it is
        record = json.loads(plan.read_text(encoding="utf-8"))
        if record.get("project") != config.project.name:
            raise InputError(f"{plan} is a round of project {record.get('project')!r}, not "
                             f"{config.project.name!r}: give each project its own output_dir=")
        record["imported"] = _push(config, folder, round_index)
        record.update(_where(config))
        _append(log, record)
        return record
    evaluated = _evaluate(config, folder / "export", exists, round_index)
    if evaluated.get("last_round", -1) >= round_index:
        raise InputError(f"{log} has rounds up to {round_index - 1} but project {config.project.name!r} holds "
                         f"tasks of round {evaluated['last_round']}: output_dir= must be this project's loop folder")
    pushed |= evaluated["tasks"]
    candidates = [sid for sid in rows if sid not in pushed]
    estimator, version = evaluated["estimator"], evaluated["version"]
    pool = pool_frame(add_context([rows[s] for s in candidates], config.interface))
    scored = score_frame(estimator, pool, load_label_set(config.label_set).names) if estimator is not None and \
        candidates else None
    s = config.loop
    needs_features = candidates and ((estimator is not None and s.strategy in (
        Strategy.diversity, Strategy.uncertainty_diversity)) or (estimator is None and s.cold_start == ColdStart.cluster))
    choices = select_batch(candidates, batch_size=config.batch_size, seed=s.seed, round_index=round_index,
                           audit_share=s.audit_share, strategy=s.strategy,
                           proba=None if scored is None else scored.proba,
                           features=_features(config, estimator, pool) if needs_features else None,
                           uncertainty=s.uncertainty, cold_start=s.cold_start, pool_factor=s.pool_factor)
    items = _items(config, choices, rows, scored, candidates, version, round_index, evaluated["tagger"])
    record = {"round": round_index, "project": config.project.name, **where, "time": datetime.now(UTC).isoformat(),
              "seed": s.seed, **evaluated["record"], "pushed": len(items),
              "by_strategy": dict(sorted(Counter(c.strategy for c in choices).items())),
              "audit": sum(c.audit for c in choices),
              "prefilled": sum(1 for i in items if i["meta"]["loop_prefilled"]),
              "pool_left": len(candidates) - len(items),
              "settings": {"batch_size": config.batch_size, "audit_share": s.audit_share, "strategy": str(s.strategy),
                           "uncertainty": str(s.uncertainty), "cold_start": str(s.cold_start),
                           "model": config.model.name, "preannotate": s.preannotate,
                           "anchoring_check": s.anchoring_check}}
    folder.mkdir(parents=True, exist_ok=True)
    if estimator is not None:
        save_model(estimator, folder / "model.skops")
    atomic_write(folder / "tasks.json", orjson.dumps(items, option=orjson.OPT_INDENT_2))
    atomic_write(plan, json.dumps(record, sort_keys=True))  # last: a plan always has its tasks
    record["imported"] = _push(config, folder, round_index) if items else 0
    record.update(_where(config))  # the project push made (or found): what the next round checks
    _append(log, record)
    return record


def loop_status(config: LoopConfig) -> list[dict[str, Any]]:
    """The round log, and (when the project exists) how the labels and the audit score stand now."""
    _check(config)
    rounds = read_rounds(Path(config.output_dir) / "rounds.jsonl", config.project.name)
    exists = api.find_project(api.connect(resolve_connection(config.studio)), config.project.name) is not None
    now = None
    if exists:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        now = _evaluate(config, Path(config.output_dir) / "status" / stamp, True, len(rounds))["record"]
    print_rounds(rounds, now)
    return rounds + ([{"round": "now", **now}] if now else [])


def run_from_config(cfg: Any) -> Any:
    config = to_dataclass(cfg, LoopConfig)
    if config.action == "status":
        return loop_status(config)
    record = loop_next(config)
    print_rounds([record], None, title=f"round {record['round']} pushed")
    return record
