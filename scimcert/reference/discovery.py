"""RFC 7644 §4 discovery: /ServiceProviderConfig, /ResourceTypes, /Schemas, describing this server exactly."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from .attributes import RESOURCE_TYPES, ResourceType, schema_documents
from .errors import ScimError, not_found
from .http import ScimResponse

SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def base_url(request: Request) -> str:
    """The SCIM base URL as this request reached it: what every location and `$ref` starts with."""
    return str(request.url_for("ServiceProviderConfig")).rsplit("/", 1)[0]


def service_provider_config(request: Request) -> ScimResponse:
    state = request.app.state.scim
    return ScimResponse({
        "schemas": [SPC_URN],
        "documentationUri": "https://github.com/scimcert/scimcert#the-reference-server",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": state.tenant.options.maxPageSize},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A service-account token sent as 'Authorization: Bearer <token>'",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": True,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": str(request.url_for("ServiceProviderConfig"))},
    })


def _resource_type(request: Request, resource_type: ResourceType) -> dict:
    """RFC 7643 §6 (https://www.rfc-editor.org/rfc/rfc7643#section-6); schemaExtensions, OPTIONAL, only where there
    are some, as in the Group example of RFC 7643 §8.6."""
    body = {
        "schemas": [RESOURCE_TYPE_URN],
        "id": resource_type.name,
        "name": resource_type.name,
        "endpoint": resource_type.endpoint,
        "description": resource_type.description,
        "schema": resource_type.schema,
    }
    if resource_type.extensions:
        body["schemaExtensions"] = [{"schema": urn, "required": False} for urn in resource_type.extensions]
    body["meta"] = {"resourceType": "ResourceType", "location": f"{base_url(request)}/ResourceTypes/{resource_type.name}"}
    return body


def _resource_types(request: Request) -> list[dict]:
    return [_resource_type(request, resource_type) for resource_type in RESOURCE_TYPES]


def _schema_resources(request: Request) -> list[dict]:
    return [
        {**doc, "meta": {"resourceType": "Schema", "location": f"{base_url(request)}/Schemas/{doc['id']}"}}
        for doc in schema_documents()
    ]


def _listing(request: Request, resources: list[dict]) -> ScimResponse:
    """RFC 7644 §4: query parameters are ignored; a filter SHOULD be answered with 403."""
    if "filter" in request.query_params:
        raise ScimError(403, "Filtering is not supported on discovery endpoints")
    return ScimResponse({
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    })


def _one(resources: list[dict], wanted: str) -> ScimResponse:
    for resource in resources:
        if resource["id"] == wanted:
            return ScimResponse(resource)
    raise not_found(wanted)


def resource_types(request: Request) -> ScimResponse:
    return _listing(request, _resource_types(request))


def resource_type(request: Request) -> ScimResponse:
    return _one(_resource_types(request), request.path_params["name"])


def schemas(request: Request) -> ScimResponse:
    return _listing(request, _schema_resources(request))


def schema(request: Request) -> ScimResponse:
    return _one(_schema_resources(request), request.path_params["urn"])


def routes() -> list[Route]:
    return [
        Route("/ServiceProviderConfig", service_provider_config, methods=["GET"], name="ServiceProviderConfig"),
        Route("/ResourceTypes", resource_types, methods=["GET"]),
        Route("/ResourceTypes/{name}", resource_type, methods=["GET"]),
        Route("/Schemas", schemas, methods=["GET"]),
        Route("/Schemas/{urn}", schema, methods=["GET"]),
    ]
