"""The `srcrel` console script: `srcrel STAGE key=value ...`.

Each stage is a Hydra app over one primary config in `configs/` (`configs/ingest.yaml`, ...),
validated against a structured schema. This module only dispatches: it turns argv into a Hydra
call, and a SrcrelError into one line on stderr and exit code 1. The work is done by plain
functions that take a config dataclass (`labeling.ingest.run_ingest`, ...).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labeling.errors import ConfigError, SrcrelError

__all__ = ["CONFIG_DIR", "STAGES", "compose_stage_config", "main", "register_configs"]

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class Stage:
    config_name: str
    runner: str  # "module:function", imported lazily so `srcrel --help` stays fast
    summary: str


STAGES: dict[str, Stage] = {
    "ingest": Stage("ingest", "labeling.ingest:run_from_config", "articles -> sentences.jsonl, tasks.json"),
    "studio": Stage("studio", "labeling.server:run_from_config", "up | down | status of the local Label Studio"),
    "push": Stage("push", "labeling.push:run_from_config", "ingest output -> Label Studio project (idempotent)"),
    "simulate": Stage("simulate", "labeling.simulate_campaign:run_from_config",
                      "simulated annotators label a project through the API (demo, pipeline tests)"),
    "pull": Stage("pull", "labeling.pull:run_from_config", "Label Studio project -> raw export + sidecar"),
    "train": Stage("train", "training.train:run_from_config",
                   "dataset -> baseline model, metrics.json, model card, plots"),
    "evaluate": Stage("evaluate", "training.evaluate:run_from_config",
                      "trained run + any dataset/TSV -> metrics.json"),
    "report": Stage("report", "training.report:run_from_config", "compare runs in one table + PNG"),
    "build": Stage("build", "labeling.build:run_from_config",
                   "Label Studio export -> agreement, aggregation, dataset, card"),
    "adjudicate": Stage("adjudicate", "labeling.adjudication_campaign:run_from_config",
                        "push | pull: adjudication queue <-> a Label Studio project"),
    "demo": Stage("demo", "labeling.demo:run_from_config", "the whole workflow on the bundled example corpus"),
}

# stages whose first bare word is a setting: `srcrel studio up` means `srcrel studio action=up`
_ACTION_STAGES = {"studio": "action", "adjudicate": "action"}


def register_configs() -> None:
    """Put every structured schema in Hydra's ConfigStore (idempotent)."""
    from labeling import config as labeling_config

    labeling_config.register()
    try:
        from training import config as training_config
    except ImportError:  # training side not installed in this tree
        return
    training_config.register()


def _usage() -> str:
    width = max(len(name) for name in STAGES)
    lines = ["usage: srcrel STAGE [key=value ...] [--help] [--cfg job] [-m]", "", "stages:"]
    lines += [f"  {name:<{width}}  {stage.summary}" for name, stage in STAGES.items()]
    lines += ["", "`srcrel STAGE --help` lists a stage's settings."]
    return "\n".join(lines)


def compose_stage_config(stage: str, overrides: list[str]) -> Any:
    """Compose a stage's config the way the CLI does, for tests and for checking overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_configs()
    if GlobalHydra.instance().is_initialized():  # inside a running stage (the demo): same config dir
        return compose(config_name=STAGES[stage].config_name, overrides=overrides)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=STAGES[stage].config_name, overrides=overrides)


def _check_overrides(stage: str, args: list[str]) -> None:
    """Fail fast, in one line, on a misspelled key or a bad value (Hydra prints a screenful)."""
    if any(a in ("-m", "--multirun") for a in args):
        return  # sweeps are checked by Hydra per job
    if any(a.startswith("-") for a in args):
        return  # --help, --cfg, --info: let Hydra answer
    overrides = [a for a in args if not a.startswith("hydra")]
    try:
        compose_stage_config(stage, overrides)
    except Exception as exc:  # Hydra raises several unrelated types here
        raise ConfigError(_one_line_config_error(stage, exc)) from exc


def _one_line_config_error(stage: str, exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    for marker in ("full_key:", "object_type="):
        text = text.split(marker)[0].strip()
    return f"{text} (see `srcrel {stage} --help` for the settings and their types)"


def _resolve(runner: str) -> Callable[[Any], Any]:
    module_name, func_name = runner.split(":")
    return getattr(importlib.import_module(module_name), func_name)  # type: ignore[no-any-return]


def fail(stage: str, exc: SrcrelError) -> None:
    print(f"srcrel {stage}: error: {exc}", file=sys.stderr)
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    if args[0] in ("-V", "--version", "version"):
        from labeling import __version__

        print(f"srcrel {__version__}")
        return
    name, rest = args[0], args[1:]
    if name in _ACTION_STAGES and rest and "=" not in rest[0] and not rest[0].startswith("-"):
        rest = [f"{_ACTION_STAGES[name]}={rest[0]}", *rest[1:]]
    if name not in STAGES:
        print(f"srcrel: error: unknown stage {name!r}; choose one of: {', '.join(STAGES)}",
              file=sys.stderr)
        sys.exit(1)
    stage = STAGES[name]
    try:
        _check_overrides(name, rest)
    except SrcrelError as exc:
        fail(name, exc)

    import hydra

    register_configs()
    runner = _resolve(stage.runner)

    @hydra.main(config_path=str(CONFIG_DIR), config_name=stage.config_name, version_base="1.3")
    def app(cfg: Any) -> Any:
        try:
            return runner(cfg)
        except SrcrelError as exc:
            fail(name, exc)

    sys.argv = [f"srcrel-{name}", *rest]
    app()


if __name__ == "__main__":
    main()
