"""The reference SCIM 2.0 service provider: a Starlette application over the user and group stores.

This module reads as the specification of a correct, Asana-like endpoint. Faults and chaos
are layers wrapped around it from outside (see faults.py, chaos.py), never branches in here.
Users and Groups (Asana teams) share one set of handlers, each given its attributes.ResourceType.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
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
from .attributes import GROUP, USER, ResourceType
from .errors import ScimError, invalid_syntax, invalid_value
from .filter import Filter, parse_filter
from .groups import GroupStore
from .http import SCIM_JSON, BearerAuth, BodyLimit, ScimResponse, error_response
from .limits import check_operations, check_values
from .patch import apply_patch
from .policy import Policy
from .representation import linked, project, render
from .seeding import generated_users
from .store import UserStore
from .tenant import Tenant
from .values import normalize, normalize_user

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ARRIVALS_KEPT = 10_000  # the arrival times kept for measurement: per-request state never grows without bound
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
PROJECTION = ("attributes", "excludedAttributes")


@dataclass
class ServerState:
    tenant: Tenant
    store: UserStore
    policy: Policy
    base_path: str
    groups: GroupStore = field(init=False)  # set by create_app; reaches the users through `store`, as it is now
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


def _location(base: str, resource_type: ResourceType, resource_id: str) -> str:
    return f"{base}{resource_type.endpoint}/{resource_id}"


def _representation(request: Request, resource_type: ResourceType, resource: dict, base: str) -> dict:
    """What a client sees of a stored resource: rendered at its location, references linked, projected (RFC 7644 §3.9)."""
    location = _location(base, resource_type, resource["id"])
    return project(render(linked(resource, base, resource_type), location, resource_type),
                   request.query_params.get("attributes"), request.query_params.get("excludedAttributes"), resource_type)


def _resource_response(request: Request, resource_type: ResourceType, resource: dict, status: int = 200) -> ScimResponse:
    base = discovery.base_url(request)
    location = _location(base, resource_type, resource["id"])
    headers = {"ETag": resource["meta"]["version"], "Location" if status == 201 else "Content-Location": location}
    return ScimResponse(_representation(request, resource_type, resource, base), status_code=status, headers=headers)


async def _answer(request: Request, resource_type: ResourceType, work: Callable[[], dict], status: int = 200) -> Response:
    """Run `work` (store work, under the stores' locks) and render the resource it gives, both in the thread pool:
    the event loop keeps answering while a group of thousands of members is written and rendered."""
    return await run_in_threadpool(lambda: _resource_response(request, resource_type, work(), status))


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


def _resource_id(request: Request) -> str:
    return request.path_params["resource_id"]


# ---------------------------------------------------------------------------------------------
# Both resource types


async def _list(request: Request, resource_type: ResourceType,
                query: Callable[[Filter | None, int, int], tuple[int, list[dict]]]) -> Response:
    """RFC 7644 §3.4.2: ListResponse with filter, 1-based paging and projection."""
    options = _state(request).tenant.options
    start = max(1, _integer_param(request, "startIndex", 1))
    count = min(max(0, _integer_param(request, "count", options.defaultPageSize)), options.maxPageSize)
    raw_filter = request.query_params.get("filter")
    flt = parse_filter(raw_filter, resource_type) if raw_filter is not None else None

    def answer() -> ScimResponse:  # a scan never holds the loop, nor does rendering a page of large groups
        total, page = query(flt, start, count)
        base = discovery.base_url(request)
        resources = [_representation(request, resource_type, resource, base) for resource in page]
        return ScimResponse({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": len(resources),
            "Resources": resources,
        })
    return await run_in_threadpool(answer)


async def _get(request: Request, resource_type: ResourceType, read: Callable[[str], dict]) -> Response:
    """RFC 7644 §3.4.1, with §3.14 If-None-Match answered by 304 when the version is current."""
    wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}

    def answer() -> Response:
        resource = read(_resource_id(request))
        if resource["meta"]["version"] in wanted:
            return Response(status_code=304, headers={"ETag": resource["meta"]["version"]})
        return _resource_response(request, resource_type, resource)
    return await run_in_threadpool(answer)


# ---------------------------------------------------------------------------------------------
# Users


def _with_groups(state: ServerState, work: Callable[[], dict]) -> dict:
    """`work` on the user store, run under the membership lock, the user it gives with its groups (groups.py)."""
    with state.groups.lock:
        return state.groups.with_groups([work()])[0]


async def list_users(request: Request) -> Response:
    state = _state(request)

    def query(flt: Filter | None, start: int, count: int) -> tuple[int, list[dict]]:
        with state.groups.lock:  # the users and their groups as of one moment
            total, page = state.store.query(flt, start, count)
            return total, state.groups.with_groups(page)
    return await _list(request, USER, query)


async def create_user(request: Request) -> Response:
    """RFC 7644 §3.3: 201 with the full resource and Location; domain rule and uniqueness enforced."""
    state = _state(request)
    user = _with_defaults(normalize_user(await _json_body(request)))
    check_values(user, state.tenant.options.maxValues)
    state.policy.admit(user)
    return await _answer(request, USER, lambda: state.store.create(user), status=201)  # a new user is in no group


async def get_user(request: Request) -> Response:
    state = _state(request)
    return await _get(request, USER, lambda user_id: _with_groups(state, lambda: state.store.get(user_id)))


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

    return await _answer(request, USER, lambda: _with_groups(state, lambda: state.store.update(
        _resource_id(request), change, request.headers.get("if-match"))))


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

    return await _answer(request, USER, lambda: _with_groups(state, lambda: state.store.update(
        _resource_id(request), change, request.headers.get("if-match"))))  # PATCH work runs off the event loop


async def delete_user(request: Request) -> Response:
    """RFC 7644 §3.6: 204, after which the user is gone (404), and out of every group it was in."""
    state = _state(request)

    def delete() -> None:
        with state.groups.lock:  # no group names the user once it is gone
            state.store.delete(_resource_id(request), request.headers.get("if-match"))
            state.groups.remove_member(_resource_id(request))
    return await _deleted(delete)


async def _deleted(delete: Callable[[], None]) -> Response:
    """RFC 7644 §3.6: `delete` done off the event loop, then «204 (No Content)»."""
    await run_in_threadpool(delete)
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


# ---------------------------------------------------------------------------------------------
# Groups (Asana teams): members are checked, stored by id and kept in step with the users in groups.py


async def list_groups(request: Request) -> Response:
    return await _list(request, GROUP, _state(request).groups.query)


async def create_group(request: Request) -> Response:
    """RFC 7644 §3.3: 201 with the full resource and Location; displayName required and unique."""
    state = _state(request)
    group = normalize(await _json_body(request), GROUP)
    return await _answer(request, GROUP, lambda: state.groups.create(group), status=201)


async def get_group(request: Request) -> Response:
    return await _get(request, GROUP, _state(request).groups.get)


async def replace_group(request: Request) -> Response:
    """RFC 7644 §3.5.1: replace displayName, externalId and the whole member list (Okta sends it whole:
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/); id/meta/schemas in the body ignored."""
    state = _state(request)
    replacement = normalize(await _json_body(request), GROUP)
    return await _answer(request, GROUP, lambda: state.groups.update(
        _resource_id(request), lambda current: dict(replacement), request.headers.get("if-match")))


async def patch_group(request: Request) -> Response:
    """RFC 7644 §3.5.2: operations applied in order and atomically; 204 No Content with the ETag, which §3.5.2
    allows and Entra recommends for groups, whose members it advises against returning
    (https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
    200 with the group when the request asks for a projection (`attributes` or `excludedAttributes`)."""
    state = _state(request)
    body = await _json_body(request)
    check_operations(body, state.tenant.options.maxOperations)

    def patch() -> dict:
        return state.groups.update(_resource_id(request), lambda current: apply_patch(current, body, GROUP),
                                   request.headers.get("if-match"))
    if any(name in request.query_params for name in PROJECTION):
        return await _answer(request, GROUP, patch)
    updated = await run_in_threadpool(patch)
    return Response(status_code=204, headers={"ETag": updated["meta"]["version"], "Content-Type": SCIM_JSON})


async def delete_group(request: Request) -> Response:
    """RFC 7644 §3.6: 204, after which the group is gone (404); or, where the tenant refuses it, 405 (policy.py)."""
    state = _state(request)

    def delete() -> None:
        with state.groups.lock:
            state.groups.get(_resource_id(request))  # an unknown group is a 404, whatever the tenant allows
            state.policy.check_group_delete()
            state.groups.delete(_resource_id(request), request.headers.get("if-match"))
    return await _deleted(delete)


class Groups(HTTPEndpoint):
    get = staticmethod(list_groups)
    post = staticmethod(create_group)


class Group(HTTPEndpoint):
    """One group; other methods answer 405 with an Allow header listing these."""

    get = staticmethod(get_group)
    put = staticmethod(replace_group)
    patch = staticmethod(patch_group)
    delete = staticmethod(delete_group)


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
    policy = Policy(tenant.domains, tenant.options.reactivation, tenant.options.groupDelete)
    state = ServerState(tenant, store, policy, base_path)
    state.groups = GroupStore(lambda: state.store, tenant.options.maxMembers)
    for seed in [*tenant.users, *generated_users(seed_users, tenant.domains)]:
        user = _with_defaults(normalize_user(seed))
        policy.admit(user)
        store.create(user)
    routes = [
        Route("/Users", Users),
        Route("/Users/.search", not_implemented, methods=["POST"]),
        Route("/Users/{resource_id}", User),
        Route("/Groups", Groups),
        Route("/Groups/.search", not_implemented, methods=["POST"]),
        Route("/Groups/{resource_id}", Group),
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
