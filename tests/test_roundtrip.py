"""What a server kept of what it was sent (scimcert.roundtrip): each rule of RFC 7643 it reads by."""

from __future__ import annotations

import pytest

from scimcert.roundtrip import changed

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SENT = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE], "userName": "Ada.L@example.com",
    "name": {"givenName": "Ada", "familyName": "Lovelace"}, "displayName": "Ada Lovelace", "locale": "en-GB",
    "password": "secret", "groups": [], "roles": [], "nickName": None, "externalId": "00u1",
    "emails": [{"value": "Ada.L@example.com", "type": "work", "primary": True}],
    "phoneNumbers": [{"value": "+44 20 7946 0958", "type": "work"}],
    "addresses": [{"type": "work", "locality": "London"}],
    ENTERPRISE: {"department": "Engines", "manager": {"value": "m1", "displayName": "Babbage"}},
}


def test_a_faithful_answer_changes_nothing():
    got = {**SENT, "id": "1", "meta": {"resourceType": "User"}, "password": None, "groups": [{"value": "g"}],
           "userName": "Ada.L@example.com", "emails": [{"value": "ada.l@EXAMPLE.com", "type": "Work", "primary": True}],
           "phoneNumbers": [{"value": "tel:+44-20-7946-0958", "type": "work"}],
           ENTERPRISE: {"department": "Engines", "manager": {"value": "m1", "$ref": "../Users/m1"}}}
    del got["roles"]
    assert changed(SENT, got) == []


def test_attribute_names_are_case_insensitive():
    assert changed({"displayName": "A"}, {"DISPLAYNAME": "A"}) == []


@pytest.mark.parametrize("got, named", [
    ({"displayName": "Ada"}, "displayName: sent 'Ada Lovelace', got 'Ada'"),
    ({"locale": None}, "locale: sent 'en-GB', got (absent)"),
    ({"name": {"givenName": "ada", "familyName": "Lovelace"}}, "name.givenName: sent 'Ada', got 'ada'"),
    ({"emails": [{"value": "Ada.L@example.com", "primary": True}]}, "emails[value 'Ada.L@example.com'].type: sent 'work'"),
    ({"emails": [{"value": "Ada.L@example.com", "type": "work"}]}, "emails[value 'Ada.L@example.com'].primary: sent True"),
    ({"emails": [{"value": "other@example.com", "type": "work"}]}, "emails: the element with value 'Ada.L@example.com' was dropped"),
    ({"addresses": [{"type": "work", "locality": "Paris"}]}, "addresses[type 'work'].locality: sent 'London'"),
    ({ENTERPRISE: {"manager": {"value": "m1"}}}, f"{ENTERPRISE}.department: sent 'Engines'"),
    ({"nickName": "Countess"}, "nickName: sent unassigned (None), got 'Countess'"),
])
def test_each_dropped_or_rewritten_attribute_is_named(got, named):
    found = changed(SENT, {**SENT, **got})
    assert len(found) == 1 and found[0].startswith(named), found


def test_a_replaced_list_keeps_nothing_else():
    sent = {"emails": [{"value": "new@example.com", "type": "work", "primary": True}]}
    got = {"emails": [{"value": "old@example.com", "type": "work", "primary": True},
                      {"value": "new@example.com", "type": "work", "primary": True}]}
    assert changed(sent, got) == []
    assert changed(sent, got, whole=True) == [
        "emails: replaced, yet the element with value 'old@example.com' is still there"]


def test_what_a_write_sets():
    from scimcert.roundtrip import written

    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "value": {"name.givenName": "Ada", f"{ENTERPRISE}:department": "R&D",
                                   "emails": [{"value": "a@example.com", "primary": True}]}},
        {"op": "Add", "path": "title", "value": "Lead"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "b@example.com"},
        {"op": "remove", "path": "nickName"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "A"},
    ]}
    replaced, added = written("PATCH", body)
    assert replaced == {"name": {"givenName": "Ada"}, ENTERPRISE: {"department": "R&D"},
                        "emails": [{"value": "a@example.com", "primary": True}], "displayName": "A"}
    assert added == {"title": "Lead"}
    assert written("PUT", {"userName": "u", ENTERPRISE: {"department": "x"}}) == (
        {"userName": "u", ENTERPRISE: {"department": "x"}}, {})
