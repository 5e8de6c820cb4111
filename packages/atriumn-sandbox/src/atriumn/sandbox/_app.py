"""The Starlette application: every route, the middleware stack, and the store's lifecycle."""

from __future__ import annotations

import contextlib
import importlib
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._ai_api import ai_routes
from ._auth_api import auth_routes
from ._config import SandboxConfig
from ._errors import ApiError, error_response
from ._faults import FaultMiddleware
from ._ingest_api import ingest_routes, resume
from ._middleware import BodyLimitMiddleware, IdempotencyMiddleware, RateLimitMiddleware, RequestIdMiddleware
from ._openapi import build_openapi
from ._sandbox_api import sandbox_routes
from ._state import State
from ._storage_api import storage_routes
from ._store import Store

__all__ = ["SandboxApp", "create_app", "load_openapi"]

logger = logging.getLogger("atriumn.sandbox")


def load_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the Atriumn API contract (what ``/openapi.json`` serves)."""
    return build_openapi()


def _llm_routes(config: SandboxConfig, work_dir: Path) -> list[BaseRoute]:
    """The LLM provider emulation's routes, when that part of the package is present."""
    try:
        module = importlib.import_module("atriumn.sandbox._llm")
    except ImportError:
        return []
    factory = getattr(module, "llm_routes", None)
    return list(factory(config, work_dir=work_dir)) if callable(factory) else []


async def _openapi(request: Request) -> Response:
    return JSONResponse(load_openapi())


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.description, code=exc.code, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    description = {404: "no such endpoint", 405: "method not allowed on this endpoint"}.get(exc.status_code, exc.detail)
    return error_response(exc.status_code, description, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    from starlette.requests import ClientDisconnect

    if isinstance(exc, ClientDisconnect):  # a client that gave up (a timeout during a `delay` fault): normal
        logger.debug("client disconnected: %s %s", request.method, request.url.path)
        return Response(status_code=499)
    logger.exception("unexpected error in the sandbox", exc_info=exc)
    return error_response(500, "internal error in the sandbox")


class SandboxApp:
    """The ASGI application (fault injection outermost, then request ids, limits, idempotency, routes).

    Attributes:
        config: the configuration it runs with.
        state: the shared state (store, signer, fault rules).
        data_dir: where its data lives.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if config.data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="atriumn-sandbox-")
            self.data_dir = Path(self._tmp.name)
        else:
            self.data_dir = Path(config.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state = State(config, Store(self.data_dir))
        routes: list[BaseRoute] = [
            Route("/openapi.json", _openapi, methods=["GET"]),
            *auth_routes(),
            *storage_routes(),
            *ai_routes(),
            *ingest_routes(),
            *sandbox_routes(),
            *_llm_routes(config, self.state.store.tmp_dir),
        ]
        starlette = Starlette(
            routes=routes,
            exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
            lifespan=self._lifespan,
        )
        starlette.state.sandbox = self.state
        self.starlette = starlette
        app: Any = IdempotencyMiddleware(starlette, self.state)
        app = RateLimitMiddleware(app, self.state)
        app = BodyLimitMiddleware(app, self.state)
        app = RequestIdMiddleware(app)
        self._app = FaultMiddleware(app, self.state.faults)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        resume(self.state)
        try:
            yield
        finally:
            await self.state.shutdown()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        await self._app(scope, receive, send)

    def close(self) -> None:
        """Close the database, and remove the data directory if it was a temporary one."""
        self.state.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def create_app(config: SandboxConfig | None = None) -> SandboxApp:
    """A sandbox ASGI application for ``config`` (serve it with any ASGI server; call ``close()`` after)."""
    return SandboxApp(config or SandboxConfig())
