"""From a stored resource to the JSON a client sees: schemas, meta.location, references, and RFC 7644 §3.9 projection
(https://www.rfc-editor.org/rfc/rfc7644#section-3.9). A user by default; every function takes the resource type."""

from __future__ import annotations

from functools import lru_cache

from .attributes import USER, ResourceType, resolve, split_urn
from .errors import invalid_value

RETURNED_ALWAYS = ("id", "schemas")


def render(resource: dict, location: str, resource_type: ResourceType = USER) -> dict:
    """The full representation: `returned: never` (password) dropped, schemas and location filled in."""
    extensions = [urn for urn in resource_type.extensions if urn in resource]
    body = {"schemas": [resource_type.schema, *extensions], "id": resource["id"]}
    hidden = resource_type.hidden
    body.update((key, value) for key, value in resource.items() if key not in hidden and key not in ("meta", "id"))
    body["meta"] = {**resource["meta"], "location": location}
    return body


def linked(resource: dict, base_url: str, resource_type: ResourceType = USER) -> dict:
    """The resource with each element of its `links` attributes (a group's members, a user's groups), which names
    a resource by its id in `value`, given that resource's absolute URL in `$ref` and its `type` (RFC 7643 §4.1.2,
    §4.2: https://www.rfc-editor.org/rfc/rfc7643#section-4.2). Elements without a string value stay as they are."""
    changed = {}
    for name, endpoint, kind in resource_type.links:
        elements = resource.get(name)
        if isinstance(elements, list):
            changed[name] = [
                {**e, "$ref": f"{base_url}{endpoint}/{e['value']}", "type": kind}
                if isinstance(e, dict) and isinstance(e.get("value"), str) else e
                for e in elements
            ]
    return {**resource, **changed} if changed else resource


@lru_cache(maxsize=256)
def _selection(param: str | None, resource_type: ResourceType) -> dict[str, dict[str, set[str] | None]]:
    """'userName,name.givenName,urn:…:User:department' → {container: {attribute: subs or None}}.

    Cached: a list projects every resource of a page with the same parameter (read-only result)."""
    selected: dict[str, dict[str, set[str] | None]] = {}
    for raw in (param or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        urn, rest = split_urn(raw, resource_type)
        if urn in resource_type.extensions and not rest:
            selected.setdefault(resource_type.schema, {})[urn] = None  # the whole extension
            continue
        path = resolve(raw, resource_type)
        if path is None:
            raise invalid_value(f"Unknown attribute '{raw}' in attributes/excludedAttributes")
        names = selected.setdefault(path.schema, {})
        if path.sub is None:
            names[path.attribute.name] = None
        elif names.get(path.attribute.name, set()) is not None:
            names.setdefault(path.attribute.name, set()).add(path.sub.name)
    return selected


def _pick(value, subs: set[str], keep: bool):
    """Keep (or drop) the given sub-attributes of a complex value or of each element of a list."""
    def one(element):
        return {k: v for k, v in element.items() if (k in subs) == keep} if isinstance(element, dict) else element
    picked = [one(e) for e in value] if isinstance(value, list) else one(value)
    if isinstance(picked, list):
        picked = [e for e in picked if e]
    return picked or None


def _apply(container: dict, names: dict[str, set[str] | None], keep: bool) -> dict:
    out = {}
    for key, value in container.items():
        spec = names.get(key, "absent")
        if spec == "absent":
            if not keep:
                out[key] = value
        elif spec is None:
            if keep:
                out[key] = value
        else:
            picked = _pick(value, spec, keep)
            if picked is not None:
                out[key] = picked
    return out


def project(body: dict, attributes: str | None, excluded: str | None, resource_type: ResourceType = USER) -> dict:
    """`attributes` keeps only the named attributes (plus id and schemas); `excludedAttributes` drops them."""
    keep = bool(attributes and attributes.strip())
    selection = _selection(attributes if keep else excluded, resource_type)
    if not selection:
        return body
    core_names = selection.get(resource_type.schema, {})
    extensions = resource_type.extensions
    out = _apply({k: v for k, v in body.items() if k not in extensions}, core_names, keep)
    for urn in extensions:
        if urn not in body:
            continue
        if urn in core_names:  # the extension named as a whole
            extension = body[urn] if keep else {}
        else:
            extension = _apply(body[urn], selection.get(urn, {}), keep)
        if extension:
            out[urn] = extension
    for name in RETURNED_ALWAYS:
        out[name] = body[name]
    return out
