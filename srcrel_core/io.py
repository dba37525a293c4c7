"""srcrel's one input/output module: atomic writes (a file, or a set of files that appear
together), and the reader of `{sentence_id, label}` files (controls, reference labels,
adjudications) that validates every row into a typed record or fails in one line naming
file:line and the fix."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import orjson

from srcrel_core.errors import InputError


def _read_umask() -> int:
    umask = os.umask(0)  # read once, at import: changing it later would race with other threads
    os.umask(umask)
    return umask


_UMASK = _read_umask()

__all__ = ["LabelRecord", "atomic_stream", "atomic_write", "check_output_folder", "jsonl_rows", "output_folder",
           "read_label_records", "staged_output",
           "write_private_file"]


@contextmanager
def atomic_stream(path: Path, *, private: bool = False) -> Iterator[BinaryIO]:
    """A binary file to write `path` through: a temporary file beside it, flushed and fsynced,
    then renamed into place when the block ends without error (deleted otherwise). A reader sees
    the old file or the new one, never a part. `private` creates it 0600 from its first byte."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        if not private:  # mkstemp creates 0600; ordinary outputs follow the umask
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes | str, *, private: bool = False) -> None:
    """Write `data` to `path` all at once (see atomic_stream)."""
    with atomic_stream(path, private=private) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_private_file(path: Path, text: str) -> None:
    """A secret (password, token): 0600 from the first byte, written atomically."""
    atomic_write(path, text, private=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_output_folder(path: Path, *, setting: str = "output_dir") -> None:
    """Refuse, before any work, an output folder that cannot be one: a file there or on the way
    is the user's mistake, said in one line, never an internal error."""
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise InputError(f"{setting}={path}: {part} is a file, not a folder: pass a folder path "
                             "(new or existing)")


def output_folder(path: Path, *, setting: str = "output_dir") -> Path:
    """`path` as a folder, made if missing (check_output_folder's refusal first)."""
    check_output_folder(path, setting=setting)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{setting}={path}: cannot create the folder ({exc.strerror or exc}): "
                         "pass a folder you can write to") from None
    return path


@contextmanager
def staged_output(output_dir: Path, *, last: tuple[str, ...] = (), setting: str = "output_dir") -> Iterator[Path]:
    """Yield a staging folder beside `output_dir`; on success move its entries into `output_dir`
    (the names in `last`, e.g. the manifest, after the others), on failure delete it, and the
    output dir too if this call created it empty.

    A reader that sees the manifest therefore sees the complete set of files it describes.
    """
    created = not output_dir.exists()
    output_folder(output_dir, setting=setting)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.staging-", dir=output_dir.parent))
    try:
        yield staging
        for name in last:  # the old manifest goes first, so it never describes a half-moved set
            old = output_dir / name
            if old.is_file():
                old.unlink()
        entries = sorted(staging.iterdir(), key=lambda p: (p.name in last, last.index(p.name) if p.name in last else 0))
        for entry in entries:
            target = output_dir / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(entry, target)
        _fsync_dir(output_dir)
    except BaseException:
        if created and output_dir.is_dir() and not any(output_dir.iterdir()):
            output_dir.rmdir()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class LabelRecord:
    """One row of a labels file: the sentence (by id, or by text where allowed) and its label."""

    line: int
    label: str
    sentence_id: str = ""
    text: str = ""


def read_label_records(path: str | Path, *, label_names: Sequence[str], what: str, fix: str,
                       id_fields: Sequence[str] = ("sentence_id",),
                       allow_text: bool = False) -> list[LabelRecord]:
    """Rows of a JSONL (`{"sentence_id": ..., "label": ...}` per line) or CSV (header row with
    the same columns) file, each checked: an object, an id (one of `id_fields`; or `text` when
    `allow_text`), a label of the label set. The first bad row raises one InputError naming
    `path:line`, what is wrong and `fix`. Blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} not found: {fix}")
    shape = "{" + ", ".join(f'"{f}": ...' for f in (id_fields[0], "label")) + "}"
    records = []
    for line, row in _rows(path, shape=shape, fix=fix):
        where = f"{path}:{line}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object like {shape}, got {type(row).__name__}: {fix}")
        sentence_id = next((str(row[f]) for f in id_fields if row.get(f) not in (None, "")), "")
        text = str(row.get("text") or "") if allow_text else ""
        if not sentence_id and not text:
            hint = (" (this looks like an ingest reference sidecar {file, text, label}; pass the "
                    "reference_labels.jsonl that `srcrel ingest reference=...` writes)"
                    if "text" in row and not allow_text else "")
            raise InputError(f"{where}: no {' or '.join(id_fields)}{' or text' if allow_text else ''}{hint}: {fix}")
        label = row.get("label")
        if label not in label_names:
            raise InputError(f"{where}: label {label!r} is not one of {', '.join(label_names)}: {fix}")
        records.append(LabelRecord(line=line, label=str(label), sentence_id=sentence_id, text=text))
    return records


def _text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text: save the file as UTF-8") from exc


def jsonl_rows(path: Path, *, shape: str, fix: str) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) of each non-blank line of a JSONL file; a line that is not UTF-8 or
    not JSON fails in one line naming path:line, the `shape` expected per line and the `fix`."""
    yield from _json_lines(path, _text(path), shape=shape, fix=fix)


def _json_lines(path: Path, raw: str, *, shape: str, fix: str) -> Iterator[tuple[int, object]]:
    for line, text in enumerate(raw.split("\n"), start=1):  # not splitlines: U+2028 may sit in a string
        if not text.strip():
            continue
        try:
            yield line, orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{path}:{line}: not JSON ({str(exc).split(':')[0]}); expected {shape} per "
                             f"line: {fix}") from exc


def _rows(path: Path, *, shape: str, fix: str) -> Iterator[tuple[int, object]]:
    raw = _text(path)
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(raw.splitlines(keepends=True), strict=True)
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV ({exc}): {fix}") from exc
        return
    yield from _json_lines(path, raw, shape=shape, fix=fix)
