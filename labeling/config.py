"""Structured config schemas of the labeling stages, registered in Hydra's ConfigStore.

Each primary YAML in `configs/` starts with `defaults: [<stage>_schema, _self_]`, so a key
that is not in the dataclass below fails at start-up instead of being silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, ValidationError

from labeling.errors import ConfigError

__all__ = ["IngestConfig", "register", "to_dataclass"]


@dataclass
class IngestConfig:
    input: str = MISSING
    output_dir: str = MISSING
    # auto: detect per article; any ISO 639-1 code forces it for the whole run
    lang: str = "auto"
    # languages the detector chooses among (ISO 639-1); more languages cost memory and time
    detect_languages: list[str] = field(
        default_factory=lambda: ["en", "fr", "de", "es", "it", "pt", "nl", "ar", "bg", "ru", "pl", "tr"]
    )
    strict: bool = False
    # 0: one process per core when the input is large, 1: single process
    workers: int = 0
    # an article longer than this (characters) is skipped as not-an-article
    max_article_chars: int = 1_000_000
    # a sentence seen in at least this many distinct articles is flagged as boilerplate
    boilerplate_min_articles: int = 3
    # auto: a progress bar only on an interactive terminal; always; never
    progress: str = "auto"
    # optional sidecar of reference labels (JSONL: file, text, label) matched to the sentences
    reference: str | None = None


def _schemas() -> dict[str, type]:
    from labeling.demo import DemoConfig

    return {"ingest_schema": IngestConfig, "demo_schema": DemoConfig}


def register() -> None:
    cs = ConfigStore.instance()
    for name, node in _schemas().items():
        cs.store(name=name, node=node)


def to_dataclass(cfg: DictConfig, schema: type[Any]) -> Any:
    """Turn a composed config into its dataclass, naming a missing required setting in one line."""
    try:
        obj = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"missing required setting '{key}': pass {key}=... on the command line") from exc
    except ValidationError as exc:
        raise ConfigError(" ".join(str(exc).split()).split("full_key:")[0].strip()) from exc
    if not isinstance(obj, schema):
        raise ConfigError(f"config does not match {schema.__name__}")
    return obj
