"""srcrel's application layer: the `srcrel` command, the demo, and whatever joins the labeling
and training sides. Nothing below imports it."""

from srcrel_core import __version__

__all__ = ["__version__"]
