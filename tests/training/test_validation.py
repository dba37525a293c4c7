from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier

from training.validation import (
    CurvePoint,
    assign_folds,
    judge_learning_curve,
    run_grouped_cv,
    run_learning_curve,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 14), st.sampled_from(["a", "b", "c"])), min_size=2, max_size=80),
       st.integers(2, 8), st.integers(0, 5))
def test_grouped_folds_never_split_an_article(rows, n_folds, seed):
    groups = np.array([f"art{g}" for g, _ in rows])
    labels = np.array([label for _, label in rows])
    fold = assign_folds(labels, groups, n_folds=n_folds, seed=seed)
    per_article = pd.Series(fold).groupby(groups).nunique()
    assert (per_article == 1).all()
    assert fold.max() + 1 <= min(n_folds, len(set(groups)))


def _frame(n_articles: int) -> pd.DataFrame:
    rows = [{"sentence_id": f"{a}-{i}", "article_id": f"art{a}", "text": f"t{i}", "prev_text": "",
             "next_text": "", "lang": "fr", "label": "x" if i % 2 else "y"}
            for a in range(n_articles) for i in range(4)]
    return pd.DataFrame(rows)


def test_cv_folds_are_capped_at_the_number_of_articles():
    cv = run_grouped_cv(DummyClassifier(), _frame(3), labels=("x", "y"), n_folds=10)
    assert cv is not None and cv.n_folds == 3 and len(cv.fold_macro_f1) == 3
    assert run_grouped_cv(DummyClassifier(), _frame(1), labels=("x", "y"), n_folds=5) is None


def test_learning_curve_grows_and_skips_duplicate_sizes():
    train, held = _frame(4), _frame(2)
    points = run_learning_curve(DummyClassifier(), train, held, labels=("x", "y"),
                                fractions=[0.1, 0.2, 0.5, 1.0], n_boot=50)
    assert [p.n_articles for p in points] == [1, 2, 4]
    assert [p.n_train for p in points] == [4, 8, 16]


def test_learning_curve_verdict():
    rising = [CurvePoint(100, 10, 0.50, (0.4, 0.6)), CurvePoint(200, 20, 0.60, (0.5, 0.7))]
    flat = [CurvePoint(100, 10, 0.60, (0.5, 0.7)), CurvePoint(200, 20, 0.605, (0.5, 0.7))]
    assert "pays" in judge_learning_curve(rising)
    assert judge_learning_curve(flat).startswith("flat")
    assert "too few" in judge_learning_curve(rising[:1])


def test_a_fold_the_model_cannot_fit_is_counted_with_its_reason_not_averaged_silently():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from training.config import FeaturesConfig
    from training.models import build_features

    # article 0 holds every "y": the fold that trains without it sees one label only
    rows = [{"sentence_id": f"{a}-{i}", "article_id": f"art{a}", "text": f"word{i} w{a}", "prev_text": "",
             "next_text": "", "lang": "fr", "label": "y" if a == 0 else "x"} for a in range(3) for i in range(4)]
    model = make_pipeline(build_features(FeaturesConfig(char_ngrams=[])), LogisticRegression())
    cv = run_grouped_cv(model, pd.DataFrame(rows), labels=("x", "y"), n_folds=3)
    assert cv is not None and cv.n_folds == 3
    assert cv.failed_folds == sum(np.isnan(cv.fold_macro_f1)) >= 1
    assert len(cv.failures) == cv.failed_folds and all("class" in r for r in cv.failures)
    finite = [s for s in cv.fold_macro_f1 if not np.isnan(s)]
    assert finite and cv.macro_f1_mean == pytest.approx(np.mean(finite))


def test_cv_fold_scores_are_scikit_learns_macro_f1_of_a_model_fit_on_the_other_folds(tiny_dataset_dir):
    from training.config import FeaturesConfig, ModelConfig
    from training.data import load_data
    from training.models import build_model
    from training.validation import fit_and_score

    train = load_data(str(tiny_dataset_dir)).splits["train"]
    model = build_model(ModelConfig(), FeaturesConfig(char_ngrams=[]), seed=0)
    labels = ("sourced", "opinion", "unverifiable")
    cv = run_grouped_cv(model, train, labels=labels, n_folds=3, seed=1)
    fold = assign_folds(train["label"].to_numpy(), train["article_id"].to_numpy(), n_folds=3, seed=1)
    by_hand = [fit_and_score(model, train[fold != i], train[fold == i], labels) for i in range(3)]
    assert cv is not None and cv.failed_folds == 0 and cv.failures == ()
    assert list(cv.fold_macro_f1) == pytest.approx(by_hand)


def test_a_bug_in_fit_is_raised_not_averaged_away():
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Broken(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            raise TypeError("a bug, not thin data")

    with pytest.raises(RuntimeError, match="not about the data: TypeError: a bug"):
        run_grouped_cv(Broken(), _frame(3), labels=("x", "y"), n_folds=3)
