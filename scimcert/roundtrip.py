"""What a server kept of what it was sent: every attribute of a User body compared with the user read back.

`changed(sent, got)` names each attribute the request carried that the answer does not hold as sent:
dropped, rewritten, or (for a multi-valued element) stripped of its `type`, `primary` or `display`. It
reads the body the way RFC 7643 defines it:

- attribute names are case-insensitive (§2.1), extension attributes live under their schema URN (§3.3);
- null, "" and [] are the unassigned state (§2.5): sent unassigned, anything unassigned comes back;
- values are compared exactly, except where the attribute is case-insensitive or canonicalised: an
  email's value and a multi-valued element's `type` compare without case (§4.1.2: "SHOULD canonicalize"
  email addresses), a phone number by its digits (§4.1.2: "SHOULD be canonicalized" per RFC 3966);
- a multi-valued element is matched by its `value` (or, for addresses, by its `type`), so order is free;
- what the server owns is not compared: `id`, `meta`, `schemas` (judged on their own), `password`
  (returned never, §4.1.1), `groups` (read-only, §4.1.2), `$ref`, and a manager's `displayName`
  (read-only, §4.3).
"""

from __future__ import annotations

import re
from typing import Any

SERVER_OWNED = {"id", "meta", "schemas", "password", "groups", "$ref"}
READ_ONLY_SUB = {("manager", "displayname")}
NO_CASE = {"type"}  # sub-attributes of multi-valued elements compared without case


def changed(sent: Any, got: Any, *, whole: bool = False) -> list[str]:
    """Each attribute of `sent` (a User body) that `got` (the user read back) does not hold as sent, as
    "path: sent X, got Y"; [] when everything came back. `whole`: the write replaced the multi-valued
    attributes it carried (PUT, or PATCH replace: RFC 7644 §3.5.1, §3.5.2.3), so an element the user
    still holds that was not sent is named too."""
    if not isinstance(sent, dict):
        return []
    return _object(sent, got if isinstance(got, dict) else {}, "", whole)


def _unassigned(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _lookup(body: dict, name: str) -> Any:
    """body[name], attribute names compared without case."""
    folded = name.casefold()
    return next((value for key, value in body.items() if isinstance(key, str) and key.casefold() == folded), None)


def _object(sent: dict, got: dict, where: str, whole: bool) -> list[str]:
    found = []
    for name, value in sent.items():
        if not isinstance(name, str) or name.casefold() in SERVER_OWNED:
            continue
        path = f"{where}.{name}" if where else name
        if (where.rsplit(".", 1)[-1].casefold(), name.casefold()) in READ_ONLY_SUB:
            continue
        found += _value(value, _lookup(got, name), path, name, whole)
    return found


def _value(sent: Any, got: Any, path: str, name: str, whole: bool = False) -> list[str]:
    if _unassigned(sent):
        return [] if _unassigned(got) else [f"{path}: sent unassigned ({sent!r}), got {got!r}"]
    if isinstance(sent, dict):
        return _object(sent, got, path, whole) if isinstance(got, dict) else [f"{path}: sent {sent!r}, got {got!r}"]
    if isinstance(sent, list):
        return _elements(sent, got if isinstance(got, list) else [], path, name, whole)
    return [] if _same(sent, got, name) else [f"{path}: sent {sent!r}, got {'(absent)' if got is None else repr(got)}"]


def _same(sent: Any, got: Any, name: str) -> bool:
    if isinstance(sent, str) and isinstance(got, str):
        if name.casefold() in NO_CASE:
            return sent.casefold() == got.casefold()
        return sent == got
    return type(sent) is type(got) and sent == got


def _key(element: dict, attribute: str) -> Any:
    """What identifies a multi-valued element: its value (canonicalised), else its type."""
    value = _lookup(element, "value")
    if isinstance(value, str):
        if attribute.casefold() == "emails":
            return ("value", value.casefold())
        if attribute.casefold() == "phonenumbers":
            return ("value", re.sub(r"\D", "", value))
        return ("value", value)
    if value is not None:
        return ("value", value)
    kind = _lookup(element, "type")
    return ("type", kind.casefold() if isinstance(kind, str) else kind)


def _elements(sent: list, got: list, path: str, attribute: str, whole: bool) -> list[str]:
    found = []
    kept = {_key(e, attribute): e for e in got if isinstance(e, dict)}
    if whole:
        wanted = {_key(e, attribute) for e in sent if isinstance(e, dict)}
        found += [f"{path}: replaced, yet the element with {key[0]} {_lookup(e, key[0])!r} is still there"
                  for key, e in kept.items() if key not in wanted]
    for element in sent:
        if not isinstance(element, dict):
            if element not in got:
                found.append(f"{path}: the value {element!r} was dropped")
            continue
        key = _key(element, attribute)
        if key not in kept:
            found.append(f"{path}: the element with {key[0]} {_lookup(element, key[0])!r} was dropped")
            continue
        other = kept[key]
        label = f"{path}[{key[0]} {_lookup(element, key[0])!r}]"
        for name, value in element.items():
            if not isinstance(name, str) or name.casefold() in SERVER_OWNED or name.casefold() == "value":
                continue
            if name.casefold() == "primary" and value is False and _lookup(other, name) in (None, False):
                continue  # absent primary means false (§2.4)
            found += _value(value, _lookup(other, name), f"{label}.{name}", name)
    return found


def written(method: str, body: Any) -> tuple[dict, dict]:
    """What a PUT or PATCH body sets, as two User-shaped bodies: (replaced, added). A PUT replaces what it
    carries (RFC 7644 §3.5.1); a PATCH `replace` replaces its target, an `add` adds to a multi-valued one
    (§3.5.2.1, §3.5.2.3). Path-less values and simple paths are read in attribute notation (dotted and
    URN-qualified, §3.10); operations on a value filter (emails[type eq "work"].value) and removes are left
    to the checks that send them."""
    if method == "PUT":
        return (_expanded(body) if isinstance(body, dict) else {}), {}
    replaced: dict = {}
    added: dict = {}
    operations = body.get("Operations") if isinstance(body, dict) else None
    for op in operations if isinstance(operations, list) else []:
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("add", "replace"):
            continue
        target = replaced if str(op["op"]).lower() == "replace" else added
        path, value = op.get("path"), op.get("value")
        if path is None and isinstance(value, dict):
            _merge(target, _expanded(value))
        elif isinstance(path, str) and "[" not in path:
            _merge(target, _expanded({path: value}))
    return replaced, added


CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def _expanded(body: dict) -> dict:
    """`body` with keys in attribute notation nested: "name.givenName" → {"name": {"givenName"}}, an
    extension's "urn:…:User:department" → {"urn:…:User": {"department"}}, the core URN's dropped."""
    out: dict = {}
    for key, value in body.items():
        if not isinstance(key, str):
            continue
        urn, attribute = _split_urn(key)
        parts = ([urn] if urn and urn.casefold() != CORE.casefold() else []) + (attribute.split(".") if attribute else [])
        if not parts:
            _merge(out, _expanded(value) if isinstance(value, dict) else {})
            continue
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _expanded(value) if isinstance(value, dict) else value
    return out


def _split_urn(key: str) -> tuple[str, str]:
    """("urn:…:User", "department") for an URN-qualified name, (URN, "") for an URN alone, ("", key) else."""
    if not key.lower().startswith("urn:"):
        return "", key
    head, _, last = key.rpartition(":")
    return (key, "") if last[:1].isupper() else (head, last)


def _merge(into: dict, more: dict) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
