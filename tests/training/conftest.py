"""Tiny datasets of the dataset contract's shape (as `srcrel build` writes them), made by hand."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from datasets import Dataset, DatasetDict, Features

from srcrel_core.schema import dataset_features

datasets.disable_progress_bars()

LABELS = ["sourced", "opinion", "unverifiable"]
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CHECKTHAT = SHARED / "data" / "checkthat2025"

_SENTENCES = {
    "sourced": ["Le ministre a déclaré que le pont rouvrira en {n}.", "Selon la police, {n} personnes ont été arrêtées.",
                "The mayor said {n} buses would run on Sunday.", "According to the agency, prices rose {n} percent."],
    "opinion": ["C'est une décision scandaleuse et il faudrait la retirer.", "This is a terrible plan and we should stop it!",
                "Pourquoi attendre encore {n} ans ?", "I think the reform is a disgraceful mistake."],
    "unverifiable": ["Le pont a été fermé en {n}.", "The river rose {n} centimetres overnight.",
                     "Les travaux ont coûté {n} millions d'euros.", "The factory employs {n} workers."],
}


def make_rows(n_articles: int = 12, per_label: int = 2) -> list[dict]:
    rows = []
    for a in range(n_articles):
        k = 0
        for label, templates in _SENTENCES.items():
            for j in range(per_label):
                text = templates[(a + j) % len(templates)].format(n=10 + a * 3 + j)
                lang = "fr" if any(w in text for w in ("Le ", "Les ", "C'est", "Selon", "Pourquoi")) else "en"
                rows.append({"sentence_id": f"a{a:02d}-s{k:02d}", "article_id": f"a{a:02d}", "text": text,
                             "prev_text": "Le contexte précède." if k else "", "next_text": "Puis la suite.",
                             "lang": lang, "label": LABELS.index(label), "label_source": "majority",
                             "soft_label": [float(i == LABELS.index(label)) for i in range(3)],
                             "annotations": [{"worker": "w1", "label": label, "lead_time": 3.0, "origin": "human",
                                              "source_spans": [], "source_outside": False}],
                             "agreement": 1.0,
                             # the loop's columns: every third sentence is in the audit sample
                             "round": a % 3, "audit": k % 3 == 0, "strategy": "audit" if k % 3 == 0 else "random",
                             "prefilled": False, "model_label": "", "source_span": [], "source_outside": False})
                k += 1
    return rows


def features() -> Features:
    return dataset_features(LABELS, text_columns=("sentence_id", "article_id", "text", "prev_text",
                                                  "next_text", "lang"))


def write_dataset_dir(root: Path, n_articles: int = 12) -> Path:
    """root/dataset (DatasetDict.save_to_disk) + root/provenance.json, split by article 8/2/2."""
    rows = make_rows(n_articles)
    cut = {"train": range(n_articles - 4), "validation": range(n_articles - 4, n_articles - 2),
           "test": range(n_articles - 2, n_articles)}
    splits = {name: [r for r in rows if int(r["article_id"][1:]) in ids] for name, ids in cut.items()}
    DatasetDict({name: Dataset.from_list(part, features=features()) for name, part in splits.items()}
                ).save_to_disk(str(root / "dataset"))
    (root / "provenance.json").write_text(json.dumps({
        "dataset_fingerprint": "f00dfacef00dface", "export_sha256": "ab" * 32,
        "guidelines_version": ["0123456789ab"], "label_names": LABELS, "srcrel_version": "0.1.0"}))
    return root


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset_dir(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def needs_checkthat() -> Path:
    if not CHECKTHAT.is_dir():
        pytest.skip(f"CheckThat data not found at {CHECKTHAT} (../shared beside the repo)")
    return CHECKTHAT
