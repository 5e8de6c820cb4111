"""The Ingest API: text, URL and file ingestion, content items and their background processing.

An item is created ``pending``; after ``processing_delay`` it becomes ``processing``, and after another
``processing_delay`` ``completed`` (with its text extracted when the content is textual) or ``failed``
(with ``statusReason`` and ``metadata["error"]``). Items interrupted by a stop are resumed at the next start.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError
from ._http import (
    Principal,
    authenticate,
    decode_token,
    encode_token,
    opt_str,
    opt_str_dict,
    query_int,
    read_json,
    req_str,
    state_of,
)
from ._state import State
from ._storage_api import BUCKET, presign, register_blob
from ._store import now_iso

__all__ = ["ingest_routes", "resume", "uploaded"]

_TEXTUAL = ("text/", "application/json", "application/xml", "application/x-ndjson", "application/yaml")


def _is_text(content_type: str | None) -> bool:
    return bool(content_type) and str(content_type).split(";")[0].strip().lower().startswith(_TEXTUAL)


def _new_item(
    principal: Principal,
    *,
    tenant: str,
    user_id: str | None,
    source_type: str,
    source_uri: str | None,
    content_type: str | None,
    metadata: dict[str, str] | None,
) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": str(uuid.uuid4()),
        "tenantId": tenant,
        "userId": user_id or (principal.subject if principal.kind == "user" else None),
        "sourceType": source_type,
        "sourceUri": source_uri,
        "s3Key": None,
        "s3Bucket": BUCKET,
        "status": "pending",
        "statusReason": None,
        "contentType": content_type,
        "size": None,
        "metadata": metadata or {},
        "createdAt": now,
        "updatedAt": now,
    }


def _save(state: State, item: dict[str, Any]) -> None:
    item["updatedAt"] = now_iso()
    state.store.put("content", item["id"], item, tenant_id=item["tenantId"])


def _write_blob(state: State, key: str, data: bytes, content_type: str) -> None:
    state.store.blob_path(key).write_bytes(data)
    blob = state.store.get("blob", key)
    assert blob is not None
    blob.update(uploaded=True, size=len(data), content_type=content_type, uploaded_at=now_iso())
    state.store.put("blob", key, blob, tenant_id=blob["tenant_id"])


def _ticket(state: State, request: Request, item: dict[str, Any]) -> Response:
    return JSONResponse(
        {
            "id": item["id"],
            "uploadUrl": presign(state, request, "PUT", item["s3Key"]),
            "status": item["status"],
            "tenantId": item["tenantId"],
            "userId": item["userId"],
            "s3Key": item["s3Key"],
            "httpMethod": "PUT",
            "expiresIn": state.config.presign_ttl,
        }
    )


def _request_upload(
    state: State, request: Request, principal: Principal, body: dict[str, Any], *, source: str, default_type: str
) -> Response:
    filename = opt_str(body, "filename") or ("content.txt" if source == "text" else "upload.bin")
    content_type = opt_str(body, "contentType") or default_type
    item = _new_item(
        principal,
        tenant=principal.tenant(opt_str(body, "tenantId")),
        user_id=opt_str(body, "userId"),
        source_type=source,
        source_uri=filename,
        content_type=content_type,
        metadata=opt_str_dict(body, "metadata"),
    )
    item["s3Key"] = register_blob(
        state, tenant_id=item["tenantId"], filename=filename, content_type=content_type, content_id=item["id"]
    )
    _save(state, item)
    return _ticket(state, request, item)


async def ingest_text(request: Request) -> Response:
    """``POST /ingest/text``: the text itself, or (without ``content``) a pre-signed upload ticket."""
    principal = authenticate(request)
    state = state_of(request)
    body = await read_json(request)
    if body.get("content") is None:
        return _request_upload(state, request, principal, body, source="text", default_type="text/plain")
    content = req_str(body, "content", allow_empty=True)
    content_type = opt_str(body, "contentType") or "text/plain"
    item = _new_item(
        principal,
        tenant=principal.tenant(opt_str(body, "tenantId")),
        user_id=opt_str(body, "userId"),
        source_type="text",
        source_uri=None,
        content_type=content_type,
        metadata=opt_str_dict(body, "metadata"),
    )
    data = content.encode()
    item["s3Key"] = register_blob(state, tenant_id=item["tenantId"], filename="content.txt", content_type=content_type)
    _write_blob(state, item["s3Key"], data, content_type)
    item["size"] = len(data)
    _save(state, item)
    state.spawn(process(state, item["id"]))
    return JSONResponse(item, status_code=202)


async def ingest_url(request: Request) -> Response:
    """``POST /ingest/url``: fetched in the background; an unreachable URL ends ``failed``."""
    principal = authenticate(request)
    state = state_of(request)
    body = await read_json(request)
    url = req_str(body, "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "field 'url' must be an absolute http(s) URL")
    item = _new_item(
        principal,
        tenant=principal.tenant(opt_str(body, "tenantId")),
        user_id=opt_str(body, "userId"),
        source_type="url",
        source_uri=url,
        content_type=None,
        metadata=opt_str_dict(body, "metadata"),
    )
    _save(state, item)
    state.spawn(process(state, item["id"]))
    return JSONResponse(item, status_code=202)


async def ingest_file(request: Request) -> Response:
    """``POST /ingest/file``: multipart (the part ``file``, streamed to disk), or JSON for an upload ticket."""
    principal = authenticate(request)
    state = state_of(request)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = await read_json(request)
        return _request_upload(state, request, principal, body, source="file", default_type="application/octet-stream")
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, "POST /ingest/file takes multipart/form-data (a 'file' part) or JSON")
    try:
        form = await request.form(max_files=1, max_fields=20)
    except ApiError:
        raise
    except Exception as exc:  # starlette raises its own errors for malformed multipart bodies
        raise ApiError(400, f"malformed multipart body: {exc}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "missing the multipart file part 'file'")
        fields: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
        metadata = None
        if fields.get("metadata"):
            try:
                metadata = json.loads(fields["metadata"])
            except ValueError:
                raise ApiError(400, "form field 'metadata' must be a JSON object") from None
            metadata = opt_str_dict({"metadata": metadata}, "metadata")
        filename = upload.filename or "upload.bin"
        content_type = upload.content_type or "application/octet-stream"
        item = _new_item(
            principal,
            tenant=principal.tenant(opt_str(fields, "tenantId")),
            user_id=opt_str(fields, "userId"),
            source_type="file",
            source_uri=filename,
            content_type=content_type,
            metadata=metadata,
        )
        key = register_blob(state, tenant_id=item["tenantId"], filename=filename, content_type=content_type)
        item["s3Key"] = key
        path = state.store.blob_path(key)

        def copy() -> int:
            upload.file.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1024 * 1024)
            return path.stat().st_size

        size = await asyncio.to_thread(copy)
    finally:
        await form.close()
    blob = state.store.get("blob", key)
    assert blob is not None
    blob.update(uploaded=True, size=size, uploaded_at=now_iso())
    state.store.put("blob", key, blob, tenant_id=item["tenantId"])
    item["size"] = size
    _save(state, item)
    state.spawn(process(state, item["id"]))
    return JSONResponse(item, status_code=202)


def uploaded(state: State, blob: dict[str, Any]) -> None:
    """A pre-signed upload for a content item arrived: record it and start processing."""
    item = state.store.get("content", blob["content_id"])
    if item is None:
        return
    item.update(size=blob["size"], contentType=blob["content_type"], status="pending", statusReason=None)
    _save(state, item)
    state.spawn(process(state, item["id"]))


def resume(state: State) -> None:
    """Restart processing of items a previous run left pending or processing."""
    for _, item in state.store.scan("content"):
        if item["status"] not in ("pending", "processing"):
            continue
        blob = state.store.get("blob", item["s3Key"]) if item.get("s3Key") else None
        if item["sourceType"] == "url" or (blob is not None and blob["uploaded"]):
            state.spawn(process(state, item["id"]))


def _fetch(url: str, timeout: float, limit: int) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"user-agent": "atriumn-sandbox"})  # noqa: S310 - http(s) only
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        data = response.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"the document is larger than {limit} bytes")
        return data, response.headers.get_content_type()


async def process(state: State, content_id: str) -> None:
    """Move one item through pending → processing → completed / failed."""
    delay = state.config.processing_delay
    await asyncio.sleep(delay)
    item = state.store.get("content", content_id)
    if item is None:
        return
    item["status"] = "processing"
    _save(state, item)
    await asyncio.sleep(delay)
    try:
        if item["sourceType"] == "url":
            data, content_type = await asyncio.to_thread(
                _fetch, item["sourceUri"], state.config.url_fetch_timeout, state.config.max_upload_size
            )
            key = register_blob(state, tenant_id=item["tenantId"], filename="document", content_type=content_type)
            await asyncio.to_thread(_write_blob, state, key, data, content_type)
            updates: dict[str, Any] = {"s3Key": key, "size": len(data), "contentType": content_type}
        else:
            path = state.store.blob_path(item["s3Key"])
            data = await asyncio.to_thread(path.read_bytes) if _is_text(item["contentType"]) else b""
            updates = {}
        text = (
            data.decode("utf-8", errors="replace")
            if _is_text(updates.get("contentType", item["contentType"]))
            else None
        )
    except (OSError, ValueError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        item = state.store.get("content", content_id)
        if item is not None:
            item.update(status="failed", statusReason=f"could not fetch the content: {reason}")
            item["metadata"] = {**item["metadata"], "error": item["statusReason"]}
            _save(state, item)
        return
    item = state.store.get("content", content_id)
    if item is None:
        return
    item.update(updates)
    item["status"] = "completed"
    if text is not None:
        state.store.put("text", content_id, {"content": text}, tenant_id=item["tenantId"])
    _save(state, item)


def _item(request: Request) -> tuple[State, Principal, dict[str, Any]]:
    principal = authenticate(request)
    state = state_of(request)
    item = state.store.get("content", request.path_params["id"], tenant_id=principal.tenant_id)
    if item is None:
        raise ApiError(404, "no such content item")
    return state, principal, item


async def list_content(request: Request) -> Response:
    """``GET /content`` (status, sourceType, limit, nextToken → items, nextToken)."""
    principal = authenticate(request)
    state = state_of(request)
    q = request.query_params
    limit = query_int(request, "limit", default=50, low=1, high=100)
    after = decode_token(q.get("nextToken"))
    items: list[dict[str, Any]] = []
    next_token = None
    last = after
    for seq, item in state.store.scan("content", tenant_id=principal.tenant_id, after=after):
        if q.get("status") and item["status"].lower() != q["status"].lower():
            continue
        if q.get("sourceType") and item["sourceType"] != q["sourceType"]:
            continue
        if len(items) == limit:
            next_token = encode_token(last)
            break
        items.append(item)
        last = seq
    return JSONResponse({"items": items, "nextToken": next_token})


async def get_content(request: Request) -> Response:
    """``GET /content/{id}``."""
    _, _, item = _item(request)
    return JSONResponse(item)


async def update_content(request: Request) -> Response:
    """``PATCH /content/{id}``: replace ``metadata`` and/or ``sourceUri``."""
    state, _, item = _item(request)
    body = await read_json(request)
    metadata = opt_str_dict(body, "metadata")
    source_uri = opt_str(body, "sourceUri")
    if metadata is not None:
        item["metadata"] = metadata
    if source_uri is not None:
        item["sourceUri"] = source_uri
    _save(state, item)
    return JSONResponse(item)


async def delete_content(request: Request) -> Response:
    """``DELETE /content/{id}`` (204): the item, its text and its blob."""
    state, _, item = _item(request)
    state.store.delete("content", item["id"])
    state.store.delete("text", item["id"])
    if item.get("s3Key"):
        state.store.delete("blob", item["s3Key"])
        state.store.blob_path(item["s3Key"]).unlink(missing_ok=True)
    return Response(status_code=204)


async def download_url(request: Request) -> Response:
    """``GET /content/{id}/download-url``."""
    state, _, item = _item(request)
    blob = state.store.get("blob", item["s3Key"]) if item.get("s3Key") else None
    if blob is None or not blob["uploaded"]:
        raise ApiError(404, "the content item has no stored object yet")
    return JSONResponse(
        {
            "downloadUrl": presign(state, request, "GET", item["s3Key"]),
            "httpMethod": "GET",
            "expiresIn": state.config.presign_ttl,
        }
    )


async def get_text(request: Request) -> Response:
    """``GET /content/{id}/text``: the extracted text (404 until processing produced some)."""
    state, _, item = _item(request)
    text = state.store.get("text", item["id"])
    if text is None:
        raise ApiError(404, "the content item has no text (not processed yet, or not textual)")
    return JSONResponse({"id": item["id"], "content": text["content"]})


async def put_text(request: Request) -> Response:
    """``PUT /content/{id}/text`` (204)."""
    state, _, item = _item(request)
    body = await read_json(request)
    content = req_str(body, "content", allow_empty=True)
    state.store.put("text", item["id"], {"content": content}, tenant_id=item["tenantId"])
    _save(state, item)
    return Response(status_code=204)


def ingest_routes() -> list[BaseRoute]:
    """The Ingest API's routes."""
    return [
        Route("/ingest/text", ingest_text, methods=["POST"]),
        Route("/ingest/url", ingest_url, methods=["POST"]),
        Route("/ingest/file", ingest_file, methods=["POST"]),
        Route("/content", list_content, methods=["GET"]),
        Route("/content/{id}", get_content, methods=["GET"]),
        Route("/content/{id}", update_content, methods=["PATCH"]),
        Route("/content/{id}", delete_content, methods=["DELETE"]),
        Route("/content/{id}/download-url", download_url, methods=["GET"]),
        Route("/content/{id}/text", get_text, methods=["GET"]),
        Route("/content/{id}/text", put_text, methods=["PUT"]),
    ]
