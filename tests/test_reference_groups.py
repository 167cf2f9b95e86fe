"""/Groups on the reference server (Groups are Asana teams) over real HTTP: CRUD, members, filters, projection,
paging, the tenant's groupDelete and maxMembers, the users' readOnly `groups`, and discovery (RFC 7643 §4.2,
§8.7.1; RFC 7644 §3.3-§3.6, §3.9).

IdP shapes, named so below:
- Okta SCIM 2.0 guide: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
- Entra tutorial (Microsoft Learn):
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
- OneLogin: https://developers.onelogin.com/scim/implement-scim-api
- Asana: https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM
"""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import quote

import httpx
import pytest
from helpers import (
    LIST_RESPONSE,
    assert_scim_error,
    create_user,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

from scimcert.paths import DEFAULT_TENANT
from scimcert.reference import ReferenceServer, Tenant, create_app
from scimcert.reference.groups import GroupStore

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTRA_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"


def unique_group_name(stem: str = "Team") -> str:
    return f"{stem} {uuid.uuid4().hex[:10]}"


def create_group(client: httpx.Client, name: str | None = None, members: list[str] = (), **extra) -> dict:
    body = {"schemas": [CORE_GROUP], "displayName": name or unique_group_name(),
            "members": [{"value": member} for member in members], **extra}
    response = client.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def get_group(client: httpx.Client, group_id: str, **params) -> dict:
    response = client.get(f"/Groups/{group_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def get_user(client: httpx.Client, user_id: str) -> dict:
    response = client.get(f"/Users/{user_id}")
    assert response.status_code == 200, response.text
    return response.json()


def member_ids(group: dict) -> list[str]:
    return [member["value"] for member in group.get("members", [])]


def group_ids(user: dict) -> list[str]:
    return [group["value"] for group in user.get("groups", [])]


def patch_group(client: httpx.Client, group_id: str, *operations: dict, **params) -> httpx.Response:
    return client.patch(f"/Groups/{group_id}", json=patch_body(*operations), params=params)


def patched(client: httpx.Client, group_id: str, *operations: dict) -> dict:
    """PATCH that must succeed (204 with the ETag), then the group as GET reads it."""
    response = patch_group(client, group_id, *operations)
    assert response.status_code == 204, response.text
    assert response.content == b""
    group = get_group(client, group_id)
    assert response.headers["etag"] == group["meta"]["version"]
    return group


def filter_groups(client: httpx.Client, expression: str, **params) -> dict:
    response = client.get("/Groups", params={"filter": expression, **params})
    assert response.status_code == 200, response.text
    return response.json()


def tenant_with(**options) -> Tenant:
    data = json.loads(DEFAULT_TENANT.read_text("utf-8"))
    data["options"] = {**data.get("options", {}), **options}
    return Tenant.from_dict(data)


@pytest.fixture
def users(client) -> list[dict]:
    return [create_user(client, displayName=f"Member {n}") for n in range(3)]


# ---------------------------------------------------------------------------------------------
# POST and GET


def test_okta_create_answers_201_with_the_group(server, client):
    """Okta: POST {"schemas": [Group], "displayName": "Test SCIMv2", "members": []}; RFC 7644 §3.3: 201, the
    resource, Location = meta.location, ETag = meta.version; meta.resourceType "Group"."""
    name = unique_group_name("Test SCIMv2")
    response = client.post("/Groups", json={"schemas": [CORE_GROUP], "displayName": name, "members": []})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    group = response.json()
    assert group["schemas"] == [CORE_GROUP]
    assert group["displayName"] == name
    assert "members" not in group  # no members: unassigned (RFC 7643 §2.5)
    meta = group["meta"]
    assert meta["resourceType"] == "Group"
    assert meta["created"] == meta["lastModified"] and meta["version"].startswith('W/"')
    assert meta["location"] == f"{server.base_url}/Groups/{group['id']}"
    assert response.headers["location"] == meta["location"]
    assert response.headers["etag"] == meta["version"]
    fetched = client.get(response.headers["location"])
    assert fetched.json() == group
    assert fetched.headers["content-location"] == meta["location"] and fetched.headers["etag"] == meta["version"]


def test_members_are_rendered_by_the_server(server, client, users):
    """RFC 7643 §4.2: each member's value is the user's id; $ref its URI, type "User", display its displayName (else
    its userName); what the client sent for display, $ref and type is the server's to say."""
    plain = create_user(client)  # no displayName: the userName shows
    body = {"displayName": unique_group_name(), "members": [
        {"value": users[0]["id"], "display": "a name the client made up", "$ref": "https://elsewhere/x", "type": "Group"},
        {"value": plain["id"]}]}
    group = client.post("/Groups", json=body).json()
    assert group["members"] == [
        {"value": users[0]["id"], "display": "Member 0", "$ref": f"{server.base_url}/Users/{users[0]['id']}", "type": "User"},
        {"value": plain["id"], "display": plain["userName"], "$ref": f"{server.base_url}/Users/{plain['id']}",
         "type": "User"},
    ]
    assert get_group(client, group["id"]) == group


def test_onelogin_create_without_schemas_and_list(client, users):
    """OneLogin: POST {"displayName": ...} without schemas (accepted as /Users accepts it), GET /Groups lists it,
    PATCH add members."""
    name = unique_group_name("OneLogin")
    response = client.post("/Groups", json={"displayName": name})
    assert response.status_code == 201, response.text
    group = response.json()
    listed = client.get("/Groups", params={"count": 100})
    assert listed.status_code == 200 and listed.json()["schemas"] == [LIST_RESPONSE]
    assert filter_groups(client, f'displayName eq "{name}"')["Resources"] == [group]
    added = patched(client, group["id"], {"op": "add", "path": "members", "value": [{"value": users[0]["id"]}]})
    assert member_ids(added) == [users[0]["id"]]


def test_entra_create_with_its_schema_externalid_and_meta(client):
    """Entra: POST with the ADSCIM schema URN besides the core one, externalId and meta {resourceType: Group};
    the extra URN and meta are accepted and ignored, externalId kept."""
    body = {"schemas": [CORE_GROUP, ENTRA_GROUP], "externalId": str(uuid.uuid4()), "displayName": unique_group_name("Entra"),
            "meta": {"resourceType": "Group"}}
    response = client.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    group = response.json()
    assert group["schemas"] == [CORE_GROUP]
    assert group["externalId"] == body["externalId"]
    assert ENTRA_GROUP not in group and "meta" in group and group["meta"]["resourceType"] == "Group"


def test_read_only_and_unknown_attributes_are_ignored_on_create(client):
    """RFC 7643 §3.1: id and meta «SHALL be ignored» when a client provides them; unknown attributes are not echoed."""
    group = create_group(client, id="client-chosen", meta={"created": "2000-01-01T00:00:00Z"}, favouriteColour="teal")
    assert group["id"] != "client-chosen" and not group["meta"]["created"].startswith("2000")
    assert "favouriteColour" not in group
    assert client.get("/Groups/client-chosen").status_code == 404


@pytest.mark.parametrize("body", [{}, {"displayName": ""}, {"displayName": "   "}, {"displayName": None},
                                  {"members": []}])
def test_display_name_is_required(client, body):
    """Asana: a team needs a name; the schema marks displayName required: 400 invalidValue, nothing created."""
    before = client.get("/Groups").json()["totalResults"]
    assert_scim_error(client.post("/Groups", json={"schemas": [CORE_GROUP], **body}), 400, "invalidValue")
    assert client.get("/Groups").json()["totalResults"] == before


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_unknown_group_is_404(client, method):
    """RFC 7644 §3.12: an unknown id is a 404 SCIM error, whatever the method."""
    body = patch_body({"op": "remove", "path": "members"}) if method == "PATCH" else {"displayName": "x"}
    assert_scim_error(client.request(method, f"/Groups/{uuid.uuid4()}", json=None if method in ("GET", "DELETE") else body),
                      404)


def test_search_is_not_implemented(client):
    """As POST /Users/.search: 501 Not Implemented."""
    assert_scim_error(client.post("/Groups/.search", json={}), 501)


def test_in_process_with_asgi_transport(tenant):
    """create_app serves /Groups to httpx's ASGITransport as to a socket."""
    app = create_app(tenant)

    async def scenario() -> tuple[int, dict, dict]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test/scim/v2",
                                     headers={"Authorization": f"Bearer {tenant.token}"}) as c:
            user = (await c.post("/Users", json=user_body(unique_user_name()))).json()
            created = await c.post("/Groups", json={"displayName": "In process", "members": [{"value": user["id"]}]})
            return created.status_code, (await c.get(f"/Groups/{created.json()['id']}")).json(), \
                (await c.get(f"/Users/{user['id']}")).json()

    status, group, user = asyncio.run(scenario())
    assert status == 201
    assert group["members"][0]["$ref"] == f"http://test/scim/v2/Users/{user['id']}"
    assert user["groups"] == [{"value": group["id"], "display": "In process",
                               "$ref": f"http://test/scim/v2/Groups/{group['id']}", "type": "direct"}]
    assert isinstance(app.state.groups, GroupStore) and len(app.state.groups) == 1


# ---------------------------------------------------------------------------------------------
# Uniqueness and member rules


def test_display_name_is_unique_without_case(client):
    """displayName uniqueness "server", compared without case (casefold): 409 uniqueness on POST, PUT and PATCH;
    a group may change the case of its own name."""
    name = unique_group_name("Unique Straße")
    group = create_group(client, name)
    for spelling in (name, name.upper(), name.lower(), name.replace("ß", "SS")):
        assert_scim_error(client.post("/Groups", json={"displayName": spelling}), 409, "uniqueness")
    other = create_group(client)
    assert_scim_error(client.put(f"/Groups/{other['id']}", json={"displayName": name.upper()}), 409, "uniqueness")
    assert_scim_error(patch_group(client, other["id"], {"op": "replace", "path": "displayName", "value": name.lower()}),
                      409, "uniqueness")
    assert get_group(client, other["id"]) == other
    renamed = patched(client, group["id"], {"op": "replace", "path": "displayName", "value": name.upper()})
    assert renamed["displayName"] == name.upper()


def test_display_name_is_free_again_after_delete(client):
    group = create_group(client)
    assert client.delete(f"/Groups/{group['id']}").status_code == 204
    again = create_group(client, group["displayName"])
    assert again["id"] != group["id"]


@pytest.mark.parametrize("kind", ["unknown", "guest", "group", "not-a-string-id"])
@pytest.mark.parametrize("write", ["post", "put", "patch-add", "patch-replace"])
def test_a_member_that_is_not_a_user_is_refused_and_nothing_changes(tenant, client, users, kind, write):
    """A member must be a user: an unknown id, a guest's (guests are outside SCIM), a group's: 400 invalidValue,
    the group as it was (or not created)."""
    target = create_group(client, members=[users[0]["id"]])
    wrong = {"unknown": str(uuid.uuid4()), "guest": tenant.guests[0].id, "group": target["id"],
             "not-a-string-id": "12345"}[kind]
    members = [{"value": users[1]["id"]}, {"value": wrong}]
    before = client.get("/Groups").json()["totalResults"]
    if write == "post":
        response = client.post("/Groups", json={"displayName": unique_group_name(), "members": members})
    elif write == "put":
        response = client.put(f"/Groups/{target['id']}", json={"displayName": target["displayName"], "members": members})
    else:
        response = patch_group(client, target["id"], {"op": write.removeprefix("patch-"), "path": "members",
                                                      "value": members})
    assert_scim_error(response, 400, "invalidValue")
    assert get_group(client, target["id"]) == target
    assert client.get("/Groups").json()["totalResults"] == before
    assert "groups" not in get_user(client, users[1]["id"])


def test_a_member_needs_a_value(client, users):
    group = create_group(client)
    response = patch_group(client, group["id"], {"op": "add", "path": "members",
                                                 "value": [{"$ref": f"/Users/{users[0]['id']}", "type": "User"}]})
    assert_scim_error(response, 400, "invalidValue")


def test_duplicate_members_collapse_to_one(client, users):
    """Naming a user twice in one request, or adding a member already there, keeps one membership; an add that
    changes nothing keeps meta (RFC 7644 §3.5.2.1: «SHALL NOT change the modify timestamp»)."""
    first, second = users[0]["id"], users[1]["id"]
    group = create_group(client, members=[first, second, first])
    assert member_ids(group) == [first, second]
    unchanged = patched(client, group["id"], {"op": "add", "path": "members", "value": [{"value": first}]})
    assert unchanged == group
    assert group_ids(get_user(client, first)) == [group["id"]]


def test_members_are_exempt_from_max_values_and_250_round_trip(server, client):
    """A team may have thousands of members: members are not held to maxValues (100); 250 members come back whole,
    in the order sent, from POST, GET and the list."""
    ids = [create_user(client)["id"] for _ in range(250)]
    assert len(ids) > server.tenant.options.maxValues
    group = create_group(client, members=ids)
    assert member_ids(group) == ids
    assert member_ids(get_group(client, group["id"])) == ids
    assert member_ids(filter_groups(client, f'id eq "{group["id"]}"')["Resources"][0]) == ids


def test_members_are_capped_at_max_members():
    """maxMembers (default 10,000) bounds a group: one more member answers 400 invalidValue, nothing changed."""
    with ReferenceServer(tenant_with(maxMembers=3)) as server, scim_client(server) as c:
        ids = [create_user(c)["id"] for _ in range(4)]
        group = create_group(c, members=ids[:3])
        error = assert_scim_error(patch_group(c, group["id"], {"op": "add", "path": "members", "value": [{"value": ids[3]}]}),
                                  400, "invalidValue")
        assert "3" in error["detail"]
        assert_scim_error(c.post("/Groups", json={"displayName": "Too many", "members": [{"value": i} for i in ids]}),
                          400, "invalidValue")
        assert get_group(c, group["id"]) == group


# ---------------------------------------------------------------------------------------------
# PUT


def test_okta_put_replaces_name_external_id_and_the_whole_member_list(server, client, users):
    """Okta sends the whole group: displayName, externalId and every member replaced; id, meta and schemas in the
    body ignored; 200 with the group."""
    group = create_group(client, members=[users[0]["id"], users[1]["id"]], externalId="before")
    body = {"schemas": [CORE_GROUP], "id": "someone-else", "meta": {"version": 'W/"0"'}, "displayName": unique_group_name(),
            "members": [{"value": users[2]["id"], "display": users[2]["userName"]}, {"value": users[0]["id"]}]}
    response = client.put(f"/Groups/{group['id']}", json=body)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == group["id"] and replaced["displayName"] == body["displayName"]
    assert "externalId" not in replaced
    assert member_ids(replaced) == [users[2]["id"], users[0]["id"]]
    assert replaced["meta"]["created"] == group["meta"]["created"]
    assert replaced["meta"]["version"] not in (group["meta"]["version"], 'W/"0"')
    assert response.headers["etag"] == replaced["meta"]["version"]
    assert response.headers["content-location"] == f"{server.base_url}/Groups/{group['id']}"
    assert get_group(client, group["id"]) == replaced
    assert "groups" not in get_user(client, users[1]["id"])
    assert client.get("/Groups/someone-else").status_code == 404


def test_put_without_display_name_is_refused(client, users):
    group = create_group(client, members=[users[0]["id"]])
    assert_scim_error(client.put(f"/Groups/{group['id']}", json={"members": []}), 400, "invalidValue")
    assert get_group(client, group["id"]) == group


def test_put_of_what_is_stored_keeps_meta(client, users):
    group = create_group(client, members=[users[0]["id"]], externalId="ext")
    again = client.put(f"/Groups/{group['id']}", json=group).json()
    assert again == group


# ---------------------------------------------------------------------------------------------
# PATCH


def test_okta_membership_update(server, client, users):
    """Okta: a path-less replace of {id, displayName} with every membership change (the group's own id is an echo),
    add members with display, remove one member by `members[value eq "…"]`."""
    group = create_group(client, members=[users[0]["id"]])
    renamed = unique_group_name("Okta renamed")
    result = patched(client, group["id"],
                     {"op": "replace", "value": {"id": group["id"], "displayName": renamed}},
                     {"op": "add", "path": "members", "value": [{"value": users[1]["id"], "display": users[1]["userName"]},
                                                                {"value": users[2]["id"], "display": users[2]["userName"]}]},
                     {"op": "remove", "path": f'members[value eq "{users[0]["id"]}"]'})
    assert result["displayName"] == renamed
    assert member_ids(result) == [users[1]["id"], users[2]["id"]]
    assert result["meta"]["version"] != group["meta"]["version"]
    assert result["meta"]["lastModified"] >= group["meta"]["lastModified"]


def test_pathless_replace_with_another_id_is_refused(client):
    """As for users (RFC 7644 §3.5.2): a path-less `id` other than the group's own is a change of a readOnly
    attribute, 400 mutability; `path: "id"` too."""
    group = create_group(client)
    for operation in ({"op": "replace", "value": {"id": str(uuid.uuid4()), "displayName": "x"}},
                      {"op": "replace", "path": "id", "value": str(uuid.uuid4())},
                      {"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}):
        assert_scim_error(patch_group(client, group["id"], operation), 400, "mutability")
    assert get_group(client, group["id"]) == group


def test_entra_membership_update(client, users):
    """Entra: capitalised ops, "Replace" displayName by path, "Add" and "Remove" of members with "$ref": null,
    remove naming members in value."""
    group = create_group(client, members=[users[0]["id"]])
    name = unique_group_name("Entra renamed")
    result = patched(client, group["id"],
                     {"op": "Replace", "path": "displayName", "value": name},
                     {"op": "Add", "path": "members", "value": [{"$ref": None, "value": users[1]["id"]},
                                                                {"$ref": None, "value": users[2]["id"]}]},
                     {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": users[0]["id"]}]})
    assert result["displayName"] == name
    assert member_ids(result) == [users[1]["id"], users[2]["id"]]


def test_pathless_replace_of_external_id_and_remove_all_members(client, users):
    group = create_group(client, members=[users[0]["id"], users[1]["id"]])
    result = patched(client, group["id"], {"op": "replace", "value": {"externalId": "okta-123"}})
    assert result["externalId"] == "okta-123" and member_ids(result) == [users[0]["id"], users[1]["id"]]
    emptied = patched(client, group["id"], {"op": "remove", "path": "members"})
    assert "members" not in emptied
    assert "groups" not in get_user(client, users[0]["id"])


def test_replace_of_the_member_list(client, users):
    group = create_group(client, members=[users[0]["id"], users[1]["id"]])
    result = patched(client, group["id"], {"op": "replace", "path": "members", "value": [{"value": users[2]["id"]}]})
    assert member_ids(result) == [users[2]["id"]]


def test_operations_apply_in_order(client, users):
    """RFC 7644 §3.5.2: «in the order received»: adding then removing a user leaves it out; removing then adding,
    in."""
    group = create_group(client, members=[users[0]["id"]])
    one, two = users[1]["id"], users[2]["id"]
    result = patched(client, group["id"],
                     {"op": "add", "path": "members", "value": [{"value": one}]},
                     {"op": "remove", "path": f'members[value eq "{one}"]'},
                     {"op": "remove", "path": "members", "value": [{"value": two}]},
                     {"op": "add", "path": "members", "value": [{"value": two}]})
    assert member_ids(result) == [users[0]["id"], two]


def test_a_failing_operation_changes_nothing(client, users):
    """RFC 7644 §3.5.2: «If a single operation encounters an error condition, the original SCIM resource MUST be
    restored»: an add of a user and a rename, then an unknown member, leave the group as it was."""
    group = create_group(client, members=[users[0]["id"]])
    response = patch_group(client, group["id"],
                           {"op": "add", "path": "members", "value": [{"value": users[1]["id"]}]},
                           {"op": "replace", "path": "displayName", "value": unique_group_name()},
                           {"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]})
    assert_scim_error(response, 400, "invalidValue")
    assert get_group(client, group["id"]) == group
    assert "groups" not in get_user(client, users[1]["id"])
    bad_op = patch_group(client, group["id"], {"op": "add", "path": "members", "value": [{"value": users[1]["id"]}]},
                         {"op": "remove"})
    assert_scim_error(bad_op, 400)
    assert get_group(client, group["id"]) == group


def test_patch_with_a_projection_answers_200_with_the_group(client, users):
    """A PATCH that asks for `attributes` or `excludedAttributes` gets the projected group, 200."""
    group = create_group(client, members=[users[0]["id"]])
    response = patch_group(client, group["id"], {"op": "add", "path": "members", "value": [{"value": users[1]["id"]}]},
                           excludedAttributes="members")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "members" not in body and body["displayName"] == group["displayName"]
    assert response.headers["etag"] == body["meta"]["version"]
    only = patch_group(client, group["id"], {"op": "replace", "path": "externalId", "value": "e"}, attributes="externalId")
    assert only.status_code == 200 and only.json() == {"schemas": [CORE_GROUP], "id": group["id"], "externalId": "e"}


def test_if_match_and_if_none_match(client):
    """RFC 7644 §3.14: a stale If-Match is 412 for PUT, PATCH and DELETE; a current If-None-Match on GET is 304."""
    group = create_group(client)
    stale = {"If-Match": 'W/"0"'}
    assert_scim_error(client.put(f"/Groups/{group['id']}", json={"displayName": "x"}, headers=stale), 412)
    assert_scim_error(client.patch(f"/Groups/{group['id']}", json=patch_body({"op": "remove", "path": "externalId"}),
                                   headers=stale), 412)
    assert_scim_error(client.delete(f"/Groups/{group['id']}", headers=stale), 412)
    cached = client.get(f"/Groups/{group['id']}", headers={"If-None-Match": group["meta"]["version"]})
    assert cached.status_code == 304 and cached.headers["etag"] == group["meta"]["version"]
    current = patch_group(client, group["id"], {"op": "replace", "path": "externalId", "value": "x"})
    assert current.status_code == 204
    fresh = client.patch(f"/Groups/{group['id']}", json=patch_body({"op": "remove", "path": "externalId"}),
                         headers={"If-Match": current.headers["etag"]})
    assert fresh.status_code == 204, fresh.text


# ---------------------------------------------------------------------------------------------
# Lists, filters, projection


def test_okta_filter_by_display_name(client):
    """Okta: GET /Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100, sent pre-encoded;
    displayName compares without case (caseExact false)."""
    name = unique_group_name("Test SCIMv2")
    group = create_group(client, name)
    for spelling in (name, name.upper()):
        expression = quote(f'displayName eq "{spelling}"', safe="")  # %20 and %22, as Okta sends them
        response = client.get(f"/Groups?filter={expression}&startIndex=1&count=100")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["totalResults"], body["startIndex"], body["itemsPerPage"]) == (1, 1, 1)
        assert body["Resources"] == [group]
    assert filter_groups(client, f'displayName eq "{name} nobody"') == {
        "schemas": [LIST_RESPONSE], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []}


def test_entra_excludes_members(client, users):
    """Entra: GET /Groups/{id}?excludedAttributes=members and GET /Groups?excludedAttributes=members&filter=…;
    id and schemas always come back."""
    group = create_group(client, members=[users[0]["id"]])
    single = get_group(client, group["id"], excludedAttributes="members")
    assert single == {key: value for key, value in group.items() if key != "members"}
    listed = filter_groups(client, f'displayName eq "{group["displayName"]}"', excludedAttributes="members")
    assert listed["Resources"] == [single]
    names_only = get_group(client, group["id"], attributes="displayName")
    assert names_only == {"schemas": [CORE_GROUP], "id": group["id"], "displayName": group["displayName"]}
    values = get_group(client, group["id"], attributes="members.value")
    assert values["members"] == [{"value": users[0]["id"]}]


def test_filters_on_group_attributes(client, users):
    """The full filter grammar over Group attributes: displayName co/sw, externalId, id, members.value, the value
    filter members[value eq …], meta.created, and/or/not."""
    stem = unique_group_name("Filter")
    first = create_group(client, f"{stem} alpha", members=[users[0]["id"]], externalId=f"ext-{stem}")
    second = create_group(client, f"{stem} beta", members=[users[0]["id"], users[1]["id"]])
    cases = {
        f'displayName sw "{stem.upper()}"': [first, second],
        f'displayName co "{stem} al"': [first],
        f'externalId eq "ext-{stem}"': [first],
        f'id eq "{second["id"]}"': [second],
        f'members.value eq "{users[1]["id"]}"': [second],
        f'members[value eq "{users[0]["id"]}"] and displayName sw "{stem}"': [first, second],
        f'displayName sw "{stem}" and not (members[value eq "{users[1]["id"]}"])': [first],
        f'displayName sw "{stem}" and meta.created ge "{first["meta"]["created"]}"': [first, second],
        f'displayName sw "{stem}" and meta.created gt "{first["meta"]["created"]}"': [second],
        f'displayName eq "{stem} alpha" or externalId eq "nothing"': [first],
    }
    for expression, expected in cases.items():
        body = filter_groups(client, expression)
        assert [g["id"] for g in body["Resources"]] == [g["id"] for g in expected], expression
        assert body["totalResults"] == len(expected), expression


@pytest.mark.parametrize("expression", ['userName eq "x"', "displayName eq", 'members[display eq "x"', "title pr"])
def test_invalid_or_user_filters_are_400(client, expression):
    """A filter on an attribute Groups do not have (userName), or malformed: 400 invalidFilter."""
    assert_scim_error(client.get("/Groups", params={"filter": expression}), 400, "invalidFilter")


def test_unknown_projection_attribute_is_400(client):
    group = create_group(client)
    assert_scim_error(client.get(f"/Groups/{group['id']}", params={"attributes": "userName"}), 400, "invalidValue")


def test_paging_counts_every_group_exactly():
    """RFC 7644 §3.4.2: totalResults counts every group, pages follow insertion order, the same paging defaults,
    maxPageSize and strict integers as /Users."""
    with ReferenceServer(tenant_with(defaultPageSize=2, maxPageSize=3)) as server, scim_client(server) as c:
        groups = [create_group(c, f"Paged {n}")["id"] for n in range(7)]
        first = c.get("/Groups").json()
        assert (first["totalResults"], first["itemsPerPage"]) == (7, 2)
        walked, start = [], 1
        while start <= 7:
            page = c.get("/Groups", params={"startIndex": start, "count": 10}).json()
            assert page["totalResults"] == 7 and page["startIndex"] == start and page["itemsPerPage"] <= 3
            walked += [g["id"] for g in page["Resources"]]
            start += page["itemsPerPage"]
        assert walked == groups
        past = c.get("/Groups", params={"startIndex": 50}).json()
        assert (past["totalResults"], past["Resources"]) == (7, [])
        assert c.get("/Groups", params={"startIndex": 0, "count": -1}).json()["itemsPerPage"] == 0
        filtered = c.get("/Groups", params={"filter": 'displayName sw "paged"', "startIndex": 3, "count": 2}).json()
        assert filtered["totalResults"] == 7 and [g["id"] for g in filtered["Resources"]] == groups[2:4]
        for raw in ("1_0", "٣", " 2 "):
            assert_scim_error(c.get("/Groups", params={"count": raw}), 400, "invalidValue")


# ---------------------------------------------------------------------------------------------
# The users' side: readOnly groups, deletion, deactivation


def test_user_groups_list_its_groups_in_creation_order(server, client, users):
    """A user's `groups` (readOnly): {value, display, $ref, type "direct"} for each group it is in, in the order the
    groups were created; a user in no group has no `groups`, in GET and in the list."""
    member, loner = users[0], users[1]
    first = create_group(client, members=[member["id"]])
    second = create_group(client)
    patched(client, second["id"], {"op": "add", "path": "members", "value": [{"value": member["id"]}]})
    patched(client, first["id"], {"op": "replace", "path": "externalId", "value": "touched"})  # no reordering
    read = get_user(client, member["id"])
    assert read["groups"] == [
        {"value": g["id"], "display": g["displayName"], "$ref": f"{server.base_url}/Groups/{g['id']}", "type": "direct"}
        for g in (first, second)]
    listed = client.get("/Users", params={"filter": f'userName eq "{member["userName"]}"'}).json()["Resources"]
    assert listed == [read]
    assert "groups" not in get_user(client, loner["id"])
    assert get_user(client, loner["id"]) == loner  # exactly as created: membership elsewhere changes nothing


def test_renames_show_on_both_sides(client, users):
    """Renaming a group changes the display in its members' groups; renaming a user changes its display in its
    groups."""
    member = users[0]
    group = create_group(client, members=[member["id"]])
    name = unique_group_name("Renamed")
    patched(client, group["id"], {"op": "replace", "path": "displayName", "value": name})
    assert get_user(client, member["id"])["groups"][0]["display"] == name
    response = client.patch(f"/Users/{member['id']}", json=patch_body({"op": "replace", "path": "displayName",
                                                                       "value": "Renamed Member"}))
    assert response.status_code == 200 and response.json()["groups"][0]["display"] == name
    assert get_group(client, group["id"])["members"][0]["display"] == "Renamed Member"
    cleared = client.put(f"/Users/{member['id']}", json=user_body(member["userName"]))
    assert cleared.status_code == 200
    assert get_group(client, group["id"])["members"][0]["display"] == member["userName"]


def test_groups_in_a_user_body_stay_ignored(client, users):
    """groups is readOnly on a User (memberships are made on the Group): POST, PUT and path-less PATCH ignore it."""
    group = create_group(client)
    sent = [{"value": group["id"]}]
    created = client.post("/Users", json=user_body(groups=sent)).json()
    assert "groups" not in created
    put = client.put(f"/Users/{created['id']}", json=user_body(created["userName"], groups=sent)).json()
    assert "groups" not in put
    patch = client.patch(f"/Users/{created['id']}", json=patch_body({"op": "add", "value": {"groups": sent}}))
    assert patch.status_code == 200 and "groups" not in patch.json()
    assert "members" not in get_group(client, group["id"])


def test_deleting_a_user_removes_it_from_every_group(client, users):
    """A deleted user is no member anymore; each group it was in changes (meta.version)."""
    leaving, staying = users[0], users[1]
    first = create_group(client, members=[leaving["id"], staying["id"]])
    second = create_group(client, members=[leaving["id"]])
    untouched = create_group(client, members=[staying["id"]])
    assert client.delete(f"/Users/{leaving['id']}").status_code == 204
    after_first, after_second = get_group(client, first["id"]), get_group(client, second["id"])
    assert member_ids(after_first) == [staying["id"]] and "members" not in after_second
    assert after_first["meta"]["version"] != first["meta"]["version"]
    assert after_second["meta"]["version"] != second["meta"]["version"]
    assert get_group(client, untouched["id"]) == untouched
    assert filter_groups(client, f'members.value eq "{leaving["id"]}"')["totalResults"] == 0
    assert_scim_error(patch_group(client, untouched["id"], {"op": "add", "path": "members",
                                                            "value": [{"value": leaving["id"]}]}), 400, "invalidValue")


def test_deactivating_a_user_keeps_its_memberships(client, users):
    member = users[0]
    group = create_group(client, members=[member["id"]])
    response = client.patch(f"/Users/{member['id']}", json=patch_body({"op": "replace", "value": {"active": False}}))
    assert response.status_code == 200 and response.json()["active"] is False
    assert group_ids(response.json()) == [group["id"]]
    assert member_ids(get_group(client, group["id"])) == [member["id"]]


# ---------------------------------------------------------------------------------------------
# DELETE and the tenant's groupDelete


def test_delete_answers_204_then_404(client, users):
    """groupDelete "allowed" (the embedded tenant's): RFC 7644 §3.6, 204 and then 404; its members leave it."""
    group = create_group(client, members=[users[0]["id"]])
    response = client.delete(f"/Groups/{group['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_scim_error(client.get(f"/Groups/{group['id']}"), 404)
    assert_scim_error(client.delete(f"/Groups/{group['id']}"), 404)
    assert "groups" not in get_user(client, users[0]["id"])


def test_refused_group_delete_is_405_and_the_group_stays():
    """Asana help, provisioning: «Deleting teams in Asana» is not supported: groupDelete "refused" answers 405 with
    Allow: GET, PUT, PATCH and a SCIM error saying why; the group stays; an unknown group is still a 404."""
    with ReferenceServer(tenant_with(groupDelete="refused")) as server, scim_client(server) as c:
        group = create_group(c)
        error = assert_scim_error(c.delete(f"/Groups/{group['id']}"), 405)
        assert "does not allow deleting groups" in error["detail"]
        response = c.delete(f"/Groups/{group['id']}")
        assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "PUT", "PATCH"}
        assert get_group(c, group["id"]) == group
        assert_scim_error(c.delete(f"/Groups/{uuid.uuid4()}"), 404)


def test_embedded_tenant_allows_group_delete(tenant):
    assert tenant.options.groupDelete == "allowed" and tenant.options.maxMembers == 10_000


# ---------------------------------------------------------------------------------------------
# Discovery


def test_resource_types_list_users_and_groups(server, client):
    """RFC 7644 §4 and RFC 7643 §6: /ResourceTypes lists User and Group; GET /ResourceTypes/Group; the schema it
    names is served by /Schemas."""
    body = client.get("/ResourceTypes").json()
    assert [t["id"] for t in body["Resources"]] == ["User", "Group"] and body["totalResults"] == 2
    group_type = client.get("/ResourceTypes/Group").json()
    assert group_type == body["Resources"][1] == {
        "schemas": [RESOURCE_TYPE_URN], "id": "Group", "name": "Group", "endpoint": "/Groups",
        "description": "Group (an Asana team)", "schema": CORE_GROUP,
        "meta": {"resourceType": "ResourceType", "location": f"{server.base_url}/ResourceTypes/Group"}}
    schemas = client.get("/Schemas").json()["Resources"]
    assert CORE_GROUP in [s["id"] for s in schemas]
    schema = client.get(f"/Schemas/{CORE_GROUP}").json()
    assert schema in schemas
    attributes = {a["name"]: a for a in schema["attributes"]}
    assert attributes["displayName"]["required"] is True and attributes["displayName"]["uniqueness"] == "server"
    subs = {s["name"]: s for s in attributes["members"]["subAttributes"]}
    assert set(subs) == {"value", "$ref", "display", "type"} and subs["display"]["mutability"] == "readOnly"
    user_groups = next(a for a in client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()["attributes"]
                       if a["name"] == "groups")
    assert user_groups["mutability"] == "readOnly" and "always empty" not in user_groups["description"]
