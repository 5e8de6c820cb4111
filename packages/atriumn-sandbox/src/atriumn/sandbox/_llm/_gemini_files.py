"""Gemini's Files API, as far as batch mode needs it: the resumable upload, metadata, list, delete, download.

Wire facts kept here: an upload starts with ``POST /upload/{version}/files`` carrying
``X-Goog-Upload-Protocol: resumable``, ``X-Goog-Upload-Command: start`` and the size and type in
``X-Goog-Upload-Header-Content-Length`` / ``-Content-Type`` (body: ``{"file": {"displayName", ...}}``); the
answer's ``x-goog-upload-url`` takes the bytes in chunks (``X-Goog-Upload-Command: upload`` with
``X-Goog-Upload-Offset``, the last one ``upload, finalize``), each answered with ``x-goog-upload-status``
(``active``, then ``final`` with ``{"file": {...}}``). A file is ``files/<id>`` with ``sizeBytes`` as a string;
only generated files (batch results) can be downloaded, at ``/{version}/files/<id>:download?alt=media``
(also ``/download/{version}/...``). The upload URL is the capability: chunk requests carry no key.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from ._batches import BatchStore, StoredFile, page_after, rfc3339
from ._gemini import authenticate, error_response, field
from ._wire import json_response, new_id

__all__ = ["GeminiFiles"]

_MAX_FILE = 2 * 1024 * 1024 * 1024
_NAME = re.compile(r"^files/[a-z0-9-]{1,40}$")
_GRANULARITY = str(8 * 1024 * 1024)


@dataclasses.dataclass
class _Session:
    """A resumable upload under way."""

    owner: str
    name: str
    display_name: str | None
    mime_type: str
    declared: int | None
    path: Path
    received: int = 0


def file_doc(request: Request, version: str, file: StoredFile) -> dict[str, Any]:
    """A file's metadata in Gemini's shape."""
    base = str(request.base_url).rstrip("/")
    created = rfc3339(file.created)
    digest = base64.b64encode(file.sha256.encode()).decode() if file.sha256 else ""
    doc: dict[str, Any] = {"name": file.id}
    if file.filename:
        doc["displayName"] = file.filename
    doc.update(
        mimeType=file.media_type,
        sizeBytes=str(file.size),
        createTime=created,
        updateTime=created,
        expirationTime=rfc3339(file.created + 48 * 3600),
        sha256Hash=digest,
        uri=f"{base}/{version}/{file.id}",
        state="ACTIVE",
        source=file.purpose,
    )
    if file.purpose == "GENERATED":
        doc["downloadUri"] = f"{base}/download/{version}/{file.id}:download?alt=media"
    return doc


class GeminiFiles:
    """The Files API of one :class:`BatchStore` (files are ``gemini``-owned there)."""

    def __init__(self, store: BatchStore) -> None:
        self.store = store
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    async def upload(self, request: Request) -> Response:
        """``POST /upload/{version}/files``: start a resumable upload, or (``?upload_id=``) take a chunk."""
        upload_id = request.query_params.get("upload_id")
        if upload_id is not None:
            return await self._chunk(request, upload_id)
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        headers = request.headers
        if headers.get("x-goog-upload-protocol", "").lower() != "resumable":
            message = "The sandbox emulates the resumable upload protocol only (X-Goog-Upload-Protocol: resumable)."
            return error_response(400, message)
        if headers.get("x-goog-upload-command", "").lower() != "start":
            return error_response(400, "A resumable upload starts with X-Goog-Upload-Command: start.")
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return error_response(400, f"Invalid JSON payload received. {exc}")
        meta = field(body, "file", "file") or {}
        declared_text = headers.get("x-goog-upload-header-content-length")
        declared = int(declared_text) if declared_text and declared_text.isdigit() else None
        if declared is not None and declared > _MAX_FILE:
            return error_response(400, f"File size {declared} exceeds the maximum of {_MAX_FILE} bytes.")
        name = field(meta, "name", "name")
        if name is not None and (not isinstance(name, str) or not _NAME.match(name)):
            return error_response(400, f"Invalid file name: {name!r} (lowercase letters, digits and dashes).")
        name = name or new_id("files/")
        if self.store.file("gemini", key, name) is not None:
            return error_response(409, f"A file named {name} already exists.")
        mime = headers.get("x-goog-upload-header-content-type") or field(meta, "mimeType", "mime_type")
        display = field(meta, "displayName", "display_name")
        session = _Session(
            owner=key,
            name=name,
            display_name=display if isinstance(display, str) else None,
            mime_type=str(mime or "application/octet-stream"),
            declared=declared,
            path=self.store.path(new_id("gemini-upload-")),  # a caller-chosen name is per key: never a path
        )
        session.path.touch()
        upload_id = new_id("")
        with self._lock:
            self._sessions[upload_id] = session
        url = f"{str(request.base_url).rstrip('/')}{request.url.path}?upload_id={upload_id}&upload_protocol=resumable"
        return Response(
            b"",
            headers={
                "x-goog-upload-url": url,
                "x-goog-upload-status": "active",
                "x-goog-upload-chunk-granularity": _GRANULARITY,
            },
        )

    async def _chunk(self, request: Request, upload_id: str) -> Response:
        with self._lock:
            session = self._sessions.get(upload_id)
        if session is None:
            return error_response(404, "No such upload session.")
        commands = {c.strip().lower() for c in request.headers.get("x-goog-upload-command", "").split(",")}
        offset_text = request.headers.get("x-goog-upload-offset", "")
        if "upload" not in commands and "finalize" not in commands:
            return error_response(400, "Expected X-Goog-Upload-Command: upload[, finalize].")
        if not offset_text.isdigit() or int(offset_text) != session.received:
            message = f"Invalid X-Goog-Upload-Offset {offset_text!r}: {session.received} bytes were received."
            return self._status(error_response(400, message), "active")
        size = session.received
        with session.path.open("ab") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > _MAX_FILE:
                    break
                out.write(chunk)
        if size > _MAX_FILE:
            self._drop(upload_id, session)
            return self._status(error_response(400, f"The file exceeds the maximum of {_MAX_FILE} bytes."), "final")
        session.received = size
        if "finalize" not in commands:
            return self._status(Response(b""), "active")
        if session.declared is not None and session.declared != size:
            self._drop(upload_id, session)
            message = f"The upload holds {size} bytes, not the {session.declared} announced."
            return self._status(error_response(400, message), "final")
        with self._lock:
            self._sessions.pop(upload_id, None)
        file = StoredFile(
            id=session.name,
            provider="gemini",
            owner=session.owner,
            filename=session.display_name or "",
            purpose="UPLOADED",
            path=session.path,
            size=size,
            created=time.time(),
            media_type=session.mime_type,
            sha256=_sha256(session.path),
        )
        self.store.add_file(file)
        version = request.url.path.split("/")[2]
        return self._status(json_response({"file": file_doc(request, version, file)}), "final")

    def _drop(self, upload_id: str, session: _Session) -> None:
        with self._lock:
            self._sessions.pop(upload_id, None)
        session.path.unlink(missing_ok=True)

    @staticmethod
    def _status(response: Response, status: str) -> Response:
        response.headers["x-goog-upload-status"] = status
        return response

    async def list_files(self, request: Request, version: str) -> Response:
        """``GET /{version}/files?pageSize=&pageToken=``: the key's files, newest first."""
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        raw = request.query_params.get("pageSize", "10")
        size = min(int(raw), 100) if raw.isdigit() and int(raw) > 0 else 10
        files = self.store.files("gemini", key)
        chosen, more = page_after(files, lambda f: f.id, request.query_params.get("pageToken"), size)
        doc: dict[str, Any] = {"files": [file_doc(request, version, f) for f in chosen]}
        if more and chosen:
            doc["nextPageToken"] = chosen[-1].id
        return json_response(doc)

    async def item(self, request: Request, version: str, rest: str) -> Response:
        """``GET``/``DELETE /{version}/files/{id}``, ``GET /{version}/files/{id}:download?alt=media``."""
        key, refused = authenticate(request)
        if refused is not None:
            return refused
        file_id, _, method = rest.partition(":")
        name = f"files/{file_id}"
        if method not in ("", "download") or (method and request.method != "GET"):
            return error_response(404, f"Method not found: {rest}")
        file = self.store.file("gemini", key, name)
        if file is None:
            return error_response(403, f"You do not have permission to access the File {file_id} or it may not exist.")
        if request.method == "DELETE":
            self.store.delete_file("gemini", key, name)
            return json_response({})
        if not method:
            return json_response(file_doc(request, version, file))
        if file.purpose != "GENERATED":
            return error_response(400, "Only generated files can be downloaded; uploaded files cannot.")
        return FileResponse(file.path, media_type=file.media_type)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()
