"""srcrel training side: baseline classifiers, evaluation and reports over srcrel datasets."""

__all__: list[str] = []
