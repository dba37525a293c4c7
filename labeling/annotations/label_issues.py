"""Likely label errors: out-of-fold probabilities of a TF-IDF + logistic regression classifier,
ranked by cleanlab. Folds are grouped by article so a sentence is never judged by a model that
saw its neighbours."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict

__all__ = ["LabelIssues", "find_likely_label_errors"]


@dataclass(frozen=True)
class LabelIssues:
    """ranked: sentence_id, article_id, label, suggested_label, label_quality, text (worst first)."""

    ranked: pd.DataFrame
    n_checked: int
    skipped_reason: str = ""


def find_likely_label_errors(
    items: pd.DataFrame,
    *,
    label_names: Sequence[str],
    n_splits: int = 5,
    max_features: int = 50_000,
    max_iter: int = 200,
    seed: int = 0,
) -> LabelIssues:
    """items: one row per sentence with columns sentence_id, article_id, text, label (names)."""
    columns = ["rank", "sentence_id", "article_id", "label", "suggested_label", "label_quality", "text"]
    empty = pd.DataFrame(columns=columns)
    codes = pd.Categorical(items["label"], categories=list(label_names)).codes
    n_articles = items["article_id"].nunique()
    present = np.unique(codes[codes >= 0])
    if n_articles < n_splits or len(present) < 2 or np.bincount(codes[codes >= 0]).min() < 2:
        reason = (f"needs at least {n_splits} articles and two labels with 2+ sentences each "
                  f"(has {n_articles} articles, labels {len(present)})")
        return LabelIssues(empty, 0, reason)
    # classes are renumbered to those present so probabilities line up with cleanlab's labels
    dense = np.searchsorted(present, codes)
    # TF-IDF is fitted once on all texts: it sees no labels, and refitting per fold costs 5x
    features = TfidfVectorizer(max_features=max_features, sublinear_tf=True, min_df=2,
                               dtype=np.float32).fit_transform(items["text"].to_numpy())
    model = LogisticRegression(max_iter=max_iter, tol=1e-3, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class absent from one training fold is expected
        probs = cross_val_predict(model, features, dense, groups=items["article_id"].to_numpy(),
                                  cv=GroupKFold(n_splits=n_splits), method="predict_proba")
        flagged = find_label_issues(dense, probs, return_indices_ranked_by="self_confidence")
    quality = get_label_quality_scores(dense, probs, method="self_confidence")
    names = np.asarray(label_names, dtype=object)[present]
    picked = items.iloc[flagged]
    ranked = pd.DataFrame({
        "rank": np.arange(1, len(flagged) + 1),
        "sentence_id": picked["sentence_id"].to_numpy(),
        "article_id": picked["article_id"].to_numpy(),
        "label": picked["label"].to_numpy(),
        "suggested_label": names[probs[flagged].argmax(axis=1)],
        "label_quality": quality[flagged],
        "text": picked["text"].to_numpy(),
    })
    return LabelIssues(ranked, len(items))
