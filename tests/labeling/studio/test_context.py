from __future__ import annotations

from labeling.studio.config import ContextMode, InterfaceSettings
from labeling.studio.context import add_context


def _rows() -> list[dict[str, object]]:
    # article a: paragraphs 0 (s0, s1), 1 (s2, s3); article b: one sentence
    texts = {("a", 0, 0): "A0.", ("a", 1, 0): "A1.", ("a", 2, 1): "A2.", ("a", 3, 1): "A3.", ("b", 0, 0): "B0."}
    return [{"sentence_id": f"{aid}{i}", "article_id": aid, "index": i, "paragraph": p, "sentence": t,
             "prev_sentence": "", "next_sentence": ""} for (aid, i, p), t in texts.items()]


def test_a_window_of_the_same_article_with_paragraph_marks() -> None:
    rows = {r["sentence_id"]: r for r in add_context(_rows(), InterfaceSettings())}
    assert rows["a2"]["context_before"] == "¶ A0. A1."
    assert rows["a2"]["context_after"] == "A3."
    assert rows["a2"]["paragraph_mark"] == "¶ The highlighted sentence opens a new paragraph."
    assert rows["a3"]["context_before"] == "A1.\n\n¶ A2." and rows["a3"]["paragraph_mark"] == ""
    assert rows["a1"]["context_after"] == "¶ A2."
    assert rows["a0"]["context_before"] == "(start of the article)"
    assert rows["a0"]["paragraph_mark"].endswith("opens the article.")
    assert rows["b0"]["context_before"] == "(start of the article)"  # never the other article's text
    assert rows["b0"]["context_after"] == "(end of the article)"


def test_the_window_sizes_and_the_whole_article() -> None:
    narrow = {r["sentence_id"]: r for r in add_context(_rows(), InterfaceSettings(context_before=1, context_after=0))}
    assert narrow["a2"]["context_before"] == "A1." and narrow["a2"]["context_after"] == ""  # not the end
    assert narrow["a3"]["context_after"] == "(end of the article)"
    whole = {r["sentence_id"]: r for r in add_context(_rows(), InterfaceSettings(context=ContextMode.article))}
    assert whole["a1"]["context_before"] == "¶ A0." and whole["a1"]["context_after"] == "¶ A2. A3."
