"""Attach reference labels (a sidecar written by people who know the answer) to ingested sentences.

The sidecar is JSONL, one object per sentence: `{"file": "fr_01_x.txt", "text": "...", "label":
"sourced", "hard_case": null}`, and for sourced sentences optionally who the source is:
`"source_spans": [{"start": 0, "end": 9, "text": "le préfet"}]` (offsets into `text`) or
`"source_outside": true`. A sentence is matched by its source file name and exact text,
so the sidecar does not depend on srcrel's ids. Used for the demo, control sentences and
simulated annotators.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from srcrel_core.errors import InputError

__all__ = ["load_reference", "match_reference"]


def load_reference(path: Path, *, label_names: Sequence[str]) -> list[dict[str, Any]]:
    """The sidecar's rows, each checked: an object with string file, text and label, the label
    one of `label_names`; the first bad line raises one InputError naming path:line."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"reference={path}: cannot read ({exc.strerror or exc}); pass a JSONL of file/text/label") from exc
    rows = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: invalid JSON ({exc.msg}); fix the line") from exc
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("file", "text", "label")):
            raise InputError(f"{path}:{n}: each line needs string fields file, text and label")
        if row["label"] not in label_names:
            raise InputError(f"{path}:{n}: label {row['label']!r} is not one of {', '.join(label_names)}; "
                             "fix the line or pass label_set=NAME")
        _check_spans(path, n, row)
        rows.append(row)
    return rows


def _check_spans(path: Path, n: int, row: dict[str, Any]) -> None:
    """Optional who-is-the-source spans: [{start, end, text}] with text == the sentence's text[start:end]."""
    spans = row.get("source_spans", [])
    fine = isinstance(spans, list) and all(
        isinstance(s, dict) and isinstance(s.get("start"), int) and isinstance(s.get("end"), int)
        and 0 <= s["start"] < s["end"] <= len(row["text"]) and row["text"][s["start"]:s["end"]] == s.get("text")
        for s in spans)
    if not fine or not isinstance(row.get("source_outside", False), bool):
        raise InputError(f"{path}:{n}: source_spans must be a list of {{start, end, text}} with text equal to "
                         "the sentence's text[start:end], and source_outside true or false; fix the line")


def match_reference(path: Path, rows: list[dict[str, Any]], output_dir: Path) -> dict[str, Any]:
    """Write `reference_labels.jsonl` ({sentence_id, label, hard_case}) beside `sentences.jsonl`
    and return the counts: matched, unmatched reference rows, sentences without a reference."""
    wanted = {(Path(r["file"]).name, r["text"]): r for r in rows}
    matched: list[dict[str, Any]] = []
    unlabeled = 0
    with open(output_dir / "sentences.jsonl", "rb") as sentences:
        for line in sentences:
            record = orjson.loads(line)
            row = wanted.pop((Path(record["source"]).name, record["text"]), None)
            if row is None:
                unlabeled += 1
                continue
            matched.append({"sentence_id": record["sentence_id"], "label": row["label"],
                            "hard_case": row.get("hard_case"), "lang": record["lang"],
                            **{k: row[k] for k in ("source_spans", "source_outside") if k in row}})
    with open(output_dir / "reference_labels.jsonl", "wb") as out:
        out.writelines(orjson.dumps(item) + b"\n" for item in matched)
    return {
        "path": str(path),
        "rows": len(rows),
        "matched": len(matched),
        "unmatched_rows": len(wanted),
        "unmatched_examples": [f"{f}: {t[:60]}" for f, t in list(wanted)[:5]],
        "sentences_without_reference": unlabeled,
        "label_mix": dict(sorted(Counter(m["label"] for m in matched).items())),
        "label_mix_by_lang": {
            lang: dict(sorted(Counter(m["label"] for m in matched if m["lang"] == lang).items()))
            for lang in sorted({m["lang"] for m in matched})
        },
    }
