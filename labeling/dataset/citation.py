"""What a researcher needs to cite and read a srcrel dataset: the license said in words, the
citation (BibTeX on the card, CITATION.cff beside it), where the articles come from, and what
each column holds."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from labeling.dataset.config import DatasetMeta
from srcrel_core.errors import ConfigError

__all__ = ["bibtex", "citation_cff", "column_glossary", "dataset_warnings", "license_lines", "source_lines"]

_LICENSE_WORDS = {
    "other": "a license of its own, described below",
    "unknown": "not stated",
}


def license_lines(license: str, meta: DatasetMeta) -> list[str]:
    if license == "other" and not meta.license_note:
        return ["## License", "",
                ("`license: other`: no license was set for this dataset. The sentences are quoted from news "
                 "articles whose copyright stays with their publishers; ask before redistributing. "
                 "Whoever builds it says what applies with `dataset.license=` (e.g. cc-by-4.0) or "
                 "`dataset.license_note=`."), ""]
    words = _LICENSE_WORDS.get(license, f"`{license}`")
    return ["## License", "", f"This dataset is released under {words}." + (f" {meta.license_note}" if meta.license_note else ""), ""]


def source_lines(meta: DatasetMeta, report: dict[str, Any]) -> list[str]:
    outlets = report.get("dataset", {}).get("outlets") or []
    lines = ["## Source data", ""]
    lines.append(meta.source or ("Not stated by whoever built the dataset (`dataset.source=`): where the articles "
                                 "come from, their dates and how they were chosen are unknown to this card."))
    if outlets:
        lines.append(f"Outlets named in the articles' metadata: {', '.join(outlets[:20])}"
                     + (f" and {len(outlets) - 20} more." if len(outlets) > 20 else "."))
    return [*lines, ""]


def _bib_file(citation: str) -> str | None:
    text = citation.strip()
    if text.startswith("@"):
        return text
    path = Path(text)
    if path.suffix == ".bib":
        if not path.is_file():
            raise ConfigError(f"dataset.citation={citation}: no such .bib file; give a BibTeX entry or its path")
        return path.read_text(encoding="utf-8").strip()
    raise ConfigError(f"dataset.citation={citation[:60]!r}: give a BibTeX entry (@misc{{...}}) or a path to a .bib file")


def bibtex(meta: DatasetMeta, *, title: str, fingerprint: str, version: str) -> str:
    if meta.citation:
        entry = _bib_file(meta.citation)
        if entry:
            return entry
    key = re.sub(r"\W+", "", title.split()[0].lower() if title else "srcrel") + str(date.today().year)
    fields = {"title": title, "author": " and ".join(meta.authors) or "{srcrel contributors}",
              "year": str(date.today().year), "note": f"srcrel {version} dataset, fingerprint {fingerprint}"}
    if meta.url:
        fields["howpublished"] = f"\\url{{{meta.url}}}"
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@misc{{{key},\n{body}\n}}"


def citation_cff(meta: DatasetMeta, *, title: str, license: str, fingerprint: str, version: str) -> str:
    """CITATION.cff (Citation File Format 1.2.0) beside the card: GitHub and Zenodo read it."""
    authors = [{"name": a} for a in meta.authors] or [{"name": "srcrel contributors"}]
    cff: dict[str, Any] = {
        "cff-version": "1.2.0",
        "message": "If you use this dataset, please cite it as below.",
        "type": "dataset",
        "title": title,
        "authors": authors,
        "date-released": date.today().isoformat(),
        "version": fingerprint,
        "keywords": ["source reliability", "attribution", "news", "srcrel"],
        "abstract": f"Sentence-level source-reliability labels built with srcrel {version}.",
    }
    if license not in ("other", "unknown", ""):
        cff["license"] = license
    if meta.url:
        cff["url"] = meta.url
    return yaml.safe_dump(cff, sort_keys=False, allow_unicode=True)


def column_glossary(labels: list[str], *, loop: bool) -> list[str]:
    rows = [
        ("sentence_id", "the sentence's id, `<article_id>-<hash>`: stable across re-ingests"),
        ("article_id", "its article (splits never share an article, except in a pilot: see above)"),
        ("text / prev_text / next_text", "the sentence and its neighbours in the article, as annotators saw them"),
        ("lang", "ISO 639-1 language of the article"),
        ("title, url, outlet, published", "the article's metadata, when the input had it"),
        ("guidelines_version", "sha256[:12] of the guidelines the sentence was labelled under"),
        ("label", f"the aggregated label, a ClassLabel: {', '.join(f'{i} = {n}' for i, n in enumerate(labels))}"),
        ("label_source", ("where the label comes from: the aggregation method (`majority`, `dawid_skene`, ...), "
                         "`control` (a sentence with a known answer, seeded to check annotators: its label is "
                         "that answer, not the annotators' vote) or `adjudicated` (a person settled it)")),
        ("soft_label", f"the share of annotators who chose each label, in the order {labels}"),
        ("annotations", ("each answer: `worker` (the annotator's Label Studio id, never a name or email), "
                        "`label`, `lead_time` (seconds), `origin` (how it reached Label Studio)")),
        ("agreement", ("the share of agreeing annotator pairs on this sentence (empty, a missing value, when one annotator "
                      "labelled it: agreement is undefined there)")),
    ]
    if loop:
        rows.append(("round, audit, strategy, prefilled, model_label",
                     ("the model in the loop: the round that chose the sentence, whether it is in the "
                     "uniform-random audit sample, the strategy, whether the model's answer was pre-filled, "
                     "and that answer")))
    return ["## Columns", "", "| column | what it holds |", "|---|---|",
            *[f"| `{name}` | {what} |" for name, what in rows], ""]


PILOT_ROWS = 500  # below this many sentences a dataset is a pilot: every figure on it is rough


def dataset_warnings(report: dict[str, Any], *, simulated: bool) -> list[str]:
    """What every model trained on this dataset must carry on its card and in its reports
    (provenance.json `warnings`): simulated labels, a campaign not shown blind, a pilot's size."""
    warnings = []
    if simulated:
        warnings.append("the labels come from simulated annotators (seeded confusion matrices), not people")
    blind = report.get("blind", {}).get("blind")
    if blind is False:
        warnings.append("the annotation was not blind: " + report["blind"]["statement"])
    elif blind is None and "blind" in report:
        warnings.append("whether the annotation was blind is unknown (not run through srcrel's gateway)")
    rows = report["dataset"]["rows"]
    if report["dataset"].get("split_note"):
        warnings.append(report["dataset"]["split_note"])
    if rows < PILOT_ROWS:
        warnings.append(f"pilot size: {rows} sentences; scores on it are rough")
    if report["agreement"].get("paired_items", report["agreement"]["items"]) == 0:
        warnings.append("agreement could not be measured: no sentence had two annotators")
    return warnings
