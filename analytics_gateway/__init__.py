"""GraphQL analytics gateway: ingest, store, query and stream metrics and events."""

__version__ = "0.1.0"
