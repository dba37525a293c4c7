import json
from pathlib import Path

import numpy as np
import pytest

from srcrel_core.attributions import read_attributions, write_attributions
from srcrel_core.errors import InputError
from srcrel_core.spans import (
    SpanCounts,
    bootstrap_span_ci,
    count_spans,
    pairwise_span_f1,
    source_tokens,
)
from tests.conftest import shared_path


def test_polnear_human_ceiling_is_reproduced_from_the_shared_file() -> None:
    """data/README.md: 0.777 exact / 0.812 token over 20 articles; the shared file holds 18 of them
    (the other 2 are in PolNeAR's test compartment), which give 0.782 / 0.810 by the same rule."""
    docs = read_attributions(shared_path("polnear", "attributions_train_dev.jsonl"))
    assert len(docs) == 1013 and sum(len(d.attributions) for d in docs) == 24_821
    assert sum(len(d.sources) for d in docs) == 23_027
    ceiling = pairwise_span_f1((d.article, d.annotator, d.text, d.sources) for d in docs)
    assert ceiling["units"] == 18 and ceiling["pairs"] == 265
    assert round(ceiling["exact_f1"], 4) == 0.7821 and round(ceiling["token_f1"], 4) == 0.8104
    assert abs(ceiling["exact_f1"] - 0.777) < 0.006 and abs(ceiling["token_f1"] - 0.812) < 0.006


def test_tokens_are_whole_words_inside_a_span() -> None:
    text = "Police chief Ann Lee said so."
    assert source_tokens(text, [((0, 6),)]) == {0}
    assert source_tokens(text, [((0, 3),)]) == set()  # half a word is no token of it
    assert source_tokens(text, [((7, 12), (13, 16))]) == {7, 13}
    counts = count_spans([((0, 12),)], [((0, 20),)], text)  # "Police chief" vs "Police chief Ann Lee"
    assert (counts.exact_tp, counts.token_tp, counts.token_pred, counts.token_gold) == (0, 2, 2, 4)
    assert counts.scores()["token_f1"] == pytest.approx(2 * 2 / 6)


def test_bootstrap_interval_brackets_the_point_figure() -> None:
    rows = np.array([SpanCounts(1, 1, 1, 3, 3, 4).as_row(), SpanCounts(0, 1, 1, 1, 2, 2).as_row(),
                     SpanCounts(1, 2, 1, 2, 4, 2).as_row()] * 10)
    point = SpanCounts(*rows.sum(axis=0)).scores()
    ci = bootstrap_span_ci(rows, n=500, confidence=0.95, seed=0)
    for kind in ("exact", "token"):
        assert ci[f"{kind}_f1"][0] < point[f"{kind}_f1"] < ci[f"{kind}_f1"][1]


def test_attribution_file_round_trips_and_bad_lines_fail_in_one_line(tmp_path: Path) -> None:
    good = {"article": "a1", "annotator": "x", "publisher": "p", "text": "Ann said it rained.",
            "attributions": [{"source": [[0, 3]], "cue": [[4, 8]], "content": [[9, 18]]}, {"source": []}]}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(good) + "\n")
    docs = read_attributions(path)
    assert docs[0].sources == [((0, 3),)] and docs[0].extra == {"publisher": "p"}
    out = tmp_path / "out.jsonl"
    assert write_attributions(out, docs) == 1
    assert read_attributions(out) == docs
    for bad, message in ((dict(good, attributions=[{"source": [[0, 99]]}]), r"in\.jsonl:2: attribution 0 source"),
                         (dict(good, text=""), r"in\.jsonl:2: needs a non-empty `text`"),
                         (dict(good, attributions=[{"source": [[0, "3"]]}]), r"integer pairs")):
        path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
        with pytest.raises(InputError, match=message) as err:
            read_attributions(path)
        assert "\n" not in str(err.value)
    for raw, message in ((b'{"article": "a2", "text": "x",', r"in\.jsonl:2: not JSON"),
                         (b"\xff\xfe", r"in\.jsonl:2: not UTF-8")):
        path.write_bytes(json.dumps(good).encode() + b"\n" + raw + b"\n")
        with pytest.raises(InputError, match=message) as err:
            read_attributions(path)
        assert "\n" not in str(err.value)
