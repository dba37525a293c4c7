"""The Label Studio side: the managed server, the one SDK client (`api`), the project's
interface and guidelines, push with its ledger, pull, simulated annotators, adjudication."""
