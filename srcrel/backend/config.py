"""Settings of `srcrel backend`, registered as `backend_schema` for configs/backend.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from labeling.studio.config import ProjectSettings, StudioSettings
from srcrel_core.settings import register_schemas
from training.config import FeaturesConfig, ModelConfig

__all__ = ["HOST", "BackendConfig", "register"]

# the backend only ever listens on loopback: Label Studio reaches it there, and nothing else may
HOST = "127.0.0.1"


@dataclass
class BackendConfig:
    project: ProjectSettings = field(default_factory=ProjectSettings)
    port: int = 9091
    # model versions (<version>.skops) and current.json naming the one served
    model_dir: str = ".srcrel/backend"
    label_set: str = "default"
    # the name Label Studio shows for the backend (and, with pre-annotation on, the project's
    # model_version: the label stream then asks the backend live)
    title: str = "srcrel"
    # show the backend's predictions to annotators in the label stream (Label Studio's "use
    # predictions to prelabel tasks"); off by default: annotators answer blind
    preannotate: bool = False
    # connect the backend to the project once it serves (false: serve only)
    register: bool = True
    # retrain once no annotation event came for `debounce` seconds, but at the latest `max_wait`
    # seconds after the first event of a burst
    debounce: float = 5.0
    max_wait: float = 60.0
    # retrain at start-up when the project holds labels the current version was not fitted on
    train_on_start: bool = True
    seed: int = 0
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    studio: StudioSettings = field(default_factory=StudioSettings)


def register() -> None:
    register_schemas({"backend_schema": BackendConfig})
