"""What the emulated batch APIs share: settings, the job clock, files and jobs in memory, JSONL helpers.

A batch is answered eagerly when it is created — each of its requests by the same code as the interactive
endpoint, so a request means the same thing in a batch — and its results are written as JSONL to a private
temporary directory. What a client then sees (the status, the counts, whether results are there) is computed
on every read from the job's creation time (:meth:`Job.timeline`): there is no background work, and a job
with no delay has ended by the next read. Jobs and files live in memory, per provider and per API key (a key
sees only what it created), for the life of the routes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from starlette.requests import Request

from ._behaviour import behaviour_of
from ._wire import dumps

__all__ = [
    "CANCELLED",
    "CANCELLING",
    "COMPLETED",
    "EXPIRED",
    "FAILED",
    "FINISHING",
    "QUEUED",
    "RUNNING",
    "TERMINAL",
    "BatchSettings",
    "BatchStore",
    "Job",
    "JsonlWriter",
    "StoredFile",
    "batch_marker",
    "duration_of",
    "jsonl_lines",
    "page_after",
    "read_limited",
    "rfc3339",
    "wants_gemini",
]

MIB = 1024 * 1024

# The phases of a job, provider-neutral (each provider names them its own way).
QUEUED = "queued"  # OpenAI/Groq validating, Anthropic in_progress, Gemini PENDING
RUNNING = "running"  # OpenAI/Groq in_progress, Anthropic in_progress, Gemini RUNNING
FINISHING = "finishing"  # OpenAI/Groq finalizing, Anthropic in_progress, Gemini RUNNING
COMPLETED = "completed"
FAILED = "failed"  # validation failed (OpenAI, Groq, Gemini)
EXPIRED = "expired"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
#: The phases a job does not leave.
TERMINAL = frozenset({COMPLETED, FAILED, EXPIRED, CANCELLED})

_MARKER = re.compile(r"batch-(expire|invalid)")


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """The batch emulation's clock and limits (:class:`~atriumn.sandbox.SandboxConfig` fields, see there).

    Attributes:
        delay: seconds from a job's creation to its end state; also from a cancellation to ``cancelled``.
        openai_max_requests: requests per OpenAI input file.
        openai_max_bytes: bytes per OpenAI input file.
        groq_max_requests: requests per Groq input file.
        groq_max_bytes: bytes per Groq input file.
        anthropic_max_requests: requests per Anthropic Message Batch.
        anthropic_max_bytes: bytes per Anthropic Message Batch creation body.
        gemini_max_inline_bytes: bytes per Gemini ``batchGenerateContent`` body.
    """

    delay: float = 0.2
    openai_max_requests: int = 50_000
    openai_max_bytes: int = 200 * MIB
    groq_max_requests: int = 50_000
    groq_max_bytes: int = 100 * MIB
    anthropic_max_requests: int = 100_000
    anthropic_max_bytes: int = 256 * MIB
    gemini_max_inline_bytes: int = 20 * MIB

    @classmethod
    def from_config(cls, config: Any) -> BatchSettings:
        """The settings of a ``SandboxConfig`` (``None``: the defaults)."""
        if config is None:
            return cls()
        return cls(
            delay=config.batch_delay,
            openai_max_requests=config.openai_batch_max_requests,
            openai_max_bytes=config.openai_batch_max_bytes,
            groq_max_requests=config.groq_batch_max_requests,
            groq_max_bytes=config.groq_batch_max_bytes,
            anthropic_max_requests=config.anthropic_batch_max_requests,
            anthropic_max_bytes=config.anthropic_batch_max_bytes,
            gemini_max_inline_bytes=config.gemini_batch_max_inline_bytes,
        )


def batch_marker(model: Any) -> str | None:
    """``"expire"`` or ``"invalid"`` when a request's model names ``batch-expire`` / ``batch-invalid``."""
    if not isinstance(model, str):
        return None
    match = _MARKER.search(model.lower())
    return match.group(1) if match else None


def duration_of(delay: float, models: set[str]) -> float:
    """How long a job takes: the configured delay plus the longest ``delay-<ms>`` among its models."""
    return delay + max((behaviour_of(m).delay for m in models), default=0.0)


@dataclasses.dataclass
class Job:
    """One batch job.

    Attributes:
        id: the provider's id (``batch_...``, ``msgbatch_...``, ``batches/...``).
        provider: ``openai``, ``groq``, ``anthropic`` or ``gemini``.
        owner: the API key that created it.
        created: when, in seconds since the epoch.
        duration: seconds from ``created`` to the end state (``outcome``).
        cancel_delay: seconds from a cancellation request to ``cancelled``.
        outcome: the end state when not cancelled: ``completed``, ``failed`` or ``expired``.
        total: how many requests it holds.
        data: what the provider module keeps (the request's fields, the results, counts...).
        cancel_requested: when a cancellation was requested, if one was.
    """

    id: str
    provider: str
    owner: str
    created: float
    duration: float
    cancel_delay: float
    outcome: str
    total: int
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    cancel_requested: float | None = None

    def timeline(self, now: float) -> dict[str, float]:
        """The phases the job has entered by ``now``, in order, with when it entered each (the last one is
        its phase). The phase a job is created (or cancelled) in is all that a read at that very instant sees,
        whatever the delay; from then on, a phase is entered when its time has come."""
        created, d = self.created, self.duration
        plan = [(QUEUED, created)]
        if self.outcome != FAILED:  # a failed job fails its validation: it never runs
            plan += [(RUNNING, created + d / 3), (FINISHING, created + 2 * d / 3)]
        plan.append((self.outcome, created + d))
        cancel = self.cancel_requested
        limit = now if cancel is None else min(now, cancel)
        seen = dict(plan[:1] + [(p, t) for p, t in plan[1:] if t <= limit and limit > created])
        if cancel is not None:
            seen[CANCELLING] = cancel
            end = cancel + self.cancel_delay
            if end <= now and now > cancel:
                seen[CANCELLED] = end
        return seen

    def phase(self, now: float) -> str:
        """The job's phase at ``now``."""
        return list(self.timeline(now))[-1]

    @property
    def cancelled(self) -> bool:
        """Whether a cancellation was requested (a cancelled job processed none of its requests)."""
        return self.cancel_requested is not None


@dataclasses.dataclass
class StoredFile:
    """A file of the Files APIs (OpenAI, Groq, Gemini): an uploaded input or a job's results.

    Attributes:
        id: the provider's id (``file-...``; Gemini ``files/...``).
        provider: who owns the namespace (``openai``, ``groq``, ``gemini``).
        owner: the API key that created it (or whose job did).
        filename: the name it was uploaded with (Gemini: its display name).
        purpose: OpenAI/Groq ``batch``, ``batch_output``...; Gemini ``UPLOADED`` or ``GENERATED``.
        path: where its bytes are.
        size: its size in bytes.
        created: when, in seconds since the epoch.
        media_type: its content type.
        sha256: the SHA-256 of its bytes (hex), when known.
    """

    id: str
    provider: str
    owner: str
    filename: str
    purpose: str
    path: Path
    size: int
    created: float
    media_type: str = "application/jsonl"
    sha256: str = ""


_T = TypeVar("_T")


class BatchStore:
    """The jobs and files of one set of routes, and the directory their bytes live in.

    The directory (under ``work_dir``, else the system's temporary directory) is created on first use and
    removed when the store is garbage-collected or the interpreter exits.
    """

    def __init__(self, settings: BatchSettings, work_dir: Path | None = None) -> None:
        self.settings = settings
        self._work_dir = work_dir
        self._root: Path | None = None
        # by (provider, owner, id): file names are private to a key (Gemini lets callers choose them)
        self._files: dict[tuple[str, str, str], StoredFile] = {}
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """Where a new file called ``name`` goes (ids are unique: no two callers get the same path)."""
        with self._lock:
            if self._root is None:
                if self._work_dir is not None:
                    self._work_dir.mkdir(parents=True, exist_ok=True)
                self._root = Path(tempfile.mkdtemp(prefix="llm-batches-", dir=self._work_dir))
                weakref.finalize(self, shutil.rmtree, self._root, True)
            return self._root / name.replace("/", "_")

    # -- files -------------------------------------------------------------------------------------

    def add_file(self, file: StoredFile) -> None:
        """Register a file (its bytes are already at ``file.path``)."""
        with self._lock:
            self._files[(file.provider, file.owner, file.id)] = file

    def file(self, provider: str, owner: str, file_id: str) -> StoredFile | None:
        """A file of ``owner`` by id, else ``None``."""
        with self._lock:
            return self._files.get((provider, owner, file_id))

    def files(self, provider: str, owner: str) -> list[StoredFile]:
        """Every file of ``owner``, newest first."""
        with self._lock:
            found = [f for (p, o, _), f in self._files.items() if p == provider and o == owner]
        return found[::-1]

    def delete_file(self, provider: str, owner: str, file_id: str) -> bool:
        """Remove a file and its bytes; whether it existed."""
        with self._lock:
            found = self._files.pop((provider, owner, file_id), None)
            if found is None:
                return False
        found.path.unlink(missing_ok=True)
        return True

    # -- jobs --------------------------------------------------------------------------------------

    def add_job(self, job: Job) -> None:
        """Register a job."""
        with self._lock:
            self._jobs[(job.provider, job.id)] = job

    def job(self, provider: str, owner: str, job_id: str) -> Job | None:
        """A job of ``owner`` by id, else ``None``."""
        with self._lock:
            found = self._jobs.get((provider, job_id))
        return found if found is not None and found.owner == owner else None

    def jobs(self, provider: str, owner: str) -> list[Job]:
        """Every job of ``owner``, newest first."""
        with self._lock:
            found = [j for (p, _), j in self._jobs.items() if p == provider and j.owner == owner]
        return found[::-1]

    def delete_job(self, job: Job, paths: list[Path]) -> None:
        """Forget a job, and remove the result files at ``paths`` that are not registered files."""
        with self._lock:
            self._jobs.pop((job.provider, job.id), None)
            registered = {f.path for f in self._files.values()}
        for path in paths:
            if path not in registered:
                path.unlink(missing_ok=True)


class JsonlWriter:
    """Writes JSON lines to a file (a context manager), counting them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._out = path.open("wb")

    def write(self, doc: Any) -> None:
        """Append one document as a line."""
        self._out.write(dumps(doc) + b"\n")
        self.lines += 1

    def close(self) -> int:
        """Close the file; its size in bytes."""
        self._out.close()
        return self.path.stat().st_size

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._out.closed:
            self._out.close()


def jsonl_lines(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, document, error)`` for every non-blank line of a JSONL file, read lazily: ``error``
    says why a line is not a JSON object (and ``document`` is then ``None``)."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except ValueError:
                yield number, None, "This line is not parseable as valid JSON."
                continue
            if not isinstance(doc, dict):
                yield number, None, "This line is not a JSON object."
                continue
            yield number, doc, None


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` when it is larger than ``limit`` bytes (the rest is still read and
    dropped, so that the client gets the answer rather than a broken pipe)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        else:
            chunks.clear()
    return None if size > limit else b"".join(chunks)


def page_after(items: list[_T], key: Callable[[_T], str], after: str | None, limit: int) -> tuple[list[_T], bool]:
    """The ``limit`` items that follow the one whose key is ``after`` (all from the start when ``None`` or
    unknown), and whether more follow."""
    start = 0
    if after:
        start = next((i + 1 for i, item in enumerate(items) if key(item) == after), 0)
    chosen = items[start : start + limit]
    return chosen, start + limit < len(items)


def rfc3339(seconds: float) -> str:
    """A time as RFC 3339 UTC with microseconds: ``2026-01-02T03:04:05.678901Z``."""
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def wants_gemini(request: Request) -> bool:
    """Whether a request on a path that Gemini shares with OpenAI (``/v1/batches``, ``/v1/files``) is
    Gemini's: it carries ``x-goog-api-key`` (or ``?key=``) rather than ``Authorization: Bearer``."""
    return "x-goog-api-key" in request.headers or "key" in request.query_params
