"""The tenant's policy over real HTTP: the email-domain rule, userName uniqueness, guests, and
deactivation / reactivation (RFC 7643 §4.1.1; RFC 7644 §3.3, §3.6).

Sources, named so below:
- Asana SCIM docs: https://developers.asana.com/docs/scim
- Asana help, provisioning:
  https://help.asana.com/hc/en-us/articles/14150520592283-Provisioning-and-deprovisioning-users-with-SCIM
- Asana Guests FAQ: https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ
- Analogous domain rules: Vouch (https://github.com/vouch-sh/vouch/pull/826) and Zoom
  (https://developers.zoom.us/docs/api/scim2/)
- Okta SCIM 2.0 guide: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
- OneLogin's deprovisioning setting: https://developers.onelogin.com/scim/test-your-scim (its Suspend PUT is inferred)
- Entra tutorial (Microsoft Learn):
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
- SCIM compatibility page (Microsoft Learn, Entra's "False"): in the comment below.
"""

# SCIM compatibility page:
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility

from __future__ import annotations

import copy
import json
import unicodedata
import uuid

import pytest
from helpers import (
    ENTERPRISE_USER,
    all_users,
    assert_scim_error,
    by_user_name,
    create_user,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

from scimcert.paths import DEFAULT_TENANT
from scimcert.reference import ReferenceServer, Tenant
from scimcert.reference.precis import username_key


def _get(client, user: dict) -> dict:
    response = client.get(f"/Users/{user['id']}")
    assert response.status_code == 200, response.text
    return response.json()


def _local() -> str:
    return f"Policy.{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------
# Email-domain rule: userName «must be an email address» (Asana SCIM docs), on an organization domain (inferred)

# (userName, text the error detail must contain)
REJECTED = [
    ("{local}@sub.example.com", "sub.example.com"),     # no subdomains
    ("{local}@evil-example.com", "evil-example.com"),   # no suffix match
    ("{local}@example.com.evil.io", "example.com.evil.io"),
    ("{local}@example.co", "example.co"),               # no prefix match
    ("{local}@example.org.", "example.org."),
    ("{local}@gmail.com", "gmail.com"),
    ("{local}@partner-agency.io", "partner-agency.io"),  # a guest's domain
    ("{local}@example@gmail.com", "gmail.com"),
    ("{local}", "{local}"),                              # no @ at all: the detail quotes the value
    ("{local}@", "{local}@"),
    ("@example.com", "@example.com"),                    # no local part
    ("{local} x@example.com", "{local} x@example.com"),  # whitespace
]
ACCEPTED = [
    "{local}@example.com",
    "{local}@EXAMPLE.COM",
    "{local}@Example.Org",
    "Someone.{local}@eXaMpLe.CoM",
]


@pytest.mark.parametrize("template,named", REJECTED, ids=[r[0] for r in REJECTED])
def test_post_with_a_foreign_user_name_is_400(client, template, named):
    """Inferred from the Asana SCIM docs and Guests FAQ, as Vouch and Zoom do: a userName outside the
    organization's domains is 400 invalidValue naming the rejected domain, and nothing is created."""
    local = _local()
    user_name, named = template.format(local=local), named.format(local=local)
    body = user_body(user_name, emails=[{"value": f"{local}@example.com", "type": "work", "primary": True}])
    error = assert_scim_error(client.post("/Users", json=body), 400, "invalidValue")
    assert named in error["detail"], error
    assert "userName" in error["detail"]
    assert by_user_name(client, user_name) == []
    assert by_user_name(client, f"{local}@example.com") == []


@pytest.mark.parametrize("template", ACCEPTED)
def test_post_with_an_organization_domain_in_any_case_is_201(client, template):
    """The domain comparison is exact but case-insensitive; the userName keeps the case it was sent with."""
    user_name = template.format(local=_local())
    created = client.post("/Users", json=user_body(user_name))
    assert created.status_code == 201, created.text
    assert created.json()["userName"] == user_name
    assert [u["userName"] for u in by_user_name(client, user_name.lower())] == [user_name]


# (emails, accepted?) for a valid userName: the primary (or only) email obeys the domain rule.
EMAILS = [
    ("primary-foreign", [{"value": "x@gmail.com", "type": "work", "primary": True}], False),
    ("only-foreign", [{"value": "x@gmail.com", "type": "work"}], False),
    ("only-foreign-subdomain", [{"value": "x@mail.example.com"}], False),
    ("primary-foreign-beside-org", [{"value": "a@example.com", "type": "home"},
                                    {"value": "x@gmail.com", "type": "work", "primary": True}], False),
    ("only-not-an-email", [{"value": "not-an-email", "type": "work"}], False),
    ("secondary-foreign", [{"value": "a@example.com", "type": "work", "primary": True},
                           {"value": "x@gmail.com", "type": "home"}], True),
    ("two-without-primary", [{"value": "a@gmail.com", "type": "work"}, {"value": "b@yahoo.com", "type": "home"}], True),
    ("primary-on-other-org-domain", [{"value": "a@EXAMPLE.ORG", "type": "work", "primary": True}], True),
    ("no-emails", None, True),
]


@pytest.mark.parametrize("emails,accepted", [e[1:] for e in EMAILS], ids=[e[0] for e in EMAILS])
def test_primary_email_obeys_the_domain_rule(client, emails, accepted):
    """Inferred (Asana SCIM docs, Guests FAQ): the primary email, or the only one, must be on an organization
    domain too; a secondary, non-primary address elsewhere is fine."""
    user_name = unique_user_name()
    response = client.post("/Users", json=user_body(user_name, emails=emails))
    if accepted:
        assert response.status_code == 201, response.text
        assert len(by_user_name(client, user_name)) == 1
    else:
        error = assert_scim_error(response, 400, "invalidValue")
        assert "primary email" in error["detail"]
        assert by_user_name(client, user_name) == []


FOREIGN = "intruder@gmail.com"
# How a write could smuggle a foreign domain in: (id, method, body builder)
VIOLATIONS = [
    ("put-userName", "PUT", lambda u: user_body(FOREIGN, emails=u["emails"])),
    ("put-primary-email", "PUT", lambda u: user_body(u["userName"], emails=[{"value": FOREIGN, "primary": True}])),
    ("patch-pathless-userName", "PATCH", lambda u: patch_body({"op": "replace", "value": {"userName": FOREIGN}})),
    ("patch-pathless-emails", "PATCH", lambda u: patch_body({"op": "replace", "value": {"emails": [{"value": FOREIGN}]}})),
    ("patch-userName-path", "PATCH", lambda u: patch_body({"op": "replace", "path": "userName", "value": FOREIGN})),
    ("patch-Replace-userName-path", "PATCH", lambda u: patch_body({"op": "Replace", "path": "USERNAME", "value": FOREIGN})),
    ("patch-work-email-value", "PATCH", lambda u: patch_body(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": FOREIGN})),
    ("patch-add-primary-email", "PATCH", lambda u: patch_body(
        {"op": "add", "path": "emails", "value": [{"value": FOREIGN, "type": "other", "primary": True}]})),
    ("patch-leaving-only-a-foreign-email", "PATCH", lambda u: patch_body(
        {"op": "add", "path": "emails", "value": [{"value": FOREIGN, "type": "home"}]},
        {"op": "remove", "path": 'emails[type eq "work"]'})),
    ("patch-subdomain", "PATCH", lambda u: patch_body(
        {"op": "replace", "path": "userName", "value": u["userName"].replace("@", "@sub.")})),
]


@pytest.mark.parametrize("method,build", [v[1:] for v in VIOLATIONS], ids=[v[0] for v in VIOLATIONS])
def test_writes_that_break_the_domain_rule_change_nothing(client, method, build):
    """Inferred (Asana SCIM docs, Guests FAQ): a userName/email change to a foreign domain is 400 invalidValue
    on PUT and PATCH, and the user is unchanged (by GET and by filter)."""
    user = create_user(client, title="Unchanged")
    response = client.request(method, f"/Users/{user['id']}", json=build(user))
    error = assert_scim_error(response, 400, "invalidValue")
    assert "domain" in error["detail"].lower()
    assert _get(client, user) == user
    assert by_user_name(client, user["userName"]) == [user]
    assert by_user_name(client, FOREIGN) == []


def test_domain_rule_allows_moving_to_the_other_organization_domain(client):
    """Both tenant domains are organization domains: a userName may move from example.com to example.org."""
    user = create_user(client)
    moved = user["userName"].replace("@example.com", "@Example.ORG")
    response = client.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "value": {"userName": moved, "emails": [{"value": moved, "primary": True}]}}))
    assert response.status_code == 200, response.text
    assert response.json()["userName"] == moved


# ---------------------------------------------------------------------------------------------
# Uniqueness (RFC 7643 §4.1.1: userName «MUST be unique», «case insensitive»; RFC 7644 §3.3: 409)


@pytest.mark.parametrize("variant", ["same", "lower", "upper", "swapcase"])
def test_duplicate_user_name_on_post_is_409(client, variant):
    """RFC 7644 §3.3: «MUST return HTTP status code 409 (Conflict) with a "scimType" error code of
    "uniqueness"»; the comparison is case-insensitive; the first user keeps its case."""
    original = create_user(client)
    name = original["userName"]
    duplicate = {"same": name, "lower": name.lower(), "upper": name.upper(), "swapcase": name.swapcase()}[variant]
    assert_scim_error(client.post("/Users", json=user_body(duplicate)), 409, "uniqueness")
    matches = by_user_name(client, name.upper())
    assert [u["id"] for u in matches] == [original["id"]]
    assert matches[0]["userName"] == name


def test_precis_username_key():
    """RFC 7644 §5 → RFC 7613 §3.2 (UsernameCaseMapped): width mapping, case mapping, NFC."""
    key = username_key("Ada.Lovelace@example.com")
    assert username_key("Ａｄａ.Lovelace@example.com") == key                 # fullwidth → ASCII
    assert username_key("ADA.LOVELACE@EXAMPLE.COM") == key                  # case
    assert username_key("Andre\u0301@example.com") == username_key("Andr\u00e9@example.com")  # NFD = NFC
    assert username_key("ｶﾅ@example.com") == username_key("カナ@example.com")  # halfwidth → its decomposition
    assert username_key("Ada.Lovelace@example.org") != key
    assert username_key("Andre@example.com") != username_key("Andr\u00e9@example.com")  # accents count


@pytest.mark.parametrize("variant", ["fullwidth", "nfd"])
def test_duplicate_user_name_on_post_is_409_as_precis_compares(client, variant):
    """RFC 7644 §5: uniqueness is evaluated on the PRECIS-prepared userName: a fullwidth letter (width
    mapping) or the NFD form of an NFC userName (normalization) names the same user."""
    local = _local()
    name = f"{local}.Andr\u00e9@example.com"
    original = create_user(client, user_name=name)
    duplicate = {"fullwidth": "Ｐ" + name[1:], "nfd": unicodedata.normalize("NFD", name)}[variant]
    assert duplicate != name
    assert_scim_error(client.post("/Users", json=user_body(duplicate)), 409, "uniqueness")
    assert [u["id"] for u in by_user_name(client, name)] == [original["id"]]


@pytest.mark.parametrize("char", ["\u0007", "\u200b", "\u200d", "\u202e", "\u2066", "\u00ad", "\ufeff"])
def test_user_name_with_control_or_format_characters_is_400(client, char):
    """PRECIS enforcement (RFC 7613 §3.2, IdentifierClass): control (Cc) and invisible format (Cf) characters,
    such as zero-width spaces and joiners and bidirectional overrides, are refused with 400 invalidValue, on
    create and on rename, and nothing is stored."""
    name = f"{_local()}.Ada{char}Lovelace@example.com"
    assert_scim_error(client.post("/Users", json=user_body(name)), 400, "invalidValue")
    assert by_user_name(client, name.replace(char, "")) == []
    user = create_user(client)
    renamed = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "userName", "value": name}))
    assert_scim_error(renamed, 400, "invalidValue")
    assert _get(client, user)["userName"] == user["userName"]


COLLISIONS = [
    ("put", "PUT", lambda taken, u: user_body(taken)),
    ("patch-path", "PATCH", lambda taken, u: patch_body({"op": "replace", "path": "userName", "value": taken})),
    ("patch-pathless", "PATCH", lambda taken, u: patch_body({"op": "replace", "value": {"userName": taken}})),
    ("patch-add", "PATCH", lambda taken, u: patch_body({"op": "Add", "path": "userName", "value": taken})),
]


@pytest.mark.parametrize("method,build", [c[1:] for c in COLLISIONS], ids=[c[0] for c in COLLISIONS])
@pytest.mark.parametrize("case", ["exact", "other-case"])
def test_renaming_onto_another_users_name_is_409(client, method, build, case):
    """RFC 7643 §4.1.1 + RFC 7644 §3.3 for updates: a PUT/PATCH colliding with another user's userName
    (in any case) is 409 uniqueness, and neither user changes."""
    holder, mover = create_user(client), create_user(client)
    taken = holder["userName"] if case == "exact" else holder["userName"].swapcase()
    response = client.request(method, f"/Users/{mover['id']}", json=build(taken, mover))
    assert_scim_error(response, 409, "uniqueness")
    assert _get(client, holder) == holder
    assert _get(client, mover) == mover


def test_user_name_can_be_created_again_after_delete(client):
    """RFC 7644 §3.6: a CREATE with the userName of a deleted user «SHOULD NOT fail with a 409»."""
    first = create_user(client)
    assert client.delete(f"/Users/{first['id']}").status_code == 204
    again = client.post("/Users", json=user_body(first["userName"].lower()))
    assert again.status_code == 201, again.text
    assert again.json()["id"] != first["id"]
    assert again.json()["userName"] == first["userName"].lower()


def test_renamed_user_frees_the_old_name(client):
    """The uniqueness index follows renames: the old name is free, the new one taken."""
    user = create_user(client)
    renamed = unique_user_name()
    assert client.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "userName", "value": renamed})).status_code == 200
    assert client.post("/Users", json=user_body(user["userName"])).status_code == 201
    assert_scim_error(client.post("/Users", json=user_body(renamed.upper())), 409, "uniqueness")


# ---------------------------------------------------------------------------------------------
# Guests (Asana SCIM docs, GET /Users: «Does not return Asana guest users»)


def test_guests_are_not_listed_or_counted(tenant, fresh_client):
    """Asana SCIM docs: guests are excluded from GET /Users and (inferred) from totalResults; the fresh server holds
    exactly the seeded members."""
    assert tenant.guests
    body = fresh_client.get("/Users").json()
    assert body["totalResults"] == len(tenant.users)
    listed = {u["userName"].lower() for u in all_users(fresh_client, page=1)}
    assert listed == {u["userName"].lower() for u in tenant.users}
    guest_ids = {g.id for g in tenant.guests}
    assert not guest_ids & {u["id"] for u in all_users(fresh_client)}


GUEST_FILTERS = [
    'userName eq "{name}"',
    'userName eq "{NAME}"',
    'userName co "{domain}"',
    'userName ew "{domain}"',
    'emails.value eq "{name}"',
    'displayName eq "{display}"',
    'id eq "{id}"',
    "userName pr",
]


def test_guests_are_not_found_by_filters(tenant, fresh_client):
    """Inferred from the Asana SCIM docs: `filter=userName eq "<guest email>"` → 200 with totalResults 0, and no
    other filter reveals a guest either."""
    for expression in GUEST_FILTERS:
        for guest in tenant.guests:
            text = expression.format(name=guest.userName, NAME=guest.userName.upper(), id=guest.id,
                                     domain=guest.userName.split("@")[1], display=guest.displayName)
            response = fresh_client.get("/Users", params={"filter": text})
            assert response.status_code == 200, response.text
            found = response.json()["Resources"]
            assert guest.id not in {u["id"] for u in found}, text
            assert guest.userName.lower() not in {u["userName"].lower() for u in found}, text
            expected = len(tenant.users) if expression == "userName pr" else 0
            assert response.json()["totalResults"] == expected, text


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_every_method_on_a_guest_id_is_404(tenant, client, method):
    """Asana SCIM docs (GET /Users/:id «Does not return Asana guest users»; the 404 and the other methods are
    inferred): GET/PUT/PATCH/DELETE on a guest id → 404 (status "404", SCIM Error); the guest is invisible to
    SCIM, even with a valid body."""
    for guest in tenant.guests:
        bodies = {"PUT": user_body(unique_user_name()),
                  "PATCH": patch_body({"op": "replace", "path": "active", "value": False})}
        response = client.request(method, f"/Users/{guest.id}", json=bodies.get(method))
        assert_scim_error(response, 404)
    assert all(client.get(f"/Users/{g.id}").status_code == 404 for g in tenant.guests)


@pytest.mark.parametrize("case", [str, str.upper])
def test_post_with_a_guests_user_name_is_400(tenant, client, case):
    """Inferred (Asana SCIM docs, Guests FAQ): a POST with a guest's (non-domain) email is the domain-rule 400."""
    for guest in tenant.guests:
        error = assert_scim_error(client.post("/Users", json=user_body(case(guest.userName))), 400, "invalidValue")
        assert guest.userName.split("@")[1] in error["detail"].lower()
        assert by_user_name(client, guest.userName) == []


# ---------------------------------------------------------------------------------------------
# Deactivation and reactivation (Asana SCIM docs and help; Okta SCIM 2.0 guide; OneLogin's deprovisioning
# setting; Entra tutorial and SCIM compatibility page)

DEACTIVATE = {
    "patch-pathless": lambda u: ("PATCH", patch_body({"op": "replace", "value": {"active": False}})),
    "patch-path": lambda u: ("PATCH", patch_body({"op": "replace", "path": "active", "value": False})),
    "patch-entra": lambda u: ("PATCH", patch_body({"op": "Replace", "path": "active", "value": "False"})),
    "put": lambda u: ("PUT", {**_writable(u), "active": False}),
}
REACTIVATE = {
    "patch-pathless": lambda u: ("PATCH", patch_body({"op": "replace", "value": {"active": True}})),
    "patch-path": lambda u: ("PATCH", patch_body({"op": "replace", "path": "active", "value": True})),
    "patch-entra": lambda u: ("PATCH", patch_body({"op": "Replace", "path": "active", "value": "True"})),
    "put": lambda u: ("PUT", {**_writable(u), "active": True}),
}


def _writable(user: dict) -> dict:
    """What Okta's read-modify-write PUT sends back: the resource as read (id and meta included)."""
    return copy.deepcopy(user)


def _send(client, user: dict, how) -> dict:
    method, body = how(user)
    response = client.request(method, f"/Users/{user['id']}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _same_except_active_and_meta(a: dict, b: dict) -> bool:
    strip = lambda u: {k: v for k, v in u.items() if k not in ("active", "meta")}  # noqa: E731
    return strip(a) == strip(b)


@pytest.mark.parametrize("deactivate", list(DEACTIVATE))
def test_deactivated_user_stays_readable(client, deactivate):
    """Entra tutorial («The user object should be returned in a request whether or not the user is active»;
    the same for Asana is inferred): active=false by PATCH (path-less, path, Entra's "False") or PUT; the user stays
    readable by GET, by the userName filter and in the list, with `"active": false` (active must not go
    missing: https://github.com/grokability/snipe-it/issues/13855)."""
    user = create_user(client, title="Keeps title", **{ENTERPRISE_USER: {"department": "Ops"}})
    inactive = _send(client, user, DEACTIVATE[deactivate])
    assert inactive["active"] is False
    assert _same_except_active_and_meta(inactive, user)
    assert _get(client, user)["active"] is False
    (found,) = by_user_name(client, user["userName"].upper())
    assert found["id"] == user["id"] and found["active"] is False
    listed = [u for u in all_users(client) if u["id"] == user["id"]]
    assert [u["active"] for u in listed] == [False]


@pytest.mark.parametrize("reactivate", list(REACTIVATE))
@pytest.mark.parametrize("deactivate", ["patch-pathless", "put"])
def test_reactivation_keeps_id_and_attributes(client, deactivate, reactivate):
    """Okta's CRUD test (Okta-SCIM-20-CRUD-Test.json steps 12-15, GitHub okta/okta-developer-docs): active=true
    reactivates the same user: same id, same attributes."""
    user = create_user(client, title="Keeps title", **{ENTERPRISE_USER: {"department": "Ops"}})
    inactive = _send(client, user, DEACTIVATE[deactivate])
    active = _send(client, inactive, REACTIVATE[reactivate])
    assert active["active"] is True
    assert active["id"] == user["id"]
    assert _same_except_active_and_meta(active, user)
    assert active["meta"]["created"] == user["meta"]["created"]
    assert [u["id"] for u in by_user_name(client, user["userName"])] == [user["id"]]


@pytest.fixture(scope="module")
def refusing_server():
    """Asana help, provisioning: «Reactivating users» is not supported: a tenant with
    options.reactivation = "refused"."""
    data = json.loads(DEFAULT_TENANT.read_text("utf-8"))
    data["options"] = {**data.get("options", {}), "reactivation": "refused"}
    with ReferenceServer(Tenant.from_dict(data)) as running:
        yield running


@pytest.mark.parametrize("reactivate", list(REACTIVATE))
def test_refused_reactivation_is_400_mutability(refusing_server, reactivate):
    """Inferred from Asana help, provisioning (configurable): with reactivation refused, active=true on an inactive user
    is 400 mutability and the user stays inactive; deactivating and editing an inactive user still work."""
    with scim_client(refusing_server) as c:
        user = create_user(c, title="Before")
        inactive = _send(c, user, DEACTIVATE["patch-pathless"])
        method, body = REACTIVATE[reactivate](inactive)
        error = assert_scim_error(c.request(method, f"/Users/{user['id']}", json=body), 400, "mutability")
        assert "reactivat" in error["detail"].lower()
        assert _get(c, user) == inactive
        assert by_user_name(c, user["userName"])[0]["active"] is False
        edited = c.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "title", "value": "After"}))
        assert edited.status_code == 200, edited.text
        assert edited.json()["active"] is False and edited.json()["title"] == "After"


def test_refused_reactivation_still_allows_active_users_to_stay_active(refusing_server):
    """The refusal is about the inactive → active transition only: active=true on an active user is fine."""
    with scim_client(refusing_server) as c:
        user = create_user(c)
        assert _send(c, user, REACTIVATE["patch-path"])["active"] is True
        assert _send(c, user, REACTIVATE["put"])["active"] is True
