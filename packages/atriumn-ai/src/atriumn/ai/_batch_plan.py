"""Provider batch jobs, sans-IO: checking and splitting a request list, the provider protocol, status aggregation.

Everything here (and in :mod:`._batch_flows`, :mod:`._batch_results` and ``providers/_batch_*``) is decided
once for the sync and async drivers (:mod:`._batches_sync`, :mod:`._batches_async`), which only send the
operations a flow yields, sleep when it says so, and read result bodies line by line. A *flow* is a generator
in the style of httpx's ``Auth.auth_flow``: it yields an :class:`~atriumn.core.Operation` (the driver sends it
and sends back the decoded answer, or throws the error in) or a :class:`Sleep`, and returns its result.

A request list is consumed once, lazily: each request is validated (ids non-empty and unique, named
``requests[i]`` when they are not), planned by the engine into the same :class:`ChatRequest` an interactive
call builds, translated by the same adapter (``chat_operation(req, stream=False)``: the batch line carries
exactly the body ``chat`` would send), and written as one JSONL line to a temporary spool — in memory up to
8 MiB, on disk beyond — starting a new provider batch whenever the next line would pass the provider's
request or byte limit. A million requests never become a million objects.
"""

from __future__ import annotations

import abc
import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

import attrs

from atriumn.core import RAW, AtriumnError, Operation, ValidationError

from ._batch_types import TERMINAL, BatchCounts, BatchJob, BatchLimits, BatchPart, BatchRequest

if TYPE_CHECKING:
    from ._engine import Engine
    from .providers._base import Adapter

__all__ = [
    "BatchAPI",
    "CreatePlan",
    "Flow",
    "Sleep",
    "SpooledPart",
    "aggregate",
    "assemble",
    "async_chunks",
    "batch_api",
    "check_batch_id",
    "dumps_id",
    "idempotency_key",
    "loads_line",
    "new_batch_id",
    "status_of",
]

T = TypeVar("T")

#: A flow yields operations (answered with their decoded result) or :class:`Sleep` s, and returns a ``T``.
Flow = Generator["Operation[Any] | Sleep", Any, T]

#: Bytes of spooled JSONL kept in memory before the spool moves to a temporary file.
SPOOL_MEMORY = 8 * 1024 * 1024
_CHUNK = 256 * 1024
_WORST = ["failed", "expired", "cancelled", "completed"]  # when parts end differently, the first found wins


@attrs.frozen
class Sleep:
    """Wait this many seconds (the only instruction besides operations)."""

    seconds: float


def new_batch_id() -> str:
    """A fresh client-side batch id: ``atb_`` and 24 hex digits."""
    return "atb_" + uuid.uuid4().hex[:24]


def idempotency_key(batch_id: str, part: int, what: str) -> str:
    """The Idempotency-Key of one provider call of a job: the same for every attempt, in every process."""
    return f"atriumn-batch-{batch_id}-{part}-{what}"


def check_batch_id(batch_id: str) -> str:
    """A caller's ``batch_id`` (1-64 of ``[A-Za-z0-9_-]``: it goes into metadata, display names, headers)."""
    if not isinstance(batch_id, str) or not 1 <= len(batch_id) <= 64:
        raise ValidationError(f"batch_id: expected 1 to 64 characters, got {batch_id!r}")
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in batch_id):
        raise ValidationError(f"batch_id: letters, digits, '-' and '_' only, got {batch_id!r}")
    return batch_id


# --- the spool ---------------------------------------------------------------------------------------------


class SpooledPart:
    """The JSONL lines of one provider batch, in a temporary spool (memory up to 8 MiB, then a file).

    Attributes:
        index: the part's place in the job; count: its lines; size: the bytes the provider's limit counts
        (see :meth:`BatchAPI.size_of`); inline_size: Gemini, the lines' size as inline requests.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.count = 0
        self.size = 0
        self.inline_size = 0
        self.file_size = 0
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115

    def write(self, line: bytes, size: int, inline_size: int) -> None:
        """Append one line (without its newline)."""
        self.file.write(line + b"\n")
        self.count += 1
        self.size += size
        self.inline_size += inline_size
        self.file_size += len(line) + 1

    def rewound(self) -> IO[bytes]:
        """The spool, at its start (an upload reads it from there on every attempt)."""
        self.file.seek(0)
        return self.file

    def lines(self) -> Iterator[bytes]:
        """The lines, without their newlines, read lazily from the start."""
        for line in self.rewound():
            yield line[:-1]

    def joined(self, head: bytes, sep: bytes, tail: bytes, line: Callable[[bytes], bytes] = bytes) -> Iterator[bytes]:
        """``head + sep.join(line(l) for l in lines) + tail``, in chunks of about 256 KiB (a request body)."""
        buffer = [head]
        held = len(head)
        first = True
        for raw in self.lines():
            item = line(raw)
            buffer.append(item if first else sep + item)
            first = False
            held += len(item) + len(sep)
            if held >= _CHUNK:
                yield b"".join(buffer)
                buffer, held = [], 0
        buffer.append(tail)
        yield b"".join(buffer)

    def chunks(self) -> Iterator[bytes]:
        """The spool's bytes from the start, in chunks of 256 KiB (an upload's body)."""
        data = self.rewound()
        while chunk := data.read(_CHUNK):
            yield chunk

    def close(self) -> None:
        """Drop the spool."""
        self.file.close()


async def async_chunks(chunks: Callable[[], Iterable[bytes]]) -> AsyncIterator[bytes]:
    """A sync chunk factory as an async iterator (an async client needs one; the reads are from a local spool)."""
    for chunk in chunks():
        yield chunk


# --- the provider protocol -----------------------------------------------------------------------------------


class BatchAPI(abc.ABC):
    """A provider's batch API, sans-IO: lines, operations and flows, and reading its documents.

    Attributes:
        adapter: the provider's chat adapter (bodies, parsing, errors).
        defaults: the provider's documented limits.
        finds_existing: whether a part already created for a client-side batch id can be found by listing
            (its metadata or display name carries the id); Anthropic's batches carry neither.
    """

    defaults: BatchLimits = BatchLimits()
    finds_existing: bool = True
    #: bytes around the lines (a JSON envelope), and between two lines.
    overhead: int = 0

    def __init__(self, adapter: Adapter) -> None:
        self.adapter = adapter
        self.name = adapter.name

    def op(self, method: str, path: str, span: str, **fields: Any) -> Operation[Any]:
        """An operation on this provider: the JSON answer decoded (unless ``response_type`` says otherwise),
        errors through the adapter's hook, the span named ``<provider>.<span>``."""
        fields.setdefault("response_type", RAW)
        return Operation(method=method, path=path, span_name=f"{self.name}.{span}", error_hook=self.adapter.error_hook,
                         **fields)  # fmt: skip

    def check_id(self, custom_id: str, where: str) -> None:
        """Refuse an id this provider cannot carry (after the common checks): every id is fine by default."""
        return None

    def check_metadata(self, metadata: Mapping[str, str]) -> None:
        """Refuse metadata this provider cannot store with its batches: any is fine by default."""
        return None

    def size_of(self, line: bytes) -> int:
        """The bytes one line adds to what the provider's byte limit counts."""
        return len(line) + 1

    def inline_size_of(self, line: bytes) -> int:
        """Gemini: the bytes one line adds to an inline request."""
        return 0

    @abc.abstractmethod
    def line(self, custom_id: str, body: bytes) -> bytes:
        """One request as a spool line, around ``body`` — the JSON body ``chat`` would send."""

    @abc.abstractmethod
    def create_part(self, spool: SpooledPart, ctx: CreatePlan) -> Flow[BatchPart]:
        """Upload (where needed) and create one provider batch."""

    def find_existing(self, batch_id: str) -> Flow[dict[int, BatchPart]]:
        """The parts of ``batch_id`` the provider already has (among its most recent batches)."""
        return {}
        yield  # pragma: no cover - a generator that sends nothing

    @abc.abstractmethod
    def get_operation(self, provider_id: str) -> Operation[Any]:
        """Read one provider batch."""

    @abc.abstractmethod
    def cancel_operation(self, provider_id: str) -> Operation[Any]:
        """Cancel one provider batch."""

    @abc.abstractmethod
    def list_operation(self, token: str | None) -> Operation[Any]:
        """One page of the provider's batches, newest first."""

    @abc.abstractmethod
    def parse_list(self, doc: Any) -> tuple[list[Any], str | None]:
        """The batch documents of a page, and the next page's token."""

    @abc.abstractmethod
    def parse_part(self, doc: Any, index: int, previous: BatchPart | None) -> BatchPart:
        """A provider batch document as a :class:`BatchPart` (``previous``: what was known of it)."""

    def job_facts(self, doc: Any) -> tuple[str, dict[str, str]]:
        """``(model, metadata)`` a provider batch document tells, for a job read by its id (the metadata holds
        ``atriumn_batch_id`` when the batch was created by this SDK and the provider keeps it)."""
        return "", {}

    @abc.abstractmethod
    def result_sources(self, part: BatchPart) -> list[tuple[str, Operation[Any]]]:
        """Where a finished part's results are: ``("lines", op)`` a JSONL body to stream, ``("inline", op)`` a
        document holding them (Gemini's inline responses)."""

    @abc.abstractmethod
    def parse_line(self, doc: Any, ctx: Any) -> Any:
        """One result line (decoded) as a :class:`BatchRequestResult`."""

    def inline_results(self, doc: Any, ctx: Any) -> Iterator[Any]:
        """The results inside a document (Gemini inline)."""
        return iter(())


def batch_api(kind: str, adapter: Adapter) -> BatchAPI:
    """The batch API of a provider kind (its module imported on first use)."""
    if kind in ("openai", "groq"):
        from .providers._batch_openai import OpenAIBatchAPI

        return OpenAIBatchAPI(adapter, groq=kind == "groq")
    if kind == "anthropic":
        from .providers._batch_anthropic import AnthropicBatchAPI

        return AnthropicBatchAPI(adapter)
    if kind == "gemini":
        from .providers._batch_gemini import GeminiBatchAPI

        return GeminiBatchAPI(adapter)
    raise ValidationError(
        f"model: {adapter.name} ({kind}) has no batch API in this SDK (openai, anthropic, gemini, groq)"
    )


# --- creating a job -----------------------------------------------------------------------------------------


class CreatePlan:
    """One ``batches.create`` call: the validated, spooled parts, then the flow that submits them.

    Args:
        engine: the client's engine (model resolution, request planning, adapters).
        model: ``provider:model`` of every request.
        requests: :class:`BatchRequest` s (any iterable: consumed once, lazily, by :meth:`spool`).
        metadata: string pairs kept on the job (and by providers that take metadata).
        limits: overrides of the provider's limits (over ``client_limits``, the sub-client's, by provider name).
        batch_id: the client-side batch id (a caller's own makes a re-run find what an earlier one submitted).
    """

    def __init__(
        self,
        engine: Engine,
        model: str | None,
        requests: Iterable[BatchRequest],
        *,
        metadata: Mapping[str, str] | None,
        limits: BatchLimits | None,
        batch_id: str | None,
        client_limits: Mapping[str, BatchLimits] | None = None,
    ) -> None:
        provider, name = engine.split(model)
        self.engine = engine
        self.provider = provider
        self.model = name
        self.adapter = engine.adapter(provider)
        self.api = batch_api(engine.kind_of(provider), self.adapter)
        if isinstance(requests, (str, bytes, BatchRequest)) or not isinstance(requests, Iterable):
            raise ValidationError("requests: expected an iterable of BatchRequest")
        self.requests = requests
        self.metadata = _metadata(metadata)
        self.api.check_metadata(self.metadata)
        if limits is not None and not isinstance(limits, BatchLimits):
            raise ValidationError(f"limits: expected a BatchLimits, got {type(limits).__name__}")
        client = (client_limits or {}).get(provider) or BatchLimits()
        self.limits = (limits or BatchLimits()).over(client.over(self.api.defaults))
        self.given_id = batch_id is not None
        self.batch_id = check_batch_id(batch_id) if batch_id is not None else new_batch_id()
        self.spools: list[SpooledPart] = []

    @property
    def full_model(self) -> str:
        """``provider:model``."""
        return f"{self.provider}:{self.model}"

    def spool(self) -> None:
        """Validate every request and write it to its part's spool (raises before anything is sent)."""
        seen: set[str] = set()
        max_requests, max_bytes = self.limits.max_requests, self.limits.max_bytes
        current: SpooledPart | None = None
        try:
            for i, request in enumerate(self.requests):
                line = self._line(i, request, seen)
                size, inline = self.api.size_of(line), self.api.inline_size_of(line)
                if max_bytes is not None and size + self.api.overhead > max_bytes:
                    raise ValidationError(
                        f"requests[{i}]: {size} bytes, more than one {self.provider} batch holds ({max_bytes} bytes)"
                    )
                full = current is not None and (
                    (max_requests is not None and current.count >= max_requests)
                    or (max_bytes is not None and self.api.overhead + current.size + size > max_bytes)
                )
                if current is None or full:
                    current = SpooledPart(len(self.spools))
                    self.spools.append(current)
                current.write(line, size, inline)
            if not self.spools:
                raise ValidationError("requests: at least one request is required")
        except BaseException:
            self.close()
            raise

    def _line(self, i: int, request: Any, seen: set[str]) -> bytes:
        where = f"requests[{i}]"
        if not isinstance(request, BatchRequest):
            raise ValidationError(f"{where}: expected a BatchRequest, got {type(request).__name__}")
        custom_id = request.id
        if not isinstance(custom_id, str) or not custom_id.strip():
            raise ValidationError(f"{where}.id: must be a non-empty string")
        if custom_id in seen:
            raise ValidationError(f"{where}.id: duplicate id {custom_id!r} (ids must be unique in a batch)")
        self.api.check_id(custom_id, f"{where}.id")
        seen.add(custom_id)
        try:
            ((req, adapter),) = self.engine.plan(self.full_model, None, request.messages, request.params)
            body = adapter.chat_operation(req, stream=False).content
        except ValidationError as exc:
            exc.args = (f"{where}: {exc}", *exc.args[1:])  # the same error, naming the request
            raise
        assert isinstance(body, bytes)
        return self.api.line(custom_id, body)

    def flow(self) -> Flow[BatchJob]:
        """Submit every part, each at most once: parts an earlier run with this ``batch_id`` created are found
        and reused; each creation carries an Idempotency-Key derived from the batch id and the part."""
        parts: list[BatchPart] = []
        try:
            existing: dict[int, BatchPart] = {}
            if self.given_id and self.api.finds_existing:
                existing = yield from self.api.find_existing(self.batch_id)
            for spool in self.spools:
                found = existing.get(spool.index)
                if found is None:
                    found = yield from self.api.create_part(spool, self)
                if not found.counts.total:  # OpenAI counts nothing while it validates: we know how many we sent
                    found = attrs.evolve(found, counts=attrs.evolve(found.counts, total=spool.count,
                                                                    processing=spool.count))  # fmt: skip
                parts.append(attrs.evolve(found, requests=spool.count))
        except AtriumnError as exc:
            # What was submitted before the failure: cancel it, or run create again with this batch_id.
            exc.batch_job = self.job(parts)  # type: ignore[attr-defined]
            raise
        return self.job(parts)

    def job(self, parts: Sequence[BatchPart]) -> BatchJob:
        """The job made of ``parts``."""
        import datetime as dt

        return assemble(
            BatchJob(
                id=self.batch_id,
                provider=self.provider,
                model=self.full_model,
                metadata=self.metadata,
                created_at=dt.datetime.now(dt.timezone.utc),
            ),
            parts,
        )

    def close(self) -> None:
        """Drop the spools."""
        for spool in self.spools:
            spool.close()


def _metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise ValidationError("metadata: expected a mapping of strings to strings")
    out: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValidationError(f"metadata[{key!r}]: keys and values must be strings")
        if key.startswith("atriumn_"):
            raise ValidationError(f"metadata[{key!r}]: the atriumn_ prefix is the SDK's own")
        out[key] = value
    return out


# --- status -------------------------------------------------------------------------------------------------


def aggregate(job: BatchJob, parts: Sequence[BatchPart]) -> tuple[str, str, BatchCounts]:
    """The neutral status, raw status and counts of a job made of ``parts``.

    Every part ended: the shared end state, else the first of failed, expired, cancelled (the other parts'
    results are still there); no part at all: failed (nothing was submitted). Otherwise: cancelling if any part
    is, queued while every part is, finalizing when the parts still going are all finalizing, else running.
    """
    counts = BatchCounts()
    for part in parts:
        counts = counts + part.counts
    raws = list(dict.fromkeys(p.raw_status for p in parts if p.raw_status))
    statuses = [p.status for p in parts]
    if not statuses:  # nothing was submitted (a create that failed at its first part): nothing will run
        return "failed", job.raw_status, counts
    if all(s in TERMINAL for s in statuses):
        status = statuses[0] if len(set(statuses)) == 1 else next(s for s in _WORST if s in statuses)
    else:
        going = [s for s in statuses if s not in TERMINAL]
        if "cancelling" in going:
            status = "cancelling"
        elif all(s == "queued" for s in statuses):
            status = "queued"
        elif all(s == "finalizing" for s in going):
            status = "finalizing"
        else:
            status = "running"
    return status, ", ".join(raws), counts


def assemble(job: BatchJob, parts: Sequence[BatchPart]) -> BatchJob:
    """``job`` with ``parts``, its status and counts recomputed."""
    status, raw, counts = aggregate(job, parts)
    return attrs.evolve(job, parts=tuple(parts), status=status, raw_status=raw, counts=counts)


def status_of(raw: str, mapping: Mapping[str, str], cancel_requested: bool) -> str:
    """A provider status as a neutral one (unknown values read as running); a part whose cancellation was
    asked for and has not ended is cancelling."""
    status = mapping.get(raw, "running")
    if cancel_requested and status not in TERMINAL:
        return "cancelling"
    return status


def loads_line(raw: str | bytes, provider: str) -> Any:
    """One result line, decoded (a line that is not a JSON object is a :class:`DecodeError`)."""
    from .providers._read import bad_shape, load_json

    doc = load_json(raw, provider, "a batch result line")
    if not isinstance(doc, dict):
        raise bad_shape(provider, "$", "an object (a batch result line)", doc)
    return doc


def dumps_id(custom_id: str) -> bytes:
    """An id as a JSON string (ASCII: escapes keep byte and character offsets equal)."""
    return json.dumps(custom_id).encode()
