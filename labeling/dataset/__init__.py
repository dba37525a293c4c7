"""The dataset (`srcrel build`): splits grouped by article, DatasetDict, card, report, plots."""
