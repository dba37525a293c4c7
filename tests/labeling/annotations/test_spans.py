import pandas as pd

from labeling.annotations.spans import aggregate_spans, read_spans, span_agreement

TEXT = "« Rien ne va », a déclaré le préfet, M. Lanvin, lundi."
S = TEXT.index("le préfet")
NAME = TEXT.index("M. Lanvin")


def _table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["annotation_id", "task", "worker", "label", "source_spans", "source_outside"])


def _span(start: int, end: int) -> list[dict]:
    return [{"start": start, "end": end, "text": TEXT[start:end]}]


def test_spans_are_trimmed_kept_or_dropped_with_a_reason_and_reconcile() -> None:
    table = _table([(1, "s1", "a", "sourced", _span(S - 1, NAME + 10), False),  # " le préfet, M. Lanvin,"
                    (2, "s1", "b", "opinion", _span(S, NAME + 9), False),  # a span left on another label
                    (3, "s1", "c", "sourced", [{"start": 40, "end": 400, "text": "?"}], False),
                    (4, "s1", "d", "sourced", None, True)])
    spans = read_spans(table, pd.Series({"s1": TEXT}))
    assert spans.counts == {"read": 3, "kept": 1, "dropped": {"not_sourced": 1, "outside_text": 1}}
    assert spans.kept.loc[0, "text"] == "le préfet, M. Lanvin" and (spans.kept.loc[0, "start"], spans.kept.loc[0, "end"]) == (S, NAME + 9)


def test_majority_of_words_makes_the_sentence_span_and_agreement_counts_pairs() -> None:
    table = _table([(1, "s1", "a", "sourced", _span(S, NAME + 9), False),  # le préfet, M. Lanvin
                    (2, "s1", "b", "sourced", _span(S, NAME + 9), False),
                    (3, "s1", "c", "sourced", _span(NAME, NAME + 9), False),  # M. Lanvin only
                    (4, "s2", "a", "sourced", None, True), (5, "s2", "b", "sourced", None, True),
                    (6, "s2", "c", "opinion", None, False)])
    texts = pd.Series({"s1": TEXT, "s2": "« Nous irons jusqu'au bout ! »"})
    spans = read_spans(table, texts)
    consensus = aggregate_spans(table, spans, texts, pd.Series({"s1": "sourced", "s2": "sourced"}))
    assert consensus.loc["s1", "source_span"] == [{"start": S, "end": NAME + 9, "text": "le préfet, M. Lanvin"}]
    assert consensus.loc["s2", "source_span"] == [] and consensus.loc["s2", "source_outside"]
    report = span_agreement(table, spans, texts, consensus, bootstrap_n=0)
    # s1: pairs (a,b) exact match, (a,c) and (b,c) not: 2·1/(2+2+2) = 1/3; tokens: le préfet M Lanvin vs M Lanvin
    assert report["pairs"] == 4 and report["sentences"] == 2
    assert report["exact_f1"]["value"] == round(2 / 6, 4)
    assert report["token_f1"]["value"] == round(2 * (4 + 2 + 2) / (8 + 6 + 6), 4)
    per = {r["worker"]: r for r in report["per_annotator"]}
    assert per["a"]["exact_f1"] == 1.0 and per["c"]["exact_f1"] == 0.0 and per["c"]["token_f1"] == round(2 * 2 / 6, 4)
    assert report["aggregated"]["outside"] == 1 and report["aggregated"]["with_span"] == 1
