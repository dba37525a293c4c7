"""Data for who-is-the-source models: articles with their source spans, and their sentences.

Two inputs give the same thing:
- an attribution JSONL (srcrel_core/attributions.py; PolNeAR's file, PARC converted to it, or a
  srcrel build's `attributions.jsonl`): each article is split into sentences by srcrel's own
  segmenter, and a source is given to the sentence it lies in. A source crossing a sentence
  boundary cannot be predicted by a sentence model: it stays in the article's reference (the
  evaluation counts it as missed) and is counted (`crossing`). With several annotators of one
  article (PolNeAR's 18 multi-annotated ones) the first line is used. Splits: the file's
  `compartment` (dev = validation) when it has one, else a stable hash of the article id;
- a srcrel dataset (a `srcrel build` output dir or its dataset/): its rows are sentences already,
  with `source_span` (the aggregated spans); articles are rebuilt from the sentences.
Evaluation is per article: predicted spans of all its sentences, mapped to article offsets,
against the article's source spans (srcrel_core/spans.py)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from srcrel_core.attributions import read_attributions
from srcrel_core.errors import InputError
from srcrel_core.spans import Span, place_sentences

__all__ = ["SpanArticle", "SpanData", "load_span_data"]


@dataclass
class SpanArticle:
    article: str
    split: str
    text: str
    lang: str
    sources: list[Span]  # article offsets: the reference
    sentences: list[tuple[int, int]] = field(default_factory=list)  # (start, end) into text
    sentence_sources: list[list[tuple[int, int]]] = field(default_factory=list)  # per sentence, sentence offsets


@dataclass(frozen=True)
class SpanData:
    articles: list[SpanArticle]
    source: str  # what was read: "attributions" or "dataset"
    counts: dict[str, int]

    def split(self, *names: str) -> list[SpanArticle]:
        return [a for a in self.articles if a.split in names]


def _hash_split(article: str, seed: int) -> str:
    bucket = int(hashlib.sha256(f"{seed}:{article}".encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def _place(article: SpanArticle, counts: Counter[str]) -> None:
    """Give each reference source to the sentence that holds all its fragments."""
    article.sentence_sources = [[] for _ in article.sentences]
    for span in article.sources:
        home = next((i for i, (a, b) in enumerate(article.sentences) if all(a <= s and e <= b for s, e in span)), None)
        if home is None:
            counts["crossing"] += 1
            continue
        a = article.sentences[home][0]
        article.sentence_sources[home] += [(s - a, e - a) for s, e in span]  # fragments become spans of their own


def load_span_data(path: str | Path, *, lang: str = "en", seed: int = 0, unsplit: str = "hash") -> SpanData:
    """Articles with source spans from an attribution JSONL or a srcrel dataset; fails in one line.
    unsplit: where articles of a file without `compartment` go ("hash": train/validation/test by a
    stable hash, 80/10/10; a split name: all of them there, as `srcrel evaluate` wants)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".jsonl":
        return _attribution_data(path, lang=lang, seed=seed, unsplit=unsplit)
    for candidate in (path / "dataset", path):
        if (candidate / "dataset_dict.json").is_file():
            return _dataset_data(candidate)
    raise InputError(f"dataset={path}: not an attribution JSONL (FILE.jsonl) nor a srcrel dataset (a `srcrel build` "
                     "output dir); pass one of those for task=source_span")


def _attribution_data(path: Path, *, lang: str, seed: int, unsplit: str) -> SpanData:
    from labeling.ingest.segment import segment_text

    counts: Counter[str] = Counter()
    seen: set[str] = set()
    articles = []
    for doc in read_attributions(path):
        counts["lines"] += 1
        if doc.article in seen:
            counts["extra_annotator_lines"] += 1
            continue
        seen.add(doc.article)
        split = {"train": "train", "dev": "validation", "validation": "validation", "test": "test"}.get(
            doc.compartment, "") or (_hash_split(doc.article, seed) if unsplit == "hash" else unsplit)
        article = SpanArticle(doc.article, split, doc.text, str(doc.extra.get("lang") or lang), doc.sources,
                              segment_text(doc.text, str(doc.extra.get("lang") or lang)))
        counts["sources"] += len(article.sources)
        _place(article, counts)
        articles.append(article)
    counts["articles"] = len(articles)
    return SpanData(articles, "attributions", dict(counts))


def _dataset_data(folder: Path) -> SpanData:
    from datasets import load_from_disk

    dataset = load_from_disk(str(folder))
    counts: Counter[str] = Counter()
    articles = []
    for split in dataset:
        part = dataset[split]
        if "source_span" not in part.column_names:
            raise InputError(f"dataset={folder}: has no source_span column; rebuild it with this srcrel's `srcrel build`")
        rows = sorted(part.select_columns(["article_id", "sentence_id", "text", "lang", "source_span"]).to_list(),
                      key=lambda r: (r["article_id"], r["sentence_id"]))
        by_article: dict[str, list[dict]] = {}
        for row in rows:
            by_article.setdefault(row["article_id"], []).append(row)
        for article_id, sentences in by_article.items():
            text, offsets = place_sentences([row["text"] for row in sentences])
            bounds = [(at, at + len(row["text"])) for at, row in zip(offsets, sentences, strict=True)]
            spans = [[(s["start"], s["end"]) for s in row["source_span"]] for row in sentences]
            sources: list[Span] = [((at + s, at + e),) for at, mine in zip(offsets, spans, strict=True) for s, e in mine]
            counts["sources"] += len(sources)
            articles.append(SpanArticle(article_id, split, text, sentences[0]["lang"] or "en", sources, bounds, spans))
    counts["articles"] = len(articles)
    return SpanData(articles, "dataset", dict(counts))
