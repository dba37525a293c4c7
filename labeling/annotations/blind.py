"""Whether a campaign ran blind: every annotation made where its annotator could see only their
own answers (srcrel's gateway), as recorded by the gateway and saved beside the export by pull.
Agreement, Dawid-Skene weights and the card all assume independent annotators; this says
plainly when that assumption holds and when it does not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd

__all__ = ["blind_status", "read_gateway_record"]


def read_gateway_record(export: Path) -> set[int] | None:
    """Annotation ids made through the gateway, from <export>.meta.json; None when unknown (no
    sidecar, or an export from a Label Studio srcrel does not manage)."""
    sidecar = export.with_name(export.name + ".meta.json")
    if not sidecar.is_file():
        return None
    ids = orjson.loads(sidecar.read_bytes()).get("gateway_annotations")
    return None if ids is None else {int(i) for i in ids}


def blind_status(annotation_ids: pd.Series, gateway: set[int] | None) -> dict[str, Any]:
    """{"blind": true | false | null, "annotations", "through_gateway", "statement"} for report.json."""
    ids = {int(i) for i in annotation_ids.dropna()}
    total = len(ids)
    if gateway is None:
        return {"blind": None, "annotations": total, "through_gateway": None,
                "statement": ("Blind: unknown. The export does not say how annotators reached Label Studio "
                              "(pulled from a server srcrel does not manage, or without its sidecar); "
                              "Label Studio Community lets any account read the others' answers.")}
    through = len(ids & gateway)
    if total and through == total:
        return {"blind": True, "annotations": total, "through_gateway": through,
                "statement": (f"Blind: yes. All {total} annotations were made through srcrel's annotator "
                              "gateway, where an annotator sees only their own answers.")}
    return {"blind": False, "annotations": total, "through_gateway": through,
            "statement": (f"Blind: no. {total - through} of {total} annotations were made directly on Label "
                          "Studio, where every account can read the others' answers (Label Studio "
                          "Community has no roles): the annotators may not have been independent, and "
                          "agreement may be overstated.")}
