"""Settings: where the packaged Hydra configs are, how a composed config becomes its schema
dataclass, and how a named YAML of a config group (a label set, a lexicon, a selection rule)
is found. The configs ship inside this package (`srcrel_core/configs`, the repository's
top-level `configs/`), so an installed srcrel finds them wherever it runs."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from enum import Enum
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, ValidationError

from srcrel_core.errors import ConfigError

__all__ = ["CONFIG_DIR", "CONFIG_MODULE", "choices", "compose", "config_file", "plain_choices", "register_schemas",
           "to_dataclass"]

CONFIG_MODULE = "srcrel_core.configs"
CONFIG_DIR = Path(str(files(CONFIG_MODULE)))


def register_schemas(schemas: dict[str, type], *, group: str | None = None) -> None:
    """Store structured schemas in Hydra's ConfigStore (idempotent); a primary YAML names its
    schema first in `defaults:`, so a key missing from the dataclass fails at composition."""
    store = ConfigStore.instance()
    for name, node in schemas.items():
        store.store(name=name, node=node, group=group)


def choices(enum: type[Enum]) -> str:
    """`a, b, c`: the allowed values of a choice setting, for one-line errors."""
    return ", ".join(str(member.value) for member in enum)


def config_file(group: str, name_or_path: str | Path, *, what: str) -> Path:
    """configs/<group>/<name>.yaml for a bare name, else the path as given; one line if missing."""
    path = Path(name_or_path)
    folder = CONFIG_DIR / group
    if not path.suffix:
        path = folder / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise ConfigError(f"{what} {str(name_or_path)!r} not found ({path}); use one of: {known}, "
                          "or a path to a YAML file")
    return path


def to_dataclass(cfg: DictConfig, schema: type[Any]) -> Any:
    """Turn a composed config into its dataclass, naming a missing required setting in one line."""
    try:
        obj = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or "?"
        raise ConfigError(f"missing required setting '{key}': pass {key}=... on the command line") from exc
    except ValidationError as exc:
        raise ConfigError(" ".join(str(exc).split()).split("full_key:")[0].strip()) from exc
    if not isinstance(obj, schema):
        raise ConfigError(f"config does not match {schema.__name__}")
    return plain_choices(obj)


def plain_choices(obj: Any) -> Any:
    """Choice settings were checked against their Enum at composition; from here on they are
    their plain string values, so outputs (JSON keys, YAML, file names) never see an Enum."""
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, list):
        return [plain_choices(item) for item in obj]
    if isinstance(obj, dict):
        return {key: plain_choices(value) for key, value in obj.items()}
    if is_dataclass(obj) and not isinstance(obj, type):
        for item in fields(obj):
            setattr(obj, item.name, plain_choices(getattr(obj, item.name)))
    return obj


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose a primary config from the packaged configs, as the CLI does; inside a running stage
    (Hydra already initialised, e.g. the demo composing `train`) the same search path is reused.
    The schemas it names must be registered first."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return hydra_compose(config_name=config_name, overrides=overrides)
    with initialize_config_module(config_module=CONFIG_MODULE, version_base="1.3"):
        return hydra_compose(config_name=config_name, overrides=overrides)
