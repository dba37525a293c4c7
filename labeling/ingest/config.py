"""The `srcrel ingest` settings, registered as `ingest_schema` (configs/ingest.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from srcrel_core.progress import ProgressMode
from srcrel_core.settings import register_schemas

__all__ = ["IngestConfig", "register"]


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
    # auto: byte-order mark, then UTF-8, then Western European (Latin-1/cp1252), then a detector's
    # guess with a warning; or a Python codec name (utf-8, latin-1, cp1252, utf-16...) for every file
    encoding: str = "auto"
    # 0: one process per core when the input is large, 1: single process
    workers: int = 0
    # an article longer than this (characters) is skipped as not-an-article
    max_article_chars: int = 1_000_000
    # a sentence seen in at least this many distinct articles is flagged as boilerplate
    boilerplate_min_articles: int = 3
    # auto: a progress bar only on an interactive terminal; always; never
    progress: ProgressMode = ProgressMode.auto
    # optional sidecar of reference labels (JSONL: file, text, label) matched to the sentences
    reference: str | None = None
    # the label set reference labels must belong to (configs/labels/<name>.yaml or a path)
    label_set: str = "default"

def register() -> None:
    register_schemas({"ingest_schema": IngestConfig})
