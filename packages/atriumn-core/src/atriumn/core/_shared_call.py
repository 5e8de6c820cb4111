"""One call's use of the shared state, sans-IO: what the pipeline asks Redis before and after each attempt.

Before an attempt (:meth:`CallCoordinator.admit`, one round trip): the host's circuit, the call's
``provider:model`` circuit, and a reservation in each rate-limit bucket — one pipeline of scripts. After it
(:meth:`CallCoordinator.report`): a round trip only when there is something to say — a failure or a probe's
outcome for a breaker, a 429's pause, limits learned from the headers that Redis did not have yet. A healthy
call whose limits are known therefore costs one round trip.

The coordinator's plans yield :class:`~._redis_state.Step` s; the pipeline turns each into a ``Coordinate``
instruction that the drivers run with the sync or the asyncio Redis client (:meth:`RedisState.run` /
:meth:`RedisState.arun`). Each step carries its local answer, used while
Redis cannot be reached; a call whose admission was answered locally is reported locally too, so local
breakers never keep a probe that nobody reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from ._breaker import CircuitBreaker, CircuitBreakerPolicy, counts_as_failure
from ._errors import CircuitOpenError
from ._redis_state import Step
from ._shared_breaker import OPEN, PROBE, new_probe_id
from ._shared_limits import LearnedLimits

if TYPE_CHECKING:
    from ._redis_state import RedisState
    from ._shared_limits import SharedScope

__all__ = ["CallCoordinator"]


@dataclasses.dataclass
class _Admission:
    wait: float = 0.0
    local: bool = False
    error: CircuitOpenError | None = None
    host_probe: str = ""  # the probe id when this attempt is the host's probe (remote)
    host_clean: bool = True  # the host's circuit was closed without failures
    model_clean: bool = True
    local_probe: bool = False  # the local host breaker let this attempt through as its probe
    limits: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    fresh: list[bool] = dataclasses.field(default_factory=list)  # the learned limits live > half a window


class _HostBreaker:
    """Stands for the host's breaker in the pipeline's attempt: the decision was taken by :meth:`admit`, the
    outcome is sent by :meth:`report`."""

    def __init__(self, coordinator: CallCoordinator) -> None:
        self._c = coordinator

    def acquire(self) -> bool:
        adm = self._c.admission
        return bool(adm.host_probe or adm.local_probe)

    def record(self, status: int | None, *, probe: bool) -> bool:
        return False  # openings are counted when the report's answer comes back

    def release(self, *, probe: bool) -> None:
        self._c.release_host()


class CallCoordinator:
    """The shared-state side of one call (see the module docstring)."""

    def __init__(
        self,
        state: RedisState,
        scope: SharedScope | None,
        host: str,
        local_host: CircuitBreaker,
        lease: float,
    ) -> None:
        self.state = state
        self.scope = scope
        self.host = host
        self.local_host = local_host
        self.lease = lease
        self.buckets = state.limits.buckets(scope) if scope is not None else ()
        self.weight = max(0, scope.tokens) if scope is not None else 0
        policy = scope.breaker if scope is not None else None
        self.model_policy: CircuitBreakerPolicy | None = policy if policy is not None and policy.enabled else None
        self.host_enabled = local_host.policy.enabled
        self.admission = _Admission()
        self.model_probe = ""  # the per-call probe id, held across the call's attempts
        self.model_local_probe = False
        self.breaker = _HostBreaker(self)

    # --- before an attempt ----------------------------------------------------------------------------

    def admit(self) -> Generator[Step[Any], Any, float]:
        """One round trip: circuits and rate limits. Returns the seconds to wait; raises CircuitOpenError."""
        breakers, limits = self.state.breakers, self.state.limits
        commands: list[tuple[Any, ...]] = []
        host_id = model_id = ""
        if self.host_enabled:
            host_id = new_probe_id()
            commands.append(breakers.admit(self.host, self.local_host.policy, self.lease, host_id))
        check_model = self.model_policy is not None and not self.model_probe and not self.model_local_probe
        if check_model:
            assert self.model_policy is not None
            model_id = new_probe_id()
            commands.append(breakers.admit(self.scope.breaker_name, self.model_policy, self.lease, model_id))  # type: ignore[union-attr]
        commands.extend(limits.acquire(b, self.weight) for b in self.buckets)

        def done(replies: list[Any]) -> _Admission:
            return self._admitted(replies, host_id, model_id, check_model)

        adm: _Admission = yield Step(commands, done, lambda: self._admit_locally(check_model))
        self.admission = adm
        if adm.error is not None:
            raise adm.error
        return adm.wait

    def _admitted(self, replies: list[Any], host_id: str, model_id: str, check_model: bool) -> _Admission:
        adm = _Admission()
        i = 0
        granted: list[tuple[str, str]] = []
        if self.host_enabled:
            code, failures, retry = replies[0]
            i = 1
            if code == OPEN:
                adm.error = CircuitOpenError(self.host, retry / 1000)
            elif code == PROBE:
                adm.host_probe = host_id
                granted.append((self.host, host_id))
            adm.host_clean = code == 0 and failures == 0
        if check_model:
            assert self.scope is not None
            code, failures, retry = replies[i]
            i += 1
            if code == OPEN and adm.error is None:
                adm.error = CircuitOpenError(self.scope.breaker_name, retry / 1000)
            elif code == PROBE:
                self.model_probe = model_id
                granted.append((self.scope.breaker_name, model_id))
            adm.model_clean = code == 0 and failures == 0
        waits = [0.0]
        for bucket, reply in zip(self.buckets, replies[i:], strict=True):
            wait_ms, requests, tokens, ttl = (int(x) for x in reply)
            waits.append(wait_ms / 1000)
            adm.limits.append((requests, tokens))
            adm.fresh.append(ttl > bucket.window_ms / 2)
            self.state.limits.local.remember(bucket, requests, tokens)
        adm.wait = max(waits)
        if adm.error is not None:  # nothing is sent: give back what this admission took
            for name, probe_id in granted:
                self.state.defer(self.state.breakers.release(name, probe_id))
            self.model_probe = ""
            self._refund(adm)
        return adm

    def _admit_locally(self, check_model: bool) -> _Admission:
        adm = _Admission(local=True)
        try:
            adm.local_probe = self.local_host.acquire()
        except CircuitOpenError as exc:
            adm.error = exc
            return adm
        if check_model:
            assert self.scope is not None and self.model_policy is not None
            try:
                self.model_local_probe = self._local_model().acquire()
            except CircuitOpenError as exc:
                self.local_host.release(probe=adm.local_probe)
                adm.local_probe = False
                adm.error = exc
                return adm
        local = self.state.limits.local
        waits = [0.0]
        for bucket in self.buckets:
            wait_ms, requests, tokens = local.acquire(bucket, self.weight)
            waits.append(wait_ms / 1000)
            adm.limits.append((requests, tokens))
            adm.fresh.append(True)
        adm.wait = max(waits)
        return adm

    def _local_model(self) -> CircuitBreaker:
        assert self.scope is not None and self.model_policy is not None
        return self.state.breakers.local(self.scope.breaker_name, self.model_policy)

    def cancel(self) -> None:
        """The admitted attempt will not be sent (its wait passes the deadline): give its reservations back."""
        self._refund(self.admission)
        self.release_host()

    def _refund(self, adm: _Admission) -> None:
        limits = self.state.limits
        for bucket, (requests, tokens) in zip(self.buckets, adm.limits, strict=False):
            back = (-1 if requests else 0, -self.weight if tokens else 0)
            if back == (0, 0):
                continue
            if adm.local:
                limits.local.adjust(bucket, *back)
            else:
                self.state.defer(limits.adjust(bucket, *back))

    # --- after an attempt -----------------------------------------------------------------------------

    def report(
        self, status: int | None, headers: Mapping[str, str] | None, retry_after: float | None, *, final: bool
    ) -> Generator[Step[Any], Any, int]:
        """Send what the attempt's outcome changes (if anything). Returns the circuits it opened."""
        adm = self.admission
        scope = self.scope
        failed = counts_as_failure(status)
        learned = scope.learn(headers) if scope is not None and scope.learn is not None and headers else None
        pause = 0.0
        if status == 429:
            pause = retry_after if retry_after is not None else (learned.reset if learned is not None else None) or 0.0
        if adm.local:
            return self._report_locally(status, learned, pause, final)
        state, breakers = self.state, self.state.breakers
        commands: list[tuple[Any, ...]] = []
        if self.host_enabled and (failed or adm.host_probe or not adm.host_clean):
            commands.append(
                breakers.record(self.host, self.local_host.policy, self.lease, failed=failed, probe_id=adm.host_probe)
            )
        adm.host_probe = ""
        model_record = final and self.model_policy is not None and (failed or self.model_probe or not adm.model_clean)
        if model_record:
            assert scope is not None and self.model_policy is not None
            commands.append(
                breakers.record(
                    scope.breaker_name, self.model_policy, self.lease, failed=failed, probe_id=self.model_probe
                )
            )
        if final:
            self.model_probe = ""
        reports = self._limit_reports(learned, pause)
        commands.extend(state.limits.report(b, learn, book, p) for b, learn, book, p in reports)
        if not commands:
            return 0

        def done(replies: list[Any]) -> int:
            return sum(1 for r in replies[: len(commands) - len(reports)] if r == 1)

        def local() -> int:
            opened = int(self.local_host.record(status, probe=False)) if failed else 0
            if model_record:
                opened += int(self._local_model().record(status, probe=False))
            for bucket, learn, book, p in reports:
                state.limits.local.report(bucket, learn, book, p)
            return opened

        opened: int = yield Step(commands, done, local)
        return opened

    def _limit_reports(
        self, learned: LearnedLimits | None, pause: float
    ) -> list[tuple[Any, LearnedLimits | None, tuple[int, int], float]]:
        """Per bucket: (bucket, what it learns, what to book late, pause) when any of it is news."""
        out = []
        for index, bucket in enumerate(self.buckets):
            requests, tokens = self.admission.limits[index]
            learn = learned if bucket.learns else None
            new_r = (learn.requests or 0) if learn is not None and not bucket.requests else 0
            new_t = (learn.tokens or 0) if learn is not None and not bucket.tokens else 0
            # News: limits Redis does not have, or has for less than half a window more (kept alive by the
            # responses, so that they do not expire under a busy fleet and leave a gap without limits).
            stale = not self.admission.fresh[index]
            changed = bool((new_r and (new_r != requests or stale)) or (new_t and (new_t != tokens or stale)))
            # A call admitted before the limit was known books its request and tokens now.
            book = (1 if new_r and not requests else 0, self.weight if new_t and not tokens else 0)
            bucket_pause = pause if bucket.learns else 0.0
            if changed or bucket_pause > 0:
                out.append(
                    (bucket, LearnedLimits(new_r or None, new_t or None) if changed else None, book, bucket_pause)
                )
            if changed:  # the call's later attempts know the limits now
                self.admission.limits[index] = (new_r or requests, new_t or tokens)
        return out

    def _report_locally(self, status: int | None, learned: LearnedLimits | None, pause: float, final: bool) -> int:
        adm = self.admission
        opened = int(self.local_host.record(status, probe=adm.local_probe)) if self.host_enabled else 0
        adm.local_probe = False
        if final and self.model_policy is not None:
            opened += int(self._local_model().record(status, probe=self.model_local_probe))
            self.model_local_probe = False
        for bucket, learn, book, p in self._limit_reports(learned, pause):
            self.state.limits.local.report(bucket, learn, book, p)
        return opened

    # --- ending without an outcome --------------------------------------------------------------------

    def release_host(self) -> None:
        """The attempt ended without an outcome (cancelled): give the host's probe back."""
        adm = self.admission
        if adm.local:
            self.local_host.release(probe=adm.local_probe)
            adm.local_probe = False
        elif adm.host_probe:
            self.state.defer(self.state.breakers.release(self.host, adm.host_probe))
            adm.host_probe = ""

    def abandon(self) -> None:
        """The call ended without a final report (an error before sending, a cancellation): let the next
        caller probe the model's circuit."""
        if self.model_local_probe:
            self._local_model().release(probe=True)
            self.model_local_probe = False
        if self.model_probe and self.scope is not None:
            self.state.defer(self.state.breakers.release(self.scope.breaker_name, self.model_probe))
            self.model_probe = ""
