"""labeling/dataset/loop_report.py on a table small enough to check by hand."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep

from labeling.dataset.loop_report import loop_report, loop_statement


def _tasks(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["sentence_id", "round", "audit", "prefilled", "model_label"])
    return frame.assign(strategy=["audit" if a == "true" else "uncertainty" if r == "1" else "cold_random" if r
                                  else "" for r, a in zip(frame["round"], frame["audit"], strict=True)]
                        ).set_index("sentence_id")


TASKS = _tasks([
    ("p1", "1", "false", "true", "opinion"), ("p2", "1", "false", "true", "opinion"),
    ("c1", "1", "false", "false", "opinion"), ("c2", "1", "false", "false", "sourced"),
    ("au", "1", "true", "false", "opinion"),
    ("r0", "0", "false", "false", ""),  # round 0: no model yet
    ("x", "", "", "", ""),  # pushed by plain `srcrel push`
])
ANNOTATIONS = pd.DataFrame([  # task, label, origin
    ("p1", "opinion", "prediction"), ("p1", "opinion", "prediction"), ("p2", "opinion", "prediction"),
    ("p2", "sourced", "prediction-changed"),  # pre-filled: 3 of 4 agree with the model
    ("c1", "sourced", "manual"), ("c1", "opinion", "manual"), ("c2", "opinion", "manual"),
    ("c2", "opinion", "manual"),  # control: 1 of 4 agree
    ("au", "opinion", "manual"), ("r0", "opinion", "manual"), ("x", "sourced", "manual"),
], columns=["task", "label", "origin"])


def test_the_anchoring_effect_is_the_difference_of_the_two_groups() -> None:
    report = loop_report(ANNOTATIONS, TASKS)
    assert report["sentences"] == 6 and report["rounds"] == {"0": 1, "1": 5} and report["audit_sentences"] == 1
    assert report["origins"] == {"manual": 7, "prediction": 3, "prediction-changed": 1}
    assert report["prefilled"] == {"annotations": 4, "sentences": 2, "agree_with_model": 3,
                                   "agreement_with_model": 0.75, "shown_as_prefilled": 4}
    assert report["not_prefilled"]["annotations"] == 4 and report["not_prefilled"]["agree_with_model"] == 1
    assert report["audit"]["annotations"] == 1  # the audit sample is never a control
    effect = report["anchoring_effect"]
    low, high = confint_proportions_2indep(3, 4, 1, 4, method="newcomb", compare="diff")
    assert effect["difference"] == pytest.approx(0.5)
    assert (effect["ci_low"], effect["ci_high"]) == pytest.approx((low, high), abs=1e-4)
    lines = "\n".join(loop_statement(report))
    assert "Anchoring effect (pre-filled minus not): +0.500" in lines and "75.0%" in lines


def test_a_round_without_pre_filling_gives_no_control_group() -> None:
    tasks = TASKS.assign(prefilled="false")
    report = loop_report(ANNOTATIONS, tasks)
    assert report["prefilled"]["annotations"] == 0 and report["not_prefilled"]["annotations"] == 0
    assert "anchoring_effect" not in report


def test_a_dataset_without_the_loop_says_nothing() -> None:
    tasks = TASKS.loc[["x"]]
    report = loop_report(ANNOTATIONS[ANNOTATIONS["task"] == "x"], tasks)
    assert report["sentences"] == 0 and loop_statement(report) == []


def test_the_anchoring_check_covers_who_is_the_source() -> None:
    """On sentences the model called sourced: the same source words as the model, pre-filled or not."""
    text = "Police chief Ann Lee said the road will close."
    model = '[{"start": 0, "end": 20, "text": "Police chief Ann Lee"}]'
    tasks = _tasks([("p1", "1", "false", "true", "sourced"), ("p2", "1", "false", "true", "sourced"),
                    ("c1", "1", "false", "false", "sourced"), ("c2", "1", "false", "false", "sourced")]
                   ).assign(text=text, model_spans=model)
    same, part = [{"start": 0, "end": 20, "text": "Police chief Ann Lee"}], [{"start": 13, "end": 20, "text": "Ann Lee"}]
    annotations = pd.DataFrame([("p1", "sourced", "prediction", same), ("p2", "sourced", "prediction", same),
                                ("c1", "sourced", "manual", same), ("c2", "sourced", "manual", part),
                                ("c2", "opinion", "manual", None)],  # not sourced: not in the span check
                               columns=["task", "label", "origin", "source_spans"])
    spans = loop_report(annotations, tasks)["source_span_anchoring"]
    assert spans["prefilled"] == {"annotations": 2, "same_source_as_model": 2}
    assert spans["not_prefilled"] == {"annotations": 2, "same_source_as_model": 1}
    assert spans["difference"] == pytest.approx(0.5) and spans["ci_low"] < 0.5 < spans["ci_high"]
    assert "Who is the source, anchoring: annotators marked the model's source words +0.500" in \
        "\n".join(loop_statement(loop_report(annotations, tasks)))
