"""`srcrel pull project.name=NAME output_dir=DIR`: save a full snapshot export, bytes unmodified,
as DIR/export-<project>-<UTC time>.json beside its <same name>.meta.json sidecar, before
anything parses it.

Both files are written atomically (srcrel_core.io), the sidecar first: an export file that
exists always has its sidecar.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from labeling.gateway.records import gateway_authors
from labeling.studio import api
from labeling.studio.config import PullConfig, StudioSettings
from labeling.studio.connection import resolve_connection
from labeling.studio.ledger import state_dir_for
from srcrel_core import __version__
from srcrel_core.errors import StudioError
from srcrel_core.io import atomic_stream, atomic_write, output_folder
from srcrel_core.settings import to_dataclass

__all__ = ["PullResult", "pull_export", "run_from_config", "user_emails"]


@dataclass(frozen=True)
class PullResult:
    export_path: Path
    meta_path: Path
    sha256: str
    size: int


class _HashingWriter:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, chunk: bytes) -> int:
        self.sha.update(chunk)
        self.size += len(chunk)
        return self.fh.write(chunk)


def pull_export(config: PullConfig) -> PullResult:
    conn = resolve_connection(config.studio)
    client = api.connect(conn)
    project = api.find_project(client, config.project.name)
    if project is None:
        raise StudioError(f"no project named {config.project.name!r} at {conn.url}: check project.name "
                          "(`srcrel studio status` lists them) or run `srcrel push` first")
    out_dir = output_folder(Path(config.output_dir))
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    slug = state_dir_for("", config.project.name).name
    export_path = out_dir / f"export-{slug}-{stamp}.json"
    meta_path = export_path.with_name(export_path.name + ".meta.json")  # what `srcrel build` reads
    authors = gateway_authors(config.studio.data_dir) if conn.managed else None
    with atomic_stream(export_path) as fh:
        writer = _HashingWriter(fh)
        api.export_snapshot(client, project.id, writer,  # type: ignore[arg-type]
                            only_with_annotations=config.only_with_annotations,
                            title=f"srcrel pull {stamp}", timeout=config.timeout)
        match = re.search(r"guidelines_version=(\w+)", project.settings.get("description") or "")
        sha256 = writer.sha.hexdigest()
        meta = {
            "sha256": sha256,
            "size": writer.size,
            "file": export_path.name,
            "exported_at": now.isoformat(),
            "server_url": conn.url,
            "project_id": project.id,
            "project_title": project.title,
            "project_settings": project.settings,
            "label_config": project.settings.get("label_config"),
            "guidelines_version": match.group(1) if match else None,
            "only_with_annotations": config.only_with_annotations,
            "srcrel_version": __version__,
            # annotations made through srcrel's gateway (blind), and the account that sent each
            # (build checks that Label Studio stored it under that account); null: a server srcrel
            # does not manage
            "gateway_annotations": sorted(authors) if authors is not None else None,
            "gateway_authors": {str(k): v for k, v in sorted(authors.items())} if authors is not None else None,
        }
        # the sidecar lands first: an export file that exists always has its sidecar
        atomic_write(meta_path, json.dumps(meta, indent=2, default=str) + "\n")
    return PullResult(export_path=export_path, meta_path=meta_path, sha256=sha256, size=writer.size)


def run_from_config(cfg: Any) -> None:
    result = pull_export(to_dataclass(cfg, PullConfig))
    print(f"export saved: {result.export_path} ({result.size} bytes, sha256 {result.sha256[:12]}...)")


def user_emails(settings: StudioSettings) -> dict[str, str]:
    """Label Studio user id -> email, for pages the lead reads (`srcrel monitor`); never written
    into an export, a dataset or a card."""
    client = api.connect(resolve_connection(settings))
    return {str(u.id): u.email for u in api.list_users(client)}
