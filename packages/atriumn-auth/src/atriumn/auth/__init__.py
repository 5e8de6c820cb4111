"""The Atriumn Auth API and credential providers."""

from ._version import __version__

__all__ = ["__version__"]
