"""Configuration: explicit arguments win, then the environment, then defaults.

Every value read from the environment is validated here, and a bad one raises
:class:`~atriumn.core.ConfigurationError` naming the variable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_BASE_URL",
    "env_bool",
    "env_duration",
    "env_int",
    "env_str",
    "parse_duration",
    "resolve_backend",
]

#: The Atriumn API used when neither an argument nor ``ATRIUMN_API_BASE_URL`` names one.
DEFAULT_BASE_URL = "https://api.atriumn.com"

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | float | int, *, name: str = "duration") -> float:
    """Parse seconds (``30``, ``2.5``) or a Go-style duration (``30s``, ``1m30s``, ``250ms``) into seconds.

    Raises:
        ConfigurationError: naming ``name`` when the value is not a non-negative finite duration.
    """
    if isinstance(value, bool):
        raise ConfigurationError(f"{name}: expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _GO_DURATION.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise ConfigurationError(
                    f"{name}: {value!r} is not a duration (use seconds like '30' or Go style like '1m30s')"
                ) from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(f"{name}: {value!r} must be a non-negative, finite duration")
    return seconds


def env_str(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, or None when unset or blank."""
    value = (os.environ if environ is None else environ).get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_duration(name: str, environ: Mapping[str, str] | None = None) -> float | None:
    """A duration from the environment (seconds or Go style), or None when unset."""
    value = env_str(name, environ)
    return None if value is None else parse_duration(value, name=name)


def env_int(name: str, environ: Mapping[str, str] | None = None, *, minimum: int = 0) -> int | None:
    """A whole number from the environment, or None when unset."""
    value = env_str(name, environ)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name}: {value!r} is not a whole number") from None
    if number < minimum:
        raise ConfigurationError(f"{name}: {number} is below the minimum of {minimum}")
    return number


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, environ: Mapping[str, str] | None = None) -> bool | None:
    """A boolean from the environment (1/0, true/false, yes/no, on/off), or None when unset."""
    value = env_str(name, environ)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{name}: {value!r} is not a boolean (use 1/0, true/false, yes/no)")


def resolve_base_url(base_url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The argument, else ``ATRIUMN_API_BASE_URL``, else the default; validated to be http(s)."""
    name = "base_url"
    if base_url is None:
        base_url = env_str("ATRIUMN_API_BASE_URL", environ)
        name = "ATRIUMN_API_BASE_URL"
    if base_url is None:
        return DEFAULT_BASE_URL
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigurationError(f"{name}: {base_url!r} is not an http(s) URL")
    return base_url.rstrip("/")


#: The HTTP backends a transport can send with.
BACKENDS = ("httpx2", "aiohttp")


def resolve_backend(backend: str | None, environ: Mapping[str, str] | None = None, *, asynchronous: bool) -> str:
    """The argument, else ``ATRIUMN_HTTP_BACKEND``, else ``httpx2``; validated (aiohttp is async only: the
    variable names the async transports' backend, and sync transports keep httpx2)."""
    import importlib.util

    name = "backend"
    if backend is None:
        backend = env_str("ATRIUMN_HTTP_BACKEND", environ)
        name = "ATRIUMN_HTTP_BACKEND"
    if backend is None:
        return "httpx2"
    value = backend.strip().lower()
    if value not in BACKENDS:
        raise ConfigurationError(f"{name}: {backend!r} is not an HTTP backend (use 'httpx2' or 'aiohttp')")
    if value == "aiohttp":
        if not asynchronous:
            if name == "backend":
                raise ConfigurationError("backend: 'aiohttp' is for AsyncTransport only (Transport sends with httpx2)")
            return "httpx2"
        if importlib.util.find_spec("aiohttp") is None:
            raise ConfigurationError(f"{name}: the aiohttp backend needs aiohttp: pip install 'atriumn-core[aiohttp]'")
    return value
