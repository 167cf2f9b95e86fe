"""Bearer-token authentication of the reference server, over real HTTP.

RFC 7644 §2 («a SCIM service provider SHALL indicate supported HTTP authentication schemes via the
"WWW-Authenticate" header») and §3.12 Table 8 (401: «The authorization header is invalid or
missing»); RFC 6750 §2.1 (the `Bearer` scheme, matched case-insensitively); Asana's SCIM docs
(https://developers.asana.com/docs/scim), «Only Service Accounts in Enterprise Domains can access SCIM
endpoints» (that discovery needs the token too is inferred).
"""

from __future__ import annotations

import base64
import re

import pytest
from helpers import (
    CORE_USER,
    ENTERPRISE_USER,
    anonymous_client,
    assert_scim_error,
    by_user_name,
    create_user,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

# (method, path template, body): every kind of endpoint; {id} is a live user's id.
ENDPOINTS = [
    ("GET", "/Users", None),
    ("POST", "/Users", "new-user"),
    ("GET", "/Users/{id}", None),
    ("PUT", "/Users/{id}", "replacement"),
    ("PATCH", "/Users/{id}", "patch"),
    ("DELETE", "/Users/{id}", None),
    ("GET", "/ServiceProviderConfig", None),
    ("GET", "/ResourceTypes", None),
    ("GET", "/ResourceTypes/User", None),
    ("GET", "/Schemas", None),
    ("GET", f"/Schemas/{CORE_USER}", None),
    ("GET", "/Users/does-not-exist", None),
    ("GET", "/NoSuchEndpoint", None),
    ("GET", "/Me", None),
    ("POST", "/Bulk", "patch"),
]

REVOKED = "scimcert-revoked-token-9876543210"  # fixtures/tenant.json, status "revoked"

# Authorization header values that must all be refused (None: no header at all).
BAD_AUTHORIZATION = {
    "missing": None,
    "empty": "",
    "scheme-only": "Bearer",
    "two-words": "Bearer a b",
    "other-scheme": "Token x",
    "unknown-token": "Bearer not-a-token-of-this-tenant",
    "revoked-token": f"Bearer {REVOKED}",
    "basic": "Basic " + base64.b64encode(b"admin:scimcert-reference-token-0123456789").decode(),
    # Okta OIN "Header" mode sends the bare token (GitHub okta/okta-developer-docs,
    # docs/guides/submit-oin-app/main/scim/auth-settings.md)
    "raw-token": "{token}",
    "token-with-suffix": "Bearer {token}x",
    "token-prefix": "Bearer {token_prefix}",
}


def _body(kind: str | None, user: dict) -> dict | None:
    if kind == "new-user":
        return user_body()
    if kind == "replacement":
        return user_body(user["userName"], title="Changed by an unauthenticated PUT")
    if kind == "patch":
        return patch_body({"op": "replace", "value": {"title": "Changed by an unauthenticated PATCH"}})
    return None


@pytest.fixture
def victim(client):
    """A user the unauthenticated requests aim at."""
    return create_user(client, title="Original title",
                       **{ENTERPRISE_USER: {"department": "Original department"}})


# Every endpoint with a few bad credentials, and every bad credential on a few endpoints.
MATRIX = [(e, case) for e in ENDPOINTS for case in ("missing", "revoked-token", "basic")] + [
    (e, case) for e in ENDPOINTS[:2] + ENDPOINTS[6:7] for case in BAD_AUTHORIZATION
    if case not in ("missing", "revoked-token", "basic")
]


@pytest.mark.parametrize("endpoint,case", MATRIX, ids=[f"{e[0]} {e[1]}-{case}" for e, case in MATRIX])
def test_every_endpoint_refuses_a_bad_authorization(server, client, victim, endpoint, case):
    """RFC 7644 §3.12 Table 8 401 + §2 WWW-Authenticate: every endpoint (discovery and unknown paths
    included) answers a missing, malformed, unknown, revoked or non-Bearer credential with a SCIM 401."""
    method, path, body = endpoint
    header = BAD_AUTHORIZATION[case]
    if header is not None:
        header = header.format(token=server.token, token_prefix=server.token[:-1])
    with anonymous_client(server, header) as anonymous:
        payload = _body(body, victim)
        response = anonymous.request(method, path.format(id=victim["id"]), json=payload)
    error = assert_scim_error(response, 401)
    challenge = response.headers.get("www-authenticate", "")
    assert re.fullmatch(r'Bearer realm="[^"]+"', challenge), challenge
    assert challenge == f'Bearer realm="{server.tenant.options.realm}"'
    assert server.token not in error["detail"]


@pytest.mark.parametrize("case", ["missing", "unknown-token", "revoked-token", "basic", "two-words"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unauthenticated_writes_change_nothing(server, client, victim, case, method):
    """RFC 7644 §2/§3.12: a refused write has no effect; the good token then sees the user as it was."""
    header = BAD_AUTHORIZATION[case]
    new_name = unique_user_name(stem="Intruder")
    requests = {
        "POST": ("/Users", user_body(new_name)),
        "PUT": (f"/Users/{victim['id']}", user_body(victim["userName"], title="Hijacked")),
        "PATCH": (f"/Users/{victim['id']}", patch_body({"op": "replace", "path": "title", "value": "Hijacked"})),
        "DELETE": (f"/Users/{victim['id']}", None),
    }
    path, payload = requests[method]
    with anonymous_client(server, header) as anonymous:
        assert anonymous.request(method, path, json=payload).status_code == 401
    after = client.get(f"/Users/{victim['id']}")
    assert after.status_code == 200
    assert after.json() == victim  # same attributes, same meta.version and lastModified
    assert by_user_name(client, new_name) == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
@pytest.mark.parametrize("path", ["/Users?count=1", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes"])
def test_bearer_scheme_is_case_insensitive(server, scheme, path):
    """RFC 6750 §2.1 / RFC 7235 §2.1: the auth-scheme is case-insensitive."""
    with anonymous_client(server, f"{scheme} {server.token}") as c:
        response = c.get(path)
    assert response.status_code == 200, response.text


def test_a_good_token_can_write(server, client):
    """The counterpart of the refusals: the tenant's active token creates, reads and deletes."""
    user = create_user(client)
    with scim_client(server, server.token) as same:
        assert same.get(f"/Users/{user['id']}").status_code == 200
        assert same.delete(f"/Users/{user['id']}").status_code == 204


def test_revoked_token_is_refused_like_an_unknown_one(server):
    """Tenant schema: a revoked service-account token (Asana's credential, https://developers.asana.com/docs/scim)
    answers exactly like an unknown one."""
    assert REVOKED in server.tenant.revoked_tokens
    with anonymous_client(server, f"Bearer {REVOKED}") as revoked, \
            anonymous_client(server, "Bearer unknown-token-0000000000") as unknown:
        first, second = revoked.get("/Users"), unknown.get("/Users")
    assert first.status_code == second.status_code == 401
    assert first.json() == second.json()
