"""Settings of a transport that are not policies: its pool limits, and the User-Agent it sends.

Also where a forked child learns it is one (``forks``), without a system call per request.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import httpx2

from ._version import __version__

__all__ = ["PoolLimits", "forks", "register_component", "user_agent"]

_components: dict[str, str] = {"core": __version__}
forks = [0]  # how many times this process is a forked child of the one that imported us (a cheap pid check)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: forks.__setitem__(0, forks[0] + 1))
_user_agents: dict[str, str] = {}


def register_component(name: str, version: str) -> None:
    """Name a distribution and its version in the User-Agent (service packages call this on import)."""
    if _components.get(name) != version:
        _components[name] = version
        _user_agents.clear()


def user_agent(backend: str = "httpx2") -> str:
    """``atriumn-python/<core> (auth/<v>; ...) Python/<v> httpx2/<v>`` (or ``aiohttp/<v>``)."""
    agent = _user_agents.get(backend)
    if agent is None:
        from importlib.metadata import version

        parts = "; ".join(f"{k}/{v}" for k, v in sorted(_components.items()))
        sent_by = httpx2.__version__ if backend == "httpx2" else version(backend)
        agent = _user_agents[backend] = (
            f"atriumn-python/{__version__} ({parts}) {sys.implementation.name}/"
            f"{'.'.join(map(str, sys.version_info[:3]))} {backend}/{sent_by}"
        )
    return agent


@dataclasses.dataclass(frozen=True, kw_only=True)
class PoolLimits:
    """Connection pool limits.

    Attributes:
        max_connections: open connections at most. Default 100.
        max_keepalive_connections: idle connections kept. Default 20.
        keepalive_expiry: seconds an idle connection is kept. Default 5 (httpx2's): a longer one keeps a
            burst's idle connections around, and the pool looks them over on every request.
    """

    max_connections: int = 100
    max_keepalive_connections: int = 20
    keepalive_expiry: float = 5.0

    def to_httpx(self) -> httpx2.Limits:
        """As ``httpx2.Limits``."""
        return httpx2.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive_connections,
            keepalive_expiry=self.keepalive_expiry,
        )
