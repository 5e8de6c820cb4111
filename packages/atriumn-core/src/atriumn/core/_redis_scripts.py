"""The Lua scripts of the shared state: each one operation, atomic in Redis.

Every script touches the keys of ONE hash tag (``atriumn:rl:{openai:gpt-4o:3f2a…}`` and its ``limits`` and
``pause`` keys share the tag ``{openai:gpt-4o:3f2a…}``), so each runs on one shard. A call's round trip sends
several scripts in one pipeline; none depends on another's result inside Redis. Time is Redis's own clock
(``TIME``), so processes on machines whose clocks disagree still share one timeline. Every key written gets a
TTL in the same script.

Rate limits: GCRA (the generic cell rate algorithm), one theoretical arrival time (TAT) per dimension.
A budget of ``limit`` units per ``window`` refills one unit every ``T = window / limit``; a request of weight
``w`` moves the TAT by ``w * T`` and must wait until ``TAT - burst * T`` (``burst`` = the limit less a headroom).
It is a token bucket stored as one number: bursts up to ``burst`` go at once, then one unit per ``T``.
A reservation never fails: it books the next free slot and says how long to wait for it (so waiters are spaced
``T`` apart, never a herd). Requests (weight 1) and tokens (weight = the call's estimate) are two TATs in one hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

__all__ = [
    "BREAKER_ADMIT",
    "BREAKER_RECORD",
    "BREAKER_RELEASE",
    "LIMIT_ACQUIRE",
    "LIMIT_ADJUST",
    "LIMIT_REPORT",
    "SCRIPTS",
    "TOKEN_LOCK",
    "TOKEN_RELEASE",
    "TOKEN_STORE",
    "Script",
]


@dataclasses.dataclass(frozen=True)
class Script:
    """A Lua script, run by its SHA-1 (``EVALSHA``; loaded again when Redis forgot it, e.g. after a restart)."""

    name: str
    source: str
    sha: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest())

    def call(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        """The ``EVALSHA`` command running this script on ``keys`` with ``args``."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
"""

# GCRA reservation of `weight` units on one dimension of a hash (field 'r' requests, 't' tokens).
_RESERVE = """
local function reserve(key, field, limit, weight, window, headroom)
  if limit <= 0 or weight == 0 then return 0 end
  local T = window / limit
  local burst = math.max(1, math.floor(limit * (1 - headroom)))
  local tat = tonumber(redis.call('HGET', key, field)) or now
  if tat < now then tat = now end
  local new_tat = tat + weight * T
  if new_tat < now then new_tat = now end
  redis.call('HSET', key, field, tostring(new_tat))
  local ttl = math.ceil(new_tat - now) + 1000
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
  local wait = new_tat - burst * T - now
  if wait < 0 then return 0 end
  return wait
end
local function limits_of(limits_key, requests, tokens)
  if requests == 0 or tokens == 0 then
    local learned = redis.call('HMGET', limits_key, 'requests', 'tokens')
    if requests == 0 then requests = tonumber(learned[1]) or 0 end
    if tokens == 0 then tokens = tonumber(learned[2]) or 0 end
  end
  return requests, tokens
end
"""

#: Reserve one request and ``weight`` tokens of a bucket. KEYS: rl, limits, pause. ARGV: configured requests,
#: configured tokens (0: learned), window ms, headroom fraction, token weight.
#: Returns {wait ms (the pause included), requests limit in effect, tokens limit in effect (0 = unknown),
#: ms the learned limits still live (negative: none)}.
LIMIT_ACQUIRE = Script(
    "limit_acquire",
    _NOW
    + _RESERVE
    + """
local requests, tokens = limits_of(KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]))
local window, headroom, weight = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wait = math.max(reserve(KEYS[1], 'r', requests, 1, window, headroom),
                      reserve(KEYS[1], 't', tokens, weight, window, headroom))
local paused = redis.call('PTTL', KEYS[3])
if paused > wait then wait = paused end
return {math.ceil(wait), requests, tokens, redis.call('PTTL', KEYS[2])}
""",
)

#: What a response taught. KEYS: rl, limits, pause. ARGV: learned requests, learned tokens (0: not learned),
#: window ms, headroom, configured requests, configured tokens, book requests (0/1), book tokens (weight),
#: pause ms. Learned limits live one window; the booking accounts for a call admitted before the limit was
#: known; a pause (a 429's retry-after) holds every process and moves the requests TAT past it.
LIMIT_REPORT = Script(
    "limit_report",
    _NOW
    + _RESERVE
    + """
local learned_r, learned_t, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if learned_r > 0 or learned_t > 0 then
  if learned_r > 0 then redis.call('HSET', KEYS[2], 'requests', learned_r) end
  if learned_t > 0 then redis.call('HSET', KEYS[2], 'tokens', learned_t) end
  redis.call('PEXPIRE', KEYS[2], math.ceil(window))
end
local headroom = tonumber(ARGV[4])
local requests, tokens = limits_of(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6]))
if tonumber(ARGV[7]) > 0 then reserve(KEYS[1], 'r', requests, 1, window, headroom) end
if tonumber(ARGV[8]) > 0 then reserve(KEYS[1], 't', tokens, tonumber(ARGV[8]), window, headroom) end
local pause = tonumber(ARGV[9])
if pause > 0 then
  if redis.call('PTTL', KEYS[3]) < pause then redis.call('SET', KEYS[3], '1', 'PX', math.ceil(pause)) end
  if requests > 0 then
    local T = window / requests
    local burst = math.max(1, math.floor(requests * (1 - headroom)))
    local resume = now + pause + (burst - 1) * T
    local tat = tonumber(redis.call('HGET', KEYS[1], 'r')) or now
    if tat < resume then
      redis.call('HSET', KEYS[1], 'r', tostring(resume))
      local ttl = math.ceil(resume - now) + 1000
      if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
    end
  end
end
return 1
""",
)

#: Move a bucket's TATs by a number of units: a settlement (actual tokens minus the estimate) or a refund.
#: KEYS: rl, limits. ARGV: requests delta, tokens delta, configured requests, configured tokens, window ms.
LIMIT_ADJUST = Script(
    "limit_adjust",
    _NOW
    + _RESERVE
    + """
local requests, tokens = limits_of(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
local window = tonumber(ARGV[5])
local dr, dt = tonumber(ARGV[1]), tonumber(ARGV[2])
if dr ~= 0 and redis.call('HEXISTS', KEYS[1], 'r') == 1 then reserve(KEYS[1], 'r', requests, dr, window, 0) end
if dt ~= 0 and redis.call('HEXISTS', KEYS[1], 't') == 1 then reserve(KEYS[1], 't', tokens, dt, window, 0) end
return 1
""",
)

#: Ask a circuit for one attempt. KEYS: cb. ARGV: reset timeout ms, probe lease ms, probe id.
#: Returns {0, failures, 0} closed; {1, 0, 0} this caller holds the half-open probe; {2, 0, retry ms} open.
BREAKER_ADMIT = Script(
    "breaker_admit",
    _NOW
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'opened', 'probe_until')
if h[1] ~= 'open' then return {0, tonumber(h[2]) or 0, 0} end
local reset, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local waited = now - tonumber(h[3])
if waited < reset then return {2, 0, math.ceil(reset - waited)} end
if (tonumber(h[4]) or 0) > now then return {2, 0, 0} end
redis.call('HSET', KEYS[1], 'probe', ARGV[3], 'probe_until', tostring(now + lease))
if redis.call('PTTL', KEYS[1]) < lease + 1000 then redis.call('PEXPIRE', KEYS[1], math.ceil(lease + 1000)) end
return {1, 0, 0}
""",
)

#: Report an outcome. KEYS: cb. ARGV: failed (0/1), probe id ('' when not the probe), failure threshold, TTL ms.
#: A success closes the circuit (the key is deleted: a closed circuit without failures stores nothing).
#: Returns 1 when this report opened the circuit.
BREAKER_RECORD = Script(
    "breaker_record",
    _NOW
    + """
if ARGV[1] == '0' then
  redis.call('DEL', KEYS[1])
  return 0
end
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'probe')
local state = h[1] or 'closed'
local failures = (tonumber(h[2]) or 0) + 1
local ours = ARGV[2] ~= '' and h[3] == ARGV[2]
if ours or (state ~= 'open' and failures >= tonumber(ARGV[3])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened', tostring(now), 'failures', failures)
  redis.call('HDEL', KEYS[1], 'probe', 'probe_until')
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 1
end
redis.call('HSET', KEYS[1], 'state', state, 'failures', failures)
if state ~= 'open' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 0
""",
)

#: The probe ended without an outcome (cancelled): let another process probe. KEYS: cb. ARGV: probe id.
BREAKER_RELEASE = Script(
    "breaker_release",
    """
if redis.call('HGET', KEYS[1], 'probe') == ARGV[1] then redis.call('HDEL', KEYS[1], 'probe', 'probe_until') end
return 1
""",
)

#: Take the refresh lock of a credential (SET NX PX with a random fencing token) and read its token in the same
#: step. KEYS: tok, lock. ARGV: fencing token, lock TTL ms. Returns {1 when taken else 0, the stored token or false}.
TOKEN_LOCK = Script(
    "token_lock",
    """
local taken = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
return {taken and 1 or 0, redis.call('GET', KEYS[1])}
""",
)

#: Store a refreshed token only while still holding the lock (fencing: a holder whose lock expired, and whose
#: place another process took, cannot overwrite a newer token), then release the lock.
#: KEYS: tok, lock. ARGV: fencing token, sealed token, TTL ms. Returns 1 when stored.
TOKEN_STORE = Script(
    "token_store",
    """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
""",
)

#: Release the refresh lock if it is still ours (compare-and-delete). KEYS: lock. ARGV: fencing token.
TOKEN_RELEASE = Script(
    "token_release",
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""",
)

#: Every script by SHA-1 (to load them again after Redis answered NOSCRIPT).
SCRIPTS = {
    s.sha: s
    for s in (
        LIMIT_ACQUIRE,
        LIMIT_REPORT,
        LIMIT_ADJUST,
        BREAKER_ADMIT,
        BREAKER_RECORD,
        BREAKER_RELEASE,
        TOKEN_LOCK,
        TOKEN_STORE,
        TOKEN_RELEASE,
    )
}
