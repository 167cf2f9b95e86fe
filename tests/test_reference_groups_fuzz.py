"""Hypothesis fuzzing of /Groups over real HTTP, with the property of test_reference_fuzz.py: no 5xx, every error
a SCIM Error in JSON, and the server keeps answering; and, after any write, every member of every group is a user
and every user lists exactly the groups that hold it."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from helpers import user_body
from hypothesis import example, given
from hypothesis import strategies as st
from test_reference_fuzz import FUZZ, _client, _expressions, as_json_bytes, check, json_values, scalars, send

from scimcert.reference import ReferenceServer

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MEMBER_PATHS = ["members", "Members", "displayName", "externalId", "members.value", "members.display", "members.$ref",
                "members.type", "id", "meta", "meta.created", "schemas", f"{CORE_GROUP}:displayName", "userName", "x"]


@pytest.fixture(scope="module")
def group_server(tenant):
    with ReferenceServer(tenant, seed_users=5) as running:
        yield running


@pytest.fixture(scope="module")
def http(group_server):
    with _client(group_server) as client:
        yield client


@pytest.fixture(scope="module")
def people(http) -> list[str]:
    """Users the fuzzed groups may name, and one the fuzz may delete (the last)."""
    return [http.post("/Users", json=user_body()).json()["id"] for _ in range(4)]


@pytest.fixture(scope="module")
def teams(http, people) -> list[str]:
    return [http.post("/Groups", json={"displayName": f"Fuzz team {n}", "members": [{"value": people[n]}]}).json()["id"]
            for n in range(3)]


@pytest.fixture(autouse=True)
def memberships_stay_consistent(http, group_server):
    """After every test: each member of each group is a user whose `groups` name that group, and back."""
    yield
    groups = http.get("/Groups", params={"count": 100}).json()["Resources"]
    held = {(member["value"], group["id"]) for group in groups for member in group.get("members", [])}
    for user_id in {user_id for user_id, _ in held}:
        user = http.get(f"/Users/{user_id}")
        assert user.status_code == 200, user.text
        assert {(user_id, g["value"]) for g in user.json().get("groups", [])} == {p for p in held if p[0] == user_id}
    assert set(group_server.state.groups.memberships.groups_of) == {user_id for user_id, _ in held}


def member_values(people: list[str], teams: list[str]) -> st.SearchStrategy:
    ids = st.sampled_from(people) | st.sampled_from(teams) | st.sampled_from(["guest-7f3a9c1e", "nobody", ""]) | scalars
    member = st.fixed_dictionaries({}, optional={"value": ids, "display": scalars, "$ref": scalars, "type": scalars,
                                                 "primary": scalars}) | ids
    return st.lists(member, max_size=5) | member | json_values


def group_bodies(people: list[str], teams: list[str]) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={
        "schemas": st.lists(st.sampled_from([CORE_GROUP, "urn:ietf:params:scim:schemas:core:2.0:User"]) | scalars,
                            max_size=2) | scalars,
        "displayName": st.text(max_size=10) | scalars,
        "members": member_values(people, teams),
        "externalId": scalars,
        "id": scalars,
        "meta": json_values,
        CORE_GROUP: json_values,
    }) | json_values


def valid_groups(people: list[str]) -> st.SearchStrategy:
    """Mostly valid groups, so the fuzz also reaches storage, memberships and rendering."""
    return st.builds(lambda name, members, extra: {"displayName": f"{name} {uuid.uuid4().hex[:6]}",
                                                   "members": [{"value": m} for m in members], **extra},
                     st.text(max_size=8), st.lists(st.sampled_from(people), max_size=4),
                     st.dictionaries(st.sampled_from(["externalId", "schemas", "meta", "id"]), scalars, max_size=2))


def valid_operations(people: list[str]) -> st.SearchStrategy:
    members = st.lists(st.sampled_from(people).map(lambda m: {"value": m, "$ref": None}), max_size=3)
    return st.one_of(
        st.fixed_dictionaries({"op": st.sampled_from(["add", "Add", "replace", "Replace", "remove", "Remove"]),
                               "path": st.just("members"), "value": members}),
        st.fixed_dictionaries({"op": st.sampled_from(["remove", "Remove"]),
                               "path": st.sampled_from(people).map(lambda m: f'members[value eq "{m}"]')}),
        st.fixed_dictionaries({"op": st.sampled_from(["replace", "Replace"]),
                               "value": st.fixed_dictionaries({}, optional={
                                   "displayName": st.text(min_size=1, max_size=8).map(lambda t: f"{t} {uuid.uuid4().hex[:6]}"),
                                   "externalId": scalars, "members": members})}),
    )


def patches(people: list[str], teams: list[str]) -> st.SearchStrategy:
    value_paths = st.builds(lambda who, sub: f'members[value eq "{who}"]{sub}', st.sampled_from(people + teams + ["x"]),
                            st.sampled_from(["", ".display", ".value", ".type"]))
    operation = st.fixed_dictionaries({}, optional={
        "op": st.sampled_from(["add", "remove", "replace", "Add", "Remove", "Replace", "move"]) | scalars,
        "path": st.sampled_from(MEMBER_PATHS) | value_paths | scalars,
        "value": member_values(people, teams) | group_bodies(people, teams),
    }) | json_values
    return st.builds(lambda ops: {"schemas": [PATCH_OP], "Operations": ops},
                     st.lists(operation | valid_operations(people), min_size=1, max_size=4))


@FUZZ
@given(data=st.data())
def test_post_random_groups(http, people, teams, data):
    body = data.draw(group_bodies(people, teams) | valid_groups(people))
    response = send(http, "POST", "/Groups", content=as_json_bytes(body))
    check(response)
    if response.status_code == 201:
        check(send(http, "GET", f"/Groups/{response.json()['id']}"))


@FUZZ
@given(data=st.data(), which=st.integers(0, 2))
def test_put_random_groups(http, people, teams, data, which):
    body = data.draw(group_bodies(people, teams) | valid_groups(people))
    check(send(http, "PUT", f"/Groups/{teams[which]}", content=as_json_bytes(body)))


@FUZZ
@given(data=st.data(), which=st.integers(0, 2), projection=st.sampled_from([{}, {"excludedAttributes": "members"},
                                                                            {"attributes": "members.display"}]))
def test_patch_random_groups(http, people, teams, data, which, projection):
    body = data.draw(patches(people, teams))
    check(send(http, "PATCH", f"/Groups/{teams[which]}", content=as_json_bytes(body), params=projection))


@FUZZ
@given(flt=_expressions() | st.sampled_from(['members[value eq "x"]', "members pr", 'displayName co "team"',
                                              'members.display eq "x"', 'members[type eq "User"].value pr']),
       params=st.dictionaries(st.sampled_from(["attributes", "excludedAttributes", "count", "startIndex"]),
                              st.sampled_from(["members", "displayName", "members.value", "userName", "1", "-3", "x"]),
                              max_size=2))
@example(flt='displayName eq "Fuzz team 1"', params={"excludedAttributes": "members"})
def test_random_group_filters(http, flt, params):
    response = send(http, "GET", "/Groups", params={"filter": flt, **params})
    check(response)
    if response.status_code == 400:
        assert response.json().get("scimType") in ("invalidFilter", "invalidValue"), response.text


def test_a_deleted_member_leaves_the_fuzzed_groups(http, people):
    """The last person, a member of whatever the fuzz made it, is deleted: consistency holds (the fixture)."""
    group = http.post("/Groups", json={"displayName": "Fuzz leaver", "members": [{"value": people[3]}]})
    assert group.status_code == 201, group.text
    assert http.delete(f"/Users/{people[3]}").status_code == 204
    assert "members" not in http.get(f"/Groups/{group.json()['id']}").json()


def test_raw_group_bodies_never_500(http, teams):
    for raw in (b"", b"null", b"[]", b'{"displayName": NaN}', b'{"displayName": "\\ud800"}', b"{" * 5000,
                json.dumps({"displayName": "x", "members": [{"value": "a" * 10000}]}).encode()):
        for method, path in (("POST", "/Groups"), ("PUT", f"/Groups/{teams[0]}"), ("PATCH", f"/Groups/{teams[0]}")):
            response = http.request(method, path, content=raw)
            assert isinstance(response, httpx.Response)
            check(response)
