"""Label sets: `configs/labels/<name>.yaml` -> LabelSet (names in a fixed order).

The one place that says what the labels are: ingest checks reference labels against it, the
labeling interface is generated from it, the dataset schema takes its names as the ClassLabel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from srcrel_core.errors import ConfigError
from srcrel_core.settings import CONFIG_DIR, config_file

__all__ = ["LABELS_DIR", "Label", "LabelSet", "load_label_set"]

LABELS_DIR = CONFIG_DIR / "labels"


@dataclass(frozen=True)
class Label:
    name: str
    description: str = ""
    hotkey: str = ""
    color: str = ""
    # the description in other languages, for the labeling screen (interface.language)
    translations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelSet:
    name: str
    labels: tuple[Label, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)


def load_label_set(name_or_path: str | Path) -> LabelSet:
    """Load a label set by name (`default`, `checkthat`) or from a YAML file path."""
    path = config_file("labels", name_or_path, what="label set")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        items = raw["labels"]
        labels = tuple(Label(name=str(item["name"]), description=str(item.get("description", "")),
                             hotkey=str(item.get("hotkey", "")), color=str(item.get("color", "")),
                             translations={str(k): str(v) for k, v in (item.get("translations") or {}).items()})
                       for item in items)
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a label set ({exc}); expected `name:` and `labels: "
                          "[{name: ..., description: ..., hotkey: ..., color: ...}]`") from exc
    names = [label.name for label in labels]
    if len(names) < 2 or len(set(names)) != len(names):
        raise ConfigError(f"{path}: a label set needs at least two distinct label names, got {names}")
    return LabelSet(name=str(raw.get("name", path.stem)), labels=labels)
