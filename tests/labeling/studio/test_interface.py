import xml.etree.ElementTree as ET

import pytest

from labeling.studio import api
from labeling.studio.config import StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.interface import build_label_config, check_label_config
from labeling.studio.screen_text import screen_fields
from srcrel_core.errors import ConfigError, StudioError
from srcrel_core.labelset import load_label_set


def test_config_has_context_required_choice_span_unsure_and_comment() -> None:
    root = ET.fromstring(build_label_config(load_label_set("default")))
    texts = {el.get("name"): el.get("value") for el in root.iter("Text")}
    assert texts == {"title": "$title", "before": "$context_before", "mark": "$paragraph_mark",
                     "sentence": "$sentence", "after": "$context_after"}
    # the span tool sits below the sentence, shown only once "sourced" is chosen
    span_view = next(v for v in root.iter("View") if v.get("visibleWhen"))
    assert (span_view.get("visibleWhen"), span_view.get("whenTagName"), span_view.get("whenChoiceValue")) == (
        "choice-selected", "label", "sourced")
    assert [lab.get("hotkey") for lab in span_view.iter("Label")] == ["4"]
    headers = [h.get("value", "") for h in root.iter("Header")]  # the words come with each task
    assert headers == ["$ui_before", "$ui_span", "$ui_after", "$ui_heading", "$ui_label_sourced",
                       "$ui_label_opinion", "$ui_label_unverifiable", "$ui_keys"]
    [row] = screen_fields([{"sentence": "x", "lang": "en"}], load_label_set("default"), "auto")
    assert row["ui_keys"] == ("Keys: 1 sourced · 2 opinion · 3 unverifiable · 4 source mention (after choosing "
                              "sourced) · 6 source outside the sentence · 5 unsure · Ctrl+Enter submit")
    assert row["ui_label_sourced"].startswith("[1] sourced: The claim is attributed")  # on screen, not a tooltip
    label = next(el for el in root.iter("Choices") if el.get("name") == "label")
    assert (label.get("required"), label.get("choice")) == ("true", "single-radio")
    assert [(c.get("value"), c.get("hotkey")) for c in label] == [
        ("sourced", "1"), ("opinion", "2"), ("unverifiable", "3")]
    assert all(c.get("hint") for c in label)
    assert [el.get("toName") for el in root.iter("Labels")] == ["sentence"]
    unsure = next(el for el in root.iter("Choices") if el.get("name") == "unsure")
    assert unsure.get("required") is None and [c.get("hotkey") for c in unsure] == ["5"]
    assert [el.get("name") for el in root.iter("TextArea")] == ["comment"]
    assert not list(root.iter("HyperText"))


def test_checkthat_config_carries_its_labels() -> None:
    root = ET.fromstring(build_label_config(load_label_set("checkthat")))
    label = next(el for el in root.iter("Choices") if el.get("name") == "label")
    assert [c.get("value") for c in label] == ["OBJ", "SUBJ"]
    assert not list(root.iter("Labels"))  # no source span for a label set without "sourced"


GOOD = build_label_config(load_label_set("default"))


@pytest.mark.parametrize(("xml", "message"), [
    ("<View><Text name='s' value='$sentence'>", "not valid XML"),
    ("<Vue/>", "expected <View>"),
    (GOOD.replace('toName="sentence" choice', 'toName="sentense" choice'), "names no object tag"),
    ("<View><Text name='s' value='$sentence'/><Choices name='c' toName='s'/></View>", "has no options"),
    (GOOD.replace("<Choices name=\"unsure\"", "<Choicez name=\"unsure\"").replace(
        "</Choices>\n  <TextArea", "</Choicez>\n  <TextArea"), "unknown tag <Choicez>"),
    (GOOD.replace('choice="single-radio"', 'choice="single-bogus"'), "must be one of"),
    (GOOD.replace("$context_after", "$next"), "must be one of \\$sentence"),
    (GOOD.replace("<HyperText", "").replace('<Text name="title"', '<HyperText name="title"'),
     "unknown tag <HyperText>"),
    ("<View><Text name='s' value='$sentence'/><Text name='s' value='$title'/></View>", "repeats a tag"),
])
def test_check_rejects_bad_configs(xml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_label_config(xml)


def test_check_catches_choices_that_differ_from_the_label_set() -> None:
    with pytest.raises(ConfigError, match="differ from the label set"):
        check_label_config(GOOD, label_names=("SUBJ", "OBJ"))


@pytest.mark.studio
def test_server_accepts_the_generated_configs_and_rejects_a_broken_one(
        studio_settings: StudioSettings) -> None:
    client = api.connect(resolve_connection(studio_settings))
    for name in ("default", "checkthat"):
        project = api.ensure_project(client, f"iface-{name}", label_config=build_label_config(
            load_label_set(name)), instructions="", description="", maximum_annotations=1,
            show_skip_button=True)
        assert "$context_before" in project.settings["label_config"]
    broken = GOOD.replace('toName="sentence" choice', 'toName="nothing" choice')
    with pytest.raises(StudioError, match="400"):
        api.ensure_project(client, "iface-default", label_config=broken, instructions="",
                              description="", maximum_annotations=1, show_skip_button=True)


def test_adjudication_config_shows_earlier_answers_as_text_and_one_required_choice() -> None:
    from labeling.studio.interface import ADJUDICATION_FIELDS, build_adjudication_config

    xml = build_adjudication_config(load_label_set("default"))
    root = ET.fromstring(xml)
    texts = {el.get("name"): el.get("value") for el in root.iter("Text")}
    assert texts["earlier"] == "$earlier_annotations" and texts["sentence"] == "$sentence"
    choices = list(root.iter("Choices"))
    assert [c.get("name") for c in choices] == ["label"] and choices[0].get("required") == "true"
    assert [c.get("value") for c in choices[0]] == ["sourced", "opinion", "unverifiable"]
    assert not list(root.iter("HyperText"))
    check_label_config(xml, fields=ADJUDICATION_FIELDS)
    with pytest.raises(ConfigError, match="must be one of"):  # the labeling project has no such field
        check_label_config(xml)


def test_the_screens_words_follow_the_articles_language() -> None:
    """Issue 20 item 19: around a French sentence the screen was English only."""
    rows = [{"sentence": "Rien n'est moins sûr.", "lang": "fr", "context_before": "(start of the article)",
             "paragraph_mark": "¶ The highlighted sentence opens a new paragraph."},
            {"sentence": "Nothing is less certain.", "lang": "en", "context_after": "(end of the article)"},
            {"sentence": "Nichts ist weniger sicher.", "lang": "de"}]
    fr, en, de = screen_fields(rows, load_label_set("default"), "auto")
    assert fr["ui_heading"] == "Étiquette de la phrase surlignée" and fr["context_before"] == "(début de l'article)"
    assert fr["paragraph_mark"] == "¶ La phrase surlignée ouvre un nouveau paragraphe."
    assert fr["ui_label_opinion"].startswith("[2] opinion : La phrase exprime le jugement")
    assert fr["ui_keys"].startswith("Touches : 1 sourced") and "5 incertain · Ctrl+Entrée valider" in fr["ui_keys"]
    assert en["ui_heading"] == "Label of the highlighted sentence" and en["context_after"] == "(end of the article)"
    assert de["ui_heading"] == en["ui_heading"]  # no German words yet: English
    forced = screen_fields(rows, load_label_set("default"), "fr")
    assert {r["ui_heading"] for r in forced} == {"Étiquette de la phrase surlignée"}
    root = ET.fromstring(build_label_config(load_label_set("default")))
    wanted = {h.get("value", "")[1:] for h in root.iter("Header")}
    assert wanted <= set(fr) and wanted <= set(en)  # every $ui_ field the interface names is filled
    with pytest.raises(ConfigError, match="interface.language=es"):
        screen_fields(rows, load_label_set("default"), "es")
