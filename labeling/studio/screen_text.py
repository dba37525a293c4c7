"""The labeling screen's own words (captions, the label legend, the keys) in the article's language.

Label Studio has no translation of a labeling config, but a `<Header value="$name">` shows a task
field: the interface names `$ui_*` fields, and `push` fills them per task, in the language of the
task's article (`interface.language=auto`) or in one language for all (`en`, `fr`). A language
srcrel has no words for falls back to English. Label names stay as they are: they are the values
stored in every answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from srcrel_core.errors import ConfigError
from srcrel_core.labelset import LabelSet

__all__ = ["LANGUAGES", "UI_FIELDS", "check_language", "screen_fields", "ui_field"]

SPAN_HOTKEY, UNSURE_HOTKEY, OUTSIDE_HOTKEY = "4", "5", "6"

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "before": "Before, in the same article (¶ marks the start of a paragraph)",
        "after": "After, in the same article",
        "span": (f"Who is the source? Press {SPAN_HOTKEY}, then select the words that name it; "
                 f"if no words of this sentence name it, tick \"outside\" ({OUTSIDE_HOTKEY})"),
        "heading": "Label of the highlighted sentence",
        "keys": "Keys",
        "span_key": "source mention (after choosing {label})",
        "outside_key": "source outside the sentence",
        "unsure": "unsure",
        "submit": "Ctrl+Enter submit",
        "start": "(start of the article)",
        "end": "(end of the article)",
        "opens_article": "¶ The highlighted sentence opens the article.",
        "opens_paragraph": "¶ The highlighted sentence opens a new paragraph.",
    },
    "fr": {
        "before": "Avant, dans le même article (¶ marque le début d'un paragraphe)",
        "after": "Après, dans le même article",
        "span": (f"Qui est la source ? Appuyez sur {SPAN_HOTKEY}, puis sélectionnez les mots qui la nomment ; "
                 f"si aucun mot de cette phrase ne la nomme, cochez « outside » ({OUTSIDE_HOTKEY})"),
        "heading": "Étiquette de la phrase surlignée",
        "keys": "Touches",
        "span_key": "mention de la source (après avoir choisi {label})",
        "outside_key": "source hors de la phrase",
        "unsure": "incertain",
        "submit": "Ctrl+Entrée valider",
        "start": "(début de l'article)",
        "end": "(fin de l'article)",
        "opens_article": "¶ La phrase surlignée ouvre l'article.",
        "opens_paragraph": "¶ La phrase surlignée ouvre un nouveau paragraphe.",
    },
}
LANGUAGES = tuple(WORDS)
UI_FIELDS = ("ui_before", "ui_after", "ui_span", "ui_heading", "ui_keys")


def ui_field(label: str) -> str:
    """The task field of one label's line in the legend."""
    return "ui_label_" + re.sub(r"\W", "_", label)


def check_language(language: str) -> None:
    if language != "auto" and language not in WORDS:
        raise ConfigError(f"interface.language={language}: use auto (each article's language) or one of "
                          f"{', '.join(LANGUAGES)}")


def _lines(label_set: LabelSet, lang: str) -> dict[str, str]:
    words = WORDS[lang]
    fields = {"ui_before": words["before"], "ui_after": words["after"], "ui_span": words["span"],
              "ui_heading": words["heading"]}
    colon = " : " if lang == "fr" else ": "
    for label in label_set.labels:
        key = f"[{label.hotkey}] " if label.hotkey else ""
        description = label.translations.get(lang, label.description)
        fields[ui_field(label.name)] = f"{key}{label.name}{colon}{description}"
    keys = [f"{label.hotkey} {label.name}" for label in label_set.labels if label.hotkey]
    if "sourced" in label_set.names:
        keys.append(f"{SPAN_HOTKEY} {words['span_key'].format(label='sourced')}")
        keys.append(f"{OUTSIDE_HOTKEY} {words['outside_key']}")
    keys += [f"{UNSURE_HOTKEY} {words['unsure']}", words["submit"]]
    fields["ui_keys"] = f"{words['keys']}{colon}{' · '.join(keys)}"
    return fields


def screen_fields(rows: Sequence[dict[str, Any]], label_set: LabelSet, language: str) -> list[dict[str, Any]]:
    """Each task's data with the screen's words in its language; the article start / end
    placeholders of the context in that language too."""
    check_language(language)
    cache: dict[str, dict[str, str]] = {}
    out = []
    for row in rows:
        lang = language if language != "auto" else str(row.get("lang") or "en")
        lang = lang if lang in WORDS else "en"
        if lang not in cache:
            cache[lang] = _lines(label_set, lang)
        words = WORDS[lang]
        extra: dict[str, Any] = dict(cache[lang])
        if row.get("context_before") == WORDS["en"]["start"]:
            extra["context_before"] = words["start"]
        if row.get("context_after") == WORDS["en"]["end"]:
            extra["context_after"] = words["end"]
        for mark in ("opens_article", "opens_paragraph"):
            if row.get("paragraph_mark") == WORDS["en"][mark]:
                extra["paragraph_mark"] = words[mark]
        out.append({**row, **extra})
    return out
