"""srcrel's exceptions: every user-facing failure is a SrcrelError whose message names the
file, line or setting at fault and says how to fix it. The CLI prints it as one line, exit 1."""

__all__ = [
    "ConfigError",
    "DatasetError",
    "ExportError",
    "InputError",
    "SrcrelError",
    "StudioError",
    "TrainingError",
]


class SrcrelError(Exception):
    """Base of every error a user can cause and fix."""


class ConfigError(SrcrelError):
    """A setting is missing, misspelled or out of range."""


class InputError(SrcrelError):
    """An input file or folder cannot be used."""


class StudioError(SrcrelError):
    """Label Studio is unreachable, refuses a request, or is misconfigured."""


class ExportError(SrcrelError):
    """A Label Studio export is malformed, truncated or inconsistent."""


class DatasetError(SrcrelError):
    """A dataset cannot be built or loaded (e.g. an article would leak across splits)."""


class TrainingError(SrcrelError):
    """A model cannot be trained or evaluated with the given data or settings."""
