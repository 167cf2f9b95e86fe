"""GET /Users: ListResponse, paging, projection and filters over real HTTP (RFC 7644 §3.4.2, §3.9),
with the raw query strings Okta, OneLogin and Entra send.

Sources, named so below:
- Okta SCIM 2.0 guide: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
- Okta SPEC test: https://developer.okta.com/standards/SCIM/SCIMFiles/Okta-SCIM-20-SPEC-Test.json
- Okta's "No results" article (an empty list that is not a ListResponse fails Test API Credentials):
https://support.okta.com/help/s/article/okta-scim-connector-error-no-results-for-users-returned-when-testing-connection
- OneLogin traffic (a captured SCIM v2 Enterprise log): https://github.com/goauthentik/authentik/issues/11249
- Entra tutorial (Microsoft Learn):
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
"""

from __future__ import annotations

import sys
import uuid

import pytest
from helpers import (
    CORE_USER,
    ENTERPRISE_USER,
    LIST_RESPONSE,
    all_users,
    assert_scim_error,
    create_user,
    filter_url,
    scim_client,
    user_body,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from scimcert.reference import ReferenceServer, Tenant
from scimcert.reference.errors import ScimError
from scimcert.reference.filter import parse_filter
from scimcert.reference.patch import PATCH_OP, apply_patch
from scimcert.reference.store import UserStore
from scimcert.reference.tenant import Guest
from scimcert.reference.values import normalize_user


def _list(client, query: str = "") -> dict:
    response = client.get(f"/Users{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schemas"] == [LIST_RESPONSE]
    for key in ("totalResults", "startIndex", "itemsPerPage"):
        assert type(body[key]) is int, (key, body)  # Okta SCIM 2.0 guide: integers, not strings
    assert isinstance(body["Resources"], list)
    assert body["itemsPerPage"] == len(body["Resources"])  # Okta QA: https://github.com/ory/polis/pull/4054
    return body


def _ids(body: dict) -> list[str]:
    return [r["id"] for r in body["Resources"]]


# ---------------------------------------------------------------------------------------------
# Paging, on a server of its own: the seeded user plus five created here


@pytest.fixture(scope="module")
def paged(tenant):
    """A server of its own, read-only for the tests below: the fixture tenant's seeded member and
    five more, as (client, ids in creation order)."""
    with ReferenceServer(tenant) as running, scim_client(running) as c:
        seeded = _list(c)["Resources"]
        created = [create_user(c) for _ in range(5)]
        yield c, [u["id"] for u in seeded] + [u["id"] for u in created]


def test_list_response_shape(paged):
    """RFC 7644 §3.4.2: ListResponse URN, integer totalResults/startIndex/itemsPerPage, Resources."""
    c, six_users = paged
    body = _list(c)
    assert body["totalResults"] == 6
    assert body["startIndex"] == 1
    assert _ids(body) == six_users


@pytest.mark.parametrize("start,count,expected_slice,start_echo", [
    (1, 2, slice(0, 2), 1),
    (2, 2, slice(1, 3), 2),
    (5, 10, slice(4, 6), 5),     # itemsPerPage is what is returned, not the requested count
    (6, 1, slice(5, 6), 6),
    (0, 3, slice(0, 3), 1),      # 0 and negatives act as 1 (RFC 7644 §3.4.2.4: «less than 1 … as 1»)
    (-4, 3, slice(0, 3), 1),
    (7, 5, slice(6, 6), 7),      # past the end: empty, same totalResults
    (1000, 5, slice(0, 0), 1000),
    (1, 0, slice(0, 0), 1),      # count=0: no resources, the right totalResults (RFC 7644 §3.4.2.4)
    (1, -1, slice(0, 0), 1),     # «A negative value SHALL be interpreted as "0"»
    (3, -50, slice(0, 0), 3),
])
def test_paging(paged, start, count, expected_slice, start_echo):
    """RFC 7644 §3.4.2.4: 1-based startIndex, count, totalResults independent of the page."""
    c, six_users = paged
    body = _list(c, f"?startIndex={start}&count={count}")
    assert body["totalResults"] == 6
    assert body["startIndex"] == start_echo
    assert _ids(body) == six_users[expected_slice]  # `Resources` present even when empty (see _list)


def test_order_is_stable_between_requests(paged):
    """RFC 7644 §3.4.2.4: paging needs a stable order; the same query gives the same order."""
    c, six_users = paged
    assert [_ids(_list(c, "?count=4")) for _ in range(3)] == [six_users[:4]] * 3


def test_walk_with_count_two_sees_every_user_once(paged):
    """Okta's import (Okta SCIM 2.0 guide): paging through with startIndex/count visits every user exactly once."""
    c, six_users = paged
    seen, start = [], 1
    while True:
        body = _list(c, f"?startIndex={start}&count=2")
        if not body["Resources"]:
            break
        seen.extend(_ids(body))
        start += body["itemsPerPage"]
    assert seen == six_users
    assert [u["id"] for u in all_users(c, page=4)] == six_users


def test_deleted_user_leaves_the_list(fresh_client):
    """RFC 7644 §3.6: «Service providers MUST omit the resource from future query results»; the others
    keep their order and totalResults drops by one."""
    created = [create_user(fresh_client)["id"] for _ in range(3)]
    before = _ids(_list(fresh_client))
    assert fresh_client.delete(f"/Users/{created[1]}").status_code == 204
    after = _list(fresh_client)
    assert _ids(after) == [i for i in before if i != created[1]]
    assert after["totalResults"] == len(before) - 1


def test_count_not_an_integer_is_400(client):
    """RFC 7644 §3.4.2.4: count is an integer; anything else is a client error, never a 5xx."""
    assert_scim_error(client.get("/Users?count=ten"), 400, "invalidValue")
    assert_scim_error(client.get("/Users?startIndex=1.5"), 400, "invalidValue")


def test_default_and_maximum_page_size_default_to_100(tenant):
    """RFC 7644 §3.4.2.4 / tenant options: without count at most defaultPageSize (100), and count is
    capped at maxPageSize (100); totalResults still counts everyone."""
    with ReferenceServer(tenant, seed_users=120) as running, scim_client(running) as c:
        total = 120 + len(tenant.users)
        default = _list(c)
        assert (default["totalResults"], default["itemsPerPage"]) == (total, 100)
        capped = _list(c, "?count=1000")
        assert (capped["totalResults"], capped["itemsPerPage"]) == (total, 100)
        rest = _list(c, "?startIndex=101&count=1000")
        assert rest["itemsPerPage"] == total - 100


def test_page_size_options_of_the_tenant():
    """tenant.schema.json options defaultPageSize/maxPageSize; ServiceProviderConfig filter.maxResults says so."""
    data = {
        "organization": "Small pages",
        "domains": ["example.com"],
        "tokens": [{"name": "t", "token": "small-pages-token-0123456789", "status": "active"}],
        "users": [user_body(f"user{n}@example.com") for n in range(7)],
        "options": {"defaultPageSize": 2, "maxPageSize": 5},
    }
    with ReferenceServer(Tenant.from_dict(data)) as running, scim_client(running) as c:
        assert _list(c)["itemsPerPage"] == 2
        assert _list(c, "?count=4")["itemsPerPage"] == 4
        assert _list(c, "?count=50")["itemsPerPage"] == 5
        assert _list(c, "?count=50")["totalResults"] == 7
        assert c.get("/ServiceProviderConfig").json()["filter"]["maxResults"] == 5


# ---------------------------------------------------------------------------------------------
# attributes / excludedAttributes


@pytest.fixture(scope="module")
def projected(server):
    """One user with core, multi-valued and enterprise attributes."""
    with scim_client(server) as c:
        return create_user(c, title="Engineer", displayName="Zoë",
                           **{ENTERPRISE_USER: {"department": "R&D", "costCenter": "CC-1"}})


# (query, check on the projected representation)
PROJECTIONS = [
    ("attributes=userName", lambda r, u: set(r) == {"id", "schemas", "userName"}),
    ("attributes=USERNAME", lambda r, u: set(r) == {"id", "schemas", "userName"}),
    (f"attributes={CORE_USER}:userName", lambda r, u: set(r) == {"id", "schemas", "userName"}),
    ("attributes=name.givenName", lambda r, u: set(r) == {"id", "schemas", "name"} and r["name"] == {"givenName": "Zoë"}),
    ("attributes=emails.value", lambda r, u: r["emails"] == [{"value": u["userName"]}] and "name" not in r),
    ("attributes=userName,title", lambda r, u: set(r) == {"id", "schemas", "userName", "title"}),
    ("attributes=id", lambda r, u: set(r) == {"id", "schemas"}),
    (f"attributes={ENTERPRISE_USER}", lambda r, u: set(r) == {"id", "schemas", ENTERPRISE_USER}
     and r[ENTERPRISE_USER] == u[ENTERPRISE_USER]),
    (f"attributes={ENTERPRISE_USER}:department", lambda r, u: r[ENTERPRISE_USER] == {"department": "R&D"}
     and set(r) == {"id", "schemas", ENTERPRISE_USER}),
    ("excludedAttributes=emails", lambda r, u: "emails" not in r and r["title"] == "Engineer" and "meta" in r),
    ("excludedAttributes=id,schemas", lambda r, u: r["id"] == u["id"] and r["schemas"] == u["schemas"]),
    ("excludedAttributes=name.givenName", lambda r, u: r["name"] == {"familyName": "O'Brien"} and "emails" in r),
    (f"excludedAttributes={ENTERPRISE_USER}", lambda r, u: ENTERPRISE_USER not in r and "title" in r),
    (f"excludedAttributes={ENTERPRISE_USER}:costCenter", lambda r, u: r[ENTERPRISE_USER] == {"department": "R&D"}),
    ("excludedAttributes=meta,emails.type", lambda r, u: "meta" not in r
     and r["emails"] == [{"value": u["userName"], "primary": True}]),
    ("attributes=userName&excludedAttributes=userName", lambda r, u: set(r) == {"id", "schemas", "userName"}),
]


@pytest.mark.parametrize("where", ["by-id", "list"])
@pytest.mark.parametrize("query,check", PROJECTIONS, ids=[q for q, _ in PROJECTIONS])
def test_attribute_projection(client, projected, where, query, check):
    """RFC 7644 §3.9 / §3.4.2.5: attributes keeps only what is asked (sub-attributes and the enterprise
    URN included), excludedAttributes drops it; id and schemas (returned "always") are always there;
    names are case-insensitive (§3.10)."""
    if where == "by-id":
        response = client.get(f"/Users/{projected['id']}?{query}")
        assert response.status_code == 200, response.text
        representation = response.json()
    else:
        response = client.get(filter_url(f'id eq "{projected["id"]}"', trailing="") + "&" + query)
        assert response.status_code == 200, response.text
        (representation,) = response.json()["Resources"]
    assert representation["id"] == projected["id"]
    assert "schemas" in representation
    assert check(representation, projected), representation


def test_projection_of_an_unknown_attribute_is_400(client, projected):
    """RFC 7644 §3.10 attribute notation: an attribute the schema does not define is a client error."""
    assert_scim_error(client.get(f"/Users/{projected['id']}?attributes=nosuch"), 400, "invalidValue")


# ---------------------------------------------------------------------------------------------
# Filters


@pytest.fixture(scope="module")
def population(server):
    """Three users under a unique stem; every filter below is scoped to them with `userName sw stem`."""
    stem = f"flt{uuid.uuid4().hex[:8]}"
    with scim_client(server) as c:
        alice = create_user(
            c, user_name=f"{stem}.Alice@example.com", title="Engineer", externalId="Ext-A",
            name={"givenName": "Alice", "familyName": "Anders"},
            emails=[{"value": f"{stem}.Alice@example.com", "type": "work", "primary": True},
                    {"value": f"{stem}.alice.home@example.org", "type": "home"}],
            **{ENTERPRISE_USER: {"department": "Engineering"}})
        bob = create_user(c, user_name=f"{stem}.Bob@example.org", externalId="ext-b", active=False,
                          name={"givenName": "Bob", "familyName": "Baker"},
                          **{ENTERPRISE_USER: {"department": "Sales"}})
        carol = create_user(c, user_name=f"{stem}.Carol@example.com", title="Engineering Manager",
                            externalId="EXT-C", name={"givenName": "Carol", "familyName": "Carter"},
                            phoneNumbers=[{"value": "+1 555 0100", "type": "work"}])
    return {"stem": stem, "alice": alice, "bob": bob, "carol": carol}


ENT = ENTERPRISE_USER
# (filter with {stem} / {alice_id} placeholders, the expected users)
FILTERS = [
    ('userName eq "{stem}.Alice@example.com"', {"alice"}),
    ('userName eq "{STEM}.ALICE@EXAMPLE.COM"', {"alice"}),              # caseExact false (RFC 7643 §4.1.1)
    ('UserName EQ "{stem}.alice@example.com"', {"alice"}),              # names and operators case-insensitive
    (f'{CORE_USER}:userName eq "{{stem}}.alice@example.com"', {"alice"}),
    ('userName ne "{stem}.alice@example.com"', {"bob", "carol"}),
    ('userName ew "@example.org"', {"bob"}),
    ('userName co ".CAROL@"', {"carol"}),
    ('title co "manager"', {"carol"}),
    ('title sw "Eng"', {"alice", "carol"}),
    ('title ew "Manager"', {"carol"}),
    ('title eq "Engineer"', {"alice"}),
    ('title gt "Engineer"', {"carol"}),
    ('title ge "Engineer"', {"alice", "carol"}),
    ('title lt "Engineering"', {"alice"}),
    ('title le "Engineer"', {"alice"}),
    ("title pr", {"alice", "carol"}),
    ("not (title pr)", {"bob"}),
    ('not (title eq "Engineer")', {"bob", "carol"}),
    ('title eq "Engineer" or title eq "Engineering Manager"', {"alice", "carol"}),
    ('(title eq "Engineer" or active eq false) and name.familyName sw "a"', {"alice"}),
    ('title eq "Engineer" and active eq true', {"alice"}),
    ("active eq false", {"bob"}),
    ("active eq true", {"alice", "carol"}),
    ('name.familyName eq "baker"', {"bob"}),
    ('emails.value eq "{STEM}.ALICE.HOME@EXAMPLE.ORG"', {"alice"}),   # emails.value caseExact false
    ('emails.value co "home"', {"alice"}),
    ('emails[type eq "home"]', {"alice"}),
    ('emails[type eq "work" and value co "alice"]', {"alice"}),
    ('emails[type eq "work"].value eq "{stem}.alice@example.com"', {"alice"}),  # Entra's form (Entra tutorial)
    ("emails pr", {"alice", "bob", "carol"}),
    ("addresses pr", set()),
    ("phoneNumbers.value pr", {"carol"}),
    ('externalId eq "Ext-A"', {"alice"}),
    ('externalId eq "ext-a"', set()),                                     # externalId is caseExact
    ('externalId sw "ext"', {"bob"}),
    ('id eq "{alice_id}"', {"alice"}),
    ('id eq "{ALICE_ID}"', set()),                                        # id is caseExact (RFC 7643 §3.1)
    (f'{ENT}:department eq "engineering"', {"alice"}),
    (f'{ENT}:department pr', {"alice", "bob"}),
    ('meta.created gt "2000-01-01T00:00:00Z"', {"alice", "bob", "carol"}),
    ('meta.created lt "2000-01-01T00:00:00Z"', set()),
    ('meta.resourceType eq "User"', {"alice", "bob", "carol"}),
    ('title eq "Nobody has this title"', set()),                          # no match: 200 and empty
]


def _expand(template: str, population: dict) -> str:
    stem, alice_id = population["stem"], population["alice"]["id"]
    return template.format(stem=stem, STEM=stem.upper(), alice_id=alice_id, ALICE_ID=alice_id.upper())


@pytest.mark.parametrize("template,expected", FILTERS, ids=[f[0] for f in FILTERS])
def test_filter(client, population, template, expected):
    """RFC 7644 §3.4.2.2: every operator, and/or/not, grouping, value paths, sub-attributes and
    URN-qualified names; string matching per the attribute's caseExact; no match is 200 with an
    empty, present `Resources` (Okta SPEC test, Entra tutorial)."""
    expression = f'({_expand(template, population)}) and userName sw "{population["stem"]}"'
    response = client.get(filter_url(expression))
    assert response.status_code == 200, response.text
    body = response.json()
    wanted = {population[name]["id"] for name in expected}
    assert {r["id"] for r in body["Resources"]} == wanted
    assert body["totalResults"] == body["itemsPerPage"] == len(wanted)
    assert "Resources" in body


def test_filter_results_page_too(client, population):
    """RFC 7644 §3.4.2.4: paging applies to filtered results; totalResults counts every match."""
    expression = f'userName sw "{population["stem"]}"'
    first = client.get(filter_url(expression, count=2)).json()
    second = client.get(filter_url(expression, count=2, startIndex=3)).json()
    assert first["totalResults"] == second["totalResults"] == 3
    ids = [r["id"] for r in first["Resources"] + second["Resources"]]
    assert ids == [population[n]["id"] for n in ("alice", "bob", "carol")]


@pytest.mark.parametrize("query", [
    "/Users?filter=userName%20eq%20%22{name}%22",             # %20 and %22
    "/Users?filter=userName+eq+%22{name}%22&",                # + for spaces, trailing & (OneLogin traffic)
    "/Users?filter=userName+eq+%22{name}%22&startIndex=1&count=10&",
    "/Users?filter=userName%20eq%20%22{name}%22&foo=bar&sortBy=title&x",  # unknown parameters ignored
    "/Users?&filter=userName%20eq%20%22{name}%22",
    "/Users?startIndex=1&count=2&filter=userName+EQ+%22{upper}%22",
    '/Users?filter=userName eq "{name}"',                     # left for httpx to encode
])
def test_raw_query_strings(client, population, query):
    """What IdPs put on the wire (Okta SCIM 2.0 guide, OneLogin traffic): encodings, trailing `&`,
    unknown parameters (RFC 7644 §3.4.2: «SHOULD ignore any query parameters they do not recognize»)."""
    name = population["alice"]["userName"]
    response = client.get(query.format(name=name, upper=name.upper()))
    assert response.status_code == 200, response.text
    assert [r["id"] for r in response.json()["Resources"]] == [population["alice"]["id"]]


def test_filter_for_nobody_is_an_empty_list_not_404(client):
    """RFC 7644 §3.4.2: «A query that does not return any matches SHALL return success (HTTP status
    code 200) with "totalResults" set to a value of 0»; Okta wants a ListResponse with Resources (Okta SPEC
    test, Okta's "No results" article)."""
    response = client.get(filter_url(f'userName eq "nobody-{uuid.uuid4().hex}@example.com"'))
    assert response.status_code == 200
    body = response.json()
    assert body == {"schemas": [LIST_RESPONSE], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0,
                    "Resources": []}


INVALID_FILTERS = [
    "",
    " ",
    "userName",
    "userName eq",
    'userName xx "a"',
    'userName eq "a" and',
    '(userName eq "a"',
    'userName eq "a")',
    "userName eq 'single-quoted'",
    "externalId eq jyoung",               # legacy unquoted value (Entra tutorial): 400, not 500
    'noSuchAttribute eq "x"',
    'name.noSuchSub eq "x"',
    "active gt true",                     # ordering on a boolean (RFC 7644 §3.4.2.2)
    'active co "tru"',
    'emails[type eq "work"',
    'emails[type eq "work"] eq "x"',
    'userName eq "unterminated',
    'meta.created gt "yesterday"',
    "and",
    "not userName pr",
]


@pytest.mark.parametrize("expression", INVALID_FILTERS)
def test_invalid_filter_is_400_invalid_filter(client, expression):
    """RFC 7644 §3.4.2.2: «Providers MUST decline to filter results if the specified filter operation is
    not recognized and return an HTTP 400 error with a "scimType" error of "invalidFilter"»."""
    assert_scim_error(client.get(filter_url(expression)), 400, "invalidFilter")


def test_empty_filter_parameter_is_400(client):
    """`filter=` with nothing after it is not a filter (400 invalidFilter), not "no filter"."""
    assert_scim_error(client.get("/Users?filter="), 400, "invalidFilter")
    assert_scim_error(client.get("/Users?filter=&count=1"), 400, "invalidFilter")


# ---------------------------------------------------------------------------------------------
# The filter index (filter.Index) against matching every user one by one, through writes of every kind

GUESTS = (Guest("guest-7f3a9c1e", "pat.contractor@gmail.com"), Guest("guest-2b8d4e6f", "ada@partner-agency.io"))
USER_NAMES = ["Ada@example.com", "ada@EXAMPLE.com", "bob@example.com", "Zo\u00eb@example.com", "x@example.com",
              "eng@example.com", "y@example.com", "z@example.com"]
index_words = st.sampled_from(["Ada", "ada", "Eng", "WORK", "", None, "\u00e9"])
emails = st.lists(st.fixed_dictionaries({"value": st.sampled_from([*USER_NAMES, "ada@home.org", ""])}, optional={
    "type": st.sampled_from(["work", "Work", "home"]), "primary": st.booleans()}), max_size=3)
bodies = st.fixed_dictionaries({"userName": st.sampled_from(USER_NAMES)}, optional={
    "title": index_words, "externalId": index_words, "active": st.sampled_from([True, False, "True", "false"]),
    "name": st.fixed_dictionaries({}, optional={"givenName": index_words, "familyName": index_words}),
    "emails": emails,
    ENTERPRISE_USER: st.fixed_dictionaries({}, optional={
        "department": index_words, "manager": st.sampled_from(["boss-1", {"value": "boss-2"}])}),
})
patches = st.lists(st.one_of(
    st.fixed_dictionaries({"op": st.just("replace"), "path": st.just("title"), "value": index_words}),
    st.fixed_dictionaries({"op": st.just("add"), "path": st.just("emails"), "value": emails}),
    st.fixed_dictionaries({"op": st.just("replace"), "path": st.just('emails[type eq "work"].value'),
                           "value": st.sampled_from(USER_NAMES)}),
    st.fixed_dictionaries({"op": st.just("remove"), "path": st.sampled_from([
        'emails[type eq "work"]', "emails", "title", "name.givenName", f"{ENTERPRISE_USER}:department"])}),
    st.fixed_dictionaries({"op": st.just("replace"), "value": st.fixed_dictionaries({}, optional={
        "active": st.booleans(), "externalId": index_words, "name": st.fixed_dictionaries({"familyName": index_words})})}),
), min_size=1, max_size=3)
writes = st.lists(st.one_of(
    st.tuples(st.just("create"), bodies),
    st.tuples(st.just("put"), st.integers(0, 9), bodies),
    st.tuples(st.just("patch"), st.integers(0, 9), patches),
    st.tuples(st.just("delete"), st.integers(0, 9)),
    st.tuples(st.just("move"), st.integers(0, 9)),
), max_size=16)
INDEX_FILTERS = [
    'emails[type eq "work" and value co "@"]', 'emails[type eq "home"]', 'emails[not (type eq "work")]',
    'emails[type eq "work"].value eq "ada@example.com"', 'emails.value co "ADA"', "emails pr", "not (emails pr)",
    "emails.primary eq true", "title pr", 'title eq "eng"', 'title ne "Eng"', 'title gt "a"',
    'name.familyName eq "ada" or name.givenName eq "ADA"', "not (name.givenName pr) and active eq true",
    "active eq false", "externalId pr", 'externalId eq "Ada"', 'userName sw "ADA"', 'userName eq "ada@example.com"',
    'userName eq "pat.contractor@gmail.com"', 'id eq "guest-7f3a9c1e"', "userName pr", 'userName ne "x"',
    'meta.lastModified gt "2000-01-01T00:00:00Z"', 'meta.created le "2000-01-01T00:00:00Z"', 'meta.created co "T"',
    'meta.version co "1"', 'department eq "eng"', 'manager eq "boss-1"', "manager pr",
]


def _write(store: UserStore, write: tuple) -> None:
    """One create, PUT, PATCH or DELETE through the store's API, or a table edit as the pathless-id-applied fault
    makes (faults.py); refused writes (409, 400) change nothing."""
    kind, *args = write
    ids = [u["id"] for u in store.query(None, 1, sys.maxsize)[1]]
    if kind != "create" and not ids:
        return
    user_id = ids[args[0] % len(ids)] if kind != "create" else None
    try:
        if kind == "create":
            store.create(normalize_user(args[0]))
        elif kind == "put":
            store.update(user_id, lambda current: normalize_user(args[1]))
        elif kind == "patch":
            store.update(user_id, lambda current: apply_patch(current, {"schemas": [PATCH_OP], "Operations": args[1]}))
        elif kind == "delete":
            store.delete(user_id)
        else:
            with store._lock:
                user = store._users.pop(user_id)
                user["id"] = f"moved-{user_id}"
                store._users[user["id"]] = user
                store._order[store._order.index(user_id)] = user["id"]
                store._by_user_name[store.key(user["userName"])] = user["id"]
    except ScimError:
        pass


def _check_index(store: UserStore) -> None:
    everyone = store.query(None, 1, sys.maxsize)[1]
    for text in INDEX_FILTERS:
        flt = parse_filter(text)
        expected = [u["id"] for u in everyone if flt.matches(u)]
        for start, count in ((1, sys.maxsize), (2, 2), (len(expected), 1)):
            total, page = store.query(flt, max(1, start), count)
            assert (total, [u["id"] for u in page]) == (len(expected), expected[max(1, start) - 1:][:count]), text
        assert not {guest.id for guest in GUESTS} & set(expected)


@settings(max_examples=100, deadline=None)
@given(st.lists(bodies, min_size=1, max_size=6), writes)
def test_filtered_lists_equal_matching_every_user_after_any_writes(seeds: list[dict], writes: list[tuple]) -> None:
    """The index answers every filter as `Filter.matches` on each user in insertion order would: the same page and
    the same totalResults, after creates, PUTs, PATCHes (emails added, replaced through a value path, removed),
    deletes and direct table edits; the tenant's guests are never listed."""
    store = UserStore(GUESTS)
    for write in [("create", body) for body in seeds] + writes:
        _write(store, write)
        _check_index(store)
