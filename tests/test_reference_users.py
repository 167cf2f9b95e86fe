"""CRUD of /Users on the reference server over real HTTP: create, read, replace, patch, delete,
meta and ETags (RFC 7644 §3.3-§3.6, §3.14; RFC 7643 §3.1), plus library use of the server.

IdP shapes, named so below:
- Okta SCIM 2.0 guide: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
- Entra tutorial (Microsoft Learn):
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
- SCIM compatibility page (Microsoft Learn): in the comment below.
"""

# SCIM compatibility page:
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest
from helpers import (
    CORE_USER,
    ENTERPRISE_USER,
    assert_scim_error,
    by_user_name,
    create_user,
    find_users,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

from scimcert.reference import ReferenceServer, create_app


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _get(client: httpx.Client, user: dict) -> dict:
    response = client.get(f"/Users/{user['id']}")
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------------------------------
# POST and GET


def test_create_answers_201_with_the_full_resource(client):
    """RFC 7644 §3.3: 201, the representation, `Location` = meta.location; RFC 7644 §3.14: ETag = meta.version;
    RFC 7643 §3.1: id issued by the server, meta filled in, lastModified == created on creation."""
    body = user_body(displayName="Zoë O'Brien", title="Engineer",
                     **{ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "42"}})
    response = client.post("/Users", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    user = response.json()
    assert user["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert isinstance(user["id"], str) and user["id"]
    for key in ("userName", "name", "emails", "active", "displayName", "title", ENTERPRISE_USER):
        assert user[key] == body[key], key
    meta = user["meta"]
    assert set(meta) == {"resourceType", "created", "lastModified", "location", "version"}
    assert meta["resourceType"] == "User"
    assert meta["created"] == meta["lastModified"]
    _instant(meta["created"])  # an ISO-8601 dateTime with date and time (RFC 7643 §2.3.5)
    assert meta["location"].endswith(f"/Users/{user['id']}")
    assert response.headers["location"] == meta["location"]
    assert response.headers["etag"] == meta["version"]
    assert meta["version"].startswith('W/"')  # RFC 7643 §3.1: a weak entity-tag


def test_location_serves_the_created_user(client):
    """RFC 7644 §3.3: «the URI of the created resource» in Location answers GET with the same resource."""
    created = client.post("/Users", json=user_body())
    fetched = client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == created.json()


def test_get_by_id_returns_the_resource_with_etag_and_content_location(client):
    """RFC 7644 §3.4.1 200 + body; §3.14 ETag header; RFC 7643 §3.1 meta.location = Content-Location."""
    user = create_user(client)
    response = client.get(f"/Users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user
    assert response.headers["etag"] == user["meta"]["version"]
    assert response.headers["content-location"] == user["meta"]["location"]


def test_get_list_contains_the_created_user(client):
    """RFC 7644 §3.4.2: the new user is in the list, represented as by GET."""
    user = create_user(client)
    listed = by_user_name(client, user["userName"])
    assert listed == [user]


def test_client_chosen_id_and_meta_are_ignored_on_create(client):
    """RFC 7643 §3.1: id «MUST NOT be specified by the client»; meta «SHALL be ignored when provided by clients»."""
    body = user_body(id="client-chosen-123",
                     meta={"created": "2000-01-01T00:00:00Z", "version": 'W/"client"', "resourceType": "Group"})
    user = client.post("/Users", json=body).json()
    assert user["id"] != "client-chosen-123"
    assert not user["meta"]["created"].startswith("2000")
    assert user["meta"]["version"] != 'W/"client"'
    assert user["meta"]["resourceType"] == "User"
    assert client.get("/Users/client-chosen-123").status_code == 404


def test_ids_are_distinct_and_not_reused(client):
    """RFC 7643 §3.1: ids are unique and never reassigned, even after DELETE."""
    ids = [create_user(client)["id"] for _ in range(5)]
    assert client.delete(f"/Users/{ids[0]}").status_code == 204
    ids.append(create_user(client)["id"])
    assert len(set(ids)) == len(ids)


def test_unicode_round_trips(client):
    """RFC 7644 §3.8: UTF-8 requests and responses; the value comes back identical."""
    user = create_user(client, name={"formatted": "Zoë Ångström-Łukasz", "givenName": "Zoë"})
    assert _get(client, user)["name"]["formatted"] == "Zoë Ångström-Łukasz"


# ---------------------------------------------------------------------------------------------
# PUT


def test_put_replaces_the_whole_resource(client):
    """RFC 7644 §3.5.1: PUT replaces; omitted mutable attributes are cleared, `active` omitted defaults
    to true, and `id`/`meta` in the body are ignored."""
    user = create_user(client, title="Engineer", displayName="Before", nickName="Nick", active=False,
                       phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
                       **{ENTERPRISE_USER: {"department": "Sales"}})
    replacement = {
        "schemas": [CORE_USER],
        "id": "someone-else",
        "meta": {"created": "2000-01-01T00:00:00Z", "version": 'W/"0"'},
        "userName": user["userName"],
        "displayName": "After",
    }
    response = client.put(f"/Users/{user['id']}", json=replacement)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == user["id"]
    assert replaced["displayName"] == "After"
    for cleared in ("title", "nickName", "name", "emails", "phoneNumbers", ENTERPRISE_USER):
        assert cleared not in replaced, cleared
    assert replaced["schemas"] == [CORE_USER]
    assert replaced["active"] is True
    assert replaced["meta"]["created"] == user["meta"]["created"]
    assert replaced["meta"]["version"] not in (user["meta"]["version"], 'W/"0"')
    assert response.headers["etag"] == replaced["meta"]["version"]
    assert _get(client, user) == replaced
    assert client.get("/Users/someone-else").status_code == 404


def test_put_can_change_user_name_case_of_the_same_user(client):
    """RFC 7643 §4.1.1: uniqueness is case-insensitive, but a user may change the case of its own userName."""
    user = create_user(client)
    upper = user["userName"].upper()
    response = client.put(f"/Users/{user['id']}", json=user_body(upper))
    assert response.status_code == 200, response.text
    assert _get(client, user)["userName"] == upper


# ---------------------------------------------------------------------------------------------
# PATCH


WORK = 'emails[type eq "work"]'

# (id, operations, expected changes relative to the created user as {dotted key: value or None}).
# The created user: user_body() + title "Engineer" + enterprise department "Sales".
PATCH_CASES = [
    ("pathless-replace", [{"op": "replace", "value": {"title": "Director"}}], {"title": "Director"}),
    ("pathless-dotted-key", [{"op": "replace", "value": {"name.givenName": "Grace"}}],
     {"name.givenName": "Grace", "name.familyName": "O'Brien"}),
    ("pathless-core-urn-key", [{"op": "replace", "value": {f"{CORE_USER}:displayName": "G. Hopper"}}],
     {"displayName": "G. Hopper"}),
    ("pathless-enterprise-urn-key", [{"op": "add", "value": {f"{ENTERPRISE_USER}:costCenter": "CC-7"}}],
     {"ext.costCenter": "CC-7", "ext.department": "Sales"}),
    ("pathless-enterprise-block", [{"op": "replace", "value": {ENTERPRISE_USER: {"department": "Legal"}}}],
     {"ext.department": "Legal"}),
    ("pathless-active", [{"op": "replace", "value": {"active": False}}], {"active": False}),
    ("sub-attribute-path", [{"op": "replace", "path": "name.familyName", "value": "Hopper"}],
     {"name.familyName": "Hopper", "name.givenName": "Zoë"}),
    ("value-filter-path-existing", [{"op": "replace", "path": f"{WORK}.display", "value": "Work mail"}],
     {"emails.0.display": "Work mail", "emails.0.type": "work"}),
    ("value-filter-path-created", [{"op": "add", "path": 'phoneNumbers[type eq "mobile"].value',
                                    "value": "+1 555 0199"}],
     {"phoneNumbers": [{"type": "mobile", "value": "+1 555 0199"}]}),
    ("enterprise-urn-path", [{"op": "replace", "path": f"{ENTERPRISE_USER}:department", "value": "Ops"}],
     {"ext.department": "Ops"}),
    ("enterprise-urn-sub-path", [{"op": "add", "path": f"{ENTERPRISE_USER}:manager.value", "value": "boss-1"}],
     {"ext.manager": {"value": "boss-1"}}),
    ("remove-path", [{"op": "remove", "path": "title"}], {"title": None}),
    ("remove-enterprise-attribute", [{"op": "remove", "path": f"{ENTERPRISE_USER}:department"}],
     {"ext": None}),
    ("capitalised-ops", [{"op": "Replace", "path": "title", "value": "A"}, {"op": "ADD", "path": "nickName",
                                                                            "value": "Amazing"}],
     {"title": "A", "nickName": "Amazing"}),
    ("ops-in-order", [{"op": "replace", "path": "title", "value": "First"},
                      {"op": "remove", "path": "title"},
                      {"op": "add", "path": "title", "value": "Third"},
                      {"op": "replace", "path": "displayName", "value": "Shown"}],
     {"title": "Third", "displayName": "Shown"}),
    ("add-then-remove", [{"op": "add", "path": "nickName", "value": "Tmp"}, {"op": "remove", "path": "nickName"}],
     {"nickName": None}),
]


def _top(dotted: str) -> str:
    """The top-level key a dotted expectation is about; `ext` stands for the enterprise extension."""
    head = dotted.split(".")[0]
    return ENTERPRISE_USER if head == "ext" else head


def _lookup(user: dict, dotted: str):
    node = user
    for part in [_top(dotted), *dotted.split(".")[1:]]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


@pytest.mark.parametrize("operations,expected", [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES])
def test_patch_operations(client, operations, expected):
    """RFC 7644 §3.5.2 and the IdP shapes (Okta SCIM 2.0 guide: path-less; Entra tutorial: capitalised ops,
    value paths, created if absent (inferred); SCIM compatibility page: enterprise URN paths, dotted/URN keys):
    applied in order, 200 with the full resource, everything not targeted left as it was."""
    user = create_user(client, title="Engineer", **{ENTERPRISE_USER: {"department": "Sales"}})
    response = client.patch(f"/Users/{user['id']}", json=patch_body(*operations))
    assert response.status_code == 200, response.text
    patched = response.json()
    for dotted, value in expected.items():
        assert _lookup(patched, dotted) == value, (dotted, patched)
    untouched = {"userName", "emails", "name", "active", "title", "displayName", "nickName", "phoneNumbers",
                 ENTERPRISE_USER} - {_top(k) for k in expected}
    for key in untouched:
        assert patched.get(key) == user.get(key), key
    changed = {k: v for k, v in patched.items() if k != "meta"} != {k: v for k, v in user.items() if k != "meta"}
    assert (patched["meta"]["version"] != user["meta"]["version"]) == changed  # add-then-remove changes nothing
    assert response.headers["etag"] == patched["meta"]["version"]
    assert _get(client, user) == patched


def test_patch_enterprise_path_adds_the_extension_schema(client):
    """RFC 7644 §3.5.2: patching an extension attribute on a user without it adds the URN to `schemas`."""
    user = create_user(client)
    assert user["schemas"] == [CORE_USER]
    patched = client.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "add", "path": f"{ENTERPRISE_USER}:department", "value": "Ops"})).json()
    assert patched["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert patched[ENTERPRISE_USER] == {"department": "Ops"}


def test_patch_value_filter_work_email_created_when_absent(client):
    """Entra tutorial's value path (creating it is inferred): `emails[type eq "work"].value` on a user without
    emails creates the work email."""
    user = create_user(client, emails=None)
    assert "emails" not in user
    address = user["userName"].lower()
    patched = client.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": address})).json()
    assert patched["emails"] == [{"type": "work", "value": address}]


ATOMIC_FAILURES = [
    ("remove-without-path", {"op": "remove"}, "noTarget"),
    ("unknown-op", {"op": "merge", "path": "title", "value": "x"}, "invalidSyntax"),
    ("read-only-path", {"op": "replace", "path": "id", "value": "x"}, "mutability"),
    ("bad-path", {"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
    ("bad-boolean", {"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
    ("foreign-domain", {"op": "replace", "path": "userName", "value": "someone@gmail.com"}, "invalidValue"),
]


@pytest.mark.parametrize("failing,scim_type", [c[1:] for c in ATOMIC_FAILURES], ids=[c[0] for c in ATOMIC_FAILURES])
def test_patch_is_atomic(client, failing, scim_type):
    """RFC 7644 §3.5.2: «If a single operation encounters an error condition, the original SCIM resource
    MUST be restored»: earlier operations in the request are not kept."""
    user = create_user(client, title="Original")
    operations = [{"op": "replace", "path": "title", "value": "Changed"},
                  {"op": "add", "value": {"nickName": "Changed"}}, failing]
    response = client.patch(f"/Users/{user['id']}", json=patch_body(*operations))
    assert_scim_error(response, 400, scim_type)
    assert _get(client, user) == user


def test_patch_removing_active_leaves_the_default(client):
    """RFC 7644 §3.4.2.2 («a defaulted attribute … the value that was returned»): `active` is never missing
    (https://github.com/grokability/snipe-it/issues/13855); removing it by PATCH leaves the default, true, as a
    PUT without it does."""
    user = create_user(client, active=False)
    response = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "remove", "path": "active"}))
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True
    assert _get(client, user)["active"] is True
    assert [u["id"] for u in find_users(client, f'userName eq "{user["userName"]}" and active eq true')] == [user["id"]]


@pytest.mark.parametrize("write", ["POST", "PUT", "PATCH"])
def test_at_most_one_primary_email(client, write):
    """RFC 7643 §2.4: «The primary attribute value "true" MUST appear no more than once»; on POST/PUT the
    first value marked primary stays primary, on PATCH the one written last (RFC 7644 §3.5.2)."""
    user = create_user(client)
    name = user["userName"]
    two = [{"value": name, "type": "work", "primary": True}, {"value": "other@example.org", "type": "home", "primary": True}]
    if write == "POST":
        client.delete(f"/Users/{user['id']}")
        response = client.post("/Users", json=user_body(name, emails=two))
    elif write == "PUT":
        response = client.put(f"/Users/{user['id']}", json=user_body(name, emails=two))
    else:
        response = client.patch(f"/Users/{user['id']}", json=patch_body(
            {"op": "add", "path": "emails", "value": [{"value": "other@example.org", "type": "home", "primary": True}]}))
    assert response.status_code in (200, 201), response.text
    emails = response.json()["emails"]
    assert [e["value"] for e in emails if e.get("primary") is True] == [name if write != "PATCH" else "other@example.org"]
    assert _get(client, response.json())["emails"] == emails


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_writes_honour_attributes(client, method):
    """RFC 7644 §3.3/§3.5.1/§3.5.2 + §3.9: `attributes` applies to the representation a write returns."""
    user = create_user(client)
    bodies = {"POST": user_body(), "PUT": user_body(user["userName"], title="T"),
              "PATCH": patch_body({"op": "replace", "path": "title", "value": "T"})}
    path = "/Users" if method == "POST" else f"/Users/{user['id']}"
    response = client.request(method, f"{path}?attributes=userName", json=bodies[method])
    assert response.status_code in (200, 201), response.text
    assert set(response.json()) == {"id", "schemas", "userName"}
    assert response.headers["etag"]


# ---------------------------------------------------------------------------------------------
# DELETE


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_deleted_user_is_gone(client, method):
    """RFC 7644 §3.6: 204 with an empty body, then «404 (Not Found) … for all operations associated
    with the previously deleted resource», and omitted from query results."""
    user = create_user(client)
    deleted = client.delete(f"/Users/{user['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    bodies = {"PUT": user_body(user["userName"]), "PATCH": patch_body({"op": "replace", "path": "title", "value": "x"})}
    response = client.request(method, f"/Users/{user['id']}", json=bodies.get(method))
    assert_scim_error(response, 404)
    assert by_user_name(client, user["userName"]) == []


def test_unknown_id_is_404(client):
    """RFC 7644 §3.12 Table 8: 404 «Specified resource … does not exist»."""
    assert_scim_error(client.get("/Users/00000000-0000-0000-0000-000000000000"), 404)


# ---------------------------------------------------------------------------------------------
# meta.version, ETag, If-Match, If-None-Match


def test_version_and_last_modified_change_on_every_write(client):
    """RFC 7644 §3.14 / RFC 7643 §3.1: a new version on every write that changes the user, lastModified
    advancing, created fixed; the ETag header always equals meta.version. A write that changes nothing (the
    same replace again, a PUT of what is stored) keeps meta as it was (RFC 7644 §3.5.2.1: «SHALL NOT change
    the modify timestamp»)."""
    user = create_user(client)
    seen = [user["meta"]["version"]]
    writes = [
        (True, lambda: client.put(f"/Users/{user['id']}", json=user_body(user["userName"], title="One"))),
        (True, lambda: client.patch(f"/Users/{user['id']}",
                                    json=patch_body({"op": "replace", "path": "title", "value": "Two"}))),
        (False, lambda: client.patch(f"/Users/{user['id']}",
                                     json=patch_body({"op": "replace", "path": "title", "value": "Two"}))),
        (False, lambda: client.put(f"/Users/{user['id']}", json=user_body(user["userName"], title="Two"))),
        (True, lambda: client.put(f"/Users/{user['id']}", json=user_body(user["userName"], title="Three"))),
    ]
    last = user["meta"]["lastModified"]
    for changes, write in writes:
        response = write()
        assert response.status_code == 200, response.text
        meta = response.json()["meta"]
        assert response.headers["etag"] == meta["version"]
        assert meta["created"] == user["meta"]["created"]
        if changes:
            assert meta["version"] not in seen
            assert _instant(meta["lastModified"]) > _instant(last)
        else:
            assert (meta["version"], meta["lastModified"]) == (seen[-1], last)
        seen.append(meta["version"])
        last = meta["lastModified"]
    assert _instant(last) > _instant(user["meta"]["created"])
    assert client.get(f"/Users/{user['id']}").headers["etag"] == seen[-1]


def test_add_of_an_email_already_there_changes_nothing(client):
    """RFC 7644 §3.5.2.1: an add of a value the user already has succeeds, is not duplicated, and «SHALL NOT
    change the modify timestamp of the resource» (nor, here, its version)."""
    user = create_user(client)
    response = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "add", "path": "emails",
                                                                     "value": user["emails"]}))
    assert response.status_code == 200, response.text
    assert response.json()["emails"] == user["emails"]
    assert response.json()["meta"] == user["meta"]
    assert response.headers["etag"] == user["meta"]["version"]
    assert _get(client, user) == user


def _write(client: httpx.Client, method: str, user: dict, headers: dict) -> httpx.Response:
    bodies = {
        "PUT": user_body(user["userName"], title="Written"),
        "PATCH": patch_body({"op": "replace", "path": "title", "value": "Written"}),
    }
    return client.request(method, f"/Users/{user['id']}", json=bodies.get(method), headers=headers)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_stale_if_match_is_412_and_changes_nothing(client, method):
    """RFC 7644 §3.14 + Table 8 412 «Failed to update. Resource has changed on the server»."""
    user = create_user(client, title="Kept")
    stale = user["meta"]["version"]
    current = client.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "nickName", "value": "Bumped"})).json()
    assert current["meta"]["version"] != stale
    assert_scim_error(_write(client, method, user, {"If-Match": stale}), 412)
    assert _get(client, user) == current


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("form", ["current", "list-with-current", "star"])
def test_matching_if_match_succeeds(client, method, form):
    """RFC 7644 §3.14 / RFC 7232 §3.1: If-Match with the current ETag (alone, in a list, or `*`) succeeds."""
    user = create_user(client)
    version = user["meta"]["version"]
    header = {"current": version, "list-with-current": f'W/"0", {version}', "star": "*"}[form]
    response = _write(client, method, user, {"If-Match": header})
    assert response.status_code == (204 if method == "DELETE" else 200), response.text
    if method != "DELETE":
        assert response.json()["title"] == "Written"
        assert response.headers["etag"] != version


def test_if_none_match_current_is_304(client):
    """RFC 7644 §3.14: «If the resource has not changed, the service provider simply returns an empty body
    with a 304 (Not Modified) response code»; a stale tag gets the resource."""
    user = create_user(client)
    version = user["meta"]["version"]
    not_modified = client.get(f"/Users/{user['id']}", headers={"If-None-Match": version})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == version
    client.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "title", "value": "New"}))
    changed = client.get(f"/Users/{user['id']}", headers={"If-None-Match": version})
    assert changed.status_code == 200
    assert changed.json()["title"] == "New"


# ---------------------------------------------------------------------------------------------
# Library use: ReferenceServer as a context manager, create_app in-process


def test_reference_server_context_manager_stops_cleanly(tenant):
    """`with ReferenceServer(...)` serves on a free loopback port and, on exit, stops listening."""
    with ReferenceServer(tenant) as running:
        base_url = running.base_url
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/scim/v2")
        with scim_client(running) as c:
            assert c.get("/ServiceProviderConfig").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/ServiceProviderConfig", headers={"Authorization": f"Bearer {tenant.token}"},
                  timeout=2)


def test_create_app_in_process_with_asgi_transport(tenant):
    """create_app gives a plain ASGI app: httpx's ASGITransport drives it without a socket."""
    app = create_app(tenant)

    async def scenario() -> tuple[int, int, dict]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/scim/v2",
                                     headers={"Authorization": f"Bearer {tenant.token}"}) as c:
            anonymous = await c.get("/Users", headers={"Authorization": ""})
            created = await c.post("/Users", json=user_body(unique_user_name()))
            listed = await c.get("/Users")
            return anonymous.status_code, created.status_code, listed.json()

    anonymous, created, listed = asyncio.run(scenario())
    assert anonymous == 401
    assert created == 201
    assert listed["totalResults"] == len(tenant.users) + 1
    assert listed["Resources"][-1]["meta"]["location"].startswith("http://test/scim/v2/Users/")
    assert app.state.requests_by_method == {"GET": 2, "POST": 1}
