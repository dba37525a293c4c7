"""Structured config schemas of the training stages (train, evaluate, report)."""

from __future__ import annotations

from hydra.core.config_store import ConfigStore

__all__ = ["register"]

_SCHEMAS: dict[str, type] = {}


def register() -> None:
    cs = ConfigStore.instance()
    for name, node in _SCHEMAS.items():
        cs.store(name=name, node=node)
