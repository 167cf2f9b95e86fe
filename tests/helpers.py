"""Helpers of the project's own tests: clients of reference servers, unique users, bodies."""

from __future__ import annotations

import itertools
import ssl
import uuid
from urllib.parse import quote

import httpx

from scimcert.paths import ROOT
from scimcert.reference import ReferenceServer, Tenant
from scimcert.reference.faults import layers_for

SCIM_JSON = "application/scim+json"
_counter = itertools.count()
# One TLS context for every client: httpx would build (and load CA certificates into) a new one per
# client, ~70 ms each, though these clients only ever speak plain HTTP to 127.0.0.1.
_TLS = ssl.create_default_context()


def scim_client(server: ReferenceServer, token: str | None = None) -> httpx.Client:
    """A client of `server` that authenticates with `token` (default: the tenant's active token)."""
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token or server.token}", "Accept": SCIM_JSON,
                 "Content-Type": SCIM_JSON},
        timeout=10,
        verify=_TLS,
    )


def faulty_server(tenant: Tenant, *names: str) -> ReferenceServer:
    return ReferenceServer(tenant, layers=layers_for(list(names)))


def unique_user_name(domain: str = "example.com", stem: str = "User") -> str:
    """A userName no other test uses, mixed case as IdPs send them."""
    return f"{stem}.{next(_counter)}.{uuid.uuid4().hex[:8]}@{domain}"


def user_body(user_name: str | None = None, **extra) -> dict:
    """A minimal valid User body (Okta-like), with `extra` attributes merged in."""
    user_name = user_name or unique_user_name()
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Zoë", "familyName": "O'Brien"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def create_user(client: httpx.Client, **extra) -> dict:
    response = client.post("/Users", json=user_body(**extra))
    assert response.status_code == 201, response.text
    return response.json()


# --- Helpers of the reference-server HTTP tests (test_reference_*.py) -------------------------

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def anonymous_client(server: ReferenceServer, authorization: str | None = None) -> httpx.Client:
    """A client of `server` sending `authorization` verbatim as the Authorization header (none when None)."""
    headers = {"Accept": SCIM_JSON, "Content-Type": SCIM_JSON}
    if authorization is not None:
        headers["Authorization"] = authorization
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=10, verify=_TLS)


def patch_body(*operations: dict) -> dict:
    """An RFC 7644 §3.5.2 PatchOp request with the given operations."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def assert_scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict:
    """RFC 7644 §3.12: the HTTP status, an Error body whose `status` is that status as a string,
    `scimType` when one is expected, a human `detail`, and the SCIM media type."""
    assert response.status_code == status, response.text
    assert response.headers.get("content-type", "").startswith(SCIM_JSON), response.headers
    body = response.json()
    assert body["schemas"] == [ERROR_URN], body
    assert body["status"] == str(status), body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body


def filter_url(expression: str, *, plus: bool = False, trailing: str = "&", **params) -> str:
    """`/Users?filter=…` built by hand, as IdPs send it: `%20` (or `+`) for spaces, `%22` for quotes,
    and a trailing `&` (OneLogin). httpx leaves such a pre-encoded query alone."""
    encoded = quote(expression, safe="")
    if plus:
        encoded = encoded.replace("%20", "+")
    extra = "".join(f"&{k}={quote(str(v), safe='')}" for k, v in params.items())
    return f"/Users?filter={encoded}{extra}{trailing}"


def find_users(client: httpx.Client, expression: str) -> list[dict]:
    """The Resources a filter returns (asserting a 200 ListResponse)."""
    response = client.get(filter_url(expression))
    assert response.status_code == 200, response.text
    return response.json()["Resources"]


def by_user_name(client: httpx.Client, user_name: str) -> list[dict]:
    return find_users(client, f'userName eq "{user_name}"')


def all_users(client: httpx.Client, page: int = 100) -> list[dict]:
    """Every user, walking the list in pages of `page`."""
    users, start = [], 1
    while True:
        body = client.get(f"/Users?startIndex={start}&count={page}").json()
        users.extend(body["Resources"])
        start += len(body["Resources"])
        if not body["Resources"] or start > body["totalResults"]:
            return users


MUTATION_TABLE = ROOT / "reports" / "mutation.txt"  # written by tests/test_mutation.py, printed by tests/conftest.py
