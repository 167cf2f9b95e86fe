"""From a stored user to the JSON a client sees: schemas, meta.location, and RFC 7644 §3.9 projection."""

from __future__ import annotations

from functools import lru_cache

from .attributes import CORE_USER, ENTERPRISE_USER, resolve, split_urn
from .errors import invalid_value

RETURNED_ALWAYS = ("id", "schemas")


def render(user: dict, location: str) -> dict:
    """The full representation: `returned: never` (password) dropped, schemas and location filled in."""
    body = {"schemas": [CORE_USER] + ([ENTERPRISE_USER] if ENTERPRISE_USER in user else []), "id": user["id"]}
    body.update((key, value) for key, value in user.items() if key not in ("password", "meta", "id"))
    body["meta"] = {**user["meta"], "location": location}
    return body


@lru_cache(maxsize=256)
def _selection(param: str | None) -> dict[str, dict[str, set[str] | None]]:
    """'userName,name.givenName,urn:…:User:department' → {container: {attribute: subs or None}}.

    Cached: a list projects every resource of a page with the same parameter (read-only result)."""
    selected: dict[str, dict[str, set[str] | None]] = {}
    for raw in (param or "").split(","):
        raw = raw.strip()
        if not raw:
            continue
        if split_urn(raw) == (ENTERPRISE_USER, ""):
            selected.setdefault(CORE_USER, {})[ENTERPRISE_USER] = None  # the whole extension
            continue
        path = resolve(raw)
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


def project(body: dict, attributes: str | None, excluded: str | None) -> dict:
    """`attributes` keeps only the named attributes (plus id and schemas); `excludedAttributes` drops them."""
    keep = bool(attributes and attributes.strip())
    selection = _selection(attributes if keep else excluded)
    if not selection:
        return body
    core_names = selection.get(CORE_USER, {})
    out = _apply({k: v for k, v in body.items() if k != ENTERPRISE_USER}, core_names, keep)
    if ENTERPRISE_USER in body:
        if ENTERPRISE_USER in core_names:  # the extension named as a whole
            extension = body[ENTERPRISE_USER] if keep else {}
        else:
            extension = _apply(body[ENTERPRISE_USER], selection.get(ENTERPRISE_USER, {}), keep)
        if extension:
            out[ENTERPRISE_USER] = extension
    for name in RETURNED_ALWAYS:
        out[name] = body[name]
    return out
