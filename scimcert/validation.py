"""Response validation: a SCIM body against its RFC 7643/7644 JSON Schema and, optionally, an IdP overlay.

    >>> from scimcert.validation import validate
    >>> for violation in validate("user-list", body, idp="okta"):
    ...     print(violation)
    /Resources/0/active: 'false' is not of type 'boolean' (idp/okta.json)
    /Resources/0/active: 'false' is not of type 'boolean' (scim/user.json)

The RFC schemas live in schemas/scim/, the overlays in schemas/idp/<idp>.json. An overlay states what
that IdP needs to read on top of the RFC; its `$defs` are named after the kinds below ("user",
"user-list", ...), and a kind without an entry in an overlay is validated against the RFC schema only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from jsonschema.exceptions import ValidationError

from .paths import SCHEMAS
from .schemas import compiled, registry, validator

#: validate() kinds and the RFC schema of each (a path under schemas/).
KINDS: dict[str, str] = {
    "user": "scim/user.json",
    "user-list": "scim/user-list-response.json",
    "group": "scim/group.json",
    "group-list": "scim/group-list-response.json",
    "error": "scim/error.json",
    "service-provider-config": "scim/service-provider-config.json",
    "resource-type": "scim/resource-type.json",
    "resource-type-list": "scim/resource-type-list-response.json",
    "schema": "scim/schema.json",
    "schema-list": "scim/schema-list-response.json",
    "patch-op": "scim/patch-op.json",
}

#: IdPs with an overlay, and its file under schemas/.
IDPS: dict[str, str] = {
    "okta": "idp/okta.json",
    "onelogin": "idp/onelogin.json",
    "entra": "idp/entra.json",
}


@dataclass(frozen=True)
class Violation:
    """One way a body breaks a schema."""

    pointer: str  # RFC 6901 JSON pointer to the offending value, e.g. "/Resources/0/active" ("" = the whole body)
    message: str
    schema: str  # the schema file that states the broken rule, e.g. "scim/user.json" or "idp/okta.json"
    keyword: str  # the JSON Schema keyword that failed, e.g. "type", "required", "contains"

    def __str__(self) -> str:
        return f"{self.pointer or '(root)'}: {self.message} ({self.schema})"

    @property
    def cause(self) -> str:
        """The rule broken and where, alike for every resource that breaks it: array indexes become
        '*' and the offending value is left out (/Resources/*/name: required (idp/okta.json))."""
        where = "/".join("*" if part.isdigit() else part for part in self.pointer.split("/"))
        rule = self.message if self.keyword in NAMES_NO_VALUE else self.keyword
        return f"{where or '(root)'}: {rule} ({self.schema})"


NAMES_NO_VALUE = ("required", "not")  # keywords whose message names the attribute, never the value sent


def validate(kind: str, instance: Any, idp: str | None = None) -> list[Violation]:
    """Every violation of `instance` against the RFC schema of `kind` and, when `idp` is given and its
    overlay covers `kind`, against that overlay; sorted by pointer (array indexes numerically).

    A list is judged as its envelope plus each resource on its own, so a user seen on many pages (import
    walks) is validated once: the same violations, with /Resources/i pointers. Each part is put to the
    compiled validators first; only a part they reject is validated again by jsonschema, which names the
    violations (set SCIMCERT_VALIDATION=jsonschema to use jsonschema alone)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if idp is not None and idp not in IDPS:
        raise ValueError(f"unknown IdP {idp!r}; expected one of {', '.join(IDPS)}")
    found = [dataclasses.replace(v, pointer=prefix + v.pointer)
             for part_kind, prefix, part in _parts(kind, instance)
             if not _conforms(part_kind, idp, part)
             for v in _cached(part_kind, idp, _canonical(part))]
    return sorted(found, key=_order)


#: List kinds whose Resources are validated one by one, and the kind of each resource.
ITEM_KINDS = {"user-list": "user", "group-list": "group"}


def _parts(kind: str, instance: Any) -> list[tuple[str, str, Any]]:
    """(kind, pointer prefix, value) of each part validated on its own: a list's envelope (with no
    Resources) and each of its resources, or else the whole body."""
    items = instance.get("Resources") if isinstance(instance, dict) and kind in ITEM_KINDS else None
    if not isinstance(items, list):
        return [(kind, "", instance)]
    return [(kind, "", {**instance, "Resources": []}),
            *((ITEM_KINDS[kind], pointer(["Resources", index]), item) for index, item in enumerate(items))]


def _conforms(kind: str, idp: str | None, instance: Any) -> bool:
    """The compiled validators' yes: `instance` breaks none of the schemas of `kind` (for `idp`). False
    also when they cannot say (jsonschema is then asked), and always under SCIMCERT_VALIDATION=jsonschema."""
    if os.environ.get("SCIMCERT_VALIDATION") == "jsonschema":
        return False
    try:
        return all(compiled(name).is_valid(instance) for name in _names(kind, idp))
    except (ValueError, TypeError, OverflowError):  # a value JSON Schema has no type for (NaN, an int past 64 bits)
        return False


def _names(kind: str, idp: str | None) -> list[str]:
    """The schemas `kind` is validated against: the RFC schema, then `idp`'s overlay if it covers it."""
    overlay = overlay_for(kind, idp) if idp is not None else None
    return [KINDS[kind], overlay] if overlay is not None else [KINDS[kind]]


def _canonical(instance: Any) -> str:
    return json.dumps(instance, sort_keys=True, ensure_ascii=False)


@lru_cache(maxsize=4096)
def _cached(kind: str, idp: str | None, text: str) -> tuple[Violation, ...]:
    instance = json.loads(text)
    return tuple(_violation(error, name) for name in _names(kind, idp) for error in validator(name).iter_errors(instance))


def overlay_for(kind: str, idp: str) -> str | None:
    """The schema name (`file#/$defs/kind`) of `idp`'s overlay for `kind`, or None if it has none."""
    if idp not in IDPS:
        raise ValueError(f"unknown IdP {idp!r}; expected one of {', '.join(IDPS)}")
    path = IDPS[idp]
    if kind not in registry().contents(path).get("$defs", {}):
        return None
    return f"{path}#/$defs/{kind}"


def has_overlay(kind: str, idp: str) -> bool:
    """Whether `idp`'s overlay says anything about `kind` (or, for a list, about its resources)."""
    return kind in KINDS and (overlay_for(kind, idp) is not None
                              or (kind in ITEM_KINDS and overlay_for(ITEM_KINDS[kind], idp) is not None))


def pointer(path: Iterable[str | int]) -> str:
    """RFC 6901 JSON pointer of a path of keys and indexes."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


# ---------------------------------------------------------------------------------------------


def _violation(error: ValidationError, name: str) -> Violation:
    return Violation(
        pointer=pointer(error.absolute_path),
        message=_message(error),
        schema=_source(error.schema, name.partition("#")[0]),
        keyword=str(error.validator),
    )


MESSAGE_CAP = 300  # jsonschema quotes the offending value whole: a root-level error would quote the body


def _message(error: ValidationError) -> str:
    """jsonschema's message, reworded where it would be cryptic, and capped in length."""
    text = _reworded(error)
    return text if len(text) <= MESSAGE_CAP else f"{text[:200]} … {text[-80:]}"


def _reworded(error: ValidationError) -> str:
    keyword, value, schema = error.validator, error.validator_value, error.schema
    if keyword == "not" and value == {"not": {"type": "null"}}:  # "password": no value (absent or null, RFC 7643 §2.5)
        name = error.absolute_path[-1] if error.absolute_path else "value"
        return f"{name!r} must have no value (absent, or null)"
    if keyword == "type" and isinstance(value, list) and "null" in value:
        # Optional attributes accept null (RFC 7643 §2.5: null = unassigned); name the real type only.
        types = [t for t in value if t != "null"]
        if types:
            return f"{error.instance!r} is not of type {', '.join(repr(t) for t in types)}"
    if keyword == "contains" and isinstance(value, dict) and set(value) == {"const"}:
        return f"{error.instance!r} does not contain {value['const']!r}"
    if keyword in ("contains", "minContains", "maxContains") and isinstance(schema, dict):
        if schema.get("contains") == _PRIMARY:  # RFC 7643 §2.4 (at most one) or an IdP (at least one)
            return f"{'more than one' if keyword == 'maxContains' else 'no'} value has \"primary\": true"
        if schema.get("description"):
            return f"{error.message}: {schema['description']}"
    if keyword == "pattern" and isinstance(schema, dict) and schema.get("title"):
        return f"{error.instance!r} is not a valid {schema['title']}"
    return error.message


_PRIMARY = {"type": "object", "required": ["primary"], "properties": {"primary": {"const": True}}}


def _source(subschema: Any, fallback: str) -> str:
    """The schema file (relative to schemas/) whose text contains `subschema`."""
    return _owners().get(id(subschema), fallback)


@cache
def _owners() -> dict[int, str]:
    """id() of every object schema in every schema file → that file. The registry holds (and keeps
    alive) the very dicts the validators evaluate, so an error's `schema` is found by identity."""
    owners: dict[int, str] = {}

    def walk(node: Any, name: str) -> None:
        if isinstance(node, dict):
            owners.setdefault(id(node), name)
            for child in node.values():
                walk(child, name)
        elif isinstance(node, list):
            for child in node:
                walk(child, name)

    for path in sorted(SCHEMAS.rglob("*.json")):
        name = path.relative_to(SCHEMAS).as_posix()
        walk(registry().contents(name), name)
    return owners


def _order(violation: Violation) -> tuple:
    parts = violation.pointer.split("/")[1:] if violation.pointer else []
    key = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)
    return key, violation.schema, violation.keyword, violation.message
