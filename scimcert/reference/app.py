"""The reference SCIM 2.0 service provider: a Starlette application over the user store.

This module reads as the specification of a correct, Asana-like endpoint. Faults and chaos
are layers wrapped around it from outside (see faults.py, chaos.py), never branches in here.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from . import discovery
from .errors import ScimError, invalid_syntax, invalid_value
from .filter import parse_filter
from .http import SCIM_JSON, BearerAuth, BodyLimit, ScimResponse, error_response
from .limits import check_operations, check_values
from .patch import apply_patch
from .policy import Policy
from .representation import project, render
from .seeding import generated_users
from .store import UserStore
from .tenant import Tenant
from .values import normalize_user

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ARRIVALS_KEPT = 10_000  # the arrival times kept for measurement: per-request state never grows without bound
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass
class ServerState:
    tenant: Tenant
    store: UserStore
    policy: Policy
    base_path: str
    # Server-side observations for tests and benchmarks: requests by method, peak concurrency.
    requests_by_method: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_in_flight: int = 0
    arrivals: deque[float] = field(default_factory=lambda: deque(maxlen=ARRIVALS_KEPT))  # time.monotonic() of the latest


class Layer(Protocol):
    """Something wrapped around the correct server: a fault or a chaos knob."""

    def adjust(self, state: ServerState) -> None: ...

    def wrap(self, app: ASGIApp, state: ServerState) -> ASGIApp: ...


def _state(request: Request) -> ServerState:
    return request.app.state.scim


def _location(request: Request, user_id: str) -> str:
    return str(request.url_for("user", user_id=user_id))


def _user_response(request: Request, user: dict, status: int = 200) -> ScimResponse:
    location = _location(request, user["id"])
    body = project(render(user, location), request.query_params.get("attributes"),
                   request.query_params.get("excludedAttributes"))
    headers = {"ETag": user["meta"]["version"], "Location" if status == 201 else "Content-Location": location}
    return ScimResponse(body, status_code=status, headers=headers)


async def _json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        raise invalid_syntax("The request body is empty; a JSON object is required")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        # A lone surrogate escape ("\ud800") parses, but could never be stored and echoed as UTF-8.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError) as exc:  # UnicodeError is a ValueError; deep nesting a RecursionError
        raise invalid_syntax(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        # RFC 7644 Table 9 invalidSyntax: «did not conform to the request schema» (an array, a string, null)
        raise invalid_syntax(f"The request body must be a JSON object, not {type(body).__name__}")
    return body


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _integer_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?[0-9]+", raw):  # decimal ASCII digits only: int() alone would take "1_0", "٣", " 2 "
        raise invalid_value(f"{name} must be an integer, got {raw[:40]!r}")
    try:
        return int(raw)
    except ValueError:  # more digits than Python converts
        raise invalid_value(f"{name} is out of range") from None


def _with_defaults(user: dict) -> dict:
    """A user without `active` is active (Asana creates members active)."""
    user.setdefault("active", True)
    return user


async def list_users(request: Request) -> Response:
    """RFC 7644 §3.4.2: ListResponse with filter, 1-based paging and projection."""
    state = _state(request)
    options = state.tenant.options
    start = max(1, _integer_param(request, "startIndex", 1))
    count = min(max(0, _integer_param(request, "count", options.defaultPageSize)), options.maxPageSize)
    raw_filter = request.query_params.get("filter")
    flt = parse_filter(raw_filter) if raw_filter is not None else None
    total, page = await run_in_threadpool(state.store.query, flt, start, count)  # a scan never holds the loop
    attributes = request.query_params.get("attributes")
    excluded = request.query_params.get("excludedAttributes")
    resources = [project(render(u, _location(request, u["id"])), attributes, excluded) for u in page]
    return ScimResponse({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    })


async def create_user(request: Request) -> Response:
    """RFC 7644 §3.3: 201 with the full resource and Location; domain rule and uniqueness enforced."""
    state = _state(request)
    user = _with_defaults(normalize_user(await _json_body(request)))
    check_values(user, state.tenant.options.maxValues)
    state.policy.admit(user)
    return _user_response(request, await run_in_threadpool(state.store.create, user), status=201)


async def get_user(request: Request) -> Response:
    """RFC 7644 §3.4.1, with §3.14 If-None-Match answered by 304 when the version is current."""
    user = _state(request).store.get(request.path_params["user_id"])
    if user["meta"]["version"] in {t.strip() for t in request.headers.get("if-none-match", "").split(",")}:
        return Response(status_code=304, headers={"ETag": user["meta"]["version"]})
    return _user_response(request, user)


async def replace_user(request: Request) -> Response:
    """RFC 7644 §3.5.1: replace; omitted attributes are cleared, id/meta in the body ignored."""
    state = _state(request)
    replacement = _with_defaults(normalize_user(await _json_body(request)))
    check_values(replacement, state.tenant.options.maxValues)

    def change(current: dict) -> dict:
        state.policy.admit_change(current, replacement)
        if "password" in current and "password" not in replacement:
            replacement["password"] = current["password"]  # writeOnly: a client cannot echo it back
        return dict(replacement)

    updated = await run_in_threadpool(state.store.update, request.path_params["user_id"], change,
                                      request.headers.get("if-match"))
    return _user_response(request, updated)


async def patch_user(request: Request) -> Response:
    """RFC 7644 §3.5.2: operations applied in order and atomically, then the policy re-checked."""
    state = _state(request)
    body = await _json_body(request)
    check_operations(body, state.tenant.options.maxOperations)

    def change(current: dict) -> dict:
        patched = _with_defaults(apply_patch(current, body))  # removing `active` leaves the default, as PUT does
        check_values(patched, state.tenant.options.maxValues)
        state.policy.admit_change(current, patched)
        return patched

    updated = await run_in_threadpool(state.store.update, request.path_params["user_id"], change,
                                      request.headers.get("if-match"))  # PATCH work runs off the event loop
    return _user_response(request, updated)


async def delete_user(request: Request) -> Response:
    """RFC 7644 §3.6: 204, after which the user is gone (404)."""
    _state(request).store.delete(request.path_params["user_id"], request.headers.get("if-match"))
    return Response(status_code=204, headers={"Content-Type": SCIM_JSON})


class Users(HTTPEndpoint):
    get = staticmethod(list_users)
    post = staticmethod(create_user)


class User(HTTPEndpoint):
    """One user; other methods answer 405 with an Allow header listing these."""

    get = staticmethod(get_user)
    put = staticmethod(replace_user)
    patch = staticmethod(patch_user)
    delete = staticmethod(delete_user)


async def not_implemented(request: Request) -> Response:
    raise ScimError(501, f"{request.method} {request.url.path} is not supported by this service provider")


async def _scim_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ScimError):
        return error_response(exc)
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers or {})
        return error_response(ScimError(exc.status_code, str(exc.detail), headers=headers))
    return error_response(ScimError(500, f"Internal error: {type(exc).__name__}"))


class ReferenceApp:
    """The outermost ASGI app. Counts requests by method and the peak number in flight
    (what tests measure server-side), and exposes the server's `state`."""

    def __init__(self, app: ASGIApp, state: ServerState):
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = self.state
        method = scope["method"] if scope["method"] in METHODS else "other"  # a bounded set of keys
        state.requests_by_method[method] = state.requests_by_method.get(method, 0) + 1
        state.arrivals.append(time.monotonic())
        state.in_flight += 1
        state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            state.in_flight -= 1


def create_app(tenant: Tenant, *, base_path: str = "/scim/v2", layers: Sequence[Layer] = (),
               seed_users: int = 0) -> ReferenceApp:
    """The ASGI application: SCIM routes under `base_path`, auth and size limit on every path."""
    base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
    store = UserStore(tenant.guests)
    policy = Policy(tenant.domains, tenant.options.reactivation)
    state = ServerState(tenant, store, policy, base_path)
    for seed in [*tenant.users, *generated_users(seed_users, tenant.domains)]:
        user = _with_defaults(normalize_user(seed))
        policy.admit(user)
        store.create(user)
    routes = [
        Route("/Users", Users),
        Route("/Users/.search", not_implemented, methods=["POST"]),
        Route("/Users/{user_id}", User, name="user"),
        Route("/.search", not_implemented, methods=["POST"]),
        Route("/Bulk", not_implemented, methods=["POST"]),
        Route("/Me", not_implemented, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        *discovery.routes(),
    ]
    app = Starlette(
        routes=[Mount(base_path, routes=routes)] if base_path else routes,
        exception_handlers={Exception: _scim_error, HTTPException: _scim_error, ScimError: _scim_error},
    )
    app.state.scim = state
    for router in [app.router, *(r.app for r in app.router.routes if isinstance(r, Mount))]:
        router.redirect_slashes = False  # /Users/ is an unknown route (SCIM 404), not a redirect
    for layer in layers:
        layer.adjust(state)
    wrapped: ASGIApp = BodyLimit(BearerAuth(app, tenant.active_tokens, tenant.options.realm), tenant.options.maxBodyBytes)
    for layer in reversed(layers):
        wrapped = layer.wrap(wrapped, state)
    return ReferenceApp(wrapped, state)
