"""srcrel's labeling side, in the order of the flow: `ingest` (articles -> sentences and tasks),
`studio` (the Label Studio campaign), `annotations` (export -> long table, agreement,
aggregation), `dataset` (splits, DatasetDict, card). It never imports `training`."""
