"""The Label Studio labeling interface, generated from a label set and checked before upload.

Untrusted text (sentences, titles) reaches the page only through `$variables` of `<Text>`
tags, which Label Studio escapes; label names and descriptions come from srcrel's own YAML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from labeling.annotations.choices import SOURCE_OUTSIDE
from labeling.studio.context import CONTEXT_FIELDS
from labeling.studio.screen_text import OUTSIDE_HOTKEY, SPAN_HOTKEY, UNSURE_HOTKEY, ui_field
from srcrel_core.errors import ConfigError
from srcrel_core.labelset import LabelSet

__all__ = ["ADJUDICATION_FIELDS", "TASK_FIELDS", "build_adjudication_config", "build_label_config",
           "check_label_config"]

# the $variables a srcrel task provides (tasks.json of ingest, plus the context push adds)
TASK_FIELDS = ("sentence", "prev_sentence", "next_sentence", "title", *CONTEXT_FIELDS)
# an adjudication task adds the earlier answers, one line of plain text
ADJUDICATION_FIELDS = (*TASK_FIELDS, "earlier_annotations")

_CONTEXT_STYLE = "color: #555; font-size: 95%; padding: 2px 8px; white-space: pre-wrap"
_MARK_STYLE = "color: #1565c0; font-size: 85%; padding: 0 8px"
_LEGEND_STYLE = "padding: 0 8px"
_SMALL = "font-size: 14px; font-weight: normal; color: #333; margin: 2px 0"
_CAPTION = "font-size: 13px; font-weight: 600; color: #777; margin: 6px 0 0 0"
# the side panel (regions, history, info) stays empty for a sentence label: give its width to the text
_SCREEN_CSS = (".lsf-sidepanels__wrapper, .lsf-sidepanels .lsf-tabs-panel { display: none !important; } "
               ".lsf-sidepanels { padding: 0 !important; grid-template-columns: 1fr !important; } "
               ".lsf-sidepanels__content { width: 100% !important; max-width: 100% !important; "
               "flex: 1 1 100% !important; margin: 0 !important; }")
SPAN_LABEL = "sourced"  # the span tool (who is the source) appears once this label is chosen
_EARLIER_STYLE = "color: #333; font-size: 90%; padding: 4px 8px; background: #fff8e1"
_SENTENCE_STYLE = "font-size: 120%; padding: 8px; border-left: 4px solid #1565c0; background: #f5f8ff"

# tag -> {attribute: allowed values (None: any)}; anything else is rejected by check_label_config
_KNOWN: dict[str, dict[str, frozenset[str] | None]] = {
    "View": {"style": None, "visibleWhen": frozenset({"choice-selected"}), "whenTagName": None,
             "whenChoiceValue": None},
    "Style": {},
    "Header": {"value": None, "size": None, "style": None},
    "Text": {"name": None, "value": None, "granularity": frozenset({"symbol", "word", "sentence",
                                                                    "paragraph"}), "style": None},
    "Labels": {"name": None, "toName": None, "showInline": frozenset({"true", "false"})},
    "Label": {"value": None, "background": None, "hotkey": None},
    "Choices": {"name": None, "toName": None, "required": frozenset({"true", "false"}),
                "choice": frozenset({"single", "single-radio", "multiple"}),
                "showInline": frozenset({"true", "false"}), "requiredMessage": None},
    "Choice": {"value": None, "hotkey": None, "hint": None, "selectedStyle": None},
    "TextArea": {"name": None, "toName": None, "rows": None, "placeholder": None,
                 "maxSubmissions": None, "editable": frozenset({"true", "false"})},
}
_CONTROLS = {"Labels", "Choices", "TextArea"}
_VARIABLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")


def build_label_config(label_set: LabelSet) -> str:
    """The interface XML: the title, the context before (captioned; ¶ marks a paragraph start),
    the highlighted sentence, the source-span tool only once "sourced" is chosen, the context
    after, one required choice with each label's description on screen, an "unsure" flag, a
    comment, and every key listed."""
    view = ET.Element("View")
    ET.SubElement(view, "Style").text = _SCREEN_CSS
    _add_text(view, "title", "$title", style="font-weight: bold; padding: 2px 8px")
    ET.SubElement(view, "Header", value="$ui_before", size="6", style=_CAPTION)
    _add_text(view, "before", "$context_before", style=_CONTEXT_STYLE)
    _add_text(view, "mark", "$paragraph_mark", style=_MARK_STYLE)
    _add_text(view, "sentence", "$sentence", style=_SENTENCE_STYLE, granularity="word")
    sourced = SPAN_LABEL if SPAN_LABEL in label_set.names else ""  # a label set about sources
    if sourced:
        span = ET.SubElement(view, "View", visibleWhen="choice-selected", whenTagName="label",
                             whenChoiceValue=sourced)
        ET.SubElement(span, "Header", value="$ui_span", size="6", style=_CAPTION)
        ET.SubElement(span, "Labels", name="source_span", toName="sentence", showInline="true").append(
            ET.Element("Label", value="Source mention", background="#6a1b9a", hotkey=SPAN_HOTKEY))
        outside = ET.SubElement(span, "Choices", name=SOURCE_OUTSIDE, toName="sentence", choice="multiple",
                                showInline="true")
        ET.SubElement(outside, "Choice", value="outside", hint="The source is outside this sentence",
                      hotkey=OUTSIDE_HOTKEY)
    ET.SubElement(view, "Header", value="$ui_after", size="6", style=_CAPTION)
    _add_text(view, "after", "$context_after", style=_CONTEXT_STYLE)
    ET.SubElement(view, "Header", value="$ui_heading", size="5")
    _add_choices(view, label_set)
    legend = ET.SubElement(view, "View", style=_LEGEND_STYLE)
    for label in label_set.labels:  # each line in the task's language (screen_text.py fills $ui_*)
        ET.SubElement(legend, "Header", value=f"${ui_field(label.name)}", size="6", style=_SMALL)
    ET.SubElement(legend, "Header", size="6", style=_CAPTION, value="$ui_keys")
    unsure = ET.SubElement(view, "Choices", name="unsure", toName="sentence", choice="multiple",
                           showInline="true")
    ET.SubElement(unsure, "Choice", value="unsure", hint="I am not confident in this label", hotkey=UNSURE_HOTKEY)
    ET.SubElement(view, "TextArea", name="comment", toName="sentence", rows="2", editable="true",
                  maxSubmissions="1", placeholder="Comment (optional)")
    ET.indent(view)
    xml = ET.tostring(view, encoding="unicode")
    check_label_config(xml, label_names=label_set.names)
    return xml


def build_adjudication_config(label_set: LabelSet) -> str:
    """The adjudicator's interface: the sentence in context, the earlier annotations shown
    read-only (a `<Text>`: escaped), one required choice among the label set, a comment."""
    view = ET.Element("View")
    _add_text(view, "title", "$title", style="font-weight: bold; padding: 2px 8px")
    _add_text(view, "prev", "$prev_sentence", style=_CONTEXT_STYLE)
    _add_text(view, "sentence", "$sentence", style=_SENTENCE_STYLE)
    _add_text(view, "next", "$next_sentence", style=_CONTEXT_STYLE)
    ET.SubElement(view, "Header", value="Earlier annotations (read-only)", size="5")
    _add_text(view, "earlier", "$earlier_annotations", style=_EARLIER_STYLE)
    ET.SubElement(view, "Header", value="Your decision", size="5")
    _add_choices(view, label_set)
    ET.SubElement(view, "TextArea", name="comment", toName="sentence", rows="2", editable="true",
                  maxSubmissions="1", placeholder="Why (optional)")
    ET.indent(view)
    xml = ET.tostring(view, encoding="unicode")
    check_label_config(xml, label_names=label_set.names, fields=ADJUDICATION_FIELDS)
    return xml


def _add_choices(view: ET.Element, label_set: LabelSet) -> None:
    choices = ET.SubElement(view, "Choices", name="label", toName="sentence", choice="single-radio",
                            required="true", showInline="true",
                            requiredMessage="Pick one label (or skip the task)")
    for label in label_set.labels:
        attrs = {"value": label.name}
        if label.hotkey:
            attrs["hotkey"] = label.hotkey
        if label.description:
            attrs["hint"] = label.description
        if label.color:
            attrs["selectedStyle"] = f"color: {label.color}; font-weight: bold"
        ET.SubElement(choices, "Choice", attrs)


def _add_text(view: ET.Element, name: str, value: str, *, style: str, granularity: str = "") -> None:
    attrs = {"name": name, "value": value}
    if granularity:
        attrs["granularity"] = granularity
    ET.SubElement(ET.SubElement(view, "View", style=style), "Text", attrs)


def check_label_config(xml: str, *, label_names: tuple[str, ...] = (),
                       fields: tuple[str, ...] = TASK_FIELDS) -> None:
    """Raise ConfigError naming the first problem: unparsable XML, an unknown tag or attribute
    value, a toName naming no tag, empty Choices, a $variable srcrel tasks do not have."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ConfigError(f"label config is not valid XML ({exc}): fix configs/labels or interface.py") from exc
    if root.tag != "View":
        raise ConfigError(f"label config root is <{root.tag}>, expected <View>")
    names: list[str] = [el.get("name", "") for el in root.iter() if el.get("name")]
    if len(names) != len(set(names)):
        raise ConfigError(f"label config repeats a tag name: {sorted(n for n in names if names.count(n) > 1)}")
    object_names = {el.get("name") for el in root.iter() if el.tag not in _CONTROLS and el.get("name")}
    for el in root.iter():
        _check_element(el, object_names, fields)
    if label_names:
        label_el = next((el for el in root.iter("Choices") if el.get("name") == "label"), None)
        values = tuple(c.get("value", "") for c in label_el) if label_el is not None else ()
        if values != label_names:
            raise ConfigError(f"label config choices {values} differ from the label set {label_names}")


def _check_element(el: ET.Element, object_names: set[str | None], fields: tuple[str, ...]) -> None:
    allowed = _KNOWN.get(el.tag)
    if allowed is None:
        raise ConfigError(f"label config: unknown tag <{el.tag}>; use one of {sorted(_KNOWN)}")
    for attr, value in el.attrib.items():
        if attr not in allowed:
            raise ConfigError(f"label config: <{el.tag}> has unknown attribute {attr!r}")
        values = allowed[attr]
        if values is not None and value not in values:
            raise ConfigError(f"label config: <{el.tag} {attr}={value!r}> must be one of {sorted(values)}")
    if el.tag in _CONTROLS:
        if el.get("toName") not in object_names:
            raise ConfigError(f"label config: <{el.tag} name={el.get('name')!r}> has toName="
                              f"{el.get('toName')!r}, which names no object tag")
        if el.tag in ("Choices", "Labels") and not [c for c in el if c.get("value")]:
            raise ConfigError(f"label config: <{el.tag} name={el.get('name')!r}> has no options")
    if el.tag == "Text":
        match = _VARIABLE.match(el.get("value", ""))
        if not match or match.group(1) not in fields:
            raise ConfigError(f"label config: <Text name={el.get('name')!r}> value {el.get('value')!r} "
                              f"must be one of ${', $'.join(fields)}")


def span_regions(spans: list[dict[str, Any]], *, outside: bool, origin: str = "manual") -> list[dict[str, Any]]:
    """Result regions for who is the source, as the screen makes them: one `source_span` region per
    {start, end, text} (offsets into the sentence) and the "outside" tick."""
    regions = [{"from_name": "source_span", "to_name": "sentence", "type": "labels", "origin": origin,
                "value": {"start": s["start"], "end": s["end"], "text": s["text"], "labels": ["Source mention"]}}
               for s in spans]
    if outside:
        regions.append({"from_name": SOURCE_OUTSIDE, "to_name": "sentence", "type": "choices", "origin": origin,
                        "value": {"choices": ["outside"]}})
    return regions
