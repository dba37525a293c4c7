"""Loaders for public multi-annotator data (BABE, PolNeAR) as srcrel's long table.

Used by the agreement tests and benchmarks to check srcrel's figures against published data.
The files live outside the repository (`../shared/data`); nothing here ships them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from srcrel_core.errors import InputError

__all__ = ["BABE_OPINION_LABELS", "POLNEAR_LABELS", "load_babe_opinion", "load_polnear_multi"]

BABE_OPINION_LABELS = ("factual", "somewhat-factual", "opinion")
POLNEAR_LABELS = ("ATTRIBUTED", "NONE")


def _read_tsv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: not found; point to the shared data folder (../shared/data)")
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)


def _normalise_babe(raw: str) -> str | None:
    # the file has typos ("factional", "wleter´s") and mixed apostrophes: match on stable words
    text = raw.strip().lower()
    if "entirely" in text:
        return "factual"
    if "somewhat" in text:
        return "somewhat-factual"
    if "opinion" in text:
        return "opinion"
    return None


def load_babe_opinion(path: str | Path) -> pd.DataFrame:
    """BABE raw_labels_SG*.tsv -> (task = distinct text, worker = annotator_id, label)."""
    frame = _read_tsv(Path(path))
    labels = frame["label_opinion"].map(_normalise_babe)
    table = pd.DataFrame({"task": frame["text"], "worker": frame["annotator_id"], "label": labels})
    return table[labels.notna()].reset_index(drop=True)


def load_polnear_multi(path: str | Path) -> pd.DataFrame:
    """PolNeAR multi_annotator_sentences.tsv (one column per annotator) -> long table; task = row."""
    frame = _read_tsv(Path(path))
    fixed = {"compartment", "article", "sent_idx", "char_start", "char_end", "sentence"}
    workers = [c for c in frame.columns if c not in fixed]
    frame["task"] = [f"{a}#{i}" for a, i in zip(frame["article"], frame["sent_idx"], strict=True)]
    long = frame.melt(id_vars=["task"], value_vars=workers, var_name="worker", value_name="label")
    long = long[long["label"].str.strip() != ""]
    return long.sort_values(["task", "worker"]).reset_index(drop=True)
