"""`srcrel adjudicate push|pull`: the Label Studio round trip of the sentences a human should settle.

push: the sentences of DIR/adjudication_queue.csv (or DIR/label_issues.csv, ranked) go to the
      project NAME-adjudication, each with its context and the earlier answers shown read-only
      ("annotator 3: opinion · annotator 4: sourced · aggregate (majority): tie"); idempotent
      through push's ledger. The earlier answers come from the export the build read (tied
      sentences are not in the dataset), checked against DIR/report.json by sha256.
pull: a snapshot export of that project (saved beside FILE, as `srcrel pull` saves it) ->
      FILE, JSONL {sentence_id, label, adjudicator, created_at}: the latest non-cancelled answer
      per sentence, whoever gave it. `srcrel build ... adjudications=FILE` applies them.
      parse_export's rules hold: a skip, or an answer starred as ground truth, is no decision.
Re-pushing adds only sentences the project lacks; tasks already there keep their text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from labeling.annotations.export import ParsedExport, parse_export
from labeling.studio import api
from labeling.studio.config import AdjudicateConfig, AdjudicationSource, ProjectSettings, PullConfig
from labeling.studio.connection import resolve_connection
from labeling.studio.guidelines import read_guidelines
from labeling.studio.interface import build_adjudication_config
from labeling.studio.ledger import import_missing, open_ledger, reconcile, state_dir_for
from labeling.studio.lock import project_lock
from labeling.studio.pull import pull_export
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.io import atomic_write
from srcrel_core.labelset import load_label_set
from srcrel_core.progress import check_progress_mode, progress_bar
from srcrel_core.settings import to_dataclass

__all__ = ["AdjudicationPull", "AdjudicationPush", "describe_earlier_annotations",
           "latest_decisions", "project_title", "pull_adjudications", "push_adjudication",
           "read_candidates", "run_from_config"]

_FILES: dict[str, str] = {"queue": "adjudication_queue.csv", "label_issues": "label_issues.csv"}
_INTRO = ("<p><b>Adjudication.</b> Annotators disagreed on these sentences, or a classifier doubts "
          "their label. The earlier answers are shown under the sentence; decide the label by the "
          "guidelines below, not by the majority.</p>")


@dataclass(frozen=True)
class AdjudicationPush:
    project_id: int
    project_title: str
    project_created: bool
    url: str
    total: int  # sentences selected from the build
    imported: int  # tasks created by this run
    duplicates_removed: int


@dataclass(frozen=True)
class AdjudicationPull:
    output: Path
    export_path: Path
    decisions: int
    conflicts: int  # sentences on which adjudicators disagreed (the latest answer was kept)


def project_title(name: str, suffix: str) -> str:
    """NAME + suffix; a NAME that already ends in the suffix is the adjudication project itself."""
    return name if suffix and name.endswith(suffix) else name + suffix


def read_candidates(build_dir: Path, *, source: AdjudicationSource | str, limit: int) -> pd.DataFrame:
    """sentence_id, reason, suggested_label of the first `limit` (0: all) sentences of the list."""
    path = build_dir / _FILES[source]
    if not path.is_file():
        raise InputError(f"{path} not found: build= must be a `srcrel build` output dir")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    if frame.empty:
        return pd.DataFrame(columns=["sentence_id", "reason", "suggested_label"])
    if source == "queue":
        frame = frame.rename(columns={"task": "sentence_id"}).assign(suggested_label="")
    else:
        frame = frame.sort_values("rank", key=lambda r: r.astype(int), kind="stable").assign(
            reason="label_issue")
    if not {"sentence_id", "reason", "suggested_label"} <= set(frame.columns):
        raise InputError(f"{path}: missing columns (has {list(frame.columns)}); rebuild with `srcrel build`")
    frame = frame.drop_duplicates("sentence_id")
    return frame[["sentence_id", "reason", "suggested_label"]].head(limit or None).reset_index(drop=True)


def _read_report(build_dir: Path) -> dict[str, Any]:
    path = build_dir / "report.json"
    if not path.is_file():
        raise InputError(f"{path} not found: build= must be a `srcrel build` output dir")
    try:
        report = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc}); re-run `srcrel build`") from exc
    if not isinstance(report, dict) or not isinstance(report.get("labels"), list):
        raise InputError(f"{path}: not a `srcrel build` report (a JSON object with `labels`, `export`, "
                         "...); build= must be a `srcrel build` output dir")
    return report


def _read_export(build_dir: Path, report: dict[str, Any], export: str | None,
                 labels: tuple[str, ...]) -> ParsedExport:
    """The export the build read: EXPORT if given, else the file report.json names, looked for
    beside the build dir and in the working dir; its sha256 must match the report's."""
    named, sha = report["export"]["file"], report["export"]["sha256"]
    candidates = [Path(export)] if export else [build_dir.parent / named, Path(named)]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise InputError(f"export {named} (read by the build in {build_dir}) not found at "
                         f"{', '.join(map(str, candidates))}: pass export=PATH to it")
    parsed = parse_export(path, label_names=labels)
    if parsed.sha256 != sha:
        raise InputError(f"{path} (sha256 {parsed.sha256[:12]}…) is not the export the build in "
                         f"{build_dir} read ({named}, {sha[:12]}…): pass export=PATH to that file")
    return parsed


def _read_aggregate(build_dir: Path, labels: tuple[str, ...]) -> pd.DataFrame:
    """sentence_id -> label (name), label_source of the built dataset (every split)."""
    parts = sorted((build_dir / "parquet").glob("*.parquet"))
    if not parts:
        raise InputError(f"{build_dir / 'parquet'} holds no parquet file: rebuild with `srcrel build`")
    frame = pd.concat([pd.read_parquet(p, columns=["sentence_id", "label", "label_source"])
                       for p in parts], ignore_index=True)
    names = pd.Series(labels, dtype=object)
    return frame.assign(label=names.reindex(frame["label"].to_numpy()).to_numpy()).set_index("sentence_id")


def describe_earlier_annotations(candidates: pd.DataFrame, annotations: pd.DataFrame,
                                 aggregate: pd.DataFrame, *, method: str) -> pd.Series:
    """One line per sentence, e.g. "annotator 3: opinion · annotator 4: sourced · aggregate
    (dawid_skene): opinion"; annotations: the long table (task, worker, label, annotation_id)."""
    table = annotations[annotations["task"].isin(candidates["sentence_id"])]
    table = table.astype({"task": str, "worker": str, "label": str}).sort_values(
        ["task", "annotation_id"], kind="stable")
    answers = {task: [f"annotator {w}: {lab}" for w, lab in zip(g["worker"], g["label"])]
               for task, g in table.groupby("task", sort=False)}
    lines = {}
    for sid, suggested in zip(candidates["sentence_id"], candidates["suggested_label"]):
        parts = list(answers.get(sid, ["no earlier annotation"]))
        if sid not in aggregate.index:
            parts.append(f"aggregate ({method}): tie")
        else:
            label, source = aggregate.at[sid, "label"], aggregate.at[sid, "label_source"]
            kind = {"control": "control answer", "adjudicated": "earlier adjudication"}.get(
                source, f"aggregate ({source})")
            parts.append(f"{kind}: {label}")
        if suggested:
            parts.append(f"classifier suggests: {suggested}")
        lines[sid] = " · ".join(parts)
    return pd.Series(lines, dtype=object, name="earlier_annotations")


def _check(config: AdjudicateConfig) -> None:
    if config.action == "push" and not config.build:
        raise ConfigError("adjudicate push needs build=DIR (a `srcrel build` output dir)")
    if config.action == "pull" and not config.output:
        raise ConfigError("adjudicate pull needs output=FILE (JSONL of decisions, for build adjudications=)")
    if config.limit < 0 or config.chunk_size < 1:
        raise ConfigError("limit must be >= 0 (0: all) and chunk_size >= 1")
    check_progress_mode(config.progress)


def push_adjudication(config: AdjudicateConfig) -> AdjudicationPush:
    _check(config)
    build_dir = Path(config.build)
    report = _read_report(build_dir)
    label_set = load_label_set(config.label_set)
    if tuple(report["labels"]) != label_set.names:
        raise ConfigError(f"label_set={config.label_set} has {list(label_set.names)}, the build in "
                          f"{build_dir} used {report['labels']}: pass the build's label_set")
    candidates = read_candidates(build_dir, source=config.source, limit=config.limit)
    parsed = _read_export(build_dir, report, config.export, label_set.names)
    unknown = sorted(set(candidates["sentence_id"]) - set(parsed.tasks.index))
    if unknown:
        raise InputError(f"{len(unknown)} sentence(s) of {build_dir / _FILES[config.source]} are not in "
                         f"{parsed.path} (first {unknown[0]!r}): pass export= the file the build read")
    earlier = describe_earlier_annotations(candidates, parsed.annotations,
                                           _read_aggregate(build_dir, label_set.names),
                                           method=report["aggregation"]["method"])
    version, guidelines = read_guidelines(Path(config.guidelines))
    batch = str(report["dataset"]["fingerprint"])[:12]
    payloads = {}
    for sid, reason in zip(candidates["sentence_id"], candidates["reason"]):
        task = parsed.tasks.loc[sid]
        payloads[sid] = {"data": {  # LS rejects a missing $variable: empty context is ""
            "sentence_id": sid, "article_id": task["article_id"], "lang": task["lang"],
            "sentence": task["text"], "prev_sentence": task["prev_text"] or "",
            "next_sentence": task["next_text"] or "", "title": task["title"] or "",
            "earlier_annotations": earlier[sid], "adjudication_reason": reason},
            "meta": {"guidelines_version": version, "srcrel_batch": batch}}

    title = project_title(config.project.name, config.suffix)
    conn = resolve_connection(config.studio)
    client = api.connect(conn)
    with project_lock(client, title, wait=600.0, stale_after=21_600.0):  # as push: one at a time
        existed = api.find_project(client, title) is not None
        project = api.ensure_project(
            client, title, label_config=build_adjudication_config(label_set), instructions=_INTRO + guidelines,
            description=f"srcrel adjudication label_set={label_set.name} guidelines_version={version}",
            maximum_annotations=config.project.maximum_annotations,
            show_skip_button=config.project.show_skip_button)
        ledger = open_ledger(state_dir_for(config.state_dir, title) / "ledger.tsv", url=conn.url,
                             project_id=project.id)
        removed = reconcile(client, ledger)
        missing = sum(1 for sid in payloads if sid not in ledger.tasks)
        with progress_bar("importing chunks", total=-(-missing // config.chunk_size),
                          mode=config.progress) as advance:
            imported = import_missing(client, ledger, payloads, chunk_size=config.chunk_size,
                                      timeout=config.timeout, retries=config.retries, advance=advance)
        removed += reconcile(client, ledger)
    return AdjudicationPush(project_id=project.id, project_title=title, project_created=not existed,
                            url=conn.url, total=len(payloads), imported=imported, duplicates_removed=removed)


def latest_decisions(annotations: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(sentence_id, label, adjudicator, created_at of each sentence's latest answer; number of
    sentences whose adjudicators disagreed). annotations: parse_export's long table."""
    table = annotations.astype({"task": str, "worker": str, "label": str}).sort_values(
        ["created_at", "annotation_id"], kind="stable", na_position="first")
    conflicts = int((table.groupby("task")["label"].nunique() > 1).sum())
    latest = table.drop_duplicates("task", keep="last").sort_values("task")
    created = [t.isoformat() if pd.notna(t) else "" for t in latest["created_at"]]
    return pd.DataFrame({"sentence_id": latest["task"].to_numpy(), "label": latest["label"].to_numpy(),
                         "adjudicator": latest["worker"].to_numpy(), "created_at": created}), conflicts


def pull_adjudications(config: AdjudicateConfig) -> AdjudicationPull:
    _check(config)
    label_set = load_label_set(config.label_set)
    output = Path(config.output)
    pulled = pull_export(PullConfig(project=ProjectSettings(name=project_title(config.project.name, config.suffix)),
                                    output_dir=str(output.parent), only_with_annotations=True,
                                    timeout=config.timeout, studio=config.studio))
    parsed = parse_export(pulled.export_path, label_names=label_set.names)
    decisions, conflicts = latest_decisions(parsed.annotations)
    atomic_write(output, b"".join(orjson.dumps(row) + b"\n" for row in decisions.to_dict("records")))
    return AdjudicationPull(output=output, export_path=pulled.export_path, decisions=len(decisions),
                            conflicts=conflicts)


def run_from_config(cfg: Any) -> None:
    config = to_dataclass(cfg, AdjudicateConfig)
    _check(config)
    if config.action == "push":
        pushed = push_adjudication(config)
        verb = "created" if pushed.project_created else "updated"
        print(f"project {pushed.project_title!r} ({pushed.project_id}) {verb} at "
              f"{pushed.url}/projects/{pushed.project_id}: {pushed.imported} of {pushed.total} "
              "sentence(s) imported, the rest already there")
        return
    pulled = pull_adjudications(config)
    print(f"{pulled.decisions} decision(s) -> {pulled.output} (raw export {pulled.export_path.name}); "
          f"pass it to `srcrel build ... adjudications={pulled.output}`")
    if pulled.conflicts:
        print(f"{pulled.conflicts} sentence(s) had disagreeing adjudicators: the latest answer was kept")
