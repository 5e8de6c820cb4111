"""Sandbox-only endpoints (not part of the Atriumn API): the outbox and global fault injection."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError
from ._faults import FaultRule, parse_fault
from ._http import authenticate, opt_int, opt_str, read_json, state_of

__all__ = ["sandbox_routes"]


async def outbox(request: Request) -> Response:
    """``GET /_sandbox/outbox[?to=email]``: the confirmation and reset codes the sandbox "sent"."""
    to = request.query_params.get("to")
    messages = [m for m in state_of(request).store.outbox() if to is None or m["to"] == to.lower()]
    return JSONResponse({"messages": messages})


async def add_fault(request: Request) -> Response:
    """``POST /_sandbox/faults`` (admin): ``{"fault", "count", "pathPrefix", "probability", "seed", "retryAfter"}``."""
    authenticate(request).require("admin")
    state = state_of(request)
    body = await read_json(request)
    spec = opt_str(body, "fault") or opt_str(body, "kind")
    if not spec:
        raise ApiError(400, "missing required field 'fault' (e.g. \"status:503\")")
    retry_after = body.get("retryAfter")
    if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, (int, float))):
        raise ApiError(400, "field 'retryAfter' must be a number of seconds")
    try:
        fault = parse_fault(spec, retry_after=None if retry_after is None else float(retry_after))
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    count = opt_int(body, "count") if "count" in body else 1
    if count is not None and count < 1:
        raise ApiError(400, "field 'count' must be at least 1 (or null: until cleared)")
    probability = body.get("probability", 1.0)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 < probability <= 1:
        raise ApiError(400, "field 'probability' must be a number in (0, 1]")
    rule = FaultRule(
        fault=fault,
        count=count,
        path_prefix=opt_str(body, "pathPrefix") or "/",
        probability=float(probability),
        seed=opt_int(body, "seed"),
    )
    state.faults.add(rule)
    return JSONResponse(rule.to_json(), status_code=201)


async def list_faults(request: Request) -> Response:
    """``GET /_sandbox/faults`` (admin): the active rules."""
    authenticate(request).require("admin")
    return JSONResponse({"faults": [rule.to_json() for rule in state_of(request).faults.rules()]})


async def clear_faults(request: Request) -> Response:
    """``DELETE /_sandbox/faults`` (admin, 204): remove every rule."""
    authenticate(request).require("admin")
    state_of(request).faults.clear()
    return Response(status_code=204)


def sandbox_routes() -> list[BaseRoute]:
    """The sandbox-only routes."""
    return [
        Route("/_sandbox/outbox", outbox, methods=["GET"]),
        Route("/_sandbox/faults", add_fault, methods=["POST"]),
        Route("/_sandbox/faults", list_faults, methods=["GET"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    ]
