"""Discovery checks (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes and /Schemas. No IdP reads
them, so they are RFC probes, run once, and no IdP check depends on them."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from scimcert.suites import CORE_USER, PATCH_OP, dig, is_endpoint, resources, rfc_user
from scimcert.validation import validate


def _short(text: str, limit: int = 300) -> str:
    """A violation message of a readable size: its start (the pointer) and its end (what is wrong)."""
    return text if len(text) <= limit else f"{text[:limit // 2]} … {text[-limit // 2:]}"


def _judge_schema(verdict, requirement: str, kind: str, answer) -> None:
    """One finding per violation of the RFC schema of `kind`, each with its JSON pointer."""
    violations = validate(kind, answer.json)
    for violation in violations[:20]:
        verdict.check(requirement, False, f"the body is not a valid {kind}", expected="no schema violation",
                      actual=_short(str(violation)), exchange=answer)
    if not violations:
        verdict.check(requirement, True, f"the body is a valid {kind}", exchange=answer)


def _advertised(client, feature: str):
    """(the ServiceProviderConfig answer, its `feature`.supported boolean); skips when it has none."""
    spc = client.raw("GET", "/ServiceProviderConfig", label="RFC GET /ServiceProviderConfig")
    advertised = dig(spc.json, feature, "supported")
    if spc.status != 200 or not isinstance(advertised, bool):
        pytest.skip(f"precondition failed: no {feature}.supported boolean in /ServiceProviderConfig "
                    "(judged by discovery.service-provider-config)")
    return spc, advertised


def _judge_advertised(verdict, requirement: str, feature: str, advertised: bool, seen: bool, how: str, exchange) -> None:
    """`feature`.supported says what the server was seen to do (`how`)."""
    verdict.check(requirement, seen == advertised,
                  f"{feature}.supported says what the server does" if seen == advertised else
                  f"{feature}.supported is false, yet {how}" if seen else f"{feature}.supported is true, yet {how}",
                  expected=f"{feature}.supported {str(seen).lower()} ({how})",
                  actual=f"{feature}.supported {str(advertised).lower()}", exchange=exchange)


def _get(client, verdict, requirement: str, path: str):
    answer = client.raw("GET", path, label=f"RFC GET {path}")
    verdict.require(requirement, answer.status == 200, f"GET {path} answers 200", expected=200,
                    actual=answer.status or answer.error, exchange=answer)
    return answer


@pytest.mark.requirement("discovery.service-provider-config")
def test_service_provider_config(client, verdict):
    """Sends GET /ServiceProviderConfig.

    Verifies: 200 with a valid ServiceProviderConfig (its schema URN; patch, bulk, filter,
    changePassword, sort, etag and authenticationSchemes) (RFC 7644 §4, RFC 7643 §5).
    """
    answer = _get(client, verdict, "discovery.service-provider-config", "/ServiceProviderConfig")
    _judge_schema(verdict, "discovery.service-provider-config", "service-provider-config", answer)


@pytest.mark.requirement("discovery.resource-types")
def test_resource_types(client, verdict):
    """Sends GET /ResourceTypes.

    Verifies: 200 with a ListResponse of resource types holding User with the core User schema at the
    Users endpoint "relative to the Base URL of the service provider" (RFC 7643 §6,
    https://www.rfc-editor.org/rfc/rfc7643#section-6): "Users", the RFC's own example "/Users", or any
    reference that resolves to the base URL's /Users (RFC 7643 §2.3.7) (RFC 7644 §4).
    """
    answer = _get(client, verdict, "discovery.resource-types", "/ResourceTypes")
    _judge_schema(verdict, "discovery.resource-types", "resource-type-list", answer)
    users = [r for r in resources(answer) if is_endpoint(client, r.get("endpoint"))]
    verdict.check("discovery.resource-types", any(r.get("schema") == CORE_USER for r in users),
                  "a resource type serves /Users with the core User schema",
                  expected={"endpoint": "/Users", "schema": CORE_USER},
                  actual=[{"endpoint": r.get("endpoint"), "schema": r.get("schema")} for r in resources(answer)]
                  or answer.excerpt(200), exchange=answer)


@pytest.mark.requirement("discovery.schemas")
def test_schemas(client, verdict):
    """Sends GET /Schemas, then GET /ResourceTypes.

    Verifies: 200 with a ListResponse of schemas holding the core User schema (RFC 7644 §4, RFC 7643 §7), and
    every schema each resource type names (User, Group: its schema and schemaExtensions) among them (RFC 7644 §4,
    https://www.rfc-editor.org/rfc/rfc7644#section-4: «An HTTP GET to the endpoint "/Schemas" SHALL return all
    supported schemas in ListResponse format»; RFC 7643 §6, https://www.rfc-editor.org/rfc/rfc7643#section-6:
    a resource type's schema «MUST be equal to the "id" attribute of the associated "Schema" resource»).
    """
    answer = _get(client, verdict, "discovery.schemas", "/Schemas")
    _judge_schema(verdict, "discovery.schemas", "schema-list", answer)
    listed = [r.get("id") for r in resources(answer)]
    verdict.check("discovery.schemas", CORE_USER in listed, "the list holds the core User schema", expected=CORE_USER,
                  actual=listed or answer.excerpt(200), exchange=answer)
    types = client.raw("GET", "/ResourceTypes", label="RFC GET /ResourceTypes")
    for resource_type in resources(types):
        named = [resource_type.get("schema"), *(dig(e, "schema") for e in resource_type.get("schemaExtensions") or [])]
        missing = [urn for urn in named if urn not in listed]
        verdict.check("discovery.schemas", not missing,
                      f"every schema the {resource_type.get('name') or resource_type.get('id')} resource type names "
                      "is served by /Schemas",
                      expected=named, actual=f"missing from /Schemas: {missing}" if missing else listed,
                      exchange=answer)


@pytest.mark.requirement("discovery.patch-advertised")
def test_patch_support_advertised(client, verdict, users):
    """Reads patch.supported from GET /ServiceProviderConfig, creates a user (RFC POST /Users) and
    sends an RFC PATCH replace of its displayName.

    Verifies: the PATCH succeeds exactly when the ServiceProviderConfig advertises patch support
    (RFC 7643 §5, RFC 7644 §3.5.2).
    """
    spc, advertised = _advertised(client, "patch")
    new, user_id, _ = rfc_user(client, users)
    patched = client.raw("PATCH", f"/Users/{user_id}", label="RFC PATCH displayName", body={
        "schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": new.givenName}]})
    works = patched.status in (200, 204)
    _judge_advertised(verdict, "discovery.patch-advertised", "patch", advertised, works,
                      f"PATCH answered {patched.status or patched.error}", spc if works else patched)


@pytest.mark.requirement("discovery.etag-advertised")
def test_etag_support_advertised(client, verdict, users):
    """Reads etag.supported from GET /ServiceProviderConfig, creates a user (RFC POST /Users) and reads it
    back by id.

    Verifies: the GET answers with an ETag header exactly when the ServiceProviderConfig advertises etag
    support (RFC 7643 §5, https://www.rfc-editor.org/rfc/rfc7643#section-5; RFC 7644 §3.14,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.14).
    """
    spc, advertised = _advertised(client, "etag")
    _, user_id, _ = rfc_user(client, users)
    read = client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")
    if read.status != 200:
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {read.status or read.error}")
    sent = read.header("etag") is not None
    _judge_advertised(verdict, "discovery.etag-advertised", "etag", advertised, sent,
                      f"GET {'carries an' if sent else 'carries no'} ETag header", read if advertised else spc)


@pytest.mark.parametrize("endpoint", ["/ResourceTypes", "/Schemas"])
@pytest.mark.requirement("discovery.query-ignored")
def test_discovery_ignores_query_parameters(client, verdict, endpoint):
    """Sends GET /ResourceTypes (or /Schemas), then the same with count=1&startIndex=2, then with a filter
    on id (RFC probes).

    Verifies: the paged request answers every resource the plain one does, and the filter is refused with
    403 or ignored, never obeyed (RFC 7644 §4, https://www.rfc-editor.org/rfc/rfc7644#section-4: «Query
    parameters described in Section 3.4.2, such as filtering, sorting, and pagination, SHALL be ignored. If
    a "filter" is provided, the service provider SHOULD respond with HTTP status code 403 (Forbidden)»).
    """
    plain = client.raw("GET", endpoint, label=f"RFC GET {endpoint}")
    everything = sorted(str(r.get("id") or r.get("name")) for r in resources(plain))
    if plain.status != 200 or not everything:
        pytest.skip(f"precondition failed: GET {endpoint} answered {plain.status or plain.error} without resources "
                    "(judged by discovery.*)")
    paged = client.raw("GET", endpoint, query="count=1&startIndex=2", label=f"RFC GET {endpoint}?count=1&startIndex=2")
    shown = sorted(str(r.get("id") or r.get("name")) for r in resources(paged))
    verdict.check("discovery.query-ignored", paged.status == 200 and shown == everything,
                  "count and startIndex are ignored", expected=everything,
                  actual=f"{paged.status or paged.error}: {shown}", exchange=paged)
    filtered = client.raw("GET", endpoint, query="filter=" + quote('id eq "scimcert-no-such-id"', safe=""),
                          label=f"RFC GET {endpoint}?filter")
    kept = sorted(str(r.get("id") or r.get("name")) for r in resources(filtered))
    verdict.check("discovery.query-ignored", filtered.status == 403 or (filtered.status == 200 and kept == everything),
                  "the filter is refused (403) or ignored", expected=f"403, or 200 with {everything}",
                  actual=f"{filtered.status or filtered.error}: {kept}", exchange=filtered)
