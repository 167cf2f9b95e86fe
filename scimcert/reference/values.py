"""Turning what IdPs send into the server's canonical resource form.

IdPs are sloppy in well-known ways: `active` as "True"/"false" strings, `emails` as one object,
manager as a bare id, empty strings for unmapped fields, non-RFC schema URNs, `id`/`meta`/`roles: []`
in write bodies. The server accepts all of these, stores canonical values, and ignores what it does
not know. Sources: OneLogin's templates (https://developers.onelogin.com/scim/define-user-schema) and
traffic (https://github.com/goauthentik/authentik/issues/11249); Entra's bodies (Microsoft Learn's SCIM
tutorial, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
and Microsoft Learn's SCIM compatibility page, linked below); Okta's read-modify-write PUT
(https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/). The bare manager id is what the SCIM
Validator sends (observed in third-party runs, GitHub pranems/SCIMServer); the "true" string and the empty
strings from OneLogin templates are inferred.
"""

# Microsoft Learn's SCIM compatibility page:
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility

from __future__ import annotations

from typing import Any

from .attributes import COMMON, CORE_USER, ENTERPRISE_USER, RESOURCE_TYPES, USER, Attribute, ResourceType, attributes_of
from .errors import invalid_value

# Non-RFC URNs OneLogin's default templates send, mapped to the RFC ones.
SCHEMA_ALIASES = {
    "urn:scim:schemas:core:2.0": CORE_USER,
    "urn:scim:schemas:core:1.0": CORE_USER,
    "urn:scim:schemas:extension:enterprise:2.0": ENTERPRISE_USER,
    "urn:scim:schemas:extension:enterprise:1.0": ENTERPRISE_USER,
}

_UNSET = object()


def is_unassigned(value: Any) -> bool:
    """RFC 7643 §2.5: null, an empty string, an empty list or object count as unassigned."""
    return value is None or value == "" or value == [] or value == {}


_KNOWN_SCHEMAS = {urn.lower(): urn for t in RESOURCE_TYPES for urn in t.schemas}


def canonical_schema(urn: str) -> str:
    lowered = urn.lower()
    return _KNOWN_SCHEMAS.get(lowered) or SCHEMA_ALIASES.get(lowered, urn)


def coerce(attr: Attribute, value: Any, path: str | None = None) -> Any:
    """Coerce one value to the attribute's type; None means 'unassigned'. Raises 400 invalidValue."""
    where = path or attr.name
    if is_unassigned(value):
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]
        out = [coerce_single(attr, item, where) for item in items]
        out = [item for item in out if item is not None]
        return out or None
    if isinstance(value, list) and attr.type == "complex" and len(value) == 1:
        value = value[0]  # Entra's array form of the manager
    return coerce_single(attr, value, where)


def coerce_single(attr: Attribute, value: Any, where: str) -> Any:
    if is_unassigned(value):
        return None
    if attr.type == "complex":
        if not isinstance(value, dict):
            if "value" in attr.sub_attributes and isinstance(value, (str, int)):
                value = {"value": value}  # manager given as a bare id
            else:
                raise invalid_value(f"'{where}' must be a complex value (an object)")
        if attr.name == "manager" and not any(str(k).lower() == "value" for k in value):
            # OneLogin's Keepnet template names the manager's id "managerId"
            value = {("value" if str(k).lower() == "managerid" else k): v for k, v in value.items()}
        out = {}
        for key, sub_value in value.items():
            sub = attr.sub(key)
            if sub is None or sub.mutability == "readOnly":
                continue  # unknown, or readOnly (manager.displayName): RFC 7644 §3.3 «SHALL be ignored»
            coerced = coerce_single(sub, sub_value, f"{where}.{sub.name}")
            if coerced is not None:
                out[sub.name] = coerced
        return out or None
    if attr.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise invalid_value(f"'{where}' must be a boolean, got {value!r}")
    if attr.type in ("integer", "decimal"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise invalid_value(f"'{where}' must be a number, got {value!r}")
    # string, reference, dateTime, binary
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise invalid_value(f"'{where}' must be a string, got {type(value).__name__}")
    return str(value)


def _assign(target: dict, attr: Attribute, value: Any) -> None:
    coerced = coerce(attr, value)
    if coerced is None:
        target.pop(attr.name, None)
    else:
        target[attr.name] = coerced


def normalize_user(body: Any) -> dict:
    """Turn a POST/PUT body into a canonical user (without id/meta/schemas). Unknown keys are dropped."""
    return normalize(body, USER)


def normalize(body: Any, resource_type: ResourceType) -> dict:
    """Turn a POST/PUT body into a canonical resource of the type (without id/meta/schemas). Unknown keys are dropped."""
    if not isinstance(body, dict):
        raise invalid_value("The request body must be a JSON object")
    core_attrs = resource_type.attributes
    resource: dict = {}
    extensions: dict[str, dict] = {}
    for key, value in body.items():
        if not isinstance(key, str):
            continue
        schema = canonical_schema(key)
        if schema in resource_type.extensions:
            if isinstance(value, dict):
                ext_attrs = attributes_of(schema)
                for sub_key, sub_value in value.items():
                    attr = ext_attrs.get(str(sub_key).lower())
                    if attr is not None:
                        _assign(extensions.setdefault(schema, {}), attr, sub_value)
            continue
        if schema == resource_type.schema and isinstance(value, dict):
            # A core block under its URN (seen with OneLogin's non-RFC templates).
            resource.update(normalize(value, resource_type))
            continue
        lowered = key.lower()
        if lowered == "externalid":
            _assign(resource, COMMON["externalid"], value)
            continue
        attr = core_attrs.get(lowered)
        if attr is None or attr.mutability == "readOnly":
            continue  # unknown, id, meta, schemas, a user's groups: ignored, not echoed
        _assign(resource, attr, value)
    resource.update((urn, block) for urn, block in extensions.items() if block)
    _one_primary(resource)
    return resource


def _one_primary(resource: dict) -> None:
    """RFC 7643 §2.4: «The primary attribute value "true" MUST appear no more than once»; when a body
    marks several values primary, the first one stays primary (the one the domain rule checks)."""
    for items in resource.values():
        if isinstance(items, list):
            primaries = [e for e in items if isinstance(e, dict) and e.get("primary") is True]
            for extra in primaries[1:]:
                extra["primary"] = False
