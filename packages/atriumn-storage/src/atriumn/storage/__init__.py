"""Pre-signed uploads and downloads for Atriumn storage."""

from ._version import __version__

__all__ = ["__version__"]
