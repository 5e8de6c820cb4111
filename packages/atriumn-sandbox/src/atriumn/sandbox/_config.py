"""The sandbox's configuration: one frozen dataclass, filled from arguments, CLI flags or the environment."""

from __future__ import annotations

import dataclasses
import os
import secrets
from pathlib import Path

__all__ = ["SandboxConfig"]

ENV_ADMIN_CLIENT_ID = "ATRIUMN_SANDBOX_ADMIN_CLIENT_ID"
ENV_ADMIN_CLIENT_SECRET = "ATRIUMN_SANDBOX_ADMIN_CLIENT_SECRET"
_MIB = 1024 * 1024


def _env_or_generated(name: str, prefix: str, nbytes: int) -> str:
    return os.environ.get(name) or f"{prefix}{secrets.token_hex(nbytes)}"


_BATCH_LIMITS = (
    "openai_batch_max_requests",
    "openai_batch_max_bytes",
    "groq_batch_max_requests",
    "groq_batch_max_bytes",
    "anthropic_batch_max_requests",
    "anthropic_batch_max_bytes",
    "gemini_batch_max_inline_bytes",
)


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
    """How a sandbox server behaves.

    Attributes:
        data_dir: where the SQLite database and the blobs live; ``None`` means a fresh temporary
            directory (removed when a :class:`~atriumn.sandbox.Sandbox` that created it stops).
        token_ttl: lifetime of access and id tokens, in seconds (short values make refresh tests real).
        refresh_token_ttl: lifetime of refresh tokens, in seconds.
        admin_client_id: the bootstrap admin credential's client id (default: ``$ATRIUMN_SANDBOX_ADMIN_CLIENT_ID``,
            else generated).
        admin_client_secret: its secret (default: ``$ATRIUMN_SANDBOX_ADMIN_CLIENT_SECRET``, else generated).
        admin_tenant_id: the tenant of the bootstrap admin credential.
        max_body_size: the largest JSON / form request body accepted, in bytes (larger → 413).
        max_upload_size: the largest file upload (multipart or pre-signed PUT) accepted, in bytes.
        rate_limit: requests per second allowed per credential; ``None`` (the default) disables limiting.
        rate_limit_burst: the token bucket's capacity (default: ``max(1, rate_limit)``).
        processing_delay: seconds each step of background ingestion takes (pending → processing → done).
        url_fetch_timeout: timeout, in seconds, of the fetch behind ``POST /ingest/url``.
        presign_ttl: lifetime of pre-signed URLs, in seconds.
        signing_secret: the HMAC key for tokens and pre-signed URLs (default: random per config).
            Set it to keep tokens and URLs valid across a restart on the same ``data_dir``.
        batch_delay: seconds an emulated LLM batch job takes from its creation to its end state (plus the
            longest ``delay-<ms>`` of its requests), and a cancellation from its request to ``cancelled``;
            0 ends a job by the next poll.
        openai_batch_max_requests: requests per OpenAI batch input file (more: the batch fails, ``too_many_tasks``).
        openai_batch_max_bytes: bytes per OpenAI batch input file (larger: the upload is refused with 400).
        groq_batch_max_requests: requests per Groq batch input file.
        groq_batch_max_bytes: bytes per Groq batch input file.
        anthropic_batch_max_requests: requests per Anthropic Message Batch (more: 400 ``invalid_request_error``).
        anthropic_batch_max_bytes: bytes per Anthropic Message Batch request body (larger: 413
            ``request_too_large``).
        gemini_batch_max_inline_bytes: bytes per Gemini ``batchGenerateContent`` request with inline requests
            (larger: 400 ``INVALID_ARGUMENT``).
        llm_rpm: requests per ``llm_window`` per provider and API key at the emulated chat endpoints, with the
            providers' rate-limit headers and 429s; ``None`` (the default): unlimited.
        llm_tpm: tokens (prompt plus answer) per ``llm_window`` per provider and API key; ``None``: unlimited.
        llm_window: the window of ``llm_rpm`` and ``llm_tpm`` in seconds (default 60: per minute; a few seconds
            make tests fast). Budgets refill continuously; a full budget is the burst.
    """

    data_dir: Path | None = None
    token_ttl: float = 3600.0
    refresh_token_ttl: float = 30 * 24 * 3600.0
    admin_client_id: str = dataclasses.field(
        default_factory=lambda: _env_or_generated(ENV_ADMIN_CLIENT_ID, "sandbox-admin-", 4)
    )
    admin_client_secret: str = dataclasses.field(
        default_factory=lambda: _env_or_generated(ENV_ADMIN_CLIENT_SECRET, "", 16)
    )
    admin_tenant_id: str = "default"
    max_body_size: int = 1024 * 1024
    max_upload_size: int = 100 * 1024 * 1024
    rate_limit: float | None = None
    rate_limit_burst: float | None = None
    processing_delay: float = 0.05
    url_fetch_timeout: float = 3.0
    presign_ttl: int = 900
    signing_secret: str = dataclasses.field(default_factory=lambda: secrets.token_hex(32))
    batch_delay: float = 0.2
    openai_batch_max_requests: int = 50_000
    openai_batch_max_bytes: int = 200 * _MIB
    groq_batch_max_requests: int = 50_000
    groq_batch_max_bytes: int = 100 * _MIB
    anthropic_batch_max_requests: int = 100_000
    anthropic_batch_max_bytes: int = 256 * _MIB
    gemini_batch_max_inline_bytes: int = 20 * _MIB
    llm_rpm: int | None = None
    llm_tpm: int | None = None
    llm_window: float = 60.0

    def __post_init__(self) -> None:
        if self.data_dir is not None and not isinstance(self.data_dir, Path):
            object.__setattr__(self, "data_dir", Path(self.data_dir))
        for name in (
            "token_ttl",
            "refresh_token_ttl",
            "max_body_size",
            "max_upload_size",
            "presign_ttl",
            *_BATCH_LIMITS,
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive or None, got {self.rate_limit!r}")
        if self.processing_delay < 0:
            raise ValueError("processing_delay must not be negative")
        if self.batch_delay < 0:
            raise ValueError("batch_delay must not be negative")
        for name in ("llm_rpm", "llm_tpm"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not self.llm_window > 0:
            raise ValueError(f"llm_window must be positive, got {self.llm_window!r}")
        if not self.admin_client_id or not self.admin_client_secret:
            raise ValueError("the bootstrap admin client id and secret must not be empty")
