"""Whether a campaign ran blind: every annotation made where its annotator could see only their
own answers (srcrel's gateway), as recorded by the gateway and saved beside the export by pull,
and stored under the account that sent it. Agreement, Dawid-Skene weights and the card all assume
independent annotators; this says plainly when that assumption holds and when it does not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

__all__ = ["GatewayRecord", "blind_status", "read_gateway_record"]


@dataclass(frozen=True)
class GatewayRecord:
    annotations: set[int]  # ids made or updated through the gateway
    authors: dict[int, int] | None  # id -> the account that sent it (None: a sidecar from before authors)


def read_gateway_record(export: Path) -> GatewayRecord | None:
    """What the gateway recorded, from <export>.meta.json; None when unknown (no sidecar, or an
    export from a Label Studio srcrel does not manage)."""
    sidecar = export.with_name(export.name + ".meta.json")
    if not sidecar.is_file():
        return None
    meta = orjson.loads(sidecar.read_bytes())
    ids = meta.get("gateway_annotations")
    if ids is None:
        return None
    authors = meta.get("gateway_authors")
    return GatewayRecord({int(i) for i in ids},
                         None if authors is None else {int(k): int(v) for k, v in authors.items()})


def blind_status(annotations: pd.DataFrame, gateway: GatewayRecord | None) -> dict[str, Any]:
    """{"blind": true | false | null, "annotations", "through_gateway", "misattributed", "statement"}
    for report.json, from the long table's annotation_id and worker (the stored author's id)."""
    rows = annotations[["annotation_id", "worker"]].dropna(subset=["annotation_id"])
    stored = {int(i): str(w) for i, w in zip(rows["annotation_id"], rows["worker"], strict=True)}
    total = len(stored)
    if gateway is None:
        return {"blind": None, "annotations": total, "through_gateway": None, "misattributed": None,
                "statement": ("Blind: unknown. The export does not say how annotators reached Label Studio "
                              "(pulled from a server srcrel does not manage, or without its sidecar); "
                              "Label Studio Community lets any account read the others' answers.")}
    through = len(stored.keys() & gateway.annotations)
    misattributed = None if gateway.authors is None else sorted(
        i for i, worker in stored.items() if i in gateway.authors and str(gateway.authors[i]) != worker)
    out = {"annotations": total, "through_gateway": through, "misattributed": misattributed}
    if misattributed:
        return {"blind": False, **out,
                "statement": (f"Blind: no. {len(misattributed)} of {total} annotations are stored under another "
                              "account than the one that sent them through srcrel's gateway (e.g. annotation "
                              f"{misattributed[0]}): whoever made them, they cannot be counted as that "
                              "annotator's independent answers.")}
    if total and through == total:
        checked = "" if gateway.authors is None else ", each stored under the account that sent it"
        return {"blind": True, **out,
                "statement": (f"Blind: yes. All {total} annotations were made through srcrel's annotator "
                              f"gateway{checked}, where an annotator sees only their own answers.")}
    return {"blind": False, **out,
            "statement": (f"Blind: no. {total - through} of {total} annotations were made directly on Label "
                          "Studio, where every account can read the others' answers (Label Studio "
                          "Community has no roles): the annotators may not have been independent, and "
                          "agreement may be overstated.")}
