"""The reference server's attribute definitions (RFC 7643 §7), loaded from data/schemas.json.

Attribute names are case-insensitive (RFC 7643 §2.1); every lookup here folds case and
returns the canonical spelling, so the rest of the server works on canonical names only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMAS = (CORE_USER, ENTERPRISE_USER)


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


@dataclass(frozen=True)
class AttributePath:
    """A resolved attribute reference: which schema, which attribute, optional sub-attribute."""

    schema: str  # CORE_USER for core and common attributes, ENTERPRISE_USER for the extension
    attribute: Attribute
    sub: Attribute | None = None

    @property
    def definition(self) -> Attribute:
        return self.sub or self.attribute

    @property
    def is_extension(self) -> bool:
        return self.schema != CORE_USER


def split_urn(name: str) -> tuple[str | None, str]:
    """Split a URN-prefixed attribute name into (schema URN, rest); (None, name) when unprefixed.

    The schema URN is matched case-insensitively against the known User schemas;
    `urn:...:enterprise:2.0:User:manager.value` → (ENTERPRISE_USER, "manager.value").
    """
    lowered = name.lower()
    for urn in sorted(USER_SCHEMAS, key=len, reverse=True):
        prefix = urn.lower()
        if lowered == prefix:
            return urn, ""
        if lowered.startswith(prefix + ":"):
            return urn, name[len(prefix) + 1 :]
    return None, name


def resolve(name: str) -> AttributePath | None:
    """Resolve `attr`, `attr.sub`, or a URN-prefixed form to its definition; None if unknown."""
    urn, rest = split_urn(name)
    if not rest:
        return None
    head, _, tail = rest.partition(".")
    if urn in (None, CORE_USER) and head.lower() in COMMON:
        attr, schema = COMMON[head.lower()], CORE_USER
    else:
        schema = urn or CORE_USER
        attr = attributes_of(schema).get(head.lower())
        if attr is None:
            return None
    if not tail:
        return AttributePath(schema, attr)
    sub = attr.sub(tail)
    return AttributePath(schema, attr, sub) if sub else None
