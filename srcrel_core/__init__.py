"""srcrel's core, shared by the labeling and training sides: errors, input/output, the label set,
the dataset schema, settings helpers and the packaged Hydra configs (`srcrel_core/configs`)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("srcrel")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
