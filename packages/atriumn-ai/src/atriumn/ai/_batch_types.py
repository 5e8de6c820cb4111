"""The types of provider batch jobs (``client.batches``): requests in, one neutral job, results out.

A :class:`BatchJob` is what a caller holds between submitting and reading results. It may span several
provider batches (:class:`BatchPart`, one per slice of a request list over a provider's limits), and it is
plain data: ``job.to_json()`` / ``BatchJob.from_json(text)`` carry it to another process, which can then
``wait`` for it and read its ``results`` without submitting anything again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from atriumn.core import AtriumnError, ValidationError

from ._params import check_params

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._params import ChatParams
    from ._types import ChatResponse, Cost, Usage

__all__ = [
    "TERMINAL",
    "BatchCounts",
    "BatchJob",
    "BatchLimits",
    "BatchPart",
    "BatchRequest",
    "BatchRequestResult",
    "BatchStatus",
]

#: A job's neutral status, mapped from each provider's own vocabulary (kept as ``raw_status``).
BatchStatus = Literal["queued", "running", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"]
#: The statuses a job does not leave.
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "expired", "cancelled"})

#: ``chat()`` parameters that cannot mean anything inside a provider batch (they act on the call, not on the
#: request the provider runs), so a :class:`BatchRequest` refuses them rather than dropping them silently.
_NOT_IN_BATCH = {
    "run_tools": "a tool loop needs a round trip per step",
    "max_steps": "a tool loop needs a round trip per step",
    "max_parse_retries": "a re-ask needs a round trip",
    "extra_headers": "a batch request has no headers of its own",
    "extra_query": "a batch request has no query of its own",
    "timeout": "the provider runs the request on its own schedule",
    "cache": "batch results are not cached",
    "replay_unsafe": "a batch request is submitted once, in the batch",
}


@attrs.frozen(kw_only=True)
class BatchCounts:
    """How many requests of a job are in each state (what the provider reports).

    Attributes:
        total: the requests of the job.
        succeeded: answered.
        failed: answered with an error (a per-request error; the job itself may still complete).
        cancelled: not run because the job was cancelled (where the provider reports it).
        expired: not run before the job's window closed (where the provider reports it).
        processing: not finished yet.
    """

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    expired: int = 0
    processing: int = 0

    @property
    def done(self) -> int:
        """Requests that have finished, one way or another."""
        return self.succeeded + self.failed + self.cancelled + self.expired

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(
            total=self.total + other.total,
            succeeded=self.succeeded + other.succeeded,
            failed=self.failed + other.failed,
            cancelled=self.cancelled + other.cancelled,
            expired=self.expired + other.expired,
            processing=self.processing + other.processing,
        )


@attrs.frozen(kw_only=True)
class BatchLimits:
    """How much one provider batch may hold; a request list over them is split into several batches.

    ``None`` fields take the provider's documented limit (OpenAI 50,000 requests / 200 MB per input file;
    Groq 50,000 / 100 MB; Anthropic 100,000 requests / 256 MB per batch; Gemini 20 MB inline, else a file of
    up to 2 GB). Smaller values are for tests and for keeping batches short.

    Attributes:
        max_requests: requests per provider batch.
        max_bytes: bytes per provider batch (OpenAI, Groq: the input file; Anthropic: the creation body;
            Gemini: the uploaded input file).
        max_inline_bytes: Gemini: the largest ``batchGenerateContent`` body sent with inline requests; a
            larger batch is uploaded as a file.
    """

    max_requests: int | None = None
    max_bytes: int | None = None
    max_inline_bytes: int | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("max_requests", "max_bytes", "max_inline_bytes"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValidationError(f"limits.{name}: expected a positive integer or None, got {value!r}")

    def over(self, base: BatchLimits) -> BatchLimits:
        """These limits, with ``base``'s where these say ``None``."""
        return BatchLimits(
            max_requests=self.max_requests if self.max_requests is not None else base.max_requests,
            max_bytes=self.max_bytes if self.max_bytes is not None else base.max_bytes,
            max_inline_bytes=self.max_inline_bytes if self.max_inline_bytes is not None else base.max_inline_bytes,
        )


@attrs.frozen(kw_only=True)
class BatchPart:
    """One provider batch of a :class:`BatchJob`.

    Attributes:
        index: its place in the job (0, 1, ...).
        provider_id: the provider's id (``batch_...``, ``msgbatch_...``, ``batches/...``).
        status: the neutral status; raw_status: the provider's own.
        counts: its requests by state.
        requests: how many requests were submitted in it (0 when unknown).
        input_file: the uploaded input file (OpenAI, Groq, Gemini), if any.
        output_file, error_file: the result files (OpenAI, Groq: output and errors; Gemini: responses), once ended.
        inline: Gemini: sent with inline requests (the results then come inside the job).
        error: why the provider failed the batch (validation errors), when it did.
        cancel_requested: a cancellation was asked for.
        created_at: when the provider created it.
    """

    index: int
    provider_id: str
    status: str
    raw_status: str = ""
    counts: BatchCounts = attrs.field(factory=BatchCounts)
    requests: int = 0
    input_file: str | None = None
    output_file: str | None = None
    error_file: str | None = None
    inline: bool = False
    error: str | None = None
    cancel_requested: bool = False
    created_at: dt.datetime | None = None

    @property
    def done(self) -> bool:
        """Whether this part has reached an end state."""
        return self.status in TERMINAL


@attrs.frozen(kw_only=True)
class BatchJob:
    """A batch of chat requests at one provider, maybe split over several provider batches (``parts``).

    Attributes:
        id: the client-side batch id (``atb_...``, or the one given to ``create``): what the provider batches
            carry in their metadata (Gemini: in their display name) and what their Idempotency-Keys derive from.
            A job read by provider id (``get("openai:batch_...")``) has ``"<provider>:<provider id>"``.
        provider: the provider name (``openai``, ``anthropic``, ``gemini``, ``groq``).
        model: ``provider:model`` (empty when a provider job read by id does not say).
        status: the neutral status of the whole job (see :data:`BatchStatus`); ``raw_status``: the parts' own,
            distinct values joined with ``", "``.
        counts: the parts' counts summed.
        parts: the provider batches.
        metadata: what was given to ``create`` (stored at the provider where it takes metadata: OpenAI, Groq).
        created_at: when it was submitted.
    """

    id: str
    provider: str
    model: str = ""
    status: str = "queued"
    raw_status: str = ""
    counts: BatchCounts = attrs.field(factory=BatchCounts)
    parts: tuple[BatchPart, ...] = ()
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    created_at: dt.datetime | None = None

    @property
    def done(self) -> bool:
        """Whether the job has reached an end state (every part has)."""
        return self.status in TERMINAL

    def to_json(self) -> str:
        """The job as JSON text (for another process: :meth:`from_json`). It holds ids, never keys."""
        from atriumn.core import unstructure

        return json.dumps({"atriumn_batch_job": 1, **unstructure(self, "snake")}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchJob:
        """A job from :meth:`to_json`'s text (``ValidationError`` for anything else)."""
        from atriumn.core import DecodeError, structure

        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"job: not a batch job's JSON ({exc})") from None
        if not isinstance(doc, dict) or doc.pop("atriumn_batch_job", None) != 1:
            raise ValidationError("job: not a batch job's JSON (written by BatchJob.to_json)")
        try:
            return structure(doc, cls, "snake")
        except DecodeError as exc:
            raise ValidationError(f"job: {exc}") from None


class BatchRequest:
    """One chat request of a batch: an ``id`` (unique in the batch), the messages, and the parameters
    :meth:`ChatClient.chat` takes (:class:`ChatParams`: ``system``, ``max_tokens``, ``tools``,
    ``response_format``, ...), translated by the same provider adapter, so a request means the same thing in
    a batch as interactively.

    Parameters that act on a call rather than on the request (``run_tools``, ``max_steps``,
    ``max_parse_retries``, ``extra_headers``, ``extra_query``, ``timeout``, ``cache``, ``replay_unsafe``) are
    refused with :class:`~atriumn.core.ValidationError`; an unknown keyword is a ``TypeError``, as for ``chat``.
    """

    __slots__ = ("id", "messages", "params")

    def __init__(self, id: str, messages: Any, **params: Unpack[ChatParams]) -> None:
        check_params(params, "BatchRequest")
        for name in params:
            reason = _NOT_IN_BATCH.get(name)
            if reason is not None:
                raise ValidationError(f"{name}: not available in a batch request ({reason})")
        self.id = id
        self.messages = messages
        self.params: dict[str, Any] = dict(params)

    def __repr__(self) -> str:
        # The messages are the caller's private text: the repr names the request, not its content.
        return f"BatchRequest(id={self.id!r}, params={sorted(self.params)!r})"


@attrs.frozen(kw_only=True)
class BatchRequestResult:
    """The outcome of one request of a batch: its ``response`` or its ``error``.

    Attributes:
        id: the request's id.
        response: the :class:`ChatResponse` (usage, and cost at the provider's batch prices), or None.
        error: a typed error, mapped as the interactive call maps an error answer (``RateLimitError``,
            ``BadRequestError``...), or :class:`BatchRequestExpiredError` / :class:`BatchRequestCancelledError`
            for a request the provider did not run; None on success.
    """

    id: str
    response: ChatResponse | None = None
    error: AtriumnError | None = attrs.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        """Whether the request was answered."""
        return self.error is None and self.response is not None

    @property
    def usage(self) -> Usage | None:
        """The response's token usage (None for an error)."""
        return self.response.usage if self.response is not None else None

    @property
    def cost(self) -> Cost | None:
        """The response's cost at batch prices (None for an error or an unpriced model)."""
        return self.response.cost if self.response is not None else None
