"""`srcrel ingest input=PATH output_dir=DIR`: articles in, sentence records and Label Studio tasks out.

Reads every file (in parallel when the input is large), detects each article's language, splits
it into sentences, drops exact duplicate articles, flags boilerplate sentences, and writes
`sentences.jsonl`, `articles.jsonl`, `tasks.json` and `manifest.json` together (atomically).
Ids are content-derived, so the same article always gets the same ids whatever else is in the input.
"""

from __future__ import annotations

import bisect
import codecs
import dataclasses
import hashlib
import logging
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from omegaconf import DictConfig

from labeling.ingest.config import IngestConfig
from labeling.ingest.language import UNDETERMINED, check_language_codes, detect_language
from labeling.ingest.read import (
    METADATA_FIELDS,
    Problem,
    RawArticle,
    SourceFile,
    discover_files,
    read_file,
)
from labeling.ingest.reference import load_reference, match_reference
from labeling.ingest.segment import segment_text, split_paragraphs
from labeling.ingest.summary import IngestResult, print_ingest_summary
from labeling.ingest.tasks import sentence_to_task
from srcrel_core import __version__
from srcrel_core.errors import ConfigError, InputError
from srcrel_core.io import check_output_folder, staged_output
from srcrel_core.labelset import load_label_set
from srcrel_core.progress import check_progress_mode, progress_bar
from srcrel_core.settings import plain_choices, to_dataclass

__all__ = ["IngestResult", "article_id_for", "run_from_config", "run_ingest", "sentence_id_for"]

log = logging.getLogger("srcrel.ingest")
# Below this much input, starting worker processes costs more than it saves.
_PARALLEL_MIN_BYTES = 4_000_000


@dataclass
class _Article:
    article_id: str
    raw: RawArticle
    lang: str
    lang_source: str
    spans: list[tuple[int, int]]


def article_id_for(text: str) -> str:
    return "a" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def sentence_id_for(article_id: str, text: str, occurrence: int) -> str:
    digest = hashlib.blake2b(f"{text}\x1f{occurrence}".encode(), digest_size=5).hexdigest()
    return f"{article_id}-{digest}"


def run_from_config(cfg: DictConfig) -> IngestResult:
    config = to_dataclass(cfg, IngestConfig)
    result = run_ingest(config)
    print_ingest_summary(result)
    return result


def run_ingest(config: IngestConfig) -> IngestResult:
    _check_config(config)
    # the reference labels are checked before any work, against the label set they must belong to
    reference_rows = (load_reference(Path(config.reference), label_names=load_label_set(config.label_set).names)
                      if config.reference else None)
    base, paths = discover_files(Path(config.input))
    if not paths:
        raise InputError(f"input={config.input}: the folder holds no file; put .txt/.md/.jsonl/.csv/.html articles in it")
    sources, articles = _read_all(paths, base, config)
    files_skipped = Counter(s.problems[0].kind for s in sources if s.rows == 0 and s.problems)
    problems = tuple(p for s in sources for p in s.problems)
    kept, dropped, extra_problems, duplicates = _select_articles(sources, articles)
    problems += tuple(extra_problems)
    for problem in problems:
        log.warning(problem.describe())
    articles_read = sum(s.rows for s in sources)
    if articles_read != len(kept) + sum(dropped.values()):
        raise AssertionError(f"article counts do not reconcile: {articles_read} != {len(kept)} + {dict(dropped)}")
    skipped = [p for p in problems if p.action == "skipped"]
    if config.strict and skipped:
        raise InputError(f"strict=true and {len(skipped)} item(s) were skipped (first: {skipped[0].describe()}); "
                         "nothing written: fix them or run without strict=true")
    if not kept:
        raise InputError(f"input={config.input}: no usable article ({len(problems)} problem(s), first: "
                         f"{problems[0].describe() if problems else 'none'}); nothing written")
    output_dir = Path(config.output_dir)
    with staged_output(output_dir, last=("manifest.json",)) as staging:
        stats = _write_sentences(kept, staging, min_articles=config.boilerplate_min_articles)
        _write_articles(kept, staging / "articles.jsonl")
        reference = (match_reference(Path(str(config.reference)), reference_rows, staging)
                     if reference_rows is not None else None)
        result = IngestResult(
            output_dir=output_dir,
            files_found=len(paths),
            files_read=len(paths) - sum(files_skipped.values()),
            files_skipped=dict(sorted(files_skipped.items())),
            articles_read=articles_read,
            articles_kept=len(kept),
            articles_dropped=dict(sorted(dropped.items())),
            sentences=stats["sentences"],
            sentences_by_lang=stats["by_lang"],
            boilerplate_sentences=stats["boilerplate"],
            problems=problems,
            reference=reference,
            encodings={s.path: s.encoding for s in sources if s.encoding},
        )
        _write_manifest(staging / "manifest.json", config, sources, result, duplicates)
    return result


def _check_config(config: IngestConfig) -> None:
    check_language_codes(config.detect_languages, setting="detect_languages")
    if config.lang != "auto":
        check_language_codes([config.lang], setting="lang")
    if config.workers < 0:
        raise ConfigError(f"workers={config.workers}: use 0 (automatic) or a positive number of processes")
    check_output_folder(Path(config.output_dir))
    if config.encoding != "auto":
        try:
            codecs.lookup(config.encoding)
        except LookupError:
            raise ConfigError(f"encoding={config.encoding}: not an encoding Python knows; use auto or a name "
                              "such as utf-8, latin-1, cp1252, utf-16") from None
    check_progress_mode(config.progress)
    if config.boilerplate_min_articles < 2:
        raise ConfigError("boilerplate_min_articles must be at least 2 (a sentence repeated in that many articles)")


def _process_file(args: tuple[Path, Path, IngestConfig]) -> tuple[SourceFile, list[tuple[str, str, list[tuple[int, int]]]]]:
    path, base, config = args
    source = read_file(path, base, max_article_chars=config.max_article_chars, encoding=config.encoding)
    candidates = tuple(config.detect_languages)
    out = []
    for article in source.articles:
        if article.lang:
            lang, how = article.lang, "input"
        elif config.lang != "auto":
            lang, how = config.lang, "config"
        else:
            lang, how = detect_language(article.text, candidates=candidates), "detected"
        spans = segment_text(article.text, "en" if lang == UNDETERMINED else lang)
        # separators such as "***" or a lone "…" are not sentences; counted, not labeled
        kept = [(a, b) for a, b in spans if _has_word(article.text[a:b])]
        out.append((lang, how, kept))
        source.fragments += len(spans) - len(kept)
    return source, out


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _read_all(paths: list[Path], base: Path, config: IngestConfig) -> tuple[list[SourceFile], list[list[tuple[str, str, list[tuple[int, int]]]]]]:
    jobs = [(p, base, config) for p in paths]
    total_bytes = sum(p.stat().st_size for p in paths if p.exists())
    workers = config.workers or (os.cpu_count() or 1)
    parallel = workers > 1 and len(paths) > 1 and (config.workers > 1 or total_bytes >= _PARALLEL_MIN_BYTES)
    sources, articles = [], []
    with progress_bar("reading", total=len(paths), mode=config.progress) as advance:
        if parallel:
            with multiprocessing.get_context("fork").Pool(min(workers, len(paths))) as pool:
                for source, result in pool.imap(_process_file, jobs, chunksize=1):
                    sources.append(source)
                    articles.append(result)
                    advance()
        else:
            for job in jobs:
                source, result = _process_file(job)
                sources.append(source)
                articles.append(result)
                advance()
    return sources, articles


def _select_articles(sources: list[SourceFile], results: list[list[tuple[str, str, list[tuple[int, int]]]]]) -> tuple[list[_Article], Counter[str], list[Problem], list[dict[str, Any]]]:
    kept: list[_Article] = []
    dropped: Counter[str] = Counter()
    problems: list[Problem] = []
    duplicates: list[dict[str, Any]] = []
    by_text: dict[str, _Article] = {}
    by_id: dict[str, _Article] = {}
    for source, result in zip(sources, results):
        if source.rows:
            for problem in source.problems:
                if problem.action == "skipped":
                    dropped[problem.kind] += 1
        for raw, (lang, how, spans) in zip(source.articles, result):
            text_key = article_id_for(raw.text)
            where = f"{raw.source}:{raw.line}" if raw.line else raw.source
            if text_key in by_text:
                first = by_text[text_key]
                dropped["duplicate"] += 1
                duplicates.append({"source": raw.source, "line": raw.line, "duplicate_of": first.article_id})
                problems.append(Problem(raw.source, raw.line, "duplicate",
                                        f"exact duplicate of article {first.article_id} ({first.raw.source}): kept once", "skipped"))
                continue
            article_id = raw.given_id or text_key
            if article_id in by_id:
                dropped["duplicate_id"] += 1
                problems.append(Problem(raw.source, raw.line, "duplicate_id",
                                        f"id {article_id!r} already used by {by_id[article_id].raw.source} for another text: "
                                        "give each article its own id", "skipped"))
                continue
            if not spans:
                dropped["no_sentence"] += 1
                problems.append(Problem(raw.source, raw.line, "no_sentence",
                                        f"{where} has no sentence after normalisation: add text or remove it", "skipped"))
                continue
            article = _Article(article_id, raw, lang, how, spans)
            by_text[text_key] = by_id[article_id] = article
            kept.append(article)
    return kept, dropped, problems, duplicates


def _sentence_key(text: str) -> int:
    return hash(" ".join(text.casefold().split()))


def _write_sentences(articles: list[_Article], staging: Path, *, min_articles: int) -> dict[str, Any]:
    seen_in: dict[int, int] = {}
    last_article: dict[int, int] = {}
    for n, article in enumerate(articles):
        for a, b in article.spans:
            key = _sentence_key(article.raw.text[a:b])
            if last_article.get(key) != n:
                last_article[key] = n
                seen_in[key] = seen_in.get(key, 0) + 1
    del last_article
    by_lang: Counter[str] = Counter()
    count = boilerplate = 0
    with open(staging / "sentences.jsonl", "wb") as sentences, open(staging / "tasks.json", "wb") as tasks:
        tasks.write(b"[")
        for article in articles:
            text, spans = article.raw.text, article.spans
            starts = [p_start for p_start, _ in split_paragraphs(text)]
            meta = {k: article.raw.metadata.get(k, "") for k in METADATA_FIELDS}
            occurrences: Counter[str] = Counter()
            for index, (a, b) in enumerate(spans):
                sentence = text[a:b]
                occurrences[sentence] += 1
                flagged = seen_in[_sentence_key(sentence)] >= min_articles
                record = {
                    "sentence_id": sentence_id_for(article.article_id, sentence, occurrences[sentence]),
                    "article_id": article.article_id,
                    "index": index,
                    # 0-based paragraph of the article (sentences never cross a paragraph break)
                    "paragraph": max(bisect.bisect_right(starts, a) - 1, 0),
                    "text": sentence,
                    "char_start": a,
                    "char_end": b,
                    "lang": article.lang,
                    "prev_text": text[spans[index - 1][0] : spans[index - 1][1]] if index else "",
                    "next_text": text[spans[index + 1][0] : spans[index + 1][1]] if index + 1 < len(spans) else "",
                    **meta,
                    "source": article.raw.source,
                    "boilerplate": flagged,
                }
                sentences.write(orjson.dumps(record) + b"\n")
                tasks.write((b",\n" if count else b"\n") + orjson.dumps(sentence_to_task(record)))
                count += 1
                boilerplate += flagged
                by_lang[article.lang] += 1
        tasks.write(b"\n]\n")
    return {"sentences": count, "boilerplate": boilerplate, "by_lang": dict(sorted(by_lang.items()))}


def _write_articles(articles: list[_Article], path: Path) -> None:
    with open(path, "wb") as out:
        for article in articles:
            record = {
                "article_id": article.article_id,
                "text": article.raw.text,
                "lang": article.lang,
                "lang_source": article.lang_source,
                "source": article.raw.source,
                "line": article.raw.line,
                **{k: article.raw.metadata.get(k, "") for k in METADATA_FIELDS},
                "sentences": len(article.spans),
            }
            out.write(orjson.dumps(record) + b"\n")


def _write_manifest(path: Path, config: IngestConfig, sources: list[SourceFile], result: IngestResult,
                    duplicates: list[dict[str, Any]]) -> None:
    files = [
        {"path": s.path, "format": s.format, "sha256": s.sha256, "bytes": s.size, "encoding": s.encoding or None,
         "status": "skipped" if s.rows == 0 and s.problems else "read",
         "rows": s.rows, "articles": len(s.articles)}
        for s in sources
    ]
    manifest = {
        "srcrel_version": __version__,
        "stage": "ingest",
        "config": plain_choices(dataclasses.asdict(config)),
        "counts": {
            "files_found": result.files_found,
            "files_read": result.files_read,
            "files_skipped": result.files_skipped,
            "articles_read": result.articles_read,
            "articles_kept": result.articles_kept,
            "articles_dropped": result.articles_dropped,
            "sentences": result.sentences,
            "sentences_by_lang": result.sentences_by_lang,
            "boilerplate_sentences": result.boilerplate_sentences,
            # pieces without a letter or digit ("***", a lone "…"): not sentences, not labeled
            "fragments_without_words": sum(s.fragments for s in sources),
        },
        "reference": result.reference,
        "files": files,
        "problems": [dataclasses.asdict(p) for p in result.problems],
        "duplicates": duplicates,
    }
    path.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
