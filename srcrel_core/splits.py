"""The dataset's split names, in their order (apart from srcrel_core.schema: config schemas import
this without loading `datasets`)."""

__all__ = ["SPLITS"]

SPLITS = ("train", "validation", "test")
