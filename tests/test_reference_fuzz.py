"""Hypothesis fuzzing of the reference server over real HTTP.

Random JSON bodies (arbitrary, user-shaped, PatchOp-shaped) for POST/PUT/PATCH, random filters,
paths, query parameters and header values, and raw non-UTF-8 bytes, all against one server per
module. The property everywhere: no 5xx (except 501 on the endpoints the server declares
unsupported), every 4xx/5xx is a SCIM Error in JSON, and the server keeps answering.

The bugs this fuzzing found (deeply nested bodies and lone surrogate escapes answered 500) are
pinned by regression tests at the end, each on a server of its own so that, should they come back,
the inputs cannot poison the shared one. `--hypothesis-show-statistics` shows the statuses reached.
"""

from __future__ import annotations

import json
import logging
import ssl
import uuid
from urllib.parse import quote

import httpx
import pytest
from helpers import SCIM_JSON, user_body
from hypothesis import HealthCheck, event, example, given, reject, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from scimcert.reference import ReferenceServer

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
UNSUPPORTED = ("/Users/.search", "/.search", "/Bulk", "/Me")  # answered 501 on purpose (RFC 7644 §3.4.3, §3.7, §3.11)

_SSL = ssl.create_default_context()  # shared: httpx builds one per client otherwise (~60 ms)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
FUZZ_MORE = settings(FUZZ, max_examples=200)
FUZZ_LESS = settings(FUZZ, max_examples=150)


# ---------------------------------------------------------------------------------------------
# The shared server, its client, the property


@pytest.fixture(scope="module")
def fuzz_server(tenant):
    with ReferenceServer(tenant, seed_users=20) as running:
        yield running


def _client(server: ReferenceServer, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, verify=_SSL, timeout=10,
                        headers={"Authorization": f"Bearer {server.token}", "Accept": SCIM_JSON,
                                 "Content-Type": SCIM_JSON, **headers})


@pytest.fixture(scope="module")
def http(fuzz_server):
    with _client(fuzz_server) as client:
        yield client


@pytest.fixture(scope="module")
def targets(http):
    """Users the PUT/PATCH fuzzers write to (never deleted)."""
    users = []
    for n in range(3):
        response = http.post("/Users", json=user_body(
            title="Target", nickName=f"t{n}", phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
            **{ENTERPRISE: {"department": "Fuzz", "manager": {"value": "m-1"}}}))
        assert response.status_code == 201, response.text
        users.append(response.json()["id"])
    return users


@pytest.fixture(autouse=True)
def keeps_answering(http):
    """After every test (all of its examples) the server still answers an ordinary request."""
    yield
    response = http.get("/Users", params={"count": 1})
    assert response.status_code == 200, response.text


def send(http: httpx.Client, method: str, path: str, **kwargs) -> httpx.Response:
    try:
        return http.request(method, path, **kwargs)
    except httpx.LocalProtocolError:
        reject()  # the client refuses to send it (e.g. a header h11 finds illegal): nothing reached the server
    except httpx.TransportError as exc:  # pragma: no cover - only when the server misbehaves
        pytest.fail(f"the server stopped answering {method} {path}: {type(exc).__name__}: {exc}")


def check(response: httpx.Response) -> None:
    """No 5xx (501 only where declared); SCIM Error JSON on every error; JSON on 200/201."""
    request = response.request
    status = response.status_code
    where = f"{request.method} {request.url} -> {status}: {response.text[:500]}"
    if currently_in_test_context():
        event(f"{request.method} {status}")  # --hypothesis-show-statistics shows what the fuzz reached
    path = request.url.path
    if status >= 500:
        assert status == 501 and any(path.endswith(p) for p in UNSUPPORTED), where
    if request.method == "HEAD":
        return  # no body to look at
    if status >= 400:
        assert response.headers.get("content-type", "").startswith(SCIM_JSON), where
        body = response.json()
        assert isinstance(body, dict), where
        assert body.get("schemas") == [ERROR_URN], where
        assert body.get("status") == str(status), where
        assert isinstance(body.get("detail"), str), where
        if status == 401:
            assert response.headers.get("www-authenticate", "").startswith("Bearer"), where
        if status == 405:
            assert response.headers.get("allow"), where
    elif status in (200, 201):
        assert response.headers.get("content-type", "").startswith(SCIM_JSON), where
        assert isinstance(response.json(), dict), where


def as_json_bytes(value) -> bytes:
    """JSON text with \\u escapes (ensure_ascii), so any str Hypothesis draws can be sent."""
    return json.dumps(value).encode("ascii")


# ---------------------------------------------------------------------------------------------
# Strategies


ATTRIBUTE_NAMES = [
    "userName", "USERNAME", "name", "name.givenName", "name.familyName", "displayName", "nickName", "title",
    "profileUrl", "userType", "preferredLanguage", "locale", "timezone", "active", "password", "emails",
    "emails.value", "emails.type", "emails.primary", "phoneNumbers", "phoneNumbers.value", "ims", "photos",
    "addresses", "addresses.streetAddress", "groups", "groups.value", "entitlements", "roles", "x509Certificates",
    "externalId", "id", "meta", "meta.created", "meta.lastModified", "meta.version", "schemas", "manager",
    "manager.value", "manager.displayName", "department", "costCenter", "employeeNumber",
    f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager", f"{ENTERPRISE}:manager.value", f"{ENTERPRISE}:costCenter",
    f"{CORE}:userName", f"{CORE}:name.givenName", f"{CORE}:emails", ENTERPRISE, CORE,
    "urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0", "urn:ietf:params:scim:schemas:other:1.0:X",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr", "EQ", "Pr", "eq ", "ge"]
LITERALS = ['"x"', '"Ada.Lovelace@example.com"', '"work"', '""', '"2020-01-01T00:00:00Z"', '"2999-12-31"',
            "true", "false", "null", "TRUE", "0", "42", "-1.5e3", "1e999", '"\\u00e9"', '"\\"', '"a\\"b"', "'x'"]
PUNCTUATION = ['"', "'", "[", "]", "(", ")", ".", ":", ",", "\\", " ", "\t", "$", "-", "_"]
KEYWORDS = ["and", "or", "not", "AND", "Or", "NOT", "not(", "pr"]
FRAGMENTS = ATTRIBUTE_NAMES + OPERATORS + LITERALS + PUNCTUATION + KEYWORDS

small_text = st.text(max_size=12)
fragment = st.sampled_from(FRAGMENTS) | st.text(max_size=4)

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
           | st.sampled_from(["True", "false", "", " ", "Ada.Lovelace@example.com", "x@example.org", "a@gmail.com",
                              "@example.com", "x@", "2020-01-01T00:00:00Z", "work", "home", "primary"]))
json_values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES + ["value", "type", "primary", "display"])
                                             | small_text, children, max_size=4), max_leaves=16)

emails = st.builds(lambda local, domain: f"{local}@{domain}",
                   st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=10),
                   st.sampled_from(["example.com", "EXAMPLE.org", "example.com.evil.io", "gmail.com", "sub.example.com", ""]))
multi_valued = st.lists(st.fixed_dictionaries({}, optional={
    "value": emails | scalars, "type": st.sampled_from(["work", "home", "other", ""]) | scalars,
    "primary": st.booleans() | st.sampled_from(["true", "False", "yes"]), "display": scalars,
}) | scalars, max_size=3)
attribute_values = json_values | emails | multi_valued | st.fixed_dictionaries({}, optional={
    "givenName": scalars, "familyName": scalars, "formatted": scalars, "value": scalars, "department": scalars,
    "manager": json_values | scalars})

user_bodies = st.builds(
    lambda base, extra: {**base, **extra},
    st.fixed_dictionaries({}, optional={
        "schemas": st.lists(st.sampled_from([CORE, ENTERPRISE, "urn:scim:schemas:core:2.0"]) | small_text, max_size=3)
        | scalars,
        "userName": emails | scalars,
        "emails": multi_valued | emails,
        "active": st.booleans() | scalars,
        "name": st.fixed_dictionaries({}, optional={"givenName": scalars, "familyName": scalars}) | scalars,
        ENTERPRISE: st.dictionaries(st.sampled_from(["department", "manager", "costCenter", "employeeNumber"])
                                    | small_text, attribute_values, max_size=3) | scalars,
        CORE: st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES) | small_text, attribute_values, max_size=3),
    }),
    st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES) | small_text, attribute_values, max_size=5),
)

# Mostly valid users: a valid body plus random attributes, so the fuzz also reaches coercion, policy,
# storage and rendering instead of stopping at the first 400.
valid_users = st.builds(
    lambda local, domain, extra: {**user_body(f"{local}.{uuid.uuid4().hex[:6]}@{domain}"), **extra},
    st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8),
    st.sampled_from(["example.com", "Example.ORG"]),
    st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES) | small_text, attribute_values | scalars, max_size=4),
)

path_texts = (
    st.sampled_from(ATTRIBUTE_NAMES)
    | st.lists(fragment, min_size=1, max_size=8).map("".join)
    | st.lists(fragment, min_size=1, max_size=8).map(" ".join)
    | st.builds(lambda a, f, s: f"{a}[{f}]{s}", st.sampled_from(["emails", "phoneNumbers", "addresses", "name",
                                                                "roles", "members", "x"]),
                st.lists(fragment, max_size=5).map(" ".join), st.sampled_from(["", ".value", ".type", ".x", ".primary"]))
    | small_text
)
operations = st.fixed_dictionaries({}, optional={
    "op": st.sampled_from(["add", "remove", "replace", "Add", "REPLACE", "Remove", "copy", "move", "test", ""]) | scalars,
    "path": path_texts | scalars,
    "value": attribute_values | user_bodies,
}) | json_values
FILTERABLE = ["userName", "name.givenName", "name.familyName", "displayName", "title", "externalId", "id", "active",
              "emails", "emails.value", "emails.type", "emails.primary", "phoneNumbers.value", "meta.lastModified",
              "meta.created", "meta.resourceType", f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager.value",
              "manager.value", "department", "addresses.locality", "nickName", "locale"]
valid_paths = (st.sampled_from([a for a in FILTERABLE if a != "id" and not a.startswith("meta.")] + ["name", "phoneNumbers", "addresses", "roles", f"{ENTERPRISE}:manager",
                                              'emails[type eq "work"].value', 'emails[type eq "home"]',
                                              'phoneNumbers[type eq "work"].value', 'addresses[type eq "work"].locality',
                                              'emails[value co "@"].primary', 'roles[value eq "x"]']))
valid_operations = st.fixed_dictionaries({
    "op": st.sampled_from(["add", "replace", "remove", "Add", "Replace"]),
    "path": valid_paths,
    "value": attribute_values | scalars | emails,
})
valid_patches = st.builds(lambda ops: {"schemas": [PATCH_OP], "Operations": ops},
                          st.lists(valid_operations, min_size=1, max_size=4))
patch_bodies = st.fixed_dictionaries({}, optional={
    "schemas": st.sampled_from([[PATCH_OP], [PATCH_OP.upper()], [], [CORE]]) | json_values,
    "Operations": st.lists(operations, max_size=4) | json_values,
    "operations": st.lists(operations, max_size=2),
})


def _expressions(depth: int = 3) -> st.SearchStrategy[str]:
    """Grammar-ish filter expressions: comparisons, pr, value paths, and/or/not, parentheses (valid or nearly)."""
    comparison = st.builds(lambda a, o, v: f"{a} {o} {v}", st.sampled_from(ATTRIBUTE_NAMES), st.sampled_from(OPERATORS),
                           st.sampled_from(LITERALS) | st.text(max_size=6).map(json.dumps)
                           | st.integers().map(str) | st.floats(allow_nan=False).map(repr))
    presence = st.sampled_from(ATTRIBUTE_NAMES).map(lambda a: f"{a} pr")
    typed = st.builds(lambda a, o, v: f"{a} {o} {v}", st.sampled_from(FILTERABLE),
                      st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
                      st.sampled_from(['"Ada"', '"ada.lovelace@example.com"', '"example.com"', '"work"', "true", "false",
                                       "null", '"2020-01-01T00:00:00Z"', '"2020-01-01"', "3", '"Engineering"', '""']))
    leaf = comparison | presence | typed | typed
    return st.recursive(leaf, lambda inner: (
        st.builds(lambda a, b, k: f"{a} {k} {b}", inner, inner, st.sampled_from(["and", "or", "AND", "Or"]))
        | inner.map(lambda e: f"({e})")
        | inner.map(lambda e: f"not ({e})")
        | st.builds(lambda a, e, s: f"{a}[{e}]{s}", st.sampled_from(["emails", "phoneNumbers", "addresses", "name",
                                                                    "roles", "groups"]), inner,
                    st.sampled_from(["", ".value", ".type eq \"work\"", " pr"]))
    ), max_leaves=6)


filters = (
    st.text(max_size=80)
    | st.lists(fragment, max_size=15).map(" ".join)
    | st.lists(fragment, max_size=15).map("".join)
    | _expressions()
    | _expressions().map(lambda e: e[: len(e) // 2])  # cut short
)

junk_params = (st.integers(min_value=-10**30, max_value=10**30).map(str) | st.integers(-5, 300).map(str)
               | st.text(max_size=20) | st.sampled_from(["", " 5", "1.5", "1e3", "0x10", "١٢", "-0", "+3", "NaN"])
               | st.lists(st.sampled_from(ATTRIBUTE_NAMES) | small_text, max_size=4).map(",".join))
query_params = st.dictionaries(
    st.sampled_from(["startIndex", "count", "attributes", "excludedAttributes", "filter", "sortBy", "sortOrder",
                     "StartIndex", "COUNT"]) | small_text,
    junk_params, max_size=5)

SEGMENTS = ["Users", "users", "Groups", "Schemas", "ResourceTypes", "ServiceProviderConfig", ".search", "Bulk", "Me",
            "User", CORE, ENTERPRISE, "..", ".", "", "%2F", "%00", "%ff", "~", "index.html"]
paths = st.lists(st.sampled_from(SEGMENTS) | st.text(st.characters(codec="utf-8", exclude_characters="/?#"),
                                                     max_size=12).map(lambda s: quote(s, safe="")),
                 max_size=4).map(lambda segments: "/" + "/".join(segments))
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"])

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
header_bytes = header_text.map(lambda s: s.strip(" \t").encode("latin-1"))


def _authorizations(token: str) -> st.SearchStrategy[bytes]:
    revoked = "scimcert-revoked-token-9876543210"
    forms = st.sampled_from([
        f"Bearer {token}", f"bearer {token}", f"BEARER {token}", f"Bearer  {token}", f"Bearer {token} ",
        f"Bearer {token}x", f"Bearer x{token}", f"Bearer {token[:-1]}", f"Bearer {token.upper()}",
        f"Bearer {token} {token}", f"Token {token}", f"Basic {token}", token, "Bearer", "Bearer ", "",
        f"Bearer {revoked}", f"Bearer {token},{revoked}", f"Bearer\t{token}", f"Bearer {token}\t",
    ])
    return (forms | st.builds(lambda a, b: f"{a}{token}{b}", header_text, header_text) | header_text).map(
        lambda s: s.strip(" \t").encode("latin-1"))  # h11 refuses to send surrounding whitespace


if_match_values = (st.sampled_from(["*", 'W/"1"', '"1"', 'W/"999999"', "W/", '""', ",", "*, W/\"1\"", " ", "null"])
                   | header_text).map(lambda s: s.strip(" \t").encode("latin-1"))
content_types = (st.sampled_from(["application/scim+json", "application/json", "text/plain", "application/xml",
                                  "application/scim+json; charset=latin-1", "multipart/form-data; boundary=x",
                                  "application/x-www-form-urlencoded", "*/*", ""])
                 | header_text).map(lambda s: s.strip(" \t").encode("latin-1"))


# ---------------------------------------------------------------------------------------------
# Bodies


@FUZZ_MORE
@given(body=json_values | user_bodies | valid_users)
def test_post_random_json(http, body):
    response = send(http, "POST", "/Users", content=as_json_bytes(body))
    check(response)
    if response.status_code == 201:  # a valid user came out of the fuzz: it must read back
        check(send(http, "GET", f"/Users/{response.json()['id']}"))


@FUZZ
@given(body=json_values | user_bodies | valid_users, which=st.integers(0, 2))
@example(body={"userName": "Ada.Lovelace@example.com"}, which=0)
@example(body={CORE: {CORE: {"userName": "x@example.com"}}}, which=0)
def test_put_random_json(http, targets, body, which):
    check(send(http, "PUT", f"/Users/{targets[which]}", content=as_json_bytes(body)))


@FUZZ_MORE
@given(body=valid_patches | patch_bodies | json_values, which=st.integers(0, 2))
@example(body={"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": 'emails[type eq "work"].value',
                                                      "value": "x@example.com"}]}, which=0)
@example(body={"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "emails[value co \"\"]",
                                                      "value": [{"value": "y@example.com"}]}]}, which=1)
def test_patch_random_json(http, targets, body, which):
    check(send(http, "PATCH", f"/Users/{targets[which]}", content=as_json_bytes(body)))


@FUZZ_LESS
@given(raw=st.binary(max_size=300)
       | st.builds(lambda junk: b'{"userName": "' + junk + b'@example.com"}', st.binary(min_size=1, max_size=8))
       | header_text.map(lambda s: json.dumps({"userName": s + "@example.com", "displayName": s},
                                              ensure_ascii=False).encode("latin-1")),
       method=st.sampled_from(["POST", "PUT", "PATCH"]), which=st.integers(0, 2))
@example(raw=b"\xff\xfe\x00{", method="POST", which=0)
@example(raw=b'{"userName": "\xc3\x28@example.com"}', method="PUT", which=0)
@example(raw='\ufeff{"userName": "bom@example.com"}'.encode("utf-8"), method="POST", which=0)
@example(raw='{"userName": "u16@example.com"}'.encode("utf-16"), method="POST", which=0)
@example(raw=b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [\x80]}',
         method="PATCH", which=1)
@example(raw=b'{"userName": NaN}', method="POST", which=0)
@example(raw=b'{"userName": 1' + b"1" * 5000 + b"}", method="POST", which=0)  # over int's 4300-digit limit
@example(raw=b'{"userName": "x@example.com", "displayName": 1e400}', method="PUT", which=2)
def test_raw_bytes_body(http, targets, raw, method, which):
    path = "/Users" if method == "POST" else f"/Users/{targets[which]}"
    check(send(http, method, path, content=raw))


# ---------------------------------------------------------------------------------------------
# Filters, query parameters, paths


@FUZZ_MORE
@given(flt=filters)
@example(flt='userName eq "ada.lovelace@EXAMPLE.com"')
@example(flt='emails[type eq "work" and value co "@"].value pr')
@example(flt="meta.lastModified gt \"2000-01-01T00:00:00Z\" and not (active eq false)")
@example(flt="(" * 2000 + "userName pr" + ")" * 2000)
@example(flt="not(" * 800 + "userName pr" + ")" * 800)
@example(flt="not (" * 40 + "userName pr" + ")" * 40)
@example(flt="userName eq " + "1" * 4090)
@example(flt="x" * 5000)
def test_random_filters(http, flt):
    response = send(http, "GET", "/Users", params={"filter": flt})
    check(response)
    if response.status_code == 400:
        assert response.json().get("scimType") == "invalidFilter", response.text


@FUZZ
@given(params=query_params, path=st.sampled_from(["/Users", "/Schemas", "/ResourceTypes", "/ServiceProviderConfig"]))
@example(params={"startIndex": str(10**30), "count": str(10**30)}, path="/Users")
@example(params={"startIndex": "-" + "9" * 5000}, path="/Users")
@example(params={"attributes": "name.givenName,name,emails.value", "excludedAttributes": "emails"}, path="/Users")
@example(params={"attributes": ENTERPRISE + ",id.x,meta.version"}, path="/Users")
def test_random_query_parameters(http, params, path):
    response = send(http, "GET", path, params=params)
    check(response)
    if path == "/Users" and response.status_code == 200:
        page = response.json()
        assert page["itemsPerPage"] == len(page["Resources"]) <= 100


@FUZZ
@given(params=query_params, which=st.integers(0, 2))
def test_random_query_parameters_on_one_user(http, targets, params, which):
    check(send(http, "GET", f"/Users/{targets[which]}", params=params))


@FUZZ_MORE
@given(path=paths, method=methods, params=query_params, body=st.none() | json_values)
@example(path="/Users/.search", method="POST", params={}, body={})
@example(path="/Users/" + "a" * 3000, method="GET", params={}, body=None)
def test_random_paths(http, path, method, params, body):
    kwargs = {"params": params}
    if body is not None:
        kwargs["content"] = as_json_bytes(body)
    check(send(http, method, str(http.base_url).rstrip("/") + path, **kwargs))  # absolute: '//x' is a valid path here


# ---------------------------------------------------------------------------------------------
# Headers


@FUZZ
@given(data=st.data(), path=st.sampled_from(["/Users", "/Users/nobody", "/Schemas", "/NoSuchThing"]))
def test_random_authorization(fuzz_server, http, data, path):
    token = fuzz_server.token
    authorization = data.draw(_authorizations(token))
    response = send(http, "GET", path, headers={"Authorization": authorization})
    check(response)
    if response.status_code != 401:
        assert token.encode() in authorization, authorization
    if authorization == f"Bearer {token}".encode():
        assert response.status_code != 401


@FUZZ
@given(authorization=st.sampled_from([None, b"", b"Basic abc"]), method=methods, path=paths)
def test_unauthenticated_requests_anywhere(fuzz_server, authorization, method, path):
    headers = {} if authorization is None else {"Authorization": authorization}
    with httpx.Client(base_url=fuzz_server.base_url, timeout=10, verify=_SSL) as anonymous:
        response = send(anonymous, method, fuzz_server.base_url + path, headers=headers)
    check(response)
    if not (300 <= response.status_code < 400):
        assert response.status_code == 401, response.text


@FUZZ
@given(method=st.sampled_from(["GET", "PUT", "PATCH"]), which=st.integers(0, 2), if_match=if_match_values,
       content_type=content_types, host=st.none() | header_bytes, accept=st.none() | header_bytes,
       body=st.sampled_from([None, "patch", "put"]))
def test_random_headers_on_a_user(http, targets, method, which, if_match, content_type, host, accept, body):
    current = send(http, "GET", f"/Users/{targets[which]}").json()
    headers = {"If-Match": if_match, "If-None-Match": if_match, "Content-Type": content_type}
    if host is not None:
        headers["Host"] = host
    if accept is not None:
        headers["Accept"] = accept
    payload = None
    if method == "PATCH" or body == "patch":
        payload = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Header fuzz"}]}
    elif method == "PUT" or body == "put":
        payload = {key: value for key, value in current.items() if key not in ("id", "meta", "schemas")}
    kwargs = {"content": as_json_bytes(payload)} if payload is not None else {}
    response = send(http, method, f"/Users/{targets[which]}", headers=headers, **kwargs)
    check(response)
    tags = {tag.strip() for tag in if_match.split(b",")}
    if method != "GET" and b"*" not in tags and current["meta"]["version"].encode() not in tags:
        assert response.status_code == 412, response.text
    if method == "GET" and current["meta"]["version"].encode() in tags:
        assert response.status_code == 304, response.text


@FUZZ_LESS
@given(method=st.sampled_from(["POST", "PUT", "PATCH"]), content_type=content_types,
       length=st.sampled_from([None, "0", "1", "5", "abc", "-1", "99999999999"]))
def test_random_content_type_on_writes(http, targets, method, content_type, length):
    path = "/Users" if method == "POST" else f"/Users/{targets[0]}"
    payload = ({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "nickName", "value": "ct"}]}
               if method == "PATCH" else user_body())
    response = send(http, method, path, headers={"Content-Type": content_type}, content=as_json_bytes(payload))
    check(response)


# ---------------------------------------------------------------------------------------------
# Regressions: bugs this fuzzing found (fixed in app.py _json_body), each on a server of its own


@pytest.fixture
def own_server(tenant):
    """A server of its own, with uvicorn's "Exception in ASGI application" log silenced.

    Should a 500 come back, logging its traceback makes Python 3.11's traceback module call
    ast.parse in the server thread; CPython 3.11.7 keeps the AST recursion depth in
    interpreter-global state (cpython#106905), so it races with pytest's own ast.parse when it
    formats the failure, and pytest dies with "SystemError: AST constructor recursion depth mismatch".
    """
    logger = logging.getLogger("uvicorn.error")
    was_disabled, logger.disabled = logger.disabled, True
    try:
        with ReferenceServer(tenant) as running:
            yield running
    finally:
        logger.disabled = was_disabled


def _fresh_send(server: ReferenceServer, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on a new connection (a 500 makes uvicorn drop the keep-alive one)."""
    with _client(server) as client:
        return send(client, method, path, **kwargs)


def _nested(depth: int, inner: str, key: str | None = None) -> bytes:
    opener, closer = ("[", "]") if key is None else (f'{{"{key}":', "}")
    return (opener * depth + inner + closer * depth).encode()


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 5_000, _nested(3_000, "1"), _nested(3_000, "{}", "a"),
                                 b'{"userName": ' + _nested(3_000, "0") + b"}"],
                         ids=["open-array", "open-object", "deep-array", "deep-object", "deep-attribute"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_deeply_nested_json_body_is_a_400(own_server, raw, method):
    """Was a 500 (RecursionError from json.loads not caught in app.py _json_body)."""
    with _client(own_server) as client:
        user_id = client.post("/Users", json=user_body()).json()["id"]
    path = "/Users" if method == "POST" else f"/Users/{user_id}"
    response = _fresh_send(own_server, method, path, content=raw)
    check(response)
    assert response.status_code == 400, response.text
    assert response.json()["scimType"] == "invalidSyntax"
    assert _fresh_send(own_server, "GET", "/Users").status_code == 200


@pytest.mark.parametrize("depth", [700, 900, 960, 990])
def test_nesting_near_the_recursion_limit_never_500(own_server, depth):
    """Bodies that json.loads just accepts, nested through the core-schema URN (normalize_user recurses
    into it) or inside a PATCH value: a 2xx or a 400, never a RecursionError 500."""
    with _client(own_server) as client:
        user_id = client.post("/Users", json=user_body()).json()["id"]
    post = _nested(depth, f'{{"userName": "deep.{depth}@example.com"}}', CORE)
    name = _nested(depth, '{"givenName": "x"}', "a")
    patch = b'{"schemas": ["' + PATCH_OP.encode() + b'"], "Operations": [{"op": "add", "value": {"' + CORE.encode() \
        + b'": {"name": ' + name + b"}}}]}"
    for method, path, raw in [("POST", "/Users", post), ("PUT", f"/Users/{user_id}", post),
                              ("PATCH", f"/Users/{user_id}", patch)]:
        response = _fresh_send(own_server, method, path, content=raw)
        check(response)
        assert response.status_code in (200, 201, 400, 409), response.text


def test_lone_surrogate_in_a_created_user_is_refused_or_rendered(own_server):
    """Was a 500 after the user was stored (ScimResponse.render: UnicodeEncodeError), and every later
    listing that included the user answered 500 too."""
    raw = b'{"userName": "lone.surrogate@example.com", "displayName": "Bad \\ud800 name"}'
    created = _fresh_send(own_server, "POST", "/Users", content=raw)
    listing = _fresh_send(own_server, "GET", "/Users")
    check(created)
    assert created.status_code in (201, 400), created.text
    assert listing.status_code == 200, listing.text


def test_lone_surrogate_in_a_patch_value_is_refused_or_rendered(own_server):
    """Was a 500 although the change had been committed."""
    with _client(own_server) as client:
        user = client.post("/Users", json=user_body()).json()
    raw = b'{"schemas": ["' + PATCH_OP.encode() + b'"], "Operations": [{"op": "replace", "path": "title", "value": "\\udfff"}]}'
    patched = _fresh_send(own_server, "PATCH", f"/Users/{user['id']}", content=raw)
    again = _fresh_send(own_server, "GET", f"/Users/{user['id']}")
    check(patched)
    assert patched.status_code in (200, 400), patched.text
    assert again.status_code == 200, again.text
    assert again.json().get("title") != "\udfff"


def test_lone_surrogate_in_an_error_detail_is_still_a_400(own_server):
    """Was a 500: policy.py quoted the domain verbatim ("Email domain '\\ud800.com' ...") and the error
    response could not be encoded."""
    response = _fresh_send(own_server, "POST", "/Users", content=b'{"userName": "a@\\ud800.com"}')
    check(response)
    assert response.status_code == 400, response.text


@FUZZ_LESS
@given(body=st.builds(lambda text, key, user_name: {"userName": user_name, key: text},
                      st.text(st.characters(categories=["Cs", "Co", "Cn", "Zs", "Mn"]), min_size=1, max_size=4)
                      .map(lambda t: f"x{t}y"),
                      st.sampled_from(["displayName", "title", "nickName", "userName", "externalId", "locale"]),
                      emails))
def test_surrogates_and_odd_code_points_never_500(http, body):
    """Lone surrogates (sent as \\u escapes), private-use, unassigned and combining code points in any
    string: a 201, 400 or 409, never a 500; the listing still renders."""
    response = send(http, "POST", "/Users", content=as_json_bytes(body))
    check(response)
    assert response.status_code in (201, 400, 409), response.text
    if response.status_code == 201:
        check(send(http, "GET", "/Users", params={"filter": f'id eq "{response.json()["id"]}"'}))


def test_the_server_still_answers_everything_after_the_fuzz(http, targets):
    assert send(http, "GET", "/ServiceProviderConfig").status_code == 200
    listing = send(http, "GET", "/Users", params={"count": 100})
    check(listing)
    assert listing.status_code == 200
    total = listing.json()["totalResults"]
    assert total >= 1 + 20 + len(targets)
    for user_id in targets:
        response = send(http, "GET", f"/Users/{user_id}")
        check(response)
        assert response.status_code == 200
