"""Annotations as one long `task, worker, label` table: the export parser, counts, agreement,
aggregation, adjudication decisions, annotator figures and likely label errors."""
