"""The reference server's resource types and attribute definitions (RFC 7643 §6, §7), loaded from data/schemas.json.

A `ResourceType` (User, Group) names a core schema and its extensions; attribute resolution, filters, PATCH,
representation and the stores take one, so one piece of code serves every type. Attribute names are
case-insensitive (RFC 7643 §2.1); every lookup here folds case and returns the canonical spelling, so the rest
of the server works on canonical names only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass(frozen=True)
class Attribute:
    """One attribute or sub-attribute definition."""

    name: str
    type: str
    multi_valued: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    required: bool = False
    sub_attributes: dict[str, Attribute] = field(default_factory=dict)

    def sub(self, name: str) -> Attribute | None:
        return self.sub_attributes.get(name.lower())

    @classmethod
    def from_schema(cls, d: dict) -> Attribute:
        return cls(
            name=d["name"],
            type=d["type"],
            multi_valued=d.get("multiValued", False),
            case_exact=d.get("caseExact", False),
            mutability=d.get("mutability", "readWrite"),
            returned=d.get("returned", "default"),
            required=d.get("required", False),
            sub_attributes={s["name"].lower(): cls.from_schema(s) for s in d.get("subAttributes", [])},
        )


# Common attributes (RFC 7643 §3.1) are not part of any schema document.
_META = Attribute(
    "meta",
    "complex",
    mutability="readOnly",
    sub_attributes={
        n.lower(): Attribute(n, t, case_exact=True, mutability="readOnly")
        for n, t in [("resourceType", "string"), ("created", "dateTime"), ("lastModified", "dateTime"),
                     ("location", "reference"), ("version", "string")]
    },
)
COMMON = {
    "id": Attribute("id", "string", case_exact=True, mutability="readOnly", returned="always"),
    "externalid": Attribute("externalId", "string", case_exact=True),
    "meta": _META,
    "schemas": Attribute("schemas", "reference", multi_valued=True, case_exact=True, mutability="readOnly", returned="always"),
}


@cache
def schema_documents() -> list[dict]:
    """The Schema resources served at /Schemas, exactly what this server implements."""
    text = resources.files("scimcert.reference").joinpath("data/schemas.json").read_text("utf-8")
    return json.loads(text)


@cache
def _tables() -> dict[str, dict[str, Attribute]]:
    return {
        doc["id"]: {a["name"].lower(): Attribute.from_schema(a) for a in doc["attributes"]}
        for doc in schema_documents()
    }


def attributes_of(schema_urn: str) -> dict[str, Attribute]:
    """Attributes of one schema, keyed by lower-cased name."""
    return _tables()[schema_urn]


@dataclass(frozen=True, eq=False)
class ResourceType:
    """A resource type this server serves (RFC 7643 §6, https://www.rfc-editor.org/rfc/rfc7643#section-6): its name,
    endpoint, core schema and schema extensions, and `links`: the multi-valued attributes whose elements name a
    resource of another type by its id (attribute, the endpoint of that type, the element's `type`), to which the
    server adds `$ref` and `type`. One object per type, compared by identity."""

    name: str
    endpoint: str
    description: str
    schema: str
    extensions: tuple[str, ...] = ()
    links: tuple[tuple[str, str, str], ...] = ()

    @property
    def schemas(self) -> tuple[str, ...]:
        return (self.schema, *self.extensions)

    @property
    def attributes(self) -> dict[str, Attribute]:
        """The core schema's attributes, keyed by lower-cased name (the common ones are in COMMON)."""
        return attributes_of(self.schema)

    @cached_property
    def hidden(self) -> frozenset[str]:
        """The core attributes never returned (RFC 7643 §7 `returned: "never"`: a User's password)."""
        return frozenset(a.name for a in self.attributes.values() if a.returned == "never")


# RFC 7643 §4.1 and §4.2 (https://www.rfc-editor.org/rfc/rfc7643#section-4.2): a user's `groups` and a group's
# `members` hold ids; RFC 7643 §8.7.1 gives the members' `type` "User" and the groups' "direct".
USER = ResourceType("User", "/Users", "User Account", CORE_USER, (ENTERPRISE_USER,),
                    links=(("groups", "/Groups", "direct"),))
GROUP = ResourceType("Group", "/Groups", "Group (an Asana team)", CORE_GROUP, links=(("members", "/Users", "User"),))
RESOURCE_TYPES = (USER, GROUP)
_EXTENSIONS = frozenset(urn for t in RESOURCE_TYPES for urn in t.extensions)


@dataclass(frozen=True)
class AttributePath:
    """A resolved attribute reference: which schema, which attribute, optional sub-attribute."""

    schema: str  # the core schema of its resource type for core and common attributes, else the extension's
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def definition(self) -> Attribute:
        return self.sub or self.attribute

    @property
    def is_extension(self) -> bool:
        return self.schema in _EXTENSIONS


def split_urn(name: str, resource_type: ResourceType = USER) -> tuple[str | None, str]:
    """Split a URN-prefixed attribute name into (schema URN, rest); (None, name) when unprefixed.

    The schema URN is matched case-insensitively against the resource type's schemas;
    `urn:...:enterprise:2.0:User:manager.value` → (ENTERPRISE_USER, "manager.value").
    """
    lowered = name.lower()
    for urn in sorted(resource_type.schemas, key=len, reverse=True):
        prefix = urn.lower()
        if lowered == prefix:
            return urn, ""
        if lowered.startswith(prefix + ":"):
            return urn, name[len(prefix) + 1 :]
    return None, name


def resolve(name: str, resource_type: ResourceType = USER) -> AttributePath | None:
    """Resolve `attr`, `attr.sub`, or a URN-prefixed form to its definition in a resource type; None if unknown."""
    urn, rest = split_urn(name, resource_type)
    if not rest:
        return None
    head, _, tail = rest.partition(".")
    core = resource_type.schema
    if urn in (None, core) and head.lower() in COMMON:
        attr, schema = COMMON[head.lower()], core
    else:
        schema = urn or core
        attr = attributes_of(schema).get(head.lower())
        if attr is None:
            return None
    if not tail:
        return AttributePath(schema, attr)
    sub = attr.sub(tail)
    return AttributePath(schema, attr, sub) if sub else None
