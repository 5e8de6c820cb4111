"""The instructions the pipeline (:mod:`._pipeline`) yields to its drivers, and the timeouts they send with.

The sync and async transports execute each the same way: :class:`Send` a request, :class:`Sleep`,
:class:`Authenticate` (get credential headers), :class:`Coordinate` (one round trip to the shared state).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._credentials import TokenProvider
from ._http import Request
from ._telemetry import StatsRecorder

__all__ = ["Authenticate", "Coordinate", "Send", "Sleep", "Timeouts"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Per-attempt timeouts in seconds (each capped by what is left of the call's deadline)."""

    connect: float = 5.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0

    def as_dict(self) -> dict[str, float]:
        """The four phases as a dict (httpx2's ``timeout`` extension)."""
        return {"connect": self.connect, "read": self.read, "write": self.write, "pool": self.pool}


class Send:
    """Instruction: send ``request``; reply with the :class:`Response` (body read unless ``stream`` and the status
    is a success), a :class:`Failed` for a transport failure, or any other exception (raised as it is)."""

    __slots__ = ("request", "stream")  # one per attempt: a plain class (a frozen dataclass costs a microsecond)

    def __init__(self, request: Request, stream: bool) -> None:
        self.request = request
        self.stream = stream


@dataclasses.dataclass(frozen=True)
class Sleep:
    """Instruction: sleep ``seconds`` (asyncio.sleep in the async driver); reply with None."""

    seconds: float


@dataclasses.dataclass(frozen=True)
class Authenticate:
    """Instruction: get the credential headers (``force`` after a 401); reply with them or the exception."""

    provider: TokenProvider
    force: bool = False
    stale: Any = None


class Coordinate:
    """Instruction: one round trip to the shared state (a :class:`~atriumn.core.RedisState`). The sync driver
    replies with :meth:`run`, the async one with :meth:`arun`; both answer from local state, never raise,
    when Redis cannot be reached."""

    __slots__ = ("state", "stats", "step")

    def __init__(self, state: Any, step: Any, stats: StatsRecorder) -> None:
        self.state = state
        self.step = step
        self.stats = stats

    def run(self) -> Any:
        """Run the step with the sync Redis client."""
        return self.state.run(self.step, self.stats)

    async def arun(self) -> Any:
        """Run the step with the asyncio Redis client."""
        return await self.state.arun(self.step, self.stats)
