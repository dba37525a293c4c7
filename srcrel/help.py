"""`srcrel STAGE --help`: what the stage does, what it reads and writes, and each of its settings
with its default and its one line of doc, from the stage's YAML header and its config dataclass.

Hydra's own help is a bare template that lists every config group and the internal `*_schema`
entries, and a stage whose group has no default (`select` needs `rule=`) cannot even compose it;
this help composes nothing. Hydra's is still there: `srcrel STAGE --hydra-help`.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

__all__ = ["setting_keys", "stage_help"]

_FIELD = re.compile(r"^\s+(\w+)\s*:")


def _comments(cls: type) -> dict[str, str]:
    """Field name -> the comment lines just above it (and its trailing comment), joined."""
    try:
        lines, _ = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    above: list[str] = []
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD.match(line)
        if match and not stripped.startswith(("def ", "@")):
            trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            found.setdefault(match.group(1), " ".join(filter(None, [*above, trailing])))
        above = []
    return found


def _value(value: Any) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if value is None:
        return "null"
    if value == "???":
        return "??? (required)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _rows(cls: type, prefix: str, overrides: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    docs = _comments(cls)
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        key = f"{prefix}{f.name}"
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "???"
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            rows += _rows(type(default), f"{key}.", overrides.get(f.name) or {})
            continue
        if f.name in overrides and not isinstance(overrides[f.name], dict):
            default = overrides[f.name]
        choices = f" (one of {', '.join(str(m.value) for m in type(default))})" if isinstance(default, Enum) else ""
        rows.append((key, _value(default), docs.get(f.name, "") + choices))
    return rows


def setting_keys(schema: type) -> list[str]:
    """Every setting of a stage, dotted (`aggregation.method`)."""
    return [key for key, _, _ in _rows(schema, "", {})]


def _yaml_parts(config_dir: Path, name: str) -> tuple[list[str], dict[str, Any], list[str]]:
    """The YAML's header comment, its own values, and the config groups its defaults name."""
    text = (config_dir / f"{name}.yaml").read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    data = yaml.safe_load(text) or {}
    groups = [next(iter(d)) for d in data.get("defaults", []) if isinstance(d, dict)]
    values = {k: v for k, v in data.items() if k not in ("defaults", "hydra")}
    return header, values, groups


def stage_help(stage: str, config_name: str, schema: type, config_dir: Path) -> str:
    header, values, groups = _yaml_parts(config_dir, config_name)
    lines = [f"srcrel {stage}: " + (header[0] if header else ""), *[f"  {h}" for h in header[1:]], ""]
    rows = _rows(schema, "", values)
    width = min(max((len(k) for k, _, _ in rows), default=0), 36)
    lines.append("settings (key=value; default; what it does):")
    for key, default, doc in rows:
        lines.append(f"  {key:<{width}}  {default}" + (f"  -- {doc}" if doc else ""))
    for group in groups:
        options = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
        if options:
            lines += ["", f"{group}= (configs/{group}/): {', '.join(options)}"]
    lines += ["", f"Hydra's own flags (-m sweeps, --cfg job, ...): srcrel {stage} --hydra-help"]
    return "\n".join(lines)
