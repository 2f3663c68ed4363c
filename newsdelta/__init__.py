"""newsdelta: scheduled news ingest and change tracking."""

__version__ = "0.1.0"
