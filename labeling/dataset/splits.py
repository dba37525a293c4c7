"""The dataset: one row per labelled sentence, split by article, as a datasets.DatasetDict.

Rows are built as one Arrow table (no per-row Python objects), split with StratifiedGroupKFold
grouped by article, and fingerprinted from their Arrow IPC bytes, so the same export and config
always give the same fingerprint.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from datasets import Dataset, DatasetDict, DatasetInfo, NamedSplit
from datasets.table import InMemoryTable
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from srcrel_core.errors import DatasetError
from srcrel_core.schema import SPLITS, TEXT_COLUMNS, dataset_features

__all__ = [
    "SPLITS",
    "BuiltDataset",
    "assign_splits",
    "build_dataset",
    "check_no_leak",
]



@dataclass(frozen=True)
class BuiltDataset:
    dataset: DatasetDict
    fingerprint: str
    split_of: pd.Series  # sentence_id -> split name
    split_note: str = ""  # said on the card and by `build` when the splits are not by article


def assign_splits(codes: np.ndarray, groups: np.ndarray, *, validation: float, test: float,
                  seed: int, max_exact_articles: int = 5_000) -> np.ndarray:
    """Split name per row: whole articles per split, label mix balanced as far as grouping allows.

    The folds are 1/n of the articles with n = round(1 / min(validation, test)); test takes
    round(test * n) folds, validation the next round(validation * n), train the rest. Up to
    `max_exact_articles` articles StratifiedGroupKFold balances sentence labels; above, its
    per-article loop is slow (8 s for 12k articles) and StratifiedKFold over articles, stratified
    by each article's most frequent label, gives the same balance on that many articles.
    """
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise DatasetError(f"splits.validation={validation} and splits.test={test} must be in (0, 1) "
                           "and sum below 1; e.g. splits.validation=0.1 splits.test=0.1")
    articles, article_of = np.unique(groups, return_inverse=True)
    if len(articles) < 3:
        return _pilot_splits(len(codes), len(articles), validation=validation, test=test, seed=seed)
    n_folds = min(max(3, round(1 / min(validation, test))), len(articles))
    n_test = max(1, round(test * n_folds))
    n_val = max(1, min(round(validation * n_folds), n_folds - n_test - 1))
    fold: np.ndarray = np.empty(len(codes), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than n_splits"
        if len(articles) <= max_exact_articles:
            if (np.bincount(codes[codes >= 0]) < n_folds).all():
                codes = np.zeros_like(codes)  # too few sentences per label to stratify: group only
            splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            for number, (_, held_out) in enumerate(splitter.split(codes, codes, groups)):
                fold[held_out] = number
        else:
            per_article = np.zeros((len(articles), int(codes.max()) + 1), dtype=np.int64)
            np.add.at(per_article, (article_of, codes), 1)
            dominant = per_article.argmax(axis=1)
            if (np.bincount(dominant) < n_folds).all():
                dominant = np.zeros_like(dominant)
            article_fold = np.empty(len(articles), dtype=np.int64)
            splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            for number, (_, held_out) in enumerate(splitter.split(dominant, dominant)):
                article_fold[held_out] = number
            fold = article_fold[article_of]
    return np.where(fold < n_test, "test", np.where(fold < n_test + n_val, "validation", "train"))


def pilot_note(n_articles: int) -> str:
    return (f"pilot: only {n_articles} article(s), so the splits are by sentence, not by article: "
            "sentences of one article are in several splits, and validation and test scores are "
            "optimistic; label 3 articles or more for splits by article")


def _pilot_splits(n: int, n_articles: int, *, validation: float, test: float, seed: int) -> np.ndarray:
    """A pilot of one or two articles still builds: sentences shuffled into the three splits in
    the configured proportions (at least one each); `pilot_note` says what that costs."""
    if n < 3:
        raise DatasetError(f"only {n} labelled sentence(s) in {n_articles} article(s): train, validation "
                           "and test need at least one each; label more")
    n_test = max(1, round(test * n))
    n_val = max(1, min(round(validation * n), n - n_test - 1))
    order = np.random.default_rng(seed).permutation(n)
    split = np.full(n, "train", dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test:n_test + n_val]] = "validation"
    return split.astype(str)


def check_no_leak(split: np.ndarray, groups: np.ndarray) -> None:
    """Raise DatasetError if any article has sentences in two splits."""
    frame = pd.DataFrame({"split": split, "article": groups})
    spread = frame.groupby("article")["split"].nunique()
    leaked = spread.index[spread > 1].tolist()
    if leaked:
        raise DatasetError(f"article(s) {leaked[:5]} appear in more than one split; the split "
                           "assignment is broken, report it with the export and config used")


def _annotation_lists(annotations: pd.DataFrame, order: pd.Index) -> pa.Array:
    """One list of {worker, label, lead_time, origin, source_spans, source_outside} per row of
    `order` (sentence ids); `source_spans` are the kept, trimmed spans (spans.py), [] when none."""
    position = order.get_indexer(annotations["task"])
    kept = annotations[position >= 0].assign(_pos=position[position >= 0])
    kept = kept.sort_values(["_pos", "worker"], kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(kept["_pos"], minlength=len(order)))])
    spans = kept["kept_spans"] if "kept_spans" in kept else pd.Series([[]] * len(kept))
    outside = kept["source_outside"] if "source_outside" in kept else pd.Series([False] * len(kept))
    values = pa.StructArray.from_arrays(
        [pa.array(kept["worker"].astype(str).to_numpy(), pa.string()),
         pa.array(kept["label"].astype(str).to_numpy(), pa.string()),
         pa.array(kept["lead_time"].to_numpy(dtype="float32"), pa.float32(), from_pandas=True),
         pa.array(kept["origin"].astype(str).to_numpy(), pa.string()),
         pa.array([s if isinstance(s, list) else [] for s in spans],
                  pa.list_(pa.struct([("start", pa.int32()), ("end", pa.int32()), ("text", pa.string())]))),
         pa.array(outside.fillna(False).astype(bool).to_numpy(), pa.bool_())],
        names=["worker", "label", "lead_time", "origin", "source_spans", "source_outside"])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _source_columns(items: pd.DataFrame) -> dict[str, pa.Array]:
    """The aggregated source span of each sentence ([] and false when it has none)."""
    spans = items["source_span"] if "source_span" in items else pd.Series([[]] * len(items))
    outside = items["source_outside"] if "source_outside" in items else pd.Series([False] * len(items))
    span_type = pa.struct([("start", pa.int32()), ("end", pa.int32()), ("text", pa.string()),
                           ("article_start", pa.int32()), ("article_end", pa.int32())])
    return {"source_span": pa.array([s if isinstance(s, list) else [] for s in spans], pa.list_(span_type)),
            "source_outside": pa.array(outside.fillna(False).astype(bool).to_numpy(), pa.bool_())}


def _loop_columns(items: pd.DataFrame) -> dict[str, pa.Array]:
    """The loop's record of each sentence (empty task fields for sentences it did not push)."""
    def text(name: str) -> pd.Series:
        return items[name].fillna("").astype(str) if name in items else pd.Series([""] * len(items))
    rounds = pd.to_numeric(text("round").replace("", None), errors="coerce")
    return {"round": pa.array(rounds.to_numpy(dtype="float64"), pa.float64(), from_pandas=True).cast(pa.int32()),
            "audit": pa.array((text("audit") == "true").to_numpy(), pa.bool_()),
            "strategy": pa.array(text("strategy").to_numpy(), pa.string()),
            "prefilled": pa.array((text("prefilled") == "true").to_numpy(), pa.bool_()),
            "model_label": pa.array(text("model_label").to_numpy(), pa.string())}


def _fingerprint(tables: dict[str, pa.Table]) -> str:
    digest = hashlib.sha256()

    class _Sink:
        closed = False

        def write(self, data: Any) -> int:
            digest.update(data)
            return len(data)

        def flush(self) -> None:
            pass

    for name, table in tables.items():
        digest.update(name.encode())
        sink = pa.PythonFile(_Sink(), mode="w")
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 16)
    return digest.hexdigest()[:16]


def build_dataset(items: pd.DataFrame, annotations: pd.DataFrame, *, label_names: Sequence[str],
                  validation: float = 0.1, test: float = 0.1, seed: int = 0) -> BuiltDataset:
    """items: one row per sentence (the text columns, label, label_source, soft_label, agreement)."""
    missing = items["article_id"].isna() | (items["article_id"].astype(str) == "")
    if missing.any():
        example = items.loc[missing, "sentence_id"].iloc[0]
        raise DatasetError(f"{int(missing.sum())} sentence(s) have no article_id (e.g. {example!r}); "
                           "export tasks pushed by `srcrel push`, or pass sentences=PATH to the "
                           "ingest sentences.jsonl")
    items = items.sort_values("sentence_id", kind="stable").reset_index(drop=True)
    features = dataset_features(label_names)
    codes = pd.Categorical(items["label"], categories=list(label_names)).codes.astype(np.int64)
    groups = items["article_id"].astype(str).to_numpy()
    split = assign_splits(codes, groups, validation=validation, test=test, seed=seed)
    n_articles = len(np.unique(groups))
    if n_articles >= 3:
        check_no_leak(split, groups)
    soft = np.stack(items["soft_label"].to_numpy()).astype(np.float32)
    columns = {name: pa.array(items[name].fillna("").astype(str).to_numpy(), pa.string())
               for name in TEXT_COLUMNS}
    columns |= {
        "label": pa.array(codes, pa.int64()),
        "label_source": pa.array(items["label_source"].astype(str).to_numpy(), pa.string()),
        "soft_label": pa.FixedSizeListArray.from_arrays(pa.array(soft.ravel()), soft.shape[1]).cast(
            pa.list_(pa.float32())),
        "annotations": _annotation_lists(annotations, pd.Index(items["sentence_id"])),
        "agreement": pa.array(items["agreement"].to_numpy(dtype="float32"), pa.float32()),
        **_loop_columns(items),
        **_source_columns(items),
    }
    table = pa.table(columns).cast(features.arrow_schema)
    tables = {name: table.filter(pa.array(split == name)).combine_chunks() for name in SPLITS}
    fingerprint = _fingerprint(tables)
    dataset = DatasetDict({
        name: Dataset(InMemoryTable(tables[name]), info=DatasetInfo(features=features),
                      split=NamedSplit(name), fingerprint=f"{fingerprint}-{name}")
        for name in SPLITS
    })
    return BuiltDataset(dataset, fingerprint,
                        pd.Series(split, index=items["sentence_id"].to_numpy(), name="split"),
                        pilot_note(n_articles) if n_articles < 3 else "")
