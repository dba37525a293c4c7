"""Load what a model trains or is scored on: a `srcrel build` dataset dir, or CheckThat TSVs.

Everything becomes the dataset contract's DatasetDict (splits train/validation/test, ClassLabel
`label`), then one pandas frame per split with label names as strings:

    >>> data = load_data("../shared/data/checkthat2025/english", labels="checkthat")
    >>> data.splits["test"].columns.tolist()[:4]
    ['sentence_id', 'article_id', 'text', 'prev_text']
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from datasets import ClassLabel, Dataset, DatasetDict, load_from_disk

from srcrel_core.errors import InputError
from srcrel_core.labelset import load_label_set
from srcrel_core.schema import MODEL_COLUMNS, dataset_features

__all__ = ["LoadedData", "load_checkthat", "load_data", "model_inputs", "read_checkthat_tsv"]

_TSV_SPLITS = {"train": "train", "dev": "validation", "dev_test": "test", "test": "test"}
_COLUMNS = list(MODEL_COLUMNS)


@dataclass(frozen=True)
class LoadedData:
    splits: dict[str, pd.DataFrame]  # split name -> rows with _COLUMNS, label as its name
    label_names: tuple[str, ...]
    provenance: dict[str, Any] = field(default_factory=dict)  # fingerprint, export sha, guidelines


def read_checkthat_tsv(path: Path, *, label_names: tuple[str, ...], from_run: bool = False) -> pd.DataFrame:
    """One CheckThat TSV (sentence_id, sentence, label[, solved_conflict]) as contract rows."""
    try:
        raw = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False,
                          encoding="utf-8")
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: the file is empty; a CheckThat-style TSV has a header "
                         "sentence_id<TAB>sentence<TAB>label and one row per sentence") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}); save the TSV as UTF-8") from exc
    except (OSError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"{path}: not a readable TSV ({reason}); one tab-separated row per sentence") from exc
    missing = {"sentence_id", "sentence", "label"} - set(raw.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {sorted(missing)}; a CheckThat-style TSV has "
                         "a header sentence_id<TAB>sentence<TAB>label")
    unknown = sorted(set(raw["label"]) - set(label_names))
    if unknown:
        fix = ("the run was trained on these labels: evaluate it on data labelled with them, or train a run "
               "on this data (srcrel train label_set=NAME)" if from_run else
               "pass label_set=NAME with a label set that has them")
        raise InputError(f"{path}: label(s) {unknown} are not in the label set {list(label_names)}; {fix}")
    lang = re.search(r"_([a-z]{2})\.tsv$", path.name)
    return pd.DataFrame({
        "sentence_id": raw["sentence_id"], "article_id": raw["sentence_id"],  # no article ids in TSVs
        "text": raw["sentence"], "prev_text": "", "next_text": "",
        "lang": lang.group(1) if lang else "", "label": raw["label"],
    })


def _tsv_split(path: Path) -> str | None:
    stem = re.sub(r"_[a-z]{2}$", "", path.stem)
    return _TSV_SPLITS.get(stem)


def load_checkthat(folder: Path, *, labels: str = "checkthat",
                   label_names: Sequence[str] | None = None) -> DatasetDict:
    """A CheckThat language folder (train/dev/dev_test TSVs) as the dataset contract's DatasetDict.

    Labels come from the label set `labels`, or `label_names` when given (a trained run's labels)."""
    names = tuple(label_names) if label_names else load_label_set(labels).names
    files = {}
    for path in sorted(folder.glob("*.tsv")):
        split = _tsv_split(path)
        if split and not (split == "test" and "test" in files):  # dev_test wins over test
            files[split] = path
    if not files:
        raise InputError(f"{folder}: no train_xx.tsv / dev_xx.tsv / dev_test_xx.tsv files found")
    features = dataset_features(names, text_columns=[c for c in _COLUMNS if c != "label"], annotations=False)
    out = {}
    for split, path in files.items():
        frame = read_checkthat_tsv(path, label_names=names, from_run=bool(label_names))
        frame["label_source"] = "gold"
        frame["soft_label"] = [[float(n == label) for n in names] for label in frame["label"]]
        frame["agreement"] = 1.0
        out[split] = Dataset.from_pandas(frame, features=features, preserve_index=False)
    return DatasetDict(out)


def _frames(dataset: DatasetDict) -> tuple[dict[str, pd.DataFrame], tuple[str, ...]]:
    first = next(iter(dataset.values()))
    label_feature = first.features.get("label")
    if not isinstance(label_feature, ClassLabel):
        raise InputError("the dataset's `label` column is not a ClassLabel; rebuild it with srcrel build")
    names = tuple(label_feature.names)
    frames = {}
    for split, ds in dataset.items():
        extra = ["audit"] if "audit" in ds.column_names else []  # datasets of `srcrel loop` projects
        frame = ds.select_columns([c for c in _COLUMNS + extra if c in ds.column_names]).to_pandas()
        for column in _COLUMNS:
            if column not in frame:
                frame[column] = ""
        frame["label"] = [names[i] for i in frame["label"]]
        frames[split] = frame[_COLUMNS + extra].fillna("").reset_index(drop=True)
    return frames, names


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_data(path: str | Path, *, labels: str | None = None,
              label_names: Sequence[str] | None = None) -> LoadedData:
    """A build output dir, its dataset/ folder, a CheckThat folder, or a single TSV (-> `test`).

    TSV labels must be in the label set `labels` (default checkthat), or in `label_names`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist: pass a `srcrel build` output dir, a CheckThat "
                         "language folder, or a TSV file")
    if path.is_file():
        names = tuple(label_names) if label_names else load_label_set(labels or "checkthat").names
        frame = read_checkthat_tsv(path, label_names=names, from_run=bool(label_names))
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return LoadedData({"test": frame}, names, {"dataset_fingerprint": digest[:16],
                                                   "source_sha256": digest, "source": str(path)})
    dataset_dir = path / "dataset" if (path / "dataset").is_dir() else path
    if (dataset_dir / "dataset_dict.json").is_file():
        try:
            loaded = load_from_disk(str(dataset_dir))
        except (OSError, ValueError, pa.ArrowException) as exc:
            reason = " ".join(str(exc).split())[:200]
            raise InputError(f"{dataset_dir}: the saved dataset cannot be read ({reason}); it is damaged or "
                             "incomplete: rebuild it with `srcrel build`") from exc
        frames, names = _frames(loaded)
        provenance_file = dataset_dir.parent / "provenance.json"
        if not provenance_file.is_file():
            provenance_file = dataset_dir / "provenance.json"
        provenance = json.loads(provenance_file.read_text()) if provenance_file.is_file() else {}
        return LoadedData(frames, names, {**provenance, "source": str(path)})
    tsvs = sorted(path.glob("*.tsv"))
    if tsvs:
        frames, names = _frames(load_checkthat(path, labels=labels or "checkthat",
                                              label_names=label_names))
        digest = _hash_files(tsvs)
        return LoadedData(frames, names, {"dataset_fingerprint": digest[:16], "source_sha256": digest,
                                          "source": str(path)})
    raise InputError(f"{path}: neither a dataset dir (dataset/dataset_dict.json) nor a folder of "
                     "CheckThat TSVs; pass the output_dir of `srcrel build` or a CheckThat folder")


def model_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns every model reads: the sentence, and its neighbours as `context`."""
    context = (frame["prev_text"].astype(str) + " " + frame["next_text"].astype(str)).str.strip()
    return pd.DataFrame({"text": frame["text"].astype(str).to_numpy(), "context": context.to_numpy()})
