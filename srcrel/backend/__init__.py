"""`srcrel backend`: a Label Studio ML backend serving the project's current baseline."""
