"""srcrel labeling side: ingest articles, run the Label Studio campaign, build the dataset."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("srcrel")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
