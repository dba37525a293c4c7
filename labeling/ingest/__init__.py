"""Articles in, sentence records and Label Studio tasks out (`srcrel ingest`)."""
