"""A local, offline Atriumn server with LLM provider emulation, for development, demos and tests."""

from ._version import __version__

__all__ = ["__version__"]
