"""What a push would change on a project that already exists, said before anything is written.

srcrel records its own settings in the project's description (`srcrel label_set=... guidelines_
version=... overlap=... overlap_share=... overlap_seed=...`). On a project that already holds
answers, a push that would change the label set, the labeling interface, the guidelines or the
overlap is refused in one line naming each change: those answers were given under the old ones.
`force=true` applies it, and push says what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from srcrel_core.errors import ConfigError

__all__ = ["PushedSettings", "check_changes", "describe", "project_changes", "recorded"]

_TOKEN = re.compile(r"(\w+)=(\S+)")


@dataclass(frozen=True)
class PushedSettings:
    label_set: str
    guidelines_version: str
    overlap: int
    overlap_share: float
    overlap_seed: int


def describe(settings: PushedSettings) -> str:
    """The project description push writes (also read back by pull, monitor and this module)."""
    return (f"srcrel label_set={settings.label_set} guidelines_version={settings.guidelines_version} "
            f"overlap={settings.overlap} overlap_share={settings.overlap_share:g} overlap_seed={settings.overlap_seed}")


def recorded(description: str | None) -> dict[str, str]:
    """The key=value settings a project's description holds (empty for a project srcrel did not make)."""
    text = description or ""
    return dict(_TOKEN.findall(text)) if text.startswith("srcrel ") else {}


def project_changes(existing: dict[str, Any], new: PushedSettings, label_config: str) -> list[str]:
    """Each setting the push would change on the project, as "what: old -> new"."""
    old = recorded(existing.get("description"))
    out = []
    if old.get("label_set") not in (None, new.label_set):
        out.append(f"label set {old['label_set']} -> {new.label_set}")
    elif existing.get("label_config") and existing["label_config"] != label_config:
        out.append("labeling interface (interface.* settings or srcrel's own)")
    if old.get("guidelines_version") not in (None, new.guidelines_version):
        out.append(f"guidelines {old['guidelines_version']} -> {new.guidelines_version}")
    overlap = {"overlap": (old.get("overlap"), str(new.overlap)),
               "overlap_share": (old.get("overlap_share"), f"{new.overlap_share:g}"),
               "overlap_seed": (old.get("overlap_seed"), str(new.overlap_seed))}
    if old and "overlap" not in old and existing.get("maximum_annotations") not in (None, new.overlap):
        overlap["overlap"] = (str(existing["maximum_annotations"]), str(new.overlap))  # a project of an older srcrel
    for name, (before, after) in overlap.items():
        if before is not None and before != after:
            out.append(f"{'project.maximum_annotations' if name == 'overlap' else 'project.' + name} "
                       f"{before} -> {after}")
    return out


def check_changes(changes: list[str], *, project: str, answers: int, force: bool) -> None:
    if changes and answers and not force:
        raise ConfigError(f"project {project!r} already holds {answers} answer(s), and this push would change "
                          f"{'; '.join(changes)}: push with the project's settings, use another project.name, "
                          "or force=true to apply the change to the answers already given")


def overlap_changed(changes: list[str]) -> bool:
    return any(c.startswith(("project.maximum_annotations", "project.overlap_")) for c in changes)
