"""The batch APIs' routes, with the ``/v1`` paths that OpenAI and Gemini share told apart by credential.

google-genai talks to ``/v1`` by default, so ``GET /v1/batches/{id}``, ``GET /v1/batches``, ``GET|DELETE
/v1/files/{id}`` and ``GET /v1/files`` are both OpenAI's and Gemini's: a request with ``x-goog-api-key`` (or
``?key=``) is Gemini's, any other (``Authorization: Bearer``) OpenAI's. The other paths are unambiguous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import _batch_openai as oai
from . import _openai_files as oai_files
from ._batch_anthropic import anthropic_batch_routes
from ._batch_gemini import GeminiBatches
from ._batches import BatchSettings, BatchStore, wants_gemini

__all__ = ["batch_routes"]


def batch_routes(config: Any = None, *, work_dir: Path | None = None) -> list[BaseRoute]:
    """The routes of the four providers' batch (and files) APIs, sharing one store of jobs and files.

    Args:
        config: a ``SandboxConfig`` (its ``batch_delay`` and ``*_batch_max_*`` fields); ``None``: defaults.
        work_dir: where the store keeps its files (in a directory of its own); ``None``: the system's
            temporary directory.
    """
    store = BatchStore(BatchSettings.from_config(config), work_dir)
    gemini = GeminiBatches(store)
    openai = oai_files.OPENAI_BATCHES

    async def files(request: Request) -> Response:
        if wants_gemini(request) and request.method == "GET":
            return await gemini.files.list_files(request, "v1")
        if request.method == "POST":
            return await oai_files.upload(store, openai, request)
        return await oai_files.list_files(store, openai, request)

    async def file(request: Request) -> Response:
        rest = str(request.path_params["rest"])
        if wants_gemini(request):
            return await gemini.files.item(request, "v1", rest)
        return await oai_files.file_item(store, openai, request, rest)

    async def batches(request: Request) -> Response:
        if wants_gemini(request) and request.method == "GET":
            return await gemini.list_jobs(request)
        if request.method == "POST":
            return await oai.create_batch(store, openai, request)
        return await oai.list_batches(store, openai, request)

    async def batch(request: Request) -> Response:
        rest = str(request.path_params["rest"])
        if wants_gemini(request):
            return await gemini.item(request, rest)
        return await oai.batch_item(store, openai, request, rest)

    return [
        Route("/v1/files", files, methods=["GET", "POST"]),
        Route("/v1/files/{rest:path}", file, methods=["GET", "DELETE"]),
        Route("/v1/batches", batches, methods=["GET", "POST"]),
        Route("/v1/batches/{rest:path}", batch, methods=["GET", "POST", "DELETE"]),
        *oai.routes(store, oai_files.GROQ_BATCHES),
        *anthropic_batch_routes(store),
        *gemini.routes(),
    ]
