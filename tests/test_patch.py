"""Unit and property tests of the reference server's PATCH (RFC 7644 §3.5.2, plus Okta and Entra shapes)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimcert.reference.attributes import CORE_USER, ENTERPRISE_USER
from scimcert.reference.errors import ScimError
from scimcert.reference.patch import PATCH_OP, apply_patch

EXT = ENTERPRISE_USER


def base_user() -> dict:
    return {
        "id": "2819c223",
        "schemas": [CORE_USER],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "version": 'W/"1"'},
        "userName": "alice@example.com",
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "active": True,
        "title": "Engineer",
        "emails": [{"value": "alice@example.com", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0199", "type": "mobile"}],
    }


def patch(user: dict, *operations: object) -> dict:
    return apply_patch(user, {"schemas": [PATCH_OP], "Operations": list(operations)})


def error_of(user: dict, *operations: object) -> ScimError:
    with pytest.raises(ScimError) as caught:
        patch(user, *operations)
    return caught.value


# ---------------------------------------------------------------------------------------------
# The request envelope (RFC 7644 §3.5.2)

BAD_BODIES = [
    None,
    [],
    "patch",
    {},
    {"Operations": [{"op": "replace", "path": "title", "value": "x"}]},
    {"schemas": PATCH_OP, "Operations": [{"op": "replace", "path": "title", "value": "x"}]},
    {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Operations": [{"op": "add", "value": {}}]},
    {"schemas": [PATCH_OP]},
    {"schemas": [PATCH_OP], "Operations": []},
    {"schemas": [PATCH_OP], "Operations": {"op": "replace", "path": "title", "value": "x"}},
    {"schemas": [PATCH_OP], "Operations": ["replace"]},
    {"schemas": [PATCH_OP], "Operations": [{"path": "title", "value": "x"}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "move", "path": "title", "value": "x"}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": "copy", "from": "title", "path": "displayName"}]},
    {"schemas": [PATCH_OP], "Operations": [{"op": 1, "path": "title", "value": "x"}]},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_malformed_bodies_are_400_invalid_syntax(body: object) -> None:
    with pytest.raises(ScimError) as caught:
        apply_patch(base_user(), body)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidSyntax")


def test_envelope_member_names_and_urn_are_case_insensitive() -> None:
    body = {"SCHEMAS": [PATCH_OP.upper()], "operations": [{"OP": "REPLACE", "Path": "title", "Value": "Boss"}]}
    assert apply_patch(base_user(), body)["title"] == "Boss"


# ---------------------------------------------------------------------------------------------
# Entra shapes: Microsoft Learn's SCIM tutorial and SCIM compatibility page
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
# Okta shapes: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/ (the deactivation body;
# the profile-update and password-sync PATCH bodies are unpublished and inferred from it)


@pytest.mark.parametrize("op", ["Add", "Replace", "add", "replace", "ADD", "rEpLaCe"])
def test_e1_op_names_are_case_insensitive(op: str) -> None:
    assert patch(base_user(), {"op": op, "path": "title", "value": "CTO"})["title"] == "CTO"


@pytest.mark.parametrize("op", ["Remove", "remove", "REMOVE"])
def test_e1_remove_in_any_case(op: str) -> None:
    assert "title" not in patch(base_user(), {"op": op, "path": "title"})


def test_entra_tutorial_example_1() -> None:
    result = patch(
        base_user(),
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    )
    assert result["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}]
    assert result["name"] == {"givenName": "Alice", "familyName": "updatedFamilyName"}


def test_entra_tutorial_example_2_username() -> None:
    result = patch(base_user(), {"op": "Replace", "path": "userName", "value": "5b50642d@testuser.com"})
    assert result["userName"] == "5b50642d@testuser.com"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("False", False), ("True", True), ("false", False), (" TRUE ", True), (False, False), (True, True)],
)
def test_e2_active_as_string_or_boolean(sent: object, stored: bool) -> None:
    assert patch(base_user(), {"op": "Replace", "path": "active", "value": sent})["active"] is stored
    assert patch(base_user(), {"op": "replace", "value": {"active": sent}})["active"] is stored


E4_CASES = [
    # path, value, the resulting attribute
    ('emails[type eq "work"].value', "new@example.com",
     ("emails", [{"value": "new@example.com", "type": "work", "primary": True}])),
    ('emails[type eq "home"].value', "home@example.org",
     ("emails", [{"value": "alice@example.com", "type": "work", "primary": True},
                 {"type": "home", "value": "home@example.org"}])),
    ('phoneNumbers[type eq "mobile"].value', "+1 555 0000",
     ("phoneNumbers", [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0000", "type": "mobile"}])),
    ('phoneNumbers[type eq "fax"].value', "+1 555 0001",
     ("phoneNumbers", [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0199", "type": "mobile"},
                       {"type": "fax", "value": "+1 555 0001"}])),
    ('addresses[type eq "work"].streetAddress', "1 Main St",
     ("addresses", [{"type": "work", "streetAddress": "1 Main St"}])),
    ('addresses[type eq "work"].locality', "Paris", ("addresses", [{"type": "work", "locality": "Paris"}])),
    ('emails[type eq "work" and primary eq true].display', "Alice",
     ("emails", [{"value": "alice@example.com", "type": "work", "primary": True, "display": "Alice"}])),
    ('emails[type eq "WORK"].value', "case@example.com",
     ("emails", [{"value": "case@example.com", "type": "work", "primary": True}])),
]


@pytest.mark.parametrize(("path", "value", "expected"), E4_CASES)
@pytest.mark.parametrize("op", ["Replace", "Add"])
def test_e4_value_filter_paths_update_or_create(op: str, path: str, value: str, expected: tuple) -> None:
    attribute, elements = expected
    assert patch(base_user(), {"op": op, "path": path, "value": value})[attribute] == elements


def test_e4_value_filter_updates_every_match() -> None:
    user = base_user()
    user["emails"].append({"value": "alice@work2.example.com", "type": "work"})
    result = patch(user, {"op": "replace", "path": 'emails[type eq "work"].display', "value": "W"})
    assert [e.get("display") for e in result["emails"]] == ["W", "W"]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "701984", {"employeeNumber": "701984"}),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "R&D", {"department": "R&D"}),
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:costCenter", "4130", {"costCenter": "4130"}),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "m-1", {"manager": {"value": "m-1"}}),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "m-2", {"manager": {"value": "m-2"}}),
        ("department", "Sales", {"department": "Sales"}),
    ],
)
@pytest.mark.parametrize("op", ["Add", "Replace"])
def test_e5_enterprise_urn_paths(op: str, path: str, value: str, expected: dict) -> None:
    assert patch(base_user(), {"op": op, "path": path, "value": value})[EXT] == expected


def test_e6_pathless_replace_with_dotted_and_urn_keys() -> None:
    result = patch(base_user(), {"op": "replace", "value": {
        "displayName": "Bjfe",
        "name.givenName": "Kkom",
        "name.familyName": "Unua",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
    }})
    assert result["displayName"] == "Bjfe"
    assert result["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert result[EXT] == {"employeeNumber": "Aklq"}


def test_entra_add_single_valued_attribute_sets_it() -> None:
    assert patch(base_user(), {"op": "Add", "path": "nickName", "value": "Babs"})["nickName"] == "Babs"
    assert patch(base_user(), {"op": "Add", "path": "title", "value": "CTO"})["title"] == "CTO"


@pytest.mark.parametrize("active", [False, True])
def test_okta_deactivate_and_reactivate(active: bool) -> None:
    user = base_user()
    user["active"] = not active
    assert patch(user, {"op": "replace", "value": {"active": active}})["active"] is active


def test_okta_password_sync() -> None:
    assert patch(base_user(), {"op": "replace", "value": {"password": "n3w-Passw0rd"}})["password"] == "n3w-Passw0rd"


# ---------------------------------------------------------------------------------------------
# Path-less add / replace (RFC 7644 §3.5.2.1, §3.5.2.3)

PATHLESS = [
    # op, value, key, expected value under key (None: absent)
    ("replace", {"title": "CTO"}, "title", "CTO"),
    ("replace", {"TITLE": "CTO"}, "title", "CTO"),
    ("replace", {"name": {"givenName": "Al"}}, "name", {"givenName": "Al", "familyName": "Smith"}),
    ("replace", {"NAME.GIVENNAME": "Al"}, "name", {"givenName": "Al", "familyName": "Smith"}),
    ("add", {"name": {"middleName": "B"}}, "name", {"givenName": "Alice", "familyName": "Smith", "middleName": "B"}),
    ("add", {"emails": [{"value": "b@d.com", "type": "home"}]}, "emails",
     [{"value": "alice@example.com", "type": "work", "primary": True}, {"value": "b@d.com", "type": "home"}]),
    ("add", {"emails": {"value": "b@d.com", "type": "home"}}, "emails",
     [{"value": "alice@example.com", "type": "work", "primary": True}, {"value": "b@d.com", "type": "home"}]),
    ("add", {"emails": [{"value": "alice@example.com", "type": "work", "primary": True}]}, "emails",
     [{"value": "alice@example.com", "type": "work", "primary": True}]),
    ("replace", {"emails": [{"value": "b@d.com", "type": "home"}]}, "emails", [{"value": "b@d.com", "type": "home"}]),
    ("replace", {"title": ""}, "title", None),
    ("replace", {"title": None}, "title", None),
    ("replace", {"emails": []}, "emails", None),
    ("add", {"emails": []}, "emails", [{"value": "alice@example.com", "type": "work", "primary": True}]),
    ("replace", {EXT: {"department": "x"}}, EXT, {"department": "x"}),
    ("replace", {EXT.upper(): {"DEPARTMENT": "x"}}, EXT, {"department": "x"}),
    ("replace", {"urn:scim:schemas:extension:enterprise:2.0": {"division": "d"}}, EXT, {"division": "d"}),
    ("replace", {CORE_USER: {"title": "CTO", "name.givenName": "Al"}}, "title", "CTO"),
    ("replace", {"urn:ietf:params:scim:schemas:core:2.0:User:title": "CTO"}, "title", "CTO"),
    ("replace", {"externalId": "ext-9"}, "externalId", "ext-9"),
    ("replace", {"roles": [{"value": "admin"}]}, "roles", [{"value": "admin"}]),
    # readOnly and unknown keys are ignored (IdPs send them)
    ("replace", {"id": "2819c223", "title": "CTO"}, "id", "2819c223"),  # the user's own id: an echo
    ("replace", {"meta": {"created": "1999-01-01T00:00:00Z"}}, "meta",
     {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "version": 'W/"1"'}),
    ("replace", {"schemas": ["urn:x"]}, "schemas", [CORE_USER]),
    ("add", {"groups": [{"value": "g1"}]}, "groups", None),
    ("replace", {"noSuchAttr": 1, "urn:example:custom:x": 2, "emails[": 3}, "noSuchAttr", None),
    ("replace", {"meta.created": "1999-01-01T00:00:00Z", "title": "CTO"}, "title", "CTO"),
]


@pytest.mark.parametrize(("op", "value", "key", "expected"), PATHLESS)
def test_pathless(op: str, value: dict, key: str, expected: object) -> None:
    assert patch(base_user(), {"op": op, "value": value}).get(key) == expected


@pytest.mark.parametrize("op", ["replace", "add", "Replace"])
def test_pathless_other_id_is_refused_like_path_id(op: str) -> None:
    """Another id in a path-less value is an attempt to change a readOnly attribute: 400 mutability, as with
    `path: "id"` (RFC 7644 §3.5.2: a client «MUST NOT modify an attribute that has mutability "readOnly"»)."""
    with_path = error_of(base_user(), {"op": op, "path": "id", "value": "other"})
    without_path = error_of(base_user(), {"op": op, "value": {"id": "other", "title": "CTO"}})
    assert (without_path.status, without_path.scim_type) == (with_path.status, with_path.scim_type) == (400, "mutability")


def test_pathless_core_urn_block_applies_every_key() -> None:
    result = patch(base_user(), {"op": "replace", "value": {CORE_USER: {"title": "CTO", "name.givenName": "Al"}}})
    assert (result["title"], result["name"]["givenName"]) == ("CTO", "Al")


# ---------------------------------------------------------------------------------------------
# Manager: object, string and array forms; set, merge, clear

MANAGER_SET = [
    ({"value": "m-1"}, {"value": "m-1"}),
    ({"value": "m-1", "$ref": "https://sp/Users/m-1"}, {"value": "m-1", "$ref": "https://sp/Users/m-1"}),
    ("m-1", {"value": "m-1"}),
    ([{"$ref": "https://sp/Users/m-1", "value": "m-1"}], {"$ref": "https://sp/Users/m-1", "value": "m-1"}),
    ({"value": "m-1", "displayName": "The Boss"}, {"value": "m-1"}),  # displayName is readOnly
    ({"VALUE": "m-1", "unknown": 1}, {"value": "m-1"}),
]


@pytest.mark.parametrize(("sent", "stored"), MANAGER_SET)
@pytest.mark.parametrize("path", ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "manager"])
def test_manager_set_with_path(path: str, sent: object, stored: dict) -> None:
    assert patch(base_user(), {"op": "Add", "path": path, "value": sent})[EXT]["manager"] == stored


@pytest.mark.parametrize(("sent", "stored"), MANAGER_SET)
def test_manager_set_pathless(sent: object, stored: dict) -> None:
    key = f"{EXT}:manager"
    assert patch(base_user(), {"op": "replace", "value": {key: sent}})[EXT]["manager"] == stored
    assert patch(base_user(), {"op": "replace", "value": {EXT: {"manager": sent}}})[EXT]["manager"] == stored


def with_manager() -> dict:
    user = base_user()
    user[EXT] = {"department": "R&D", "manager": {"value": "m-old", "$ref": "https://sp/Users/m-old"}}
    return user


def test_manager_replace_merges_sub_attributes() -> None:
    result = patch(with_manager(), {"op": "replace", "path": f"{EXT}:manager", "value": {"value": "m-new"}})
    assert result[EXT]["manager"] == {"value": "m-new", "$ref": "https://sp/Users/m-old"}


@pytest.mark.parametrize("cleared", [{"value": ""}, "", None, [], {}, [{"value": ""}]])
@pytest.mark.parametrize("op", ["replace", "Add"])
def test_manager_cleared_by_unassigned_value(op: str, cleared: object) -> None:
    result = patch(with_manager(), {"op": op, "path": f"{EXT}:manager", "value": cleared})
    assert result[EXT] == {"department": "R&D"}
    result = patch(with_manager(), {"op": op, "value": {f"{EXT}:manager": cleared}})
    assert result[EXT] == {"department": "R&D"}


def test_manager_removed() -> None:
    assert patch(with_manager(), {"op": "remove", "path": f"{EXT}:manager"})[EXT] == {"department": "R&D"}
    assert patch(with_manager(), {"op": "remove", "path": f"{EXT}:manager.value"})[EXT]["manager"] == {
        "$ref": "https://sp/Users/m-old"}


def test_emptied_extension_is_dropped() -> None:
    user = base_user()
    user[EXT] = {"manager": {"value": "m"}}
    assert EXT not in patch(user, {"op": "replace", "path": f"{EXT}:manager", "value": {"value": ""}})
    assert EXT not in patch(base_user(), {"op": "remove", "path": f"{EXT}:department"})


# ---------------------------------------------------------------------------------------------
# Paths: whole attributes, sub-attributes, value filters

WITH_PATH = [
    ("replace", "title", "CTO", "title", "CTO"),
    ("replace", "nickName", "Al", "nickName", "Al"),  # absent: «treat the operation as an "add"»
    ("replace", "name", {"givenName": "Al"}, "name", {"givenName": "Al", "familyName": "Smith"}),
    ("add", "name", {"honorificPrefix": "Dr"}, "name", {"givenName": "Alice", "familyName": "Smith", "honorificPrefix": "Dr"}),
    ("replace", "name.givenName", "Al", "name", {"givenName": "Al", "familyName": "Smith"}),
    ("replace", "name.givenName", "", "name", {"familyName": "Smith"}),
    ("add", "emails", [{"value": "b@d.com"}], "emails",
     [{"value": "alice@example.com", "type": "work", "primary": True}, {"value": "b@d.com"}]),
    ("add", "emails", "b@d.com", "emails",
     [{"value": "alice@example.com", "type": "work", "primary": True}, {"value": "b@d.com"}]),
    ("replace", "emails", [{"value": "b@d.com"}], "emails", [{"value": "b@d.com"}]),
    ("replace", "emails", None, "emails", None),
    ("replace", "emails.type", "other", "emails", [{"value": "alice@example.com", "type": "other", "primary": True}]),
    ("replace", 'phoneNumbers[type eq "mobile"]', {"value": "+33 1", "display": "cell"}, "phoneNumbers",
     [{"value": "+1 555 0100", "type": "work"}, {"value": "+33 1", "type": "mobile", "display": "cell"}]),
    ("replace", 'phoneNumbers[type eq "pager"]', {"value": "+33 2"}, "phoneNumbers",
     [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0199", "type": "mobile"},
      {"type": "pager", "value": "+33 2"}]),
    ("replace", 'phoneNumbers[type eq "mobile"]', None, "phoneNumbers", [{"value": "+1 555 0100", "type": "work"}]),
    ("replace", 'phoneNumbers[type eq "mobile"].value', "", "phoneNumbers",
     [{"value": "+1 555 0100", "type": "work"}, {"type": "mobile"}]),
    ("replace", "active", "false", "active", False),
    ("replace", "password", "pw", "password", "pw"),
    ("replace", "externalId", "e-1", "externalId", "e-1"),
    ("replace", "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:TITLE", "CTO", "title", "CTO"),
]


@pytest.mark.parametrize(("op", "path", "value", "key", "expected"), WITH_PATH)
def test_with_path(op: str, path: str, value: object, key: str, expected: object) -> None:
    assert patch(base_user(), {"op": op, "path": path, "value": value}).get(key) == expected


# ---------------------------------------------------------------------------------------------
# Remove (RFC 7644 §3.5.2.2)

REMOVE = [
    ("title", None, "title", None),
    ("nickName", None, "nickName", None),  # absent: no error
    ("name.givenName", None, "name", {"familyName": "Smith"}),
    ("name.middleName", None, "name", {"givenName": "Alice", "familyName": "Smith"}),
    ("emails", None, "emails", None),
    ('phoneNumbers[type eq "mobile"]', None, "phoneNumbers", [{"value": "+1 555 0100", "type": "work"}]),
    ('phoneNumbers[type eq "fax"]', None, "phoneNumbers",
     [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0199", "type": "mobile"}]),
    ('phoneNumbers[type eq "work" or type eq "mobile"]', None, "phoneNumbers", None),
    ('emails[type eq "work"]', None, "emails", None),  # the last value: the attribute becomes unassigned
    ('phoneNumbers[type eq "mobile"].value', None, "phoneNumbers",
     [{"value": "+1 555 0100", "type": "work"}, {"type": "mobile"}]),
    ("phoneNumbers.type", None, "phoneNumbers", [{"value": "+1 555 0100"}, {"value": "+1 555 0199"}]),
    ("emails.primary", None, "emails", [{"value": "alice@example.com", "type": "work"}]),
    ("phoneNumbers", [{"value": "+1 555 0199"}], "phoneNumbers", [{"value": "+1 555 0100", "type": "work"}]),
    ("phoneNumbers", {"value": "+1 555 0199"}, "phoneNumbers", [{"value": "+1 555 0100", "type": "work"}]),
    ("phoneNumbers", [{"value": "+1 555 0100"}, {"value": "+1 555 0199"}], "phoneNumbers", None),
    ("phoneNumbers", [{"value": "nope"}], "phoneNumbers",
     [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0199", "type": "mobile"}]),
    ("title", "ignored on a single-valued attribute", "title", None),
    (f"{EXT}:department", None, EXT, None),
    ("password", None, "password", None),
]


@pytest.mark.parametrize(("path", "value", "key", "expected"), REMOVE)
def test_remove(path: str, value: object, key: str, expected: object) -> None:
    operation = {"op": "remove", "path": path} if value is None else {"op": "remove", "path": path, "value": value}
    assert patch(base_user(), operation).get(key) == expected


def test_remove_is_idempotent() -> None:
    once = patch(base_user(), {"op": "remove", "path": 'emails[type eq "work"]'})
    assert patch(once, {"op": "remove", "path": 'emails[type eq "work"]'}) == once


@pytest.mark.parametrize("operation", [
    {"op": "add", "path": "emails", "value": [{"value": "alice@example.com", "type": "work", "primary": True}]},
    {"op": "add", "path": "emails", "value": {"value": "alice@example.com", "type": "work", "primary": True}},
    {"op": "add", "path": "phoneNumbers", "value": [{"value": "+1 555 0199", "type": "mobile"}]},
    {"op": "add", "value": {"emails": [{"value": "alice@example.com", "type": "work", "primary": True}]}},
    {"op": "add", "path": "title", "value": "Engineer"},
], ids=["emails", "emails-object", "second-element", "path-less", "single-valued"])
def test_add_of_a_value_already_there_changes_nothing(operation: dict) -> None:
    """RFC 7644 §3.5.2.1: «If the target location already contains the value specified, no changes SHOULD be
    made to the resource»: an element already there is not added twice, and its primary stays."""
    assert patch(base_user(), operation) == base_user()


def test_value_filter_that_cannot_describe_an_element_is_no_target() -> None:
    """RFC 7644 §3.5.2.3: a value filter with «no record match» is 400 noTarget, unless (as Entra expects) its
    eq terms describe the element to create."""
    error = error_of(base_user(), {"op": "replace", "path": 'emails[type ne "work"].value', "value": "x@d.com"})
    assert (error.status, error.scim_type) == (400, "noTarget")


# ---------------------------------------------------------------------------------------------
# "primary" at most once (RFC 7644 §3.5.2, RFC 7643 §2.4)


def primaries(user: dict, attribute: str = "emails") -> list:
    return [e.get("primary") for e in user[attribute]]


def test_added_primary_clears_the_old_one() -> None:
    result = patch(base_user(), {"op": "add", "path": "emails", "value": [{"value": "b@d.com", "primary": True}]})
    assert primaries(result) == [False, True]


def test_primary_set_through_a_value_filter_wins() -> None:
    user = patch(base_user(), {"op": "add", "path": "emails", "value": [{"value": "b@d.com", "type": "home"}]})
    result = patch(user, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})
    assert primaries(result) == [False, True]


def test_replaced_list_keeps_its_last_primary() -> None:
    value = [{"value": "a@d.com", "primary": True}, {"value": "b@d.com", "primary": "True"}, {"value": "c@d.com"}]
    assert primaries(patch(base_user(), {"op": "replace", "path": "emails", "value": value})) == [False, True, None]


def test_created_element_with_primary_wins() -> None:
    result = patch(base_user(), {"op": "add", "path": 'emails[type eq "home" and primary eq true].value', "value": "h@d.com"})
    assert result["emails"][1] == {"type": "home", "primary": True, "value": "h@d.com"}
    assert primaries(result) == [False, True]


def test_single_primary_untouched() -> None:
    result = patch(base_user(), {"op": "add", "path": "emails", "value": [{"value": "b@d.com", "primary": False}]})
    assert primaries(result) == [True, False]


# ---------------------------------------------------------------------------------------------
# Order, atomicity, and what is left alone


def test_operations_apply_in_order() -> None:
    result = patch(
        base_user(),
        {"op": "replace", "path": "title", "value": "A"},
        {"op": "replace", "path": "title", "value": "B"},
        {"op": "add", "path": "nickName", "value": "N"},
        {"op": "remove", "path": "nickName"},
        {"op": "add", "path": 'emails[type eq "home"].value', "value": "h@d.com"},
        {"op": "replace", "path": 'emails[type eq "home"].display', "value": "Home"},
    )
    assert result["title"] == "B"
    assert "nickName" not in result
    assert result["emails"][1] == {"type": "home", "value": "h@d.com", "display": "Home"}


def test_a_failing_operation_changes_nothing() -> None:
    user = base_user()
    snapshot = copy.deepcopy(user)
    error = error_of(
        user,
        {"op": "replace", "path": "title", "value": "X"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "active", "value": "maybe"},
    )
    assert (error.status, error.scim_type) == (400, "invalidValue")
    assert "Operation 3" in error.detail
    assert user == snapshot


def test_input_is_never_mutated() -> None:
    user = with_manager()
    snapshot = copy.deepcopy(user)
    result = patch(
        user,
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "n@d.com"},
        {"op": "replace", "path": "name.givenName", "value": "Al"},
        {"op": "remove", "path": f"{EXT}:manager.value"},
    )
    assert user == snapshot
    assert result != snapshot


def test_id_meta_schemas_untouched() -> None:
    result = patch(base_user(), {"op": "replace", "value": {"id": "2819c223", "meta": {}, "schemas": [], "title": "T"}})
    assert {k: result[k] for k in ("id", "meta", "schemas")} == {k: base_user()[k] for k in ("id", "meta", "schemas")}


# ---------------------------------------------------------------------------------------------
# Errors and their scimType

ERRORS = [
    ({"op": "remove"}, "noTarget"),
    ({"op": "remove", "path": None}, "noTarget"),
    ({"op": "add", "path": "title"}, "invalidValue"),
    ({"op": "replace"}, "invalidValue"),
    ({"op": "replace", "value": "CTO"}, "invalidValue"),
    ({"op": "replace", "value": ["title", "CTO"]}, "invalidValue"),
    ({"op": "replace", "value": {EXT: "x"}}, "invalidValue"),
    ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
    ({"op": "replace", "path": "title", "value": {"a": 1}}, "invalidValue"),
    ({"op": "replace", "path": "name", "value": 5}, "invalidValue"),
    ({"op": "replace", "path": "emails", "value": [True]}, "invalidValue"),
    ({"op": "replace", "path": 'emails[type eq "work"]', "value": [{"value": "a"}, {"value": "b"}]}, "invalidValue"),
    ({"op": "replace", "path": "noSuchAttr", "value": "x"}, "invalidPath"),
    ({"op": "remove", "path": "noSuchAttr"}, "invalidPath"),
    ({"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": 5, "value": "x"}, "invalidPath"),
    ({"op": "remove", "path": ["title"]}, "invalidPath"),
    ({"op": "replace", "path": "name.noSuchSub", "value": "x"}, "invalidPath"),
    ({"op": "add", "path": 'members[value eq "u1"]', "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
    ({"op": "remove", "path": "id"}, "mutability"),
    ({"op": "replace", "path": "meta", "value": {}}, "mutability"),
    ({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}, "mutability"),
    ({"op": "replace", "path": "schemas", "value": [CORE_USER]}, "mutability"),
    ({"op": "add", "path": "groups", "value": [{"value": "g"}]}, "mutability"),
    ({"op": "add", "path": f"{EXT}:manager.displayName", "value": "Boss"}, "mutability"),
    ({"op": "remove", "path": "userName"}, "mutability"),
    ({"op": "replace", "path": "userName", "value": ""}, "mutability"),
    ({"op": "replace", "path": "userName", "value": None}, "mutability"),
    ({"op": "replace", "value": {"userName": ""}}, "mutability"),
    # RFC 7644 §3.5.2.3: «no record match was made» → noTarget, when no element can be made from the filter
    ({"op": "replace", "path": 'emails[value co "@nowhere"].type', "value": "x"}, "noTarget"),
    ({"op": "replace", "path": 'emails[type eq "a" or type eq "b"].value', "value": "x"}, "noTarget"),
    ({"op": "replace", "path": 'emails[not (type eq "work")].value', "value": "x"}, "noTarget"),
    ({"op": "replace", "path": 'emails[type eq "a" and type eq "b"].value', "value": "x"}, "noTarget"),
    ({"op": "add", "path": 'emails[value pr and type eq "home"]', "value": {"display": "x"}}, "noTarget"),
]


@pytest.mark.parametrize(("operation", "scim_type"), ERRORS)
def test_errors(operation: dict, scim_type: str) -> None:
    error = error_of(base_user(), operation)
    assert (error.status, error.scim_type) == (400, scim_type)
    assert error.detail.startswith("Operation 1: ")


# ---------------------------------------------------------------------------------------------
# Properties: any JSON body gives a dict or a 400, and never touches the input

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
PATH_SAMPLES = [
    "title", "name", "name.givenName", "emails", 'emails[type eq "work"]', 'emails[type eq "work"].value',
    'emails[value co "x"].primary', "emails.primary", 'addresses[type eq "home"].locality', "phoneNumbers",
    "active", "userName", "id", "meta.created", "groups", "password", "manager", f"{EXT}:manager.value",
    f"{EXT}:department", "noSuchAttr", "emails[", "",
]
operations = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "Add", "replace", "Replace", "remove", "move"]) | json_values},
    optional={
        "path": st.sampled_from(PATH_SAMPLES) | json_values,
        "value": json_values
        | st.dictionaries(st.sampled_from(["title", "name.givenName", "emails", "active", "id", EXT,
                                           f"{EXT}:manager", "userName"]), json_values, max_size=3),
    },
)
bodies = st.fixed_dictionaries(
    {"schemas": st.just([PATCH_OP]), "Operations": st.lists(operations, min_size=1, max_size=4)}
) | json_values


def _apply_or_400(body: object) -> None:
    user = with_manager()
    snapshot = copy.deepcopy(user)
    try:
        assert isinstance(apply_patch(user, body), dict)
    except ScimError as error:
        assert error.status == 400
        assert error.scim_type in {"invalidSyntax", "invalidValue", "invalidPath", "noTarget", "mutability"}
    assert user == snapshot


@settings(max_examples=200, deadline=None)
@given(bodies)
def test_any_body_gives_a_user_or_a_400(body: object) -> None:
    _apply_or_400(body)


@settings(max_examples=200, deadline=None)
@given(st.lists(operations, min_size=1, max_size=4))
def test_any_operations_give_a_user_or_a_400(ops: list) -> None:
    _apply_or_400({"schemas": [PATCH_OP], "Operations": ops})
