"""OpenAI's Files API (``/v1/files``) and Groq's copy of it (``/openai/v1/files``), as batches use it; and
what differs between the two providers' batch APIs (:class:`OpenAIBatches`).

Wire facts kept here: an upload is multipart with the parts ``file`` and ``purpose``; a ``batch`` file must
have a ``.jsonl`` name (else 400 ``Invalid file format for Batch API. Must be .jsonl``) and fit the provider's
size limit (else 400 ``File is too large.``); a file object has ``bytes``, Unix ``created_at``, and (OpenAI)
``status: processed`` and ``expires_at`` (30 days for batch files); ``/content`` serves the bytes; an unknown
id is 404 ``No such File object``. Groq's file objects carry only id, object, bytes, created_at, filename,
purpose.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import time
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ._batches import BatchStore, StoredFile
from ._openai import authenticate, error_response
from ._wire import json_response, new_id

__all__ = ["GROQ_BATCHES", "OPENAI_BATCHES", "OpenAIBatches", "file_doc", "file_item", "list_files", "upload"]

_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
_MAX_FILE = 512 * 1024 * 1024  # any file, whatever its purpose
_WINDOW = re.compile(r"^(\d+)([hd])$")


@dataclasses.dataclass(frozen=True)
class OpenAIBatches:
    """What differs between OpenAI's batch API and Groq's: the provider, its path prefix, what it takes."""

    provider: str
    prefix: str
    endpoints: tuple[str, ...]

    @property
    def groq(self) -> bool:
        """Whether this is Groq's variant."""
        return self.provider == "groq"

    def limits(self, store: BatchStore) -> tuple[int, int]:
        """``(requests, bytes)`` an input file may hold."""
        s = store.settings
        return (s.groq_max_requests, s.groq_max_bytes) if self.groq else (s.openai_max_requests, s.openai_max_bytes)

    def window_ok(self, window: Any) -> bool:
        """Whether a ``completion_window`` is accepted (OpenAI: ``24h``; Groq: ``24h`` to ``7d``)."""
        match = _WINDOW.match(window) if isinstance(window, str) else None
        if match is None:
            return False
        hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
        return hours == 24 if not self.groq else 24 <= hours <= 168

    def window_seconds(self, window: str) -> int:
        """The completion window in seconds."""
        match = _WINDOW.match(window)
        assert match is not None
        return int(match.group(1)) * (86_400 if match.group(2) == "d" else 3_600)


OPENAI_BATCHES = OpenAIBatches("openai", "/v1", ("/v1/chat/completions", "/v1/embeddings"))
GROQ_BATCHES = OpenAIBatches("groq", "/openai/v1", ("/v1/chat/completions",))


def file_doc(flavour: OpenAIBatches, file: StoredFile) -> dict[str, Any]:
    """A file object in the flavour's shape."""
    doc: dict[str, Any] = {
        "id": file.id,
        "object": "file",
        "bytes": file.size,
        "created_at": int(file.created),
        "filename": file.filename,
        "purpose": file.purpose,
    }
    if not flavour.groq:
        expires = int(file.created) + 30 * 86_400 if file.purpose.startswith("batch") else None
        doc.update(status="processed", expires_at=expires, status_details=None)
    return doc


def _no_file(file_id: str) -> Response:
    return error_response(404, f"No such File object: {file_id}", param="id")


async def upload(store: BatchStore, flavour: OpenAIBatches, request: Request) -> Response:
    """``POST /v1/files``: a multipart upload (parts ``file`` and ``purpose``)."""
    key, refused = authenticate(request)
    if refused is not None:
        return refused
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return error_response(400, "The request must be multipart/form-data with a 'file' and a 'purpose'.")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except Exception as exc:  # starlette raises its own errors for malformed multipart bodies
        return error_response(400, f"Malformed multipart body: {exc}")
    try:
        part, purpose = form.get("file"), form.get("purpose")
        if not isinstance(part, UploadFile):
            return error_response(
                400, "Missing required parameter: 'file'.", param="file", code="missing_required_parameter"
            )
        if not isinstance(purpose, str) or not purpose:
            return error_response(
                400, "Missing required parameter: 'purpose'.", param="purpose", code="missing_required_parameter"
            )
        if purpose not in _PURPOSES or (flavour.groq and purpose != "batch"):
            return error_response(400, f"Invalid value for 'purpose': '{purpose}'.", param="purpose")
        filename = part.filename or "upload"
        if purpose == "batch" and not filename.endswith(".jsonl"):
            return error_response(400, "Invalid file format for Batch API. Must be .jsonl", param="file")
        file_id = new_id("file-")
        path = store.path(file_id)
        size = await asyncio.to_thread(_copy, part, path)
    finally:
        await form.close()
    limit = flavour.limits(store)[1] if purpose == "batch" else _MAX_FILE
    if size > limit:
        path.unlink(missing_ok=True)
        return error_response(
            400, f"File is too large. The maximum size of a {purpose} file is {limit} bytes.", param="file"
        )
    media_type = part.content_type or "application/octet-stream"
    stored = StoredFile(file_id, flavour.provider, key, filename, purpose, path, size, time.time(), media_type)
    store.add_file(stored)
    return json_response(file_doc(flavour, stored))


def _copy(part: UploadFile, path: Path) -> int:
    part.file.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(part.file, out, 1024 * 1024)
    return path.stat().st_size


async def list_files(store: BatchStore, flavour: OpenAIBatches, request: Request) -> Response:
    """``GET /v1/files``: the key's files, newest first (``purpose`` filters)."""
    key, refused = authenticate(request)
    if refused is not None:
        return refused
    purpose = request.query_params.get("purpose")
    files = [f for f in store.files(flavour.provider, key) if purpose is None or f.purpose == purpose]
    data = [file_doc(flavour, f) for f in files]
    doc: dict[str, Any] = {"object": "list", "data": data}
    if not flavour.groq:
        doc.update(first_id=data[0]["id"] if data else None, last_id=data[-1]["id"] if data else None, has_more=False)
    return json_response(doc)


async def file_item(store: BatchStore, flavour: OpenAIBatches, request: Request, rest: str) -> Response:
    """``GET /v1/files/{id}``, ``GET /v1/files/{id}/content``, ``DELETE /v1/files/{id}``."""
    key, refused = authenticate(request)
    if refused is not None:
        return refused
    file_id, _, tail = rest.partition("/")
    if tail not in ("", "content") or (tail and request.method != "GET"):
        return error_response(404, f"Invalid URL ({request.method} {request.url.path})")
    if request.method == "DELETE":
        if not store.delete_file(flavour.provider, key, file_id):
            return _no_file(file_id)
        return json_response({"id": file_id, "object": "file", "deleted": True})
    file = store.file(flavour.provider, key, file_id)
    if file is None:
        return _no_file(file_id)
    if not tail:
        return json_response(file_doc(flavour, file))
    return FileResponse(file.path, media_type=file.media_type, headers={"x-request-id": new_id("req_")})
