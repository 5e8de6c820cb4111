"""Content ingestion for the Atriumn platform."""

from ._version import __version__

__all__ = ["__version__"]
