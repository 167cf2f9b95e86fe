"""Discovery over real HTTP (RFC 7644 §4; RFC 7643 §5-§7): /ServiceProviderConfig, /ResourceTypes,
/Schemas, and the check that what they advertise is what the server does.
"""

from __future__ import annotations

import pytest
from helpers import (
    CORE_USER,
    ENTERPRISE_USER,
    LIST_RESPONSE,
    anonymous_client,
    assert_scim_error,
    by_user_name,
    create_user,
    filter_url,
    patch_body,
    scim_client,
    unique_user_name,
    user_body,
)

SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def _ok(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    return response.json()


@pytest.fixture(scope="module")
def spc(server):
    with scim_client(server) as c:
        return _ok(c, "/ServiceProviderConfig")


@pytest.fixture(scope="module")
def user_schema(server) -> dict:
    with scim_client(server) as c:
        return _ok(c, f"/Schemas/{CORE_USER}")


def _attribute(schema: dict, name: str) -> dict:
    (found,) = [a for a in schema["attributes"] if a["name"] == name]
    return found


# ---------------------------------------------------------------------------------------------
# /ServiceProviderConfig


def test_service_provider_config(server, spc):
    """RFC 7644 §4 («a "schemas" attribute of "urn:…:ServiceProviderConfig"»; a single object, not a
    ListResponse) and RFC 7643 §5 (each REQUIRED member, with its type)."""
    assert spc["schemas"] == [SPC_URN]
    assert "Resources" not in spc and "totalResults" not in spc
    assert spc["patch"] == {"supported": True}
    assert spc["bulk"]["supported"] is False
    assert type(spc["bulk"]["maxOperations"]) is int and type(spc["bulk"]["maxPayloadSize"]) is int
    assert spc["filter"]["supported"] is True
    assert spc["filter"]["maxResults"] == server.tenant.options.maxPageSize
    assert type(spc["changePassword"]["supported"]) is bool
    assert spc["sort"] == {"supported": False}
    assert spc["etag"] == {"supported": True}
    schemes = spc["authenticationSchemes"]
    assert schemes and all({"type", "name", "description"} <= set(s) for s in schemes)
    assert [s["type"] for s in schemes] == ["oauthbearertoken"]
    assert spc["meta"]["resourceType"] == "ServiceProviderConfig"
    assert spc["meta"]["location"] == f"{server.base_url}/ServiceProviderConfig"


# ---------------------------------------------------------------------------------------------
# /ResourceTypes


def _check_user_resource_type(server, resource_type: dict) -> None:
    assert resource_type["schemas"] == [RESOURCE_TYPE_URN]
    assert resource_type["id"] == resource_type["name"] == "User"
    assert resource_type["endpoint"] == "/Users"
    assert resource_type["schema"] == CORE_USER
    assert resource_type["schemaExtensions"] == [{"schema": ENTERPRISE_USER, "required": False}]
    assert resource_type["meta"]["location"] == f"{server.base_url}/ResourceTypes/User"


def test_resource_types(server, client):
    """RFC 7644 §4 /ResourceTypes as a ListResponse; RFC 7643 §6 name, endpoint, schema, schemaExtensions."""
    body = _ok(client, "/ResourceTypes")
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == body["itemsPerPage"] == len(body["Resources"]) == 2
    assert [r["name"] for r in body["Resources"]] == ["User", "Group"]
    _check_user_resource_type(server, body["Resources"][0])


def test_resource_type_user(server, client):
    """RFC 7644 §4: one resource type by name."""
    _check_user_resource_type(server, _ok(client, "/ResourceTypes/User"))


def test_resource_type_schemas_exist(client):
    """RFC 7643 §6: `schema` «MUST be equal to the "id" attribute of the associated "Schema" resource»."""
    resource_type = _ok(client, "/ResourceTypes/User")
    ids = {s["id"] for s in _ok(client, "/Schemas")["Resources"]}
    assert resource_type["schema"] in ids
    assert {e["schema"] for e in resource_type["schemaExtensions"]} <= ids


# ---------------------------------------------------------------------------------------------
# /Schemas


def test_schemas_list(server, client):
    """RFC 7644 §4: «An HTTP GET to the endpoint "/Schemas" SHALL return all supported schemas in
    ListResponse format»; §3.1: message schemas (`urn:ietf:params:scim:api:`) «SHALL NOT be discoverable»."""
    body = _ok(client, "/Schemas")
    assert body["schemas"] == [LIST_RESPONSE]
    ids = [s["id"] for s in body["Resources"]]
    assert {CORE_USER, ENTERPRISE_USER} <= set(ids)
    assert not [i for i in ids if i.startswith("urn:ietf:params:scim:api:")]
    assert body["totalResults"] == body["itemsPerPage"] == len(ids)
    for schema in body["Resources"]:
        assert schema["schemas"] == [SCHEMA_URN]
        assert schema["meta"] == {"resourceType": "Schema", "location": f"{server.base_url}/Schemas/{schema['id']}"}
        assert schema["attributes"]


@pytest.mark.parametrize("urn", [CORE_USER, ENTERPRISE_USER])
def test_schema_by_urn(client, urn):
    """RFC 7644 §4: a single schema at /Schemas/{id}, equal to its entry in the list."""
    schema = _ok(client, f"/Schemas/{urn}")
    assert schema["id"] == urn
    assert schema in _ok(client, "/Schemas")["Resources"]


@pytest.mark.parametrize("path", ["/Schemas", "/ResourceTypes"])
@pytest.mark.parametrize("expression", ['id eq "User"', "name pr", "garbage ("])
def test_filter_on_discovery_is_403(client, path, expression):
    """RFC 7644 §4: «If a "filter" is provided, the service provider SHOULD respond with HTTP status code
    403 (Forbidden) to ensure clients cannot incorrectly assume any matching conditions specified in a filter
    are true»."""
    assert_scim_error(client.get(path, params={"filter": expression}), 403)


@pytest.mark.parametrize("path", ["/Schemas", "/ResourceTypes"])
def test_other_query_parameters_on_discovery_are_ignored(client, path):
    """RFC 7644 §4: «Query parameters described in Section 3.4.2, such as … sorting, and pagination,
    SHALL be ignored»."""
    everything = _ok(client, path)
    assert _ok(client, f"{path}?count=1&startIndex=2&sortBy=id&attributes=id") == everything


# ---------------------------------------------------------------------------------------------
# What is advertised is true


def test_user_name_is_declared_and_behaves_case_insensitive_and_unique(client, user_schema):
    """RFC 7643 §7 (and §4.1.1): userName required, caseExact false, uniqueness server, and the
    server behaves so: a filter in another case finds the user, a POST in another case is 409."""
    user_name = _attribute(user_schema, "userName")
    assert (user_name["required"], user_name["caseExact"], user_name["uniqueness"]) == (True, False, "server")
    created = create_user(client)
    assert [u["id"] for u in by_user_name(client, created["userName"].swapcase())] == [created["id"]]
    assert_scim_error(client.post("/Users", json=user_body(created["userName"].upper())), 409, "uniqueness")
    assert_scim_error(client.post("/Users", json={"name": {"givenName": "No userName"}}), 400)


def test_password_is_declared_write_only_and_never_returned(client, user_schema):
    """RFC 7643 §7 and §4.1.1: password mutability writeOnly, returned never, and it never appears in a
    response."""
    password = _attribute(user_schema, "password")
    assert (password["mutability"], password["returned"]) == ("writeOnly", "never")
    response = client.post("/Users", json=user_body(password="S3cret-Passw0rd"))
    assert response.status_code == 201
    assert "S3cret" not in response.text and "password" not in response.json()
    assert "password" not in client.get(f"/Users/{response.json()['id']}?attributes=password").json()


def test_returned_never_attributes_never_appear(client, user_schema):
    """RFC 7643 §7 «returned: never»: whatever the schema declares so is absent from every response."""
    never = [a["name"] for a in user_schema["attributes"] if a.get("returned") == "never"]
    assert never == ["password"]
    created = create_user(client, password="x-Secret-1")
    for body in (created, client.get(f"/Users/{created['id']}").json(),
                 *client.get(filter_url(f'userName eq "{created["userName"]}"')).json()["Resources"]):
        assert not set(never) & set(body)


def test_read_only_attributes_are_ignored_on_post_and_refused_by_patch(client, user_schema):
    """RFC 7644 §3.3 «readOnly … SHALL be ignored» on create; §3.5.2 «a client MUST NOT modify an attribute
    that has mutability "readOnly"» → PATCH 400 mutability (RFC 7643 §7 readOnly)."""
    read_only = [a["name"] for a in user_schema["attributes"] if a["mutability"] == "readOnly"]
    assert read_only  # groups
    body = user_body(**{name: [{"value": "x"}] for name in read_only})
    created = client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    assert not set(read_only) & set(created.json())
    for name in read_only:
        response = client.patch(f"/Users/{created.json()['id']}", json=patch_body(
            {"op": "add", "path": name, "value": [{"value": "x"}]}))
        assert_scim_error(response, 400, "mutability")


def test_every_declared_string_attribute_round_trips(client, user_schema):
    """RFC 7643 §7: the /Schemas document describes exactly what the server implements: every readWrite,
    returned-by-default simple attribute (core and enterprise) is stored and returned as sent."""
    enterprise = _ok(client, f"/Schemas/{ENTERPRISE_USER}")
    extra, extension = {}, {}
    for schema, target in ((user_schema, extra), (enterprise, extension)):
        for attr in schema["attributes"]:
            if (attr["type"] in ("string", "reference") and not attr.get("multiValued")
                    and attr["mutability"] == "readWrite" and attr["returned"] == "default"
                    and attr["name"] != "userName"):
                target[attr["name"]] = f"Value of {attr['name']}"
    assert {"displayName", "title", "preferredLanguage", "timezone"} <= set(extra)
    assert {"department", "costCenter", "employeeNumber"} <= set(extension)
    created = create_user(client, **extra, **{ENTERPRISE_USER: extension})
    for name, value in extra.items():
        assert created[name] == value, name
    assert created[ENTERPRISE_USER] == extension


def test_patch_supported_means_patch_works(client, spc):
    """RFC 7643 §5: `patch.supported: true` is true."""
    assert spc["patch"]["supported"] is True
    user = create_user(client)
    response = client.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "title", "value": "T"}))
    assert response.status_code == 200 and response.json()["title"] == "T"


def test_etag_supported_means_etags_work(client, spc):
    """RFC 7644 §3.14: `etag.supported: true`: ETag headers, 304 on If-None-Match, 412 on a stale If-Match."""
    assert spc["etag"]["supported"] is True
    user = create_user(client)
    response = client.get(f"/Users/{user['id']}")
    assert response.headers["etag"] == user["meta"]["version"]
    assert client.get(f"/Users/{user['id']}", headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    assert client.delete(f"/Users/{user['id']}", headers={"If-Match": 'W/"stale"'}).status_code == 412


def test_bulk_unsupported_means_no_bulk(client, spc):
    """RFC 7643 §5: `bulk.supported: false`, so POST /Bulk does not process operations (501)."""
    assert spc["bulk"]["supported"] is False
    user_name = unique_user_name()
    response = client.post("/Bulk", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body(user_name)}]})
    assert_scim_error(response, 501)
    assert by_user_name(client, user_name) == []


def test_filter_max_results_caps_a_page(client, spc):
    """RFC 7643 §5 filter.maxResults: «The maximum number of resources returned in a response»."""
    body = client.get(f"/Users?count={spc['filter']['maxResults'] * 10}").json()
    assert body["itemsPerPage"] <= spc["filter"]["maxResults"]


def test_authentication_scheme_is_the_one_enforced(server, spc):
    """RFC 7644 §2: the advertised oauthbearertoken scheme is what the server asks for (401 challenge)."""
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    with anonymous_client(server) as anonymous:
        response = anonymous.get("/ServiceProviderConfig")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
