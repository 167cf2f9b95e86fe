"""Response validation (scimcert.validation): the RFC 7643/7644 JSON Schemas of schemas/scim/, the IdP
overlays of schemas/idp/, valid bodies (RFC and IdP examples, the reference server's real responses)
and invalid ones, each failing at the right JSON pointer.
"""

from __future__ import annotations

import copy
import json
import re

import httpx
import pytest
from helpers import scim_client, unique_user_name
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from scimcert.paths import SCHEMAS
from scimcert.reference import ReferenceServer
from scimcert.schemas import errors, registry, validator
from scimcert.validation import IDPS, KINDS, Violation, overlay_for, pointer, validate

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
EVERY_IDP = [None, *IDPS]

OUR_SCHEMAS = sorted(p.relative_to(SCHEMAS).as_posix() for d in ("scim", "idp") for p in (SCHEMAS / d).glob("*.json"))

# The 201 body Okta expects after its POST /Users (Okta SCIM 2.0 guide):
# https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
OKTA_USER = {
    "schemas": [CORE_USER],
    "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "active": True,
    "groups": [],
    "meta": {"resourceType": "User"},
}

# RFC 7643 §8.1: the minimal User representation.
RFC_MINIMAL_USER = {
    "schemas": [CORE_USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "userName": "bjensen@example.com",
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W/"3694e05e9dff590"',
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
    },
}

# After RFC 7643 §8.2/§8.3 (full User with the enterprise extension), as a response: no password.
RFC_FULL_USER = {
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
             "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True},
               {"value": "babs@jensen.org", "type": "home"}],
    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                   "region": "CA", "postalCode": "91608", "country": "US", "primary": True}],
    "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
    "userType": "Employee",
    "title": "Tour Guide",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a",
                "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
                "display": "Tour Guides"}],
    "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
    ENTERPRISE_USER: {
        "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
        "division": "Theme Park", "department": "Tour Operations",
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                    "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"},
    },
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": "2011-05-13T04:42:34Z",
        "version": 'W/"3694e05e9dff591"',
        "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
    },
}

# RFC 7644 §3.4.2: the example answer of GET /Users?attributes=userName.
RFC_LIST_RESPONSE = {
    "schemas": [LIST_RESPONSE],
    "totalResults": 2,
    "Resources": [
        {"id": "2819c223-7f76-453a-919d-413861904646", "userName": "bjensen"},
        {"id": "c75ad752-64ae-4823-840d-ffa80929976c", "userName": "jsmith"},
    ],
}

# RFC 7644 §3.12: the example Error of a PUT on a readOnly attribute.
RFC_ERROR = {"schemas": [ERROR], "scimType": "mutability", "detail": "Attribute 'id' is readOnly", "status": "400"}

# After RFC 7643 §8.5: a ServiceProviderConfig.
RFC_SPC = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
    "documentationUri": "http://example.com/help/scim.html",
    "patch": {"supported": True},
    "bulk": {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576},
    "filter": {"supported": True, "maxResults": 200},
    "changePassword": {"supported": True},
    "sort": {"supported": True},
    "etag": {"supported": True},
    "authenticationSchemes": [
        {"name": "OAuth Bearer Token", "description": "Authentication scheme using the OAuth Bearer Token Standard",
         "specUri": "http://www.rfc-editor.org/info/rfc6750", "documentationUri": "http://example.com/help/oauth.html",
         "type": "oauthbearertoken", "primary": True},
        {"name": "HTTP Basic", "description": "Authentication scheme using the HTTP Basic Standard",
         "specUri": "http://www.rfc-editor.org/info/rfc2617", "documentationUri": "http://example.com/help/httpBasic.html",
         "type": "httpbasic"},
    ],
    "meta": {"location": "https://example.com/v2/ServiceProviderConfig", "resourceType": "ServiceProviderConfig",
             "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z",
             "version": 'W/"3694e05e9dff594"'},
}


def user_list(*users: dict, **envelope) -> dict:
    body = {"schemas": [LIST_RESPONSE], "totalResults": len(users), "startIndex": 1, "itemsPerPage": len(users),
            "Resources": [copy.deepcopy(u) for u in users]}
    body.update(envelope)
    return body


def pointers(violations: list[Violation]) -> list[str]:
    return [v.pointer for v in violations]


def only(violations: list[Violation]) -> Violation:
    assert len(violations) == 1, [str(v) for v in violations]
    return violations[0]


# ---------------------------------------------------------------------------------------------
# The schemas themselves


@pytest.mark.parametrize("name", OUR_SCHEMAS)
def test_every_schema_is_a_valid_draft_2020_12_schema(name):
    schema = registry().contents(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://scimcert.dev/schemas/{name}"
    assert schema["title"] and schema["description"]
    assert re.search(r"RFC 764[34]|okta\.md|onelogin-entra\.md", schema["description"]), "cite the source"


def test_schema_ids_are_unique():
    ids = [json.loads(p.read_text("utf-8"))["$id"] for p in SCHEMAS.rglob("*.json")]
    assert len(ids) == len(set(ids))


def test_relative_refs_resolve_through_the_registry():
    resolver = registry().resolver("https://scimcert.dev/schemas/scim/user-list-response.json")
    assert resolver.lookup("user.json").contents["$id"] == "https://scimcert.dev/schemas/scim/user.json"
    assert resolver.lookup("list-response.json#/properties/totalResults").contents["type"] == "integer"
    assert registry().contents("scim/user.json") is registry().contents("https://scimcert.dev/schemas/scim/user.json")


def test_validators_are_cached_and_overlays_are_addressed_by_fragment():
    assert validator("scim/user.json") is validator("scim/user.json")
    assert overlay_for("user", "okta") == "idp/okta.json#/$defs/user"
    assert overlay_for("service-provider-config", "okta") is None
    assert validator("idp/okta.json#/$defs/user").is_valid(OKTA_USER)
    assert not validator("idp/okta.json#/$defs/user").is_valid({"id": ""})


def test_every_overlay_covers_user_and_user_list():
    for idp in IDPS:
        assert overlay_for("user", idp) and overlay_for("user-list", idp)


def test_the_tenant_loader_functions_still_work():
    assert errors("tenant.schema.json", {"organization": "x", "domains": ["example.com"],
                                         "tokens": [{"name": "a", "token": "t" * 16, "status": "active"}]}) == []
    assert errors("tenant.schema.json", {})


# ---------------------------------------------------------------------------------------------
# Valid bodies


@pytest.mark.parametrize("idp", EVERY_IDP)
def test_okta_expected_user_is_valid(idp):
    assert validate("user", OKTA_USER, idp) == []


@pytest.mark.parametrize("idp", EVERY_IDP)
def test_rfc_full_user_with_enterprise_extension_is_valid(idp):
    assert validate("user", RFC_FULL_USER, idp) == []


@pytest.mark.parametrize("idp", EVERY_IDP)
def test_list_of_valid_users_is_valid(idp):
    assert validate("user-list", user_list(OKTA_USER, RFC_FULL_USER), idp) == []


def test_rfc_minimal_user_is_valid_for_the_rfc_but_not_for_okta_or_entra():
    assert validate("user", RFC_MINIMAL_USER) == []
    assert validate("user", RFC_MINIMAL_USER, "onelogin") == []
    okta = validate("user", RFC_MINIMAL_USER, "okta")
    assert {(v.pointer, v.schema) for v in okta} == {("", "idp/okta.json")}
    assert {v.message for v in okta} == {f"{k!r} is a required property" for k in ("name", "emails", "active")}
    assert [v.message for v in validate("user", RFC_MINIMAL_USER, "entra")] == ["'active' is a required property"]


def test_rfc_list_response_envelope_is_valid():
    assert not validator("scim/list-response.json").is_valid({})
    assert list(validator("scim/list-response.json").iter_errors(RFC_LIST_RESPONSE)) == []


def test_rfc_list_response_example_is_an_attributes_projection_without_schemas():
    """RFC 7644 §3.4.2's example answers `?attributes=userName`, so its Users carry no `schemas`;
    as full User representations (RFC 7643 §3) they lack it, and nothing else."""
    found = validate("user-list", RFC_LIST_RESPONSE)
    assert [(v.pointer, v.message, v.schema) for v in found] == [
        ("/Resources/0", "'schemas' is a required property", "scim/user.json"),
        ("/Resources/1", "'schemas' is a required property", "scim/user.json"),
    ]


@pytest.mark.parametrize("idp", EVERY_IDP)
@pytest.mark.parametrize("body", [
    # OneLogin's connection probe answer (https://developers.onelogin.com/scim/implement-scim-api).
    {"schemas": [LIST_RESPONSE], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []},
    # Entra's Test Connection answer (Microsoft Learn's SCIM tutorial):
    # https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    {"schemas": [LIST_RESPONSE], "totalResults": 0, "Resources": [], "startIndex": 1, "itemsPerPage": 20},
], ids=["onelogin-probe", "entra-test-connection"])
def test_empty_list_responses_are_valid(body, idp):
    assert validate("user-list", body, idp) == []


def test_count_zero_page_may_omit_resources():
    """RFC 7644 §3.4.2.4: count=0 returns «no resource results … except for "totalResults"»."""
    body = {"schemas": [LIST_RESPONSE], "totalResults": 12, "startIndex": 1, "itemsPerPage": 0}
    assert validate("user-list", body) == []
    assert "/Resources" not in pointers(validate("user-list", body, "okta"))  # Okta wants it, at the root
    assert [v.message for v in validate("user-list", body, "okta")] == ["'Resources' is a required property"]


@pytest.mark.parametrize("idp", EVERY_IDP)
def test_rfc_error_is_valid(idp):
    assert validate("error", RFC_ERROR, idp) == []


def test_rfc_service_provider_config_is_valid():
    assert validate("service-provider-config", RFC_SPC) == []
    assert validate("service-provider-config", RFC_SPC, "okta") == []  # no overlay: the RFC schema only


def test_optional_service_provider_config_uris_may_be_null():
    """RFC 7643 §2.5: null is the unassigned state (django-scim2 sends "documentationUri": null)."""
    spc = copy.deepcopy(RFC_SPC)
    spc["documentationUri"] = None
    spc["authenticationSchemes"][0].update(specUri=None, documentationUri=None)
    assert validate("service-provider-config", spc) == []


@pytest.mark.parametrize("location", ["/scim/v2/Users/2819c223", "Users/2819c223",
                                      "https://example.com/v2/Users/2819c223"])
def test_references_may_be_relative(location):
    """RFC 7643 §2.3.7: a reference «MUST be the absolute or relative URI of the target resource» (SCIMMY
    sends meta.location /scim/v2/Users/<id>)."""
    user = {**OKTA_USER, "profileUrl": "/people/bjensen", "meta": {"resourceType": "User", "location": location}}
    assert validate("user", user) == []


def test_resource_type_without_id_is_valid():
    """RFC 7643 §6: «The "id" attribute is not required for the resource type resource» (OPTIONAL)."""
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "name": "User",
            "endpoint": "/Users", "schema": CORE_USER, "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": True}]}
    assert validate("resource-type", body) == []


# Entra's default deactivation below: Microsoft Learn's SCIM compatibility page,
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
@pytest.mark.parametrize("operations", [
    [{"op": "replace", "value": {"active": False}}],  # Okta's deactivation (Okta SCIM 2.0 guide)
    [{"op": "Replace", "path": "active", "value": "False"}],  # Entra's default (SCIM compatibility page, above)
    [{"op": "Add", "path": 'emails[type eq "work"].value', "value": "a@example.com"},
     {"op": "remove", "path": 'members[value eq "2819c223"]'}],
    [{"op": "REMOVE", "path": "title"}],
])
def test_patch_ops_are_valid(operations):
    assert validate("patch-op", {"schemas": [PATCH_OP], "Operations": operations}) == []


# ---------------------------------------------------------------------------------------------
# The reference server's real responses


@pytest.fixture(scope="module")
def reference():
    with ReferenceServer() as server, scim_client(server) as client:
        created = client.post("/Users", json={
            "schemas": [CORE_USER, ENTERPRISE_USER],
            "userName": unique_user_name(),
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "emails": [{"value": "grace@example.com", "type": "work", "primary": True}],
            "password": "1mz050nq",
            "active": True,
            ENTERPRISE_USER: {"department": "Navy", "employeeNumber": "1906"},
        })
        assert created.status_code == 201, created.text
        yield client, created


def _bodies(client: httpx.Client, created: httpx.Response) -> list[tuple[str, str, int, dict]]:
    user_id = created.json()["id"]
    gets = [
        ("user-list", "/Users"),
        ("user-list", "/Users?startIndex=1&count=2"),
        ("user-list", "/Users?startIndex=101&count=100"),  # past the end (https://github.com/ory/polis/pull/4054)
        ("user-list", '/Users?filter=userName eq "nobody@example.com"'),
        ("user", f"/Users/{user_id}"),
        ("service-provider-config", "/ServiceProviderConfig"),
        ("resource-type-list", "/ResourceTypes"),
        ("resource-type", "/ResourceTypes/User"),
        ("schema-list", "/Schemas"),
        ("schema", f"/Schemas/{CORE_USER}"),
        ("schema", f"/Schemas/{ENTERPRISE_USER}"),
        ("error", "/Users/00919288221112222"),
    ]
    bodies = [("user", "POST /Users", created.status_code, created.json())]
    for kind, path in gets:
        response = client.get(path)
        bodies.append((kind, f"GET {path}", response.status_code, response.json()))
    return bodies


@pytest.mark.parametrize("idp", EVERY_IDP)
def test_reference_server_responses_are_valid(reference, idp):
    client, created = reference
    bodies = _bodies(client, created)
    assert [status for kind, _, status, _ in bodies if kind == "error"] == [404]
    failures = {request: [str(v) for v in validate(kind, body, idp)] for kind, request, _, body in bodies}
    assert {request: found for request, found in failures.items() if found} == {}


def test_reference_server_list_carries_users(reference):
    client, _ = reference
    body = client.get("/Users").json()
    assert body["totalResults"] >= 2 and len(body["Resources"]) == body["totalResults"]


# ---------------------------------------------------------------------------------------------
# Invalid bodies: the right pointer, schema and keyword


def test_string_start_index():
    found = validate("user-list", user_list(OKTA_USER, startIndex="1"))
    v = only(found)
    assert (v.pointer, v.keyword, v.schema) == ("/startIndex", "type", "scim/list-response.json")
    assert str(v) == "/startIndex: '1' is not of type 'integer' (scim/list-response.json)"


def test_string_start_index_also_breaks_okta():
    found = validate("user-list", user_list(OKTA_USER, startIndex="1", itemsPerPage="1"), "okta")
    assert {(v.pointer, v.schema) for v in found} == {
        ("/itemsPerPage", "scim/list-response.json"), ("/itemsPerPage", "idp/okta.json"),
        ("/startIndex", "scim/list-response.json"), ("/startIndex", "idp/okta.json"),
    }


def test_string_active_in_a_listed_user():
    body = user_list(OKTA_USER)
    body["Resources"][0]["active"] = "false"
    v = only(validate("user-list", body))
    assert (v.pointer, v.keyword, v.schema) == ("/Resources/0/active", "type", "scim/user.json")
    assert str(v) == "/Resources/0/active: 'false' is not of type 'boolean' (scim/user.json)"
    for idp in ("okta", "entra"):
        assert [(v.pointer, v.schema) for v in validate("user-list", body, idp)] == [
            ("/Resources/0/active", f"idp/{idp}.json"), ("/Resources/0/active", "scim/user.json")]


def test_integer_error_status():
    v = only(validate("error", {**RFC_ERROR, "status": 409, "scimType": "uniqueness"}))
    assert (v.pointer, v.keyword, v.schema) == ("/status", "type", "scim/error.json")


@pytest.mark.parametrize("body, where, keyword", [
    ({"schemas": [ERROR]}, "", "required"),
    ({"schemas": [LIST_RESPONSE], "status": "404"}, "/schemas", "contains"),
    ({**RFC_ERROR, "status": "4O4"}, "/status", "pattern"),
    ({**RFC_ERROR, "scimType": 409}, "/scimType", "type"),
    ({**RFC_ERROR, "detail": ["a"]}, "/detail", "type"),
])
def test_invalid_errors(body, where, keyword):
    v = only(validate("error", body))
    assert (v.pointer, v.keyword) == (where, keyword)


def test_optional_error_members_may_be_null_or_another_keyword():
    """RFC 7644 §3.12: scimType and detail are OPTIONAL (null is unassigned, RFC 7643 §2.5), and Table 9 defines
    keywords without closing the list: a keyword of the server's own is no schema violation."""
    for extra in ({"scimType": None, "detail": None}, {"scimType": "conflict"}):
        assert validate("error", {**RFC_ERROR, **extra}) == []


def test_okta_wants_an_error_detail():
    body = {"schemas": [ERROR], "status": "401"}
    assert validate("error", body) == []
    v = only(validate("error", body, "okta"))
    assert (v.pointer, v.message, v.schema) == ("", "'detail' is a required property", "idp/okta.json")


@pytest.mark.parametrize("where", ["user", "user-list"])
def test_missing_id(where):
    user = {k: v for k, v in OKTA_USER.items() if k != "id"}
    body, prefix = (user, "") if where == "user" else (user_list(user), "/Resources/0")
    v = only(validate(where, body))
    assert (v.pointer, v.message, v.keyword, v.schema) == (prefix, "'id' is a required property", "required", "scim/user.json")
    for idp in IDPS:  # every IdP needs the id too
        assert (prefix, f"idp/{idp}.json") in {(v.pointer, v.schema) for v in validate(where, body, idp)}


@pytest.mark.parametrize("bad", ["", 42, "user-bulkId-1"])
def test_invalid_id(bad):
    v = only(validate("user", {**OKTA_USER, "id": bad}))
    assert v.pointer == "/id"


def test_password_present():
    v = only(validate("user", {**OKTA_USER, "password": "1mz050nq"}))
    assert (v.pointer, v.keyword, v.schema) == ("/password", "not", "scim/user.json")
    assert str(v) == "/password: 'password' must have no value (absent, or null) (scim/user.json)"


def test_password_present_even_when_empty_but_null_is_unassigned():
    """RFC 7643 §4.1.1: a password value is never returned; RFC 7643 §2.5: null is the unassigned state."""
    for value in ("", {"hash": "x"}):
        assert pointers(validate("user", {**OKTA_USER, "password": value})) == ["/password"]
    assert validate("user", {**OKTA_USER, "password": None}) == []


def test_enterprise_extension_without_its_urn_in_schemas():
    v = only(validate("user", {**OKTA_USER, ENTERPRISE_USER: {"department": "R&D"}}))
    assert (v.pointer, v.keyword, v.schema) == ("/schemas", "contains", "scim/user.json")
    assert ENTERPRISE_USER in v.message
    assert validate("user", {**OKTA_USER, "schemas": [CORE_USER, ENTERPRISE_USER], ENTERPRISE_USER: {"department": "R&D"}}) == []


def test_schemas_without_the_core_user_urn():
    v = only(validate("user", {**OKTA_USER, "schemas": ["urn:scim:schemas:core:1.0"]}))
    assert (v.pointer, v.keyword) == ("/schemas", "contains")
    assert v.message == f"['urn:scim:schemas:core:1.0'] does not contain {CORE_USER!r}"


@pytest.mark.parametrize("schemas, keyword", [([], "minItems"), ([CORE_USER, CORE_USER], "uniqueItems"), (CORE_USER, "type")])
def test_malformed_schemas_attribute(schemas, keyword):
    assert ("/schemas", keyword) in {(v.pointer, v.keyword) for v in validate("user", {**OKTA_USER, "schemas": schemas})}


def test_resources_missing_while_total_results_positive():
    body = {"schemas": [LIST_RESPONSE], "totalResults": 3, "startIndex": 1, "itemsPerPage": 3}
    v = only(validate("user-list", body))
    assert (v.pointer, v.message, v.keyword, v.schema) == (
        "", "'Resources' is a required property", "required", "scim/list-response.json")
    assert validate("user-list", {**body, "totalResults": 0, "itemsPerPage": 0}) == []


@pytest.mark.parametrize("envelope, where", [
    ({"totalResults": -1}, "/totalResults"),
    ({"totalResults": 1.5}, "/totalResults"),
    ({"startIndex": 0}, "/startIndex"),
    ({"itemsPerPage": -2}, "/itemsPerPage"),
    ({"Resources": {}}, "/Resources"),
    ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"]}, "/schemas"),
])
def test_invalid_list_envelopes(envelope, where):
    assert where in pointers(validate("user-list", user_list(OKTA_USER, **envelope)))


def test_okta_user_without_emails():
    user = {k: v for k, v in OKTA_USER.items() if k != "emails"}
    assert validate("user", user) == []
    v = only(validate("user", user, "okta"))
    assert (v.pointer, v.message, v.schema) == ("", "'emails' is a required property", "idp/okta.json")
    assert pointers(validate("user-list", user_list(user), "okta")) == ["/Resources/0"]


def test_okta_user_without_given_name():
    user = {**OKTA_USER, "name": {"familyName": "User"}}
    assert validate("user", user) == []
    v = only(validate("user", user, "okta"))
    assert (v.pointer, v.message, v.keyword, v.schema) == ("/name", "'givenName' is a required property", "required", "idp/okta.json")


def test_okta_user_without_a_primary_email():
    user = {**OKTA_USER, "emails": [{"value": "a@example.com", "type": "work"}, {"value": "b@example.com", "primary": False}]}
    assert validate("user", user) == []
    v = only(validate("user", user, "okta"))
    assert (v.pointer, v.keyword, v.message) == ("/emails", "contains", 'no value has "primary": true')


def test_okta_user_with_an_empty_email_value_or_no_active():
    v = only(validate("user", {**OKTA_USER, "emails": [{"value": "", "primary": True}]}, "okta"))
    assert v.pointer == "/emails/0/value"
    v = only(validate("user", {k: v for k, v in OKTA_USER.items() if k != "active"}, "okta"))
    assert (v.pointer, v.message) == ("", "'active' is a required property")


def test_okta_list_without_paging_integers():
    body = user_list(OKTA_USER)
    del body["startIndex"], body["itemsPerPage"]
    assert validate("user-list", body) == []
    assert {v.message for v in validate("user-list", body, "okta")} == {
        "'startIndex' is a required property", "'itemsPerPage' is a required property"}


def test_onelogin_and_entra_want_resources_even_when_empty():
    body = {"schemas": [LIST_RESPONSE], "totalResults": 0}
    assert validate("user-list", body) == []
    for idp in ("onelogin", "entra", "okta"):
        assert "'Resources' is a required property" in {v.message for v in validate("user-list", body, idp)}


def test_entra_user_without_active_or_meta_resource_type():
    user = {k: v for k, v in OKTA_USER.items() if k not in ("active", "meta")}
    assert validate("user", user) == []
    assert validate("user", user, "onelogin") == []
    assert {(v.pointer, v.message) for v in validate("user", user, "entra")} == {
        ("", "'active' is a required property"), ("", "'meta' is a required property")}


def test_two_primary_emails():
    user = {**OKTA_USER, "emails": [{"value": "a@example.com", "primary": True}, {"value": "b@example.com", "primary": True}]}
    v = only(validate("user", user))
    assert (v.pointer, v.keyword, v.schema) == ("/emails", "maxContains", "scim/common.json")
    assert v.message == 'more than one value has "primary": true'


@pytest.mark.parametrize("patch, where", [
    ({"userName": ""}, "/userName"),
    ({"name": "Test User"}, "/name"),
    ({"name": {"givenName": 7}}, "/name/givenName"),
    ({"emails": [{"value": "a@example.com", "primary": "true"}]}, "/emails/0/primary"),
    ({"emails": {"value": "a@example.com"}}, "/emails"),
    ({"phoneNumbers": [{"value": 5555555}]}, "/phoneNumbers/0/value"),
    ({"photos": [{"value": "not a uri"}]}, "/photos/0/value"),
    ({"profileUrl": "login page"}, "/profileUrl"),
    ({"meta": {"resourceType": "Group"}}, "/meta/resourceType"),
    ({"meta": {"resourceType": "User", "created": "2010-01-23"}}, "/meta/created"),
    ({"meta": {"resourceType": "User", "lastModified": "yesterday"}}, "/meta/lastModified"),
    ({"meta": {"resourceType": "User", "location": "/Users/ 1"}}, "/meta/location"),
    ({"meta": {"resourceType": "User", "version": "3694e05e9dff590"}}, "/meta/version"),
    ({"externalId": 701984}, "/externalId"),
])
def test_invalid_user_attributes(patch, where):
    assert pointers(validate("user", {**OKTA_USER, **patch})) == [where]


def test_invalid_enterprise_attributes():
    user = {**OKTA_USER, "schemas": [CORE_USER, ENTERPRISE_USER],
            ENTERPRISE_USER: {"department": ["R&D"], "manager": {"value": 12}}}
    assert pointers(validate("user", user)) == [f"/{ENTERPRISE_USER}/department", f"/{ENTERPRISE_USER}/manager/value"]


def test_null_means_unassigned():
    """RFC 7643 §2.5: null and [] are the unassigned state, so optional attributes accept them."""
    user = {**OKTA_USER, "title": None, "phoneNumbers": None, "addresses": [], "active": None, "name": None}
    assert validate("user", user) == []
    assert {v.message for v in validate("user", user, "okta")} == {
        "None is not of type 'object'", "None is not of type 'boolean'"}


def test_xsd_date_time_without_time_zone_is_accepted():
    """RFC 7643 §2.3.5: an xsd:dateTime, whose time zone is optional; date and time are both required."""
    for value in ("2010-01-23T04:56:22Z", "2010-01-23T04:56:22.123+02:00", "2010-01-23T04:56:22"):
        assert validate("user", {**OKTA_USER, "meta": {"resourceType": "User", "created": value}}) == []
    v = only(validate("user", {**OKTA_USER, "meta": {"resourceType": "User", "created": "2010-13-23T04:56:22Z"}}))
    assert v.message == "'2010-13-23T04:56:22Z' is not a valid DateTime (RFC 7643 §2.3.5)"


def test_spc_missing_required_members():
    spc = copy.deepcopy(RFC_SPC)
    del spc["etag"], spc["bulk"]["maxPayloadSize"], spc["authenticationSchemes"][0]["description"]
    spc["filter"]["maxResults"] = "200"
    found = validate("service-provider-config", spc)
    assert [(v.pointer, v.message) for v in found] == [
        ("", "'etag' is a required property"),
        ("/authenticationSchemes/0", "'description' is a required property"),
        ("/bulk", "'maxPayloadSize' is a required property"),
        ("/filter/maxResults", "'200' is not of type 'integer'"),
    ]


def test_resource_type_missing_endpoint_and_extension_flag():
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
            "schema": CORE_USER, "schemaExtensions": [{"schema": ENTERPRISE_USER}]}
    assert [(v.pointer, v.message) for v in validate("resource-type", body)] == [
        ("", "'endpoint' is a required property"), ("/schemaExtensions/0", "'required' is a required property")]
    listing = {"schemas": [LIST_RESPONSE], "totalResults": 1, "Resources": [body]}
    assert pointers(validate("resource-type-list", listing)) == ["/Resources/0", "/Resources/0/schemaExtensions/0"]


def test_schema_with_bad_nested_sub_attribute():
    schema = {
        "id": CORE_USER,
        "attributes": [
            {"name": "userName", "type": "string", "multiValued": False},
            {"name": "name", "type": "complex", "multiValued": False,
             "subAttributes": [{"name": "givenName", "type": "text", "multiValued": False, "returned": "sometimes"}]},
        ],
    }
    assert [(v.pointer, v.keyword) for v in validate("schema", schema)] == [
        ("/attributes/1/subAttributes/0/returned", "enum"), ("/attributes/1/subAttributes/0/type", "enum")]
    del schema["attributes"][0]["multiValued"]
    assert "/attributes/0" in pointers(validate("schema", schema))


def test_schemas_listing_a_message_urn():
    body = {"schemas": [LIST_RESPONSE], "totalResults": 1,
            "Resources": [{"id": "urn:ietf:params:scim:api:messages:2.0:ListResponse", "attributes": []}]}
    v = only(validate("schema-list", body))
    assert (v.pointer, v.keyword, v.schema) == ("/Resources/0/id", "pattern", "scim/schema.json")


@pytest.mark.parametrize("body, where", [
    ({"schemas": [PATCH_OP], "Operations": []}, "/Operations"),
    ({"schemas": [PATCH_OP]}, ""),
    ({"schemas": [LIST_RESPONSE], "Operations": [{"op": "add", "path": "title", "value": "x"}]}, "/schemas"),
    ({"schemas": [PATCH_OP], "Operations": [{"op": "move", "path": "title", "value": "x"}]}, "/Operations/0/op"),
    ({"schemas": [PATCH_OP], "Operations": [{"op": "remove"}]}, "/Operations/0"),
    ({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title"}]}, "/Operations/0"),
    ({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": False}]}, "/Operations/0/value"),
    ({"schemas": [PATCH_OP], "Operations": [{"path": "title"}]}, "/Operations/0"),
])
def test_invalid_patch_ops(body, where):
    assert pointers(validate("patch-op", body)) == [where]


# ---------------------------------------------------------------------------------------------
# The API


def test_violations_are_sorted_by_pointer_with_numeric_indexes():
    bad = {**OKTA_USER, "active": "yes"}
    body = user_list(*[OKTA_USER] * 2, bad, *[OKTA_USER] * 7, bad, startIndex="1")
    assert pointers(validate("user-list", body)) == ["/Resources/2/active", "/Resources/10/active", "/startIndex"]


def test_pointer_escapes_per_rfc_6901():
    assert pointer(["a/b", "m~n", 0]) == "/a~1b/m~0n/0"
    assert pointer([]) == ""
    body = {**OKTA_USER, "schemas": [CORE_USER, "urn:x:ext"], "urn:x:ext": {}, ENTERPRISE_USER: {"manager": {"$ref": "a b"}}}
    assert f"/{ENTERPRISE_USER}/manager/$ref" in pointers(validate("user", body))


def test_violation_is_a_value():
    v = Violation("/a", "m", "scim/user.json", "type")
    assert v == Violation("/a", "m", "scim/user.json", "type") and hash(v)
    assert str(Violation("", "'id' is a required property", "scim/user.json", "required")) == \
        "(root): 'id' is a required property (scim/user.json)"


def test_non_object_bodies():
    for kind in KINDS:
        assert pointers(validate(kind, [])) == [""]
        assert pointers(validate(kind, None, "okta"))[0] == ""


def test_unknown_kind_or_idp():
    with pytest.raises(ValueError, match="unknown kind"):
        validate("team", {})
    with pytest.raises(ValueError, match="unknown IdP"):
        validate("user", OKTA_USER, "google")


def test_null_is_unassigned_in_meta_and_list_paging():
    """RFC 7643 §2.5: null is the unassigned state. meta's sub-attributes are optional; a list's startIndex,
    itemsPerPage and Resources are required only for partial results or a non-zero totalResults."""
    meta = {"resourceType": "User", "created": None, "lastModified": None, "location": None, "version": None}
    assert validate("user", {**OKTA_USER, "meta": meta}) == []
    empty = {"schemas": [LIST_RESPONSE], "totalResults": 0, "startIndex": None, "itemsPerPage": None, "Resources": None}
    assert validate("user-list", empty) == []
    assert pointers(validate("user-list", {**empty, "totalResults": 1})) == ["/Resources"]


def test_spc_needs_an_authentication_scheme_and_takes_nulls_where_optional():
    """RFC 7643 §5: authenticationSchemes is REQUIRED, so [] (unassigned, §2.5) is a violation; an optional
    member such as a scheme's primary may be null."""
    spc = copy.deepcopy(RFC_SPC)
    spc["authenticationSchemes"][0]["primary"] = None
    assert validate("service-provider-config", spc) == []
    assert pointers(validate("service-provider-config", {**spc, "authenticationSchemes": []})) == ["/authenticationSchemes"]


# ---------------------------------------------------------------------------------------------
# The compiled validators' yes never hides a violation jsonschema would name

JSON_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
                | st.floats(allow_nan=True, allow_infinity=True)
                | st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("\x1c\x1f\x85\xa0\u2028 \n\t\"/:W"),
                          max_size=12)
                | st.sampled_from(["2010-01-23T04:56:22Z", "2010-01-23T04:56:22Z\n", 'W/"1"', "urn:x:y", "/Users/1",
                                   "https://example.com/Users/1", "work", "User", CORE_USER, LIST_RESPONSE, ERROR]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(["value", "primary", "type", "display", "$ref", "id"]),
                                             inner, max_size=3), max_leaves=6)
GARBLE = ["\x1c", "\x1f", "\x85", "\ufeff", "\xa0", "\u2028", "\u3000", " ", "\n", "\t", "\r", "\x00", "\"", "/", "W/"]
SEEDS = {"user": [OKTA_USER, RFC_MINIMAL_USER, RFC_FULL_USER], "user-list": [user_list(OKTA_USER, RFC_FULL_USER)],
         "error": [RFC_ERROR], "service-provider-config": [RFC_SPC]}


def paths_of(node, path=()):
    """Every path to a value inside `node` (keys and indexes), the root included."""
    yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from paths_of(child, (*path, key))


@st.composite
def mutated(draw):
    """A seed body with a few values replaced, removed or added at random places."""
    kind = draw(st.sampled_from(sorted(SEEDS)))
    body = copy.deepcopy(draw(st.sampled_from(SEEDS[kind])))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths_of(body))[1:]))
        *parents, last = path
        parent = body
        for key in parents:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "remove":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(JSON_VALUES)
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["active", "emails", "meta", "x509Certificates", "status", "scimType",
                                         "totalResults", "itemsPerPage", "password", "groups"]))] = draw(JSON_VALUES)
    return kind, body


@settings(max_examples=600, deadline=None)
@given(case=mutated(), idp=st.sampled_from(EVERY_IDP))
def test_compiled_validators_accept_only_what_jsonschema_accepts(case, idp):
    """validate() trusts the compiled validators' yes: a body they accept is never validated by jsonschema.
    So, on bodies broken at random (wrong types, control characters, huge integers, NaN, a trailing
    newline after a dateTime, removed members), their yes must imply jsonschema's; validate() then gives
    the same violations either way."""
    kind, body = case
    fast = validate(kind, body, idp=idp)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCIMCERT_VALIDATION", "jsonschema")
        exhaustive = validate(kind, body, idp=idp)
    assert fast == exhaustive


@pytest.mark.parametrize("character", GARBLE)
def test_compiled_validators_read_patterns_as_python_does(character):
    """Regex engines differ at the edges (Python's \\s also matches \\x1c-\\x1f; its $ also matches
    before a final newline): each character, put at the start, the middle and the end of every string
    of every seed body, gives the same violations with and without the compiled validators."""
    for kind, seeds in SEEDS.items():
        for seed, idp in ((seed, idp) for seed in seeds for idp in EVERY_IDP):
            for path in paths_of(seed):
                text = dig(seed, path)
                if not isinstance(text, str):
                    continue
                for at in sorted({0, len(text) // 2, len(text)}):
                    body = copy.deepcopy(seed)
                    *parents, last = path
                    dig(body, parents)[last] = text[:at] + character + text[at:]
                    fast = validate(kind, body, idp=idp)
                    with pytest.MonkeyPatch.context() as patch:
                        patch.setenv("SCIMCERT_VALIDATION", "jsonschema")
                        assert fast == validate(kind, body, idp=idp), (kind, path, at)


def dig(node, path):
    for key in path:
        node = node[key]
    return node


def test_the_compiled_validators_decide_most_bodies_alone(monkeypatch):
    """The fast path is taken: a valid body is not handed to jsonschema (whose cache stays untouched)."""
    from scimcert import validation

    validation._cached.cache_clear()
    assert validate("user-list", user_list(OKTA_USER, RFC_FULL_USER), idp="okta") == []
    assert validation._cached.cache_info().misses == 0
    assert validate("user", {**OKTA_USER, "active": "true"}, idp="okta") != []
    assert validation._cached.cache_info().misses == 1
