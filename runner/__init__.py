"""output-reset: watch prompt and step files, reset the pinned Output run from the right step."""

__version__ = "0.1.0"
