"""What real IdPs send, accepted over real HTTP: Okta, OneLogin and Microsoft Entra ID. The server stores
canonical values and ignores what it does not know (RFC 7644 §3.3: readOnly attributes «SHALL be ignored»;
§3.1: responses «SHALL reflect resource state as interpreted by the SCIM service provider»).

Sources, named so in the docstrings below:
- Okta SCIM 2.0 guide: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
- OneLogin's docs: https://developers.onelogin.com/scim/implement-scim-api and
  https://developers.onelogin.com/scim/define-user-schema
- OneLogin traffic (a captured SCIM v2 Enterprise log): https://github.com/goauthentik/authentik/issues/11249
- Entra tutorial (Microsoft Learn):
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
- SCIM compatibility page (Microsoft Learn) and Keepnet's OneLogin template: the comments below.
"""

# SCIM compatibility page:
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
# Keepnet's OneLogin template:
# https://doc.keepnetlabs.com/next-generation-product/platform/company/company-settings/scim-settings/onelogin-scim-integration

from __future__ import annotations

import pytest
from helpers import (
    CORE_USER,
    ENTERPRISE_USER,
    all_users,
    by_user_name,
    create_user,
    filter_url,
    find_users,
    patch_body,
    unique_user_name,
    user_body,
)

ONELOGIN_CORE = "urn:scim:schemas:core:2.0"
ONELOGIN_ENTERPRISE = "urn:scim:schemas:extension:enterprise:2.0"
SECRET = "Correct-Horse-Battery-Staple-1"


def _get(client, user: dict) -> dict:
    response = client.get(f"/Users/{user['id']}")
    assert response.status_code == 200, response.text
    return response.json()


def _no_password(*bodies) -> None:
    for body in bodies:
        text = str(body)
        assert "password" not in text and SECRET not in text, body


# ---------------------------------------------------------------------------------------------
# password: accepted, never returned (RFC 7643 §4.1.1 / §7 returned "never")


def test_password_is_accepted_and_never_returned(client):
    """RFC 7643 §4.1.1: the password «MUST NOT be returned by a service provider in any form»; a returned
    password would be echoed back by Okta's next PUT (inferred from its read-modify-write PUT, Okta SCIM 2.0 guide)."""
    user_name = unique_user_name()
    created = client.post("/Users", json=user_body(user_name, password=SECRET))
    assert created.status_code == 201, created.text
    user = created.json()
    uid = user["id"]
    responses = [
        created,
        client.get(f"/Users/{uid}"),
        client.get(f"/Users/{uid}?attributes=password"),
        client.get(f"/Users/{uid}?attributes=userName,password"),
        client.get(filter_url(f'userName eq "{user_name}"')),
        client.get(filter_url(f'userName eq "{user_name}"', attributes="password")),
        client.put(f"/Users/{uid}", json=user_body(user_name, password=SECRET + "2")),
        client.patch(f"/Users/{uid}", json=patch_body({"op": "replace", "path": "password", "value": SECRET + "3"})),
        client.patch(f"/Users/{uid}", json=patch_body({"op": "replace", "value": {"password": SECRET + "4"}})),
    ]
    for response in responses:
        assert response.status_code == 200 or response is created, response.text
        _no_password(response.text)
    _no_password(*[u for u in all_users(client) if u["id"] == uid])


def test_password_cannot_be_found_by_filter(client):
    """RFC 7644 §3.4.2.2 + returned "never": a filter on password never matches (it would leak the value)."""
    create_user(client, password=SECRET)
    response = client.get(filter_url(f'password eq "{SECRET}"'))
    assert response.status_code in (200, 400, 403)
    if response.status_code == 200:
        assert response.json()["totalResults"] == 0


def test_put_without_password_keeps_the_user_usable(client):
    """Okta's read-modify-write PUT (Okta SCIM 2.0 guide) cannot echo a writeOnly password; the PUT still succeeds."""
    user = create_user(client, password=SECRET)
    response = client.put(f"/Users/{user['id']}", json={**_get(client, user), "title": "Changed"})
    assert response.status_code == 200, response.text
    _no_password(response.text)


# ---------------------------------------------------------------------------------------------
# POST bodies as the IdPs send them: (id, extra attributes / replaced body, check on the stored user)


def _onelogin_template(user_name: str) -> dict:
    """OneLogin's default v2 Enterprise template as observed (OneLogin traffic), with Keepnet's template fields."""
    return {
        "schemas": [ONELOGIN_CORE, ONELOGIN_ENTERPRISE],
        "id": None,
        "meta": {"resourceType": "User"},
        "userName": user_name,
        "active": "true",
        "name": {"familyName": " User 01", "givenName": "AAA Test", "formatted": ""},
        "emails": {"value": user_name, "type": "work", "primary": True},
        "title": "",
        "userType": "",
        ONELOGIN_ENTERPRISE: {"department": "Finance", "division": "", "manager": {"value": ""}},
    }


POST_CASES = [
    ("okta-groups-empty", {"groups": []}, lambda u: "groups" not in u),
    ("okta-groups-ignored", {"groups": [{"value": "g1", "display": "Admins"}]}, lambda u: "groups" not in u),
    ("onelogin-emails-object", {"emails": "__object__"},
     lambda u: u["emails"] == [{"value": u["userName"], "type": "work", "primary": True}]),
    ("onelogin-schemas-non-rfc", {"schemas": [ONELOGIN_CORE, ONELOGIN_ENTERPRISE]}, lambda u: u["schemas"] == [CORE_USER]),
    ("onelogin-schemas-missing", {"schemas": None}, lambda u: u["schemas"] == [CORE_USER]),
    ("onelogin-enterprise-alias", {ONELOGIN_ENTERPRISE: {"department": "Finance", "costCenter": "CC9"}},
     lambda u: u[ENTERPRISE_USER] == {"department": "Finance", "costCenter": "CC9"}
     and ONELOGIN_ENTERPRISE not in u and u["schemas"] == [CORE_USER, ENTERPRISE_USER]),
    ("onelogin-core-block-under-alias", {ONELOGIN_CORE: {"title": "Nested"}}, lambda u: u["title"] == "Nested"),
    ("onelogin-enterprise-only-core-urn-listed", {"schemas": [CORE_USER], ENTERPRISE_USER: {"division": "EMEA"}},
     lambda u: u[ENTERPRISE_USER] == {"division": "EMEA"}),
    ("active-string-true", {"active": "true"}, lambda u: u["active"] is True),
    ("active-string-false", {"active": "false"}, lambda u: u["active"] is False),
    ("entra-active-True", {"active": "True"}, lambda u: u["active"] is True),
    ("entra-active-False", {"active": "False"}, lambda u: u["active"] is False),
    ("active-omitted", {"active": None}, lambda u: u["active"] is True),
    ("id-null", {"id": None}, lambda u: isinstance(u["id"], str) and u["id"]),
    ("id-given", {"id": "idp-chosen"}, lambda u: u["id"] != "idp-chosen"),
    ("meta-in-body", {"meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z"}},
     lambda u: not u["meta"]["created"].startswith("2001")),
    ("empty-strings-unassigned", {"title": "", "displayName": "", "nickName": "", "name": {"givenName": "G", "middleName": ""}},
     lambda u: not {"title", "displayName", "nickName"} & set(u) and u["name"] == {"givenName": "G"}),
    ("untrimmed-stored-as-sent", {"name": {"familyName": " User 01", "givenName": "AAA Test "}, "title": "  VP  "},
     lambda u: u["name"] == {"familyName": " User 01", "givenName": "AAA Test "} and u["title"] == "  VP  "),
    ("entra-roles-empty", {"roles": []}, lambda u: "roles" not in u),
    ("null-attributes", {"title": None, "displayName": None, "phoneNumbers": None, ENTERPRISE_USER: None},
     lambda u: not {"title", "displayName", "phoneNumbers", ENTERPRISE_USER} & set(u)),
    ("entra-null-sub-attributes", {ENTERPRISE_USER: {"manager": {"value": "m-1", "$ref": None}, "department": None}},
     lambda u: u[ENTERPRISE_USER] == {"manager": {"value": "m-1"}}),
    ("manager-display-name-readonly", {ENTERPRISE_USER: {"manager": {"value": "m-2", "displayName": "Boss"}}},
     lambda u: u[ENTERPRISE_USER] == {"manager": {"value": "m-2"}}),
    ("unknown-attributes-dropped", {"favouriteColour": "blue", "urn:example:custom:1.0:User": {"badge": 7},
                                    "name": {"givenName": "G", "nickname": "not a sub-attribute"}},
     lambda u: "favouriteColour" not in u and "urn:example:custom:1.0:User" not in u and u["name"] == {"givenName": "G"}),
    ("attribute-names-case-insensitive", {"TITLE": "Shouted", "DisplayName": "Mixed"},
     lambda u: u["title"] == "Shouted" and u["displayName"] == "Mixed"),
]


@pytest.mark.parametrize("extra,check", [c[1:] for c in POST_CASES], ids=[c[0] for c in POST_CASES])
def test_idp_post_bodies_are_accepted(client, extra, check):
    """IdP quirks in POST bodies (Okta SCIM 2.0 guide, OneLogin's docs and traffic, Keepnet's template, Entra
    tutorial) are accepted (201); the stored resource is canonical, and the response equals a later GET."""
    user_name = unique_user_name(stem="Idp")
    body = user_body(user_name)
    for key, value in extra.items():
        if value == "__object__":
            value = {"value": user_name, "type": "work", "primary": True}
        if value is None and key in ("schemas", "active"):
            del body[key]
        else:
            body[key] = value
    response = client.post("/Users", json=body)
    assert response.status_code == 201, response.text
    user = response.json()
    assert check(user), user
    assert _get(client, user) == user


def test_onelogin_default_template_round_trip(client):
    """The whole OneLogin v2 template as observed (OneLogin traffic, Keepnet's template: non-RFC URNs, `"id": null`,
    meta, emails object, "true" string, empty strings, untrimmed values) → 201, canonical, findable by filter;
    then OneLogin's update PUT to `/Users/{id}?` (trailing `?`, OneLogin traffic) of the same template works."""
    user_name = unique_user_name(stem="OneLogin")
    created = client.post("/Users", json=_onelogin_template(user_name))
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert user["active"] is True
    assert user["emails"] == [{"value": user_name, "type": "work", "primary": True}]
    assert user["name"] == {"familyName": " User 01", "givenName": "AAA Test"}
    assert user[ENTERPRISE_USER] == {"department": "Finance"}
    assert not {"title", "userType", ONELOGIN_ENTERPRISE} & set(user)
    assert [u["id"] for u in find_users(client, f'{ENTERPRISE_USER}:department eq "finance" and userName eq "{user_name}"')] \
        == [user["id"]]

    suspended = {**_onelogin_template(user_name), "active": "false", "title": "Suspended"}
    response = client.put(f"/Users/{user['id']}?", json=suspended)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert response.json()["title"] == "Suspended"
    assert by_user_name(client, user_name)[0]["active"] is False


def test_okta_read_modify_write_put(client):
    """Okta SCIM 2.0 guide: Okta PUTs back what it read (schemas, id, meta, groups, the enterprise block)
    with its change; the readOnly parts are ignored, not rejected (RFC 7644 §3.5.1)."""
    user = create_user(client, title="Before", groups=[], password=SECRET,
                       **{ENTERPRISE_USER: {"department": "Ops"}})
    read = _get(client, user)
    response = client.put(f"/Users/{user['id']}", json={**read, "title": "After", "groups": [{"value": "g"}]})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["title"] == "After"
    assert after[ENTERPRISE_USER] == {"department": "Ops"}
    assert {k: v for k, v in after.items() if k not in ("title", "meta")} == \
        {k: v for k, v in read.items() if k not in ("title", "meta")}


# ---------------------------------------------------------------------------------------------
# PATCH bodies as Entra and Okta send them


ENTRA_PATCHES = [
    ("capitalised-replace", [{"op": "Replace", "path": "title", "value": "Entra"}], lambda u: u["title"] == "Entra"),
    ("capitalised-add", [{"op": "Add", "path": "nickName", "value": "N"}], lambda u: u["nickName"] == "N"),
    ("capitalised-remove", [{"op": "Remove", "path": "title"}], lambda u: "title" not in u),
    ("upper-op", [{"op": "REPLACE", "path": "displayName", "value": "D"}], lambda u: u["displayName"] == "D"),
    ("active-False-string", [{"op": "Replace", "path": "active", "value": "False"}], lambda u: u["active"] is False),
    ("active-True-string", [{"op": "Replace", "path": "active", "value": "True"}], lambda u: u["active"] is True),
    ("okta-pathless-active", [{"op": "replace", "value": {"active": False}}], lambda u: u["active"] is False),
    ("pathless-active-string", [{"op": "Replace", "value": {"active": "False"}}], lambda u: u["active"] is False),
    ("entra-work-address", [{"op": "Add", "path": 'addresses[type eq "work"].locality', "value": "Lisbon"}],
     lambda u: u["addresses"] == [{"type": "work", "locality": "Lisbon"}]),
    ("entra-mobile-phone", [{"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+351 21 000"}],
     lambda u: u["phoneNumbers"] == [{"type": "mobile", "value": "+351 21 000"}]),
    ("entra-enterprise-urn-path", [{"op": "Add", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "701984"}],
     lambda u: u[ENTERPRISE_USER]["employeeNumber"] == "701984"),
    ("entra-manager-bare-id", [{"op": "Replace", "path": f"{ENTERPRISE_USER}:manager", "value": "mgr-42"}],
     lambda u: u[ENTERPRISE_USER]["manager"] == {"value": "mgr-42"}),
    ("entra-unqualified-manager", [{"op": "Add", "path": "manager", "value": {"value": "mgr-7"}}],
     lambda u: u[ENTERPRISE_USER]["manager"] == {"value": "mgr-7"}),
    ("entra-null-value-removes", [{"op": "Replace", "path": "title", "value": None}], lambda u: "title" not in u),
    ("entra-empty-string-removes", [{"op": "Replace", "path": "title", "value": ""}], lambda u: "title" not in u),
    ("entra-roles-empty", [{"op": "Add", "path": "roles", "value": []}], lambda u: "roles" not in u),
    ("pathless-ignores-readonly-and-unknown", [{"op": "replace", "value": {
        "meta": {"version": "x"}, "schemas": ["urn:x"], "groups": [], "favouriteColour": "blue",
        "title": "Kept"}}], lambda u: u["title"] == "Kept" and "favouriteColour" not in u and "groups" not in u),
    ("pathless-dotted-and-urn-keys", [{"op": "Replace", "value": {
        "name.givenName": "Ada", f"{ENTERPRISE_USER}:department": "Maths", "urn:ietf:params:scim:schemas:core:2.0:User:nickName": "Countess"}}],
     lambda u: u["name"]["givenName"] == "Ada" and u[ENTERPRISE_USER]["department"] == "Maths" and u["nickName"] == "Countess"),
    ("onelogin-enterprise-alias-key", [{"op": "replace", "value": {ONELOGIN_ENTERPRISE: {"division": "APAC"}}}],
     lambda u: u[ENTERPRISE_USER]["division"] == "APAC"),
    ("schemas-urn-any-case", "lowercase-schemas", lambda u: u["title"] == "Lower"),
    ("operations-key-any-case", "operations-key", lambda u: u["title"] == "Keyed"),
    ("pathless-own-id-echoed", "own-id-echoed", lambda u: u["title"] == "Echoed"),  # another id: 400 (test_patch.py)
]


@pytest.mark.parametrize("operations,check", [c[1:] for c in ENTRA_PATCHES], ids=[c[0] for c in ENTRA_PATCHES])
def test_idp_patches_are_accepted(client, operations, check):
    """Entra tutorial (capitalised ops, value paths, `roles: []`) and SCIM compatibility page ("True"/"False",
    URN paths, dotted/URN keys); creating the element a value path names is inferred; Okta SCIM 2.0 guide
    (path-less replace)."""
    user = create_user(client, title="Start", **{ENTERPRISE_USER: {"department": "Ops"}})
    if operations == "lowercase-schemas":
        body = {"schemas": ["URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"],
                "Operations": [{"op": "replace", "path": "title", "value": "Lower"}]}
    elif operations == "operations-key":
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "operations": [{"op": "replace", "path": "title", "value": "Keyed"}]}
    elif operations == "own-id-echoed":
        body = patch_body({"op": "replace", "value": {"id": user["id"], "title": "Echoed"}})
    else:
        body = patch_body(*operations)
    response = client.patch(f"/Users/{user['id']}", json=body)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert check(patched), patched
    assert patched["id"] == user["id"]
    assert _get(client, user) == patched


def test_unknown_attributes_are_ignored_on_put(client):
    """Accept and silently ignore unknown attributes on PUT; do not echo them (inferred from the attributes
    Asana documents, https://developers.asana.com/docs/scim, and RFC 7644 §3.1)."""
    user = create_user(client)
    body = {**user_body(user["userName"]), "favouriteColour": "blue", "urn:example:ext:1.0": {"x": 1}}
    response = client.put(f"/Users/{user['id']}", json=body)
    assert response.status_code == 200, response.text
    assert "favouriteColour" not in response.text and "urn:example:ext" not in response.text


def test_onelogin_manager_id_is_stored_as_the_manager_value(client):
    """OneLogin's Keepnet template sends manager {"managerId": …} (its own name for the id): stored as
    manager.value, not dropped (https://doc.keepnetlabs.com/next-generation-product/platform/company/company-settings/scim-settings/onelogin-scim-integration)."""
    body = user_body(**{ENTERPRISE_USER: {"department": "Sales", "manager": {"managerId": "104231"}}},
                     schemas=[CORE_USER, ENTERPRISE_USER])
    created = client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    read = client.get(f"/Users/{created.json()['id']}").json()
    assert read[ENTERPRISE_USER]["manager"]["value"] == "104231"
