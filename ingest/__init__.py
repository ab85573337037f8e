"""Turning raw data into what the service serves: sources and loaders (`sources`), the
build pipeline and its CLI (`python -m ingest`), and the models the service ships (`models`)."""
