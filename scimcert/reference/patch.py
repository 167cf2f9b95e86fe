"""PATCH of a canonical resource (RFC 7644 §3.5.2, https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2), a user
by default or a group, with the shapes Okta and Entra send.

`apply_patch` works on a deep copy and raises ScimError on the first failing operation, so a
request is atomic: «If a single operation encounters an error condition, the original SCIM
resource MUST be restored». id, meta and schemas are left to the caller. Each operation costs one pass
over the values it touches (adds and removes by value look elements up by hash), a few milliseconds on a group of
10,000 members.
"""

from __future__ import annotations

import copy
from typing import Any

from .attributes import USER, Attribute, ResourceType
from .errors import ScimError, invalid_path, invalid_syntax, invalid_value, mutability, no_target
from .filter import PatchPath, parse_path
from .values import canonical_schema, coerce, coerce_single

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_OPS = ("add", "remove", "replace")
_MISSING = object()


def apply_patch(resource: dict, body: object, resource_type: ResourceType = USER) -> dict:
    """Apply every operation in order to a copy of `resource`; RFC 7644 §3.5.2: «SHALL be treated as atomic»."""
    operations = _operations(body)
    result = copy.deepcopy(resource)
    for number, operation in enumerate(operations, 1):
        try:
            _apply(result, operation, resource_type)
        except ScimError as error:
            raise ScimError(error.status, f"Operation {number}: {error.detail}", error.scim_type) from None
    for urn in resource_type.extensions:
        if result.get(urn) == {}:
            del result[urn]
    return result


def _member(obj: dict, name: str) -> Any:
    """A member of a request object; SCIM attribute names are case-insensitive (RFC 7643 §2.1)."""
    return next((v for k, v in obj.items() if isinstance(k, str) and k.lower() == name), _MISSING)


def _operations(body: object) -> list:
    """RFC 7644 §3.5.2: «MUST contain the "schemas" attribute with the URI value of "…:PatchOp"» and
    «the attribute "Operations", whose value is an array of one or more PATCH operations»."""
    if not isinstance(body, dict):
        raise invalid_syntax("The PATCH body must be a JSON object")
    schemas = _member(body, "schemas")
    if not isinstance(schemas, list) or PATCH_OP.lower() not in [s.lower() for s in schemas if isinstance(s, str)]:
        raise invalid_syntax(f'The PATCH body must have "schemas": ["{PATCH_OP}"]')
    operations = _member(body, "operations")
    if not isinstance(operations, list) or not operations:
        raise invalid_syntax('The PATCH body must have "Operations", a non-empty array')
    return operations


def _apply(user: dict, operation: Any, resource_type: ResourceType) -> None:
    """One operation. RFC 7644 §3.5.2: «MUST have exactly one "op" member … "add", "remove", or "replace"»
    (matched case-insensitively: Entra sends "Add", "Replace", "Remove")."""
    if not isinstance(operation, dict):
        raise invalid_syntax("Each operation must be a JSON object")
    op = _member(operation, "op")
    if not isinstance(op, str) or op.lower() not in _OPS:
        raise invalid_syntax(f'"op" must be one of add, remove, replace; got {op!r}')
    op = op.lower()
    path = _member(operation, "path")
    value = _member(operation, "value")
    if path in (_MISSING, None):
        if op == "remove":
            raise no_target('"remove" needs a "path" (RFC 7644 §3.5.2.2)')
        if not isinstance(value, dict):
            raise invalid_value(f'"{op}" without a "path" needs a "value" object of attributes')
        _write_object(user, value, op, resource_type)
        return
    if not isinstance(path, str):
        raise invalid_path(f'"path" must be a string, got {type(path).__name__}')
    target = parse_path(path, resource_type)
    if _read_only(target):
        raise mutability(f"'{path}' is readOnly")
    if op == "remove":
        _remove(user, target, value)
    elif value is _MISSING:
        raise invalid_value(f'"{op}" needs a "value" (RFC 7644 §3.5.2.1)')
    else:
        _write(user, target, value, op)


def _read_only(path: PatchPath) -> bool:
    """RFC 7644 §3.5.2: «a client MUST NOT modify an attribute that has mutability "readOnly"»."""
    return any(a is not None and a.mutability == "readOnly" for a in (path.attribute, path.sub))


# Microsoft Learn, SCIM compatibility (Entra's aadOptscim062020 no-path replace with dotted and URN keys):
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
def _write_object(user: dict, value: dict, op: str, resource_type: ResourceType, schema: str | None = None) -> None:
    """add/replace without a path: «the target location is assumed to be the resource itself» (§3.5.2.1, §3.5.2.3).

    Keys may be dotted or URN-qualified (Entra, see the page above; the SCIM Validator,
    https://docs.microsoft.com/en-us/answers/questions/1665068/) or a schema URN holding an
    object of its attributes. Unknown and readOnly keys are ignored: IdPs send id, meta, schemas.
    An `id` other than the resource's is an attempt to change it, refused as `path: "id"` is (400
    mutability, §3.5.2: a client «MUST NOT modify an attribute that has mutability "readOnly"»);
    the resource's own id is an echo, ignored (Okta sends a group's with every membership change:
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/).
    """
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        if schema is None and key.lower() == "id" and item != user.get("id"):
            raise mutability("'id' is readOnly: a replace may not give the resource another id")
        urn = canonical_schema(key)
        if schema is None and urn in resource_type.schemas:
            if not isinstance(item, dict):
                raise invalid_value(f"'{key}' must be an object of {urn} attributes")
            _write_object(user, item, op, resource_type, urn)
            continue
        try:
            target = parse_path(f"{schema}:{key}" if schema else key, resource_type)
        except ScimError:
            continue
        if not _read_only(target):
            _write(user, target, item, op)


def _container(user: dict, path: PatchPath) -> dict:
    """The dict holding the path's attribute: the resource, or its extension object (the enterprise user's)."""
    if not path.target.is_extension:
        return user
    extension = user.get(path.target.schema)
    if not isinstance(extension, dict):
        extension = user[path.target.schema] = {}
    return extension


def _coerce(definition: Attribute, value: Any, path: PatchPath) -> Any:
    """values.coerce, dropping readOnly sub-attributes a client may not set (manager.displayName)."""
    coerced = coerce(definition, value, path.text)
    read_only = {s.name for s in definition.sub_attributes.values() if s.mutability == "readOnly"}
    if read_only and coerced is not None:
        for element in coerced if isinstance(coerced, list) else [coerced]:
            for name in read_only:
                element.pop(name, None)
    return coerced


def _write(user: dict, path: PatchPath, value: Any, op: str) -> None:
    """add/replace at a path (RFC 7644 §3.5.2.1, §3.5.2.3). An unassigned value removes the target;
    adding nothing to a multi-valued attribute changes nothing."""
    attr, sub = path.attribute, path.sub
    if sub is None and path.value_filter is None:
        _write_attribute(user, path, value, op)
        return
    new = _coerce(sub or attr, value, path)
    if new is None:
        _remove(user, path)
        return
    if sub is None:  # `emails[type eq "work"]`: the value is one element, merged into each match
        if len(new) != 1:
            raise invalid_value(f"'{path.text}' takes one element, got {len(new)}")
        new = new[0]
    container = _container(user, path)
    records = _records(container, path)
    for record in records:
        if sub is None:
            record.update(new)
        else:
            record[sub.name] = new
    if attr.multi_valued:
        _one_primary(container[attr.name], records)


def _write_attribute(user: dict, path: PatchPath, value: Any, op: str) -> None:
    """A whole attribute: multi-valued add appends («added to the existing set», skipping values
    already there), multi-valued replace replaces the set, complex values merge their
    sub-attributes («Sub-attributes that are not specified … are left unchanged»), others are set
    (also for "add": Entra adds single-valued attributes)."""
    attr = path.attribute
    new = _coerce(attr, value, path)
    if new is None:
        if not (op == "add" and attr.multi_valued):
            _remove(user, path)
        return
    container = _container(user, path)
    current = container.get(attr.name)
    if attr.multi_valued:
        items = list(current) if op == "add" and isinstance(current, list) else []
        added = _append_new(items, new)
        container[attr.name] = items
        _one_primary(items, added)
    elif attr.type == "complex":
        container[attr.name] = {**(current if isinstance(current, dict) else {}), **new}
    else:
        container[attr.name] = new


_SCANNED = 16
"""Up to this many values to add, each is looked for by a scan of the elements (C-level comparisons, cheapest for
the one member Entra adds at a time); more, and the elements are hashed once into a set."""


def _append_new(items: list, new: list) -> list:
    """Append to `items` each value of `new` not among them yet (nor earlier in `new`); the values appended."""
    added = []
    if len(new) <= _SCANNED:
        for element in new:
            if element not in items:
                items.append(element)
                added.append(element)
        return added
    present = set(map(_hashable, items))
    for element in new:
        key = _hashable(element)
        if key not in present:
            present.add(key)
            items.append(element)
            added.append(element)
    return added


def _records(container: dict, path: PatchPath) -> list[dict]:
    """The element dicts a sub-attribute or value-filter path writes into.

    A complex single-valued attribute is its own record. For a multi-valued one: the elements the
    filter matches (all of them without a filter). When none matches, one element is created
    from the filter's `eq` terms, e.g. {"type": "work"} for `emails[type eq "work"].value`, as
    Entra expects (inferred from the value paths in Microsoft's SCIM tutorial,
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
    a filter with no such terms gives 400 noTarget
    («no record match was made», RFC 7644 §3.5.2.3).
    """
    attr, flt = path.attribute, path.value_filter
    current = container.get(attr.name)
    if not attr.multi_valued:
        if not isinstance(current, dict):
            current = container[attr.name] = {}
        return [current]
    items = current if isinstance(current, list) else []
    matching = [e for e in items if isinstance(e, dict) and (flt is None or flt.matches(e))]
    if matching:
        return matching
    seed = {} if flt is None else flt.equalities()
    if seed is None:
        raise no_target(f"No value matches '{path.text}'")
    element = coerce_single(attr, seed, path.text) or {}
    if flt is not None and not flt.matches(element):
        raise no_target(f"No value matches '{path.text}', and its filter cannot describe a new one")
    container[attr.name] = [*items, element]
    return [element]


def _remove(user: dict, path: PatchPath, value: Any = _MISSING) -> None:
    """RFC 7644 §3.5.2.2 remove. Removing what is absent is not an error. A required attribute
    «SHALL return … "mutability"». A `value` on a multi-valued attribute names the elements to
    remove (Entra's members style, compared by their "value")."""
    attr, sub, flt = path.attribute, path.sub, path.value_filter
    container = _container(user, path)
    current = container.get(attr.name)
    if sub is None and flt is None:
        if attr.multi_valued and value not in (_MISSING, None) and isinstance(current, list):
            doomed = _Doomed(coerce(attr, value, path.text) or [])
            _keep(container, attr, [e for e in current if not doomed.names(e)])
        elif attr.required:
            raise mutability(f"'{path.text}' is required and cannot be removed")
        else:
            container.pop(attr.name, None)
    elif not attr.multi_valued:
        if isinstance(current, dict):
            current.pop(sub.name, None)
            if not current:
                del container[attr.name]
    elif isinstance(current, list):
        matching = [e for e in current if isinstance(e, dict) and (flt is None or flt.matches(e))]
        if sub is None:
            removed = set(map(id, matching))
            _keep(container, attr, [e for e in current if id(e) not in removed])
        else:
            for element in matching:
                element.pop(sub.name, None)
            _keep(container, attr, [e for e in current if e != {}])


def _keep(container: dict, attr: Attribute, items: list) -> None:
    """«If no other values remain after removal of the selected values, the multi-valued attribute SHALL be considered unassigned.»"""
    if items:
        container[attr.name] = items
    else:
        container.pop(attr.name, None)


class _Doomed:
    """The values a remove lists (Entra's members style): each names the elements with its "value" when it has one,
    else the elements equal to it as a whole. Looked up by hash, so removing k of n elements is one pass."""

    def __init__(self, doomed: list) -> None:
        self.values = {_hashable(d["value"]) for d in doomed if _has_value(d)}
        self.wholes = {_hashable(d) for d in doomed if not _has_value(d)}

    def names(self, element: Any) -> bool:
        if _has_value(element) and _hashable(element["value"]) in self.values:
            return True
        return bool(self.wholes) and _hashable(element) in self.wholes


def _has_value(element: Any) -> bool:
    return isinstance(element, dict) and "value" in element


def _hashable(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal to another's exactly when the values are equal (objects compare
    without order, as dicts do), so that elements can be looked up in a set rather than compared one by one."""
    if isinstance(value, dict):
        return frozenset((key, _hashable(item)) for key, item in value.items())
    if isinstance(value, list):
        return tuple(map(_hashable, value))
    return value


def _one_primary(items: list, written: list) -> None:
    """RFC 7644 §3.5.2: setting "primary" to true «SHALL cause the server to automatically set "primary"
    to "false" for any other values». The last written primary wins, else the last one in the list."""
    primaries = [e for e in items if isinstance(e, dict) and e.get("primary") is True]
    if len(primaries) < 2:
        return
    written_ids = set(map(id, written))
    chosen = [e for e in primaries if id(e) in written_ids] or primaries
    for element in primaries:
        if element is not chosen[-1]:
            element["primary"] = False
