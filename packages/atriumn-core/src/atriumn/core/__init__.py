"""The shared transport of the Atriumn SDK: pooling, retries, circuit breaking, rate limiting, credentials, OpenTelemetry."""

from ._version import __version__

__all__ = ["__version__"]
