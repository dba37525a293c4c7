"""Write a set of output files so that they appear together or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["staged_output"]


@contextmanager
def staged_output(output_dir: Path, *, last: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a staging folder beside `output_dir`; on success move its entries into `output_dir`
    (the names in `last`, e.g. the manifest, after the others), on failure delete it.

    A reader that sees the manifest therefore sees the complete set of files it describes.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.staging-", dir=output_dir.parent))
    try:
        yield staging
        entries = sorted(staging.iterdir(), key=lambda p: (p.name in last, last.index(p.name) if p.name in last else 0))
        for entry in entries:
            target = output_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
