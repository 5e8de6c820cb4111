"""The Storage API: pre-signed upload and download URLs, and the blob endpoint they point at.

A pre-signed URL is ``/_blobs/{key}?expires=<unix seconds>&signature=<hex HMAC-SHA256 over method, key,
expires>``. It needs no Authorization header (and ignores one); the signature and the expiry are the
whole authorisation, as with S3.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError
from ._http import authenticate, opt_str, read_json, req_str, state_of
from ._state import State
from ._store import now_iso

__all__ = ["presign", "register_blob", "storage_routes"]

BUCKET = "atriumn-sandbox"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(filename: str) -> str:
    """A file name fit for an object key (no directories, no odd characters)."""
    name = _UNSAFE.sub("_", os.path.basename(filename.replace("\\", "/"))).strip("._")
    return name[:200] or "file"


def presign(state: State, request: Request, method: str, key: str) -> str:
    """An absolute pre-signed URL for ``method`` on ``key``."""
    expires = int(time.time()) + state.config.presign_ttl
    query = urlencode({"expires": expires, "signature": state.signer.url_signature(method, key, expires)})
    return f"{str(request.base_url).rstrip('/')}/_blobs/{quote(key, safe='/')}?{query}"


def register_blob(
    state: State, *, tenant_id: str, filename: str, content_type: str, content_id: str | None = None
) -> str:
    """Reserve an object key for an upload; returns the key."""
    key = f"{tenant_id}/{uuid.uuid4().hex}/{safe_filename(filename)}"
    doc: dict[str, Any] = {
        "key": key,
        "tenant_id": tenant_id,
        "content_type": content_type,
        "uploaded": False,
        "size": None,
        "sha256": None,
        "content_id": content_id,
        "created_at": now_iso(),
    }
    state.store.put("blob", key, doc, tenant_id=tenant_id)
    return key


async def generate_upload_url(request: Request) -> Response:
    """``POST /generate-upload-url`` (filename, contentType, tenantId → uploadUrl, s3Key, httpMethod)."""
    principal = authenticate(request)
    state = state_of(request)
    body = await read_json(request)
    filename = req_str(body, "filename")
    content_type = opt_str(body, "contentType") or "application/octet-stream"
    tenant = principal.tenant(opt_str(body, "tenantId"))
    key = register_blob(state, tenant_id=tenant, filename=filename, content_type=content_type)
    return JSONResponse(
        {
            "uploadUrl": presign(state, request, "PUT", key),
            "s3Key": key,
            "s3Bucket": BUCKET,
            "httpMethod": "PUT",
            "expiresIn": state.config.presign_ttl,
        }
    )


async def generate_download_url(request: Request) -> Response:
    """``POST /generate-download-url`` (s3Key → downloadUrl, httpMethod)."""
    principal = authenticate(request)
    state = state_of(request)
    body = await read_json(request)
    key = req_str(body, "s3Key")
    blob = state.store.get("blob", key, tenant_id=principal.tenant_id)
    if blob is None or not blob["uploaded"]:
        raise ApiError(404, "no such object")
    return JSONResponse(
        {"downloadUrl": presign(state, request, "GET", key), "httpMethod": "GET", "expiresIn": state.config.presign_ttl}
    )


def _check_signature(state: State, request: Request, method: str, key: str) -> None:
    expires = request.query_params.get("expires")
    signature = request.query_params.get("signature")
    if not expires or not signature:
        raise ApiError(403, "missing pre-signed URL parameters 'expires' and 'signature'")
    if not state.signer.verify_url(method, key, expires, signature):
        raise ApiError(403, "the URL signature does not match")
    if int(expires) < time.time():
        raise ApiError(403, "the pre-signed URL has expired")


async def put_blob(request: Request) -> Response:
    """``PUT /_blobs/{key}``: store the body (streamed to disk), verifying size and checksum."""
    state = state_of(request)
    key = request.path_params["key"]
    _check_signature(state, request, "PUT", key)
    blob = state.store.get("blob", key)
    if blob is None:
        raise ApiError(404, "no such upload")
    limit = state.config.max_upload_size
    declared = request.headers.get("content-length")
    checksum = request.headers.get("x-amz-checksum-sha256")
    digest = hashlib.sha256()
    size = 0
    tmp = state.store.tmp_dir / f"upload-{uuid.uuid4().hex}"
    try:
        async with await anyio.open_file(tmp, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"the object exceeds the size limit of {limit} bytes")
                digest.update(chunk)
                await fh.write(chunk)
        if declared is not None and int(declared) != size:
            raise ApiError(400, f"received {size} bytes, content-length said {declared}")
        actual = base64.b64encode(digest.digest()).decode()
        if checksum is not None and checksum.strip() != actual:
            raise ApiError(400, "x-amz-checksum-sha256 does not match the uploaded bytes", code="bad_request")
        await asyncio.to_thread(os.replace, tmp, state.store.blob_path(key))
    finally:
        if tmp.exists():
            tmp.unlink()
    blob.update(
        uploaded=True,
        size=size,
        sha256=digest.hexdigest(),
        content_type=request.headers.get("content-type") or blob["content_type"],
        uploaded_at=now_iso(),
    )
    state.store.put("blob", key, blob, tenant_id=blob["tenant_id"])
    if blob.get("content_id"):
        from ._ingest_api import uploaded

        uploaded(state, blob)
    return Response(status_code=200, headers={"etag": f'"{digest.hexdigest()}"', "x-amz-checksum-sha256": actual})


async def get_blob(request: Request) -> Response:
    """``GET /_blobs/{key}``: the object's bytes."""
    state = state_of(request)
    key = request.path_params["key"]
    _check_signature(state, request, "GET", key)
    blob = state.store.get("blob", key)
    path = state.store.blob_path(key)
    if blob is None or not blob["uploaded"] or not path.exists():
        raise ApiError(404, "no such object")
    return FileResponse(path, media_type=blob["content_type"], headers={"etag": f'"{blob["sha256"]}"'})


def storage_routes() -> list[BaseRoute]:
    """The Storage API's routes and the blob endpoint."""
    return [
        Route("/generate-upload-url", generate_upload_url, methods=["POST"]),
        Route("/generate-download-url", generate_download_url, methods=["POST"]),
        Route("/_blobs/{key:path}", put_blob, methods=["PUT"]),
        Route("/_blobs/{key:path}", get_blob, methods=["GET", "HEAD"]),
    ]
