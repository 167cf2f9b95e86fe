"""Error responses of the reference server over real HTTP: RFC 7644 §3.12 bodies, the SCIM media type on
every response, malformed and oversized bodies, unknown routes and methods, and never a 5xx for bad input.
"""

from __future__ import annotations

import json

import httpx
import pytest
from helpers import (
    SCIM_JSON,
    anonymous_client,
    assert_scim_error,
    by_user_name,
    create_user,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

from scimcert.reference import ReferenceServer, Tenant

MIB = 1024 * 1024


@pytest.fixture
def user(client):
    return create_user(client, title="Untouched")


def _unchanged(client, user: dict) -> None:
    response = client.get(f"/Users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user


# ---------------------------------------------------------------------------------------------
# Malformed bodies → 400 invalidSyntax (RFC 7644 Table 9: «The request body message structure was
# invalid or did not conform to the request schema»)

BAD_BODIES = {
    "malformed-json": b'{"userName": "a@example.com",',
    "trailing-garbage": b'{"userName": "a@example.com"} x',
    "single-quotes": b"{'userName': 'a@example.com'}",
    "not-utf8": '{"userName": "Zoë@example.com"}'.encode("latin-1"),
    "utf16": '{"userName": "a@example.com"}'.encode("utf-16"),
    "json-array": b'[{"userName": "a@example.com"}]',
    "empty-array": b"[]",
    "json-string": b'"a@example.com"',
    "json-number": b"42",
    "json-null": b"null",
    "empty": b"",
    "whitespace": b"  \r\n ",
    "nan": b'{"userName": "a@example.com", "displayName": NaN}',
    "lone-surrogate": b'{"userName": "a@example.com", "displayName": "\\ud800"}',
    "deeply-nested": b'{"userName": "a@example.com", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_malformed_body_is_400_invalid_syntax(client, user, method, case):
    """RFC 7644 §3.12 Table 9 invalidSyntax (malformed JSON, a JSON array); nothing changes."""
    path = "/Users" if method == "POST" else f"/Users/{user['id']}"
    response = client.request(method, path, content=BAD_BODIES[case])
    assert_scim_error(response, 400, "invalidSyntax")
    _unchanged(client, user)


@pytest.mark.parametrize("body,scim_type", [
    ({}, "invalidValue"),                                        # no userName (RFC 7643 §4.1.1)
    ({"userName": ""}, "invalidValue"),
    ({"userName": None}, "invalidValue"),
    ({"userName": ["a@example.com"]}, "invalidValue"),
    ({"userName": {"value": "a@example.com"}}, "invalidValue"),
    ({"userName": True}, "invalidValue"),
    ({"userName": "{name}", "active": "maybe"}, "invalidValue"),  # RFC 7644 §3.12 Table 9 invalidValue
    ({"userName": "{name}", "active": 1}, "invalidValue"),
    ({"userName": "{name}", "name": "Just A String"}, "invalidValue"),
    ({"userName": "{name}", "emails": [["nested"]]}, "invalidValue"),
    ({"userName": "{name}", "title": {"nested": True}}, "invalidValue"),
])
def test_invalid_values_on_post_are_400(client, body, scim_type):
    """RFC 7644 §3.12 Table 9 invalidValue: «A required value was missing, or the value specified was not
    compatible with the operation or attribute type»; nothing is created."""
    name = unique_user_name(stem="Invalid")
    sent = json.loads(json.dumps(body).replace("{name}", name))
    assert_scim_error(client.post("/Users", json=sent), 400, scim_type)
    assert by_user_name(client, name) == []


@pytest.mark.parametrize("body", [
    {"displayName": "No userName"},
    {"userName": ""},
    {"userName": None},
    {"userName": "{name}", "active": "maybe"},
    {"userName": "{name}", "emails": "not-an-email"},
])
def test_invalid_values_on_put_are_400(client, user, body):
    """RFC 7644 §3.5.1 + Table 9 invalidValue on replace: the user stays as it was."""
    sent = json.loads(json.dumps(body).replace("{name}", user["userName"]))
    assert_scim_error(client.put(f"/Users/{user['id']}", json=sent), 400, "invalidValue")
    _unchanged(client, user)


@pytest.mark.parametrize("body,scim_type", [
    ({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}, "invalidSyntax"),   # no schemas
    ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": [{"op": "replace", "path": "title", "value": "x"}]}, "invalidSyntax"),
    (patch_body(), "invalidSyntax"),                                                           # no operations
    ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": {"op": "replace"}}, "invalidSyntax"),
    (patch_body("replace"), "invalidSyntax"),
    (patch_body({"path": "title", "value": "x"}), "invalidSyntax"),                             # no op
    (patch_body({"op": "copy", "path": "title", "value": "x"}), "invalidSyntax"),
    (patch_body({"op": "replace", "path": 42, "value": "x"}), "invalidPath"),
    (patch_body({"op": "replace", "path": "title"}), "invalidValue"),                            # no value
    (patch_body({"op": "replace", "value": "not an object"}), "invalidValue"),
    (patch_body({"op": "remove"}), "noTarget"),
    (patch_body({"op": "remove", "path": 'emails[type eq "nonexistent"]'}), None),               # nothing to remove: fine
    (patch_body({"op": "replace", "path": "nosuch", "value": "x"}), "invalidPath"),
    (patch_body({"op": "replace", "path": "name.nosuch", "value": "x"}), "invalidPath"),
    (patch_body({"op": "replace", "path": "emails[type eq]", "value": "x"}), "invalidPath"),
    (patch_body({"op": "replace", "path": "id", "value": "x"}), "mutability"),                   # RFC 7644 §3.5.2
    (patch_body({"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}), "mutability"),
    (patch_body({"op": "add", "path": "groups", "value": [{"value": "g"}]}), "mutability"),      # RFC 7643 §4.1.2
    (patch_body({"op": "remove", "path": "userName"}), "mutability"),                            # RFC 7644 §3.5.2.2
    (patch_body({"op": "replace", "path": "active", "value": "maybe"}), "invalidValue"),
    (patch_body({"op": "replace", "path": "name", "value": "flat"}), "invalidValue"),
    (patch_body({"op": "replace", "path": 'emails[value co "no-such-value"].value', "value": "a@example.com"}), "noTarget"),
])
def test_invalid_patch_requests(client, user, body, scim_type):
    """RFC 7644 §3.5.2 / Table 9: each bad PATCH is a 400 with its scimType, and the user is unchanged."""
    response = client.patch(f"/Users/{user['id']}", json=body)
    if scim_type is None:
        assert response.status_code == 200, response.text
        return
    assert_scim_error(response, 400, scim_type)
    _unchanged(client, user)


# ---------------------------------------------------------------------------------------------
# Body size limit → 413 (tenant option maxBodyBytes, default 1 MiB)


def _oversized(size: int) -> bytes:
    """A syntactically valid user body of exactly `size` bytes."""
    head = json.dumps(user_body(unique_user_name()))[:-1] + ', "displayName": "'
    return (head + "x" * (size - len(head) - 2) + '"}').encode()


def _chunks(data: bytes, size: int = 64 * 1024):
    for start in range(0, len(data), size):
        yield data[start:start + size]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
def test_body_over_one_mib_is_413(server, client, user, method, transfer):
    """RFC 7644 Table 8 413 «Payload Too Large» as a SCIM Error, for a declared Content-Length and for a
    chunked body without one (the server counts what it reads); nothing is created or changed."""
    assert server.tenant.options.maxBodyBytes == MIB
    data = _oversized(MIB + 1)
    content = data if transfer == "content-length" else _chunks(data)
    path = "/Users" if method == "POST" else f"/Users/{user['id']}"
    response = client.request(method, path, content=content)
    if transfer == "chunked":
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
    error = assert_scim_error(response, 413)
    assert str(MIB) in error["detail"]
    _unchanged(client, user)


def test_body_of_exactly_the_limit_is_accepted(client):
    """The limit is inclusive: a body of exactly maxBodyBytes is processed (here: created)."""
    data = _oversized(MIB)
    assert len(data) == MIB
    assert client.post("/Users", content=data).status_code == 201


@pytest.fixture(scope="module")
def small_limit_server():
    """A tenant with options.maxBodyBytes = 2048."""
    data = {
        "organization": "Small bodies",
        "domains": ["example.com"],
        "tokens": [{"name": "t", "token": "small-bodies-token-0123456789", "status": "active"}],
        "options": {"maxBodyBytes": 2048},
    }
    with ReferenceServer(Tenant.from_dict(data)) as running:
        yield running


@pytest.mark.parametrize("size,status", [(1500, 201), (2048, 201), (2049, 413), (10_000, 413)])
@pytest.mark.parametrize("transfer", ["content-length", "chunked"])
def test_max_body_bytes_option(small_limit_server, size, status, transfer):
    """tenant.schema.json options.maxBodyBytes is the limit (default 1 MiB)."""
    data = _oversized(size)
    with scim_client(small_limit_server) as c:
        response = c.post("/Users", content=data if transfer == "content-length" else _chunks(data, 512))
        assert response.status_code == status, response.text
        if status == 413:
            assert_scim_error(response, 413)


# ---------------------------------------------------------------------------------------------
# Unknown routes (404) and wrong methods (405 with Allow)


@pytest.mark.parametrize("method,path", [
    ("GET", "/NoSuchEndpoint"),
    ("GET", "/Groups/some-id/extra"),
    ("GET", "/Users/some-id/extra"),
    ("GET", "/scim/v2/Users"),           # the base path twice
    ("DELETE", "/Nope/1"),
    ("GET", "/ResourceTypes/Team"),
    ("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Team"),
    ("GET", "/Schemas/urn:ietf:params:scim:api:messages:2.0:ListResponse"),
])
def test_unknown_route_is_404(client, method, path):
    """RFC 7644 §3.12 Table 8 404: «Specified resource (e.g., User) or endpoint does not exist»."""
    assert_scim_error(client.request(method, path), 404)


def test_path_outside_the_base_path_is_404(server):
    """Only the SCIM base path is served; anything else is still a SCIM 404 (after authentication)."""
    root = server.base_url.rsplit("/scim/v2", 1)[0]
    with httpx.Client(headers={"Authorization": f"Bearer {server.token}"}) as c:
        assert_scim_error(c.get(f"{root}/Users"), 404)
        assert_scim_error(c.get(f"{root}/"), 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", "/Users/{id}", {"GET", "PUT", "PATCH", "DELETE"}),
    ("PUT", "/Users", {"GET", "POST"}),
    ("PATCH", "/Users", {"GET", "POST"}),
    ("DELETE", "/Users", {"GET", "POST"}),
    ("POST", "/ServiceProviderConfig", {"GET"}),
    ("PUT", "/ResourceTypes", {"GET"}),
    ("DELETE", "/ResourceTypes/User", {"GET"}),
    ("PATCH", "/Schemas", {"GET"}),
    ("DELETE", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", {"GET"}),
    ("GET", "/Bulk", {"POST"}),
])
def test_wrong_method_is_405_with_allow(client, user, method, path, allowed):
    """RFC 9110 §15.5.6: 405 names the allowed methods in Allow; the body is a SCIM Error; nothing changes."""
    response = client.request(method, path.format(id=user["id"]),
                              json=user_body(user["userName"]) if method in ("POST", "PUT", "PATCH") else None)
    assert_scim_error(response, 405)
    listed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed <= listed <= allowed | {"HEAD"}
    _unchanged(client, user)


@pytest.mark.parametrize("method,path", [("GET", "/Me"), ("POST", "/Bulk"), ("POST", "/.search"), ("POST", "/Users/.search")])
def test_unsupported_features_are_501(client, method, path):
    """RFC 7644 §3.11 (/Me) «SHOULD respond with HTTP status code 501 (Not Implemented)»; bulk and
    .search, advertised as unsupported, answer the same way, as a SCIM Error."""
    assert_scim_error(client.request(method, path, json={}), 501)


# ---------------------------------------------------------------------------------------------
# The media type on every response, and never a 5xx for bad input


def _anonymous_get(server, path: str) -> httpx.Response:
    with anonymous_client(server) as anonymous:
        return anonymous.get(path)


def _exchange(server, client, user: dict, case: str) -> httpx.Response:
    uid = user["id"]
    requests = {
        "200-get": lambda: client.get(f"/Users/{uid}"),
        "200-list": lambda: client.get("/Users?count=1"),
        "200-discovery": lambda: client.get("/ServiceProviderConfig"),
        "201-post": lambda: client.post("/Users", json=user_body()),
        "204-delete": lambda: client.delete(f"/Users/{create_user(client)['id']}"),
        "400-bad-json": lambda: client.post("/Users", content=b"{"),
        "400-filter": lambda: client.get("/Users?filter=bad"),
        "401": lambda: _anonymous_get(server, "/Users"),
        "403-discovery-filter": lambda: client.get('/Schemas?filter=id eq "x"'),
        "404": lambda: client.get("/Users/nobody"),
        "405": lambda: client.post(f"/Users/{uid}", json={}),
        "409": lambda: client.post("/Users", json=user_body(user["userName"])),
        "412": lambda: client.put(f"/Users/{uid}", json=user_body(user["userName"]), headers={"If-Match": 'W/"0"'}),
        "413": lambda: client.post("/Users", content=b" " * (MIB + 1)),
        "501": lambda: client.get("/Me"),
    }
    return requests[case]()


MEDIA_CASES = ["200-get", "200-list", "200-discovery", "201-post", "204-delete", "400-bad-json", "400-filter",
               "401", "403-discovery-filter", "404", "405", "409", "412", "413", "501"]


@pytest.mark.parametrize("case", MEDIA_CASES)
def test_every_response_is_application_scim_json(server, client, user, case):
    """RFC 7644 §8.1: Content-Type application/scim+json, on successes and on every
    error (401, 404, 405, 413 included); error bodies follow RFC 7644 §3.12."""
    response = _exchange(server, client, user, case)
    status = int(case.split("-")[0])
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == SCIM_JSON
    if status >= 400:
        assert_scim_error(response, status)


NASTY = [
    ("GET", "/Users?filter=" + "(" * 500 + 'userName eq "x"' + ")" * 500, None),
    ("GET", "/Users?filter=" + "not (" * 200 + "title pr" + ")" * 200, None),
    ("GET", "/Users?filter=" + "x" * 10_000, None),
    ("GET", "/Users?filter=" + " or ".join(['title eq "a"'] * 1500), None),
    ("GET", "/Users?filter=userName%20eq%20%22%00%22", None),
    ("GET", "/Users?filter=userName%20eq%20%22%5Cud800%22", None),
    ("GET", "/Users?filter=%ff%fe", None),
    ("GET", "/Users?startIndex=99999999999999999999999999&count=99999999999999999999", None),
    ("GET", "/Users?count=1e3", None),
    ("GET", "/Users?attributes=" + ",".join(["userName"] * 2000), None),
    ("GET", "/Users?attributes=..,%2C,urn:", None),
    ("GET", "/Users?excludedAttributes=emails[type eq \"work\"]", None),
    ("GET", "/Users/%00", None),
    ("GET", "/Users/%ED%A0%80", None),
    ("GET", "/Users?filter=userName%20eq%20%22%ED%A0%80%22%20and", None),
    ("GET", "/Users/" + "a" * 5000, None),
    ("POST", "/Users", b'{"userName": "a@example.com", "emails": [{"value": {"x": 1}}]}'),
    ("POST", "/Users", b'{"userName": "a@example.com", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"}'),
    ("POST", "/Users", b'{"userName": "a@example.com", "urn:ietf:params:scim:schemas:core:2.0:User": [1]}'),
    ("POST", "/Users", b'{"userName": "a@example.com", "name": {"givenName": ["a", "b"]}}'),
    ("POST", "/Users", b'{"userName": "a@example.com", "manager": 12}'),
    ("POST", "/Users", b'{"userName": "\\ud800@example.com"}'),
    ("POST", "/Users", b'{"userName": 1e999}'),
    ("POST", "/Users", b'{"userName": "a@example.com", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    ("POST", "/Users", b'{"a": 1, "a": 2, "userName": 5}'),
    ("PATCH", "/Users/{id}", b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [null, 1, "x"]}'),
    ("PATCH", "/Users/{id}", b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "emails[type eq \\"work\\"].value", "value": {"a": 1}}]}'),
    ("PATCH", "/Users/{id}", b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "emails", "value": "a@example.com"}]}'),
    ("PATCH", "/Users/{id}", b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": 5}}]}'),
    ("PATCH", "/Users/{id}", b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "' + b"a." * 3000 + b'b", "value": 1}]}'),
    ("PUT", "/Users/{id}", b'{"userName": null, "id": {"$ref": 1}}'),
    ("PUT", "/Users/{id}?attributes=nosuch", b'{"userName": "a@example.com"}'),
]


@pytest.mark.parametrize("method,path,content", NASTY, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(NASTY)])
def test_bad_input_never_causes_a_5xx(client, user, method, path, content):
    """RFC 7644 §3.12: bad input is the client's error (4xx with a SCIM Error body), never a 500."""
    response = client.request(method, path.format(id=user["id"]), content=content)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_scim_error(response, response.status_code)
