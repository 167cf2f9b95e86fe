"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2), parsed by one lark grammar.

`parse_filter` and `parse_path` share the grammar below (two start rules). Attribute names are
resolved against the User schemas at parse time, so a parsed `Filter` only holds canonical
definitions; `Filter.matches` then evaluates against a user in canonical form (values.py).
Every malformed input becomes a 400 ScimError: invalidFilter for filters, invalidPath for paths.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.visitors import Interpreter

from .attributes import CORE_USER, ENTERPRISE_USER, Attribute, AttributePath, resolve, split_urn
from .errors import invalid_filter, invalid_path
from .values import is_unassigned

MAX_LENGTH = 4096
MAX_DEPTH = 64  # parse-tree levels; keeps building and matching far from the recursion limit

# RFC 7644 §3.4.2.2, Figure 1, with the PATH rule of §3.5.2. Keywords and operators are
# case-insensitive; a keyword only ends where a name could not go on (so `notes` is a name).
# Leniencies: any whitespace between tokens, and Entra's `emails[type eq "work"].value eq "x"`.
_GRAMMAR = r"""
?filter: or_exp
?or_exp: and_exp (_OR and_exp)*
?and_exp: unary (_AND unary)*
?unary: _NOT "(" filter ")"          -> negation
      | "(" filter ")"
      | attr_ref _PR                 -> present
      | attr_ref COMPAREOP value     -> compare
      | value_path
?attr_ref: ATTRPATH
         | value_path "." ATTRPATH   -> value_path_sub
value_path: ATTRPATH "[" filter "]"
path: ATTRPATH | value_path ("." ATTRPATH)?
?value: STRING | NUMBER | TRUE | FALSE | NULL

_END: /(?![A-Za-z0-9_$:.\-])/
_OR: /or/i _END
_AND: /and/i _END
_NOT.2: /not/i _END
_PR: /pr/i _END
COMPAREOP: /(eq|ne|co|sw|ew|gt|lt|ge|le)/i _END
TRUE: /true/i _END
FALSE: /false/i _END
NULL: /null/i _END
ATTRPATH: /[A-Za-z$][A-Za-z0-9_$:.\-]*/
STRING: /"(?:[^"\\\x00-\x1f]|\\["\\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/
NUMBER: /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/
%ignore /\s+/
"""
_PARSER = Lark(_GRAMMAR, parser="lalr", start=["filter", "path"])

_VALUE = "a value (a double-quoted string, a number, true, false or null)"
_EXPECTED = {
    "ATTRPATH": "an attribute name",
    "COMPAREOP": "an operator (eq, ne, co, sw, ew, gt, lt, ge, le)",
    "_PR": "pr",
    "_AND": "and",
    "_OR": "or",
    "_NOT": "not",
    "STRING": _VALUE,
    "NUMBER": _VALUE,
    "TRUE": _VALUE,
    "FALSE": _VALUE,
    "NULL": _VALUE,
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "DOT": "'.'",
    "$END": "the end",
}
_ORDERING = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
_SUBSTRING = {"co": operator.contains, "sw": str.startswith, "ew": str.endswith}


class _Invalid(Exception):
    """A problem in the text; parse_filter / parse_path turn it into their own scimType."""


# ---------------------------------------------------------------------------------------------
# The filter tree


Target = AttributePath | Attribute
"""What a comparison reads: a resource attribute, or (inside a value filter) a sub-attribute of one element."""


class Filter:
    """A parsed filter; `matches` evaluates it against a canonical user (or one element of a multi-valued attribute)."""

    def matches(self, resource: dict) -> bool:
        raise NotImplementedError

    def equalities(self) -> dict[str, Any] | None:
        """The sub-attribute values an element must have to match, when the filter is a conjunction of `eq`s; else None."""
        return None


@dataclass(frozen=True)
class Or(Filter):
    operands: tuple[Filter, ...]

    def matches(self, resource: dict) -> bool:
        for operand in self.operands:
            if operand.matches(resource):
                return True
        return False


@dataclass(frozen=True)
class And(Filter):
    operands: tuple[Filter, ...]

    def matches(self, resource: dict) -> bool:
        for operand in self.operands:
            if not operand.matches(resource):
                return False
        return True

    def equalities(self) -> dict[str, Any] | None:
        merged: dict[str, Any] = {}
        for operand in self.operands:
            terms = operand.equalities()
            if terms is None:
                return None
            merged.update(terms)
        return merged


@dataclass(frozen=True)
class Not(Filter):
    operand: Filter

    def matches(self, resource: dict) -> bool:
        return not self.operand.matches(resource)


@dataclass(frozen=True)
class Present(Filter):
    """RFC 7644 §3.4.2.2 `pr`: «If the attribute has a non-empty value, or if it contains a non-empty node for complex attributes, there is a match.»"""

    target: Target

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reader", None if _hidden(self.target) else _reader(self.target))

    def matches(self, resource: dict) -> bool:
        return self._reader is not None and bool(self._reader(resource))


@dataclass(frozen=True)
class Compare(Filter):
    """An attribute operator with a value (RFC 7644 §3.4.2.2, Table 3).

    «the filter matches if any of the values of the specified attribute match»; string comparisons
    follow the attribute's caseExact; dateTime ones are chronological. Values of another JSON type
    never match (`active eq "true"` does not match a boolean). `eq null` matches an unassigned
    attribute and `ne null` an assigned one; `ne` also matches an absent attribute.
    """

    target: Target
    op: str
    value: Any

    def __post_init__(self) -> None:
        """What every evaluation needs, worked out once: a scan of 100,000 users calls `matches` on each."""
        object.__setattr__(self, "_reader", _reader(self.target))
        object.__setattr__(self, "_equal", self._tester("eq"))
        object.__setattr__(self, "_holds", self._tester(self.op) if self.op != "ne" else None)  # ne: not _equal

    def matches(self, resource: dict) -> bool:
        if self._equal is None:  # hidden: nothing matches it
            return False
        values = self._reader(resource)
        if self.value is None:
            return not values if self.op == "eq" else bool(values)
        if self.op == "ne":
            return not values or any(not self._equal(v) for v in values)
        holds = self._holds
        for value in values:  # a loop, not any(generator): this runs once per user in a scan
            if holds(value):
                return True
        return False

    def _tester(self, op: str) -> Callable[[Any], bool] | None:
        """`_test(value, op)` for one value, specialised for the common case (a string without caseExact), or
        None for a hidden target."""
        if _hidden(self.target):
            return None
        definition = _definition(self.target)
        if isinstance(self.value, str) and definition.type != "dateTime":
            fold = (lambda text: text) if definition.case_exact else str.casefold
            wanted = fold(self.value)
            compare = _SUBSTRING.get(op) or (operator.eq if op == "eq" else _ORDERING[op])
            return lambda value: isinstance(value, str) and compare(fold(value), wanted)
        if definition.type == "dateTime" and isinstance(self.value, str) and op not in _SUBSTRING:
            instant, compare = _instant(self.value), (operator.eq if op == "eq" else _ORDERING[op])
            if instant is None:
                return lambda value: False
            return lambda value: isinstance(value, str) and (mine := _instant(value)) is not None \
                and compare(mine, instant)
        return lambda value: self._test(value, op)

    def equalities(self) -> dict[str, Any] | None:
        if self.op == "eq" and isinstance(self.target, Attribute) and self.value is not None:
            return {self.target.name: self.value}
        return None

    def _test(self, value: Any, op: str) -> bool:
        if _kind(value) != _kind(self.value):
            return False
        definition = _definition(self.target)
        if op in _SUBSTRING:
            return _SUBSTRING[op](_fold(definition, value), _fold(definition, self.value))
        mine, theirs = _key(definition, value), _key(definition, self.value)
        if mine is None:
            return False
        return mine == theirs if op == "eq" else _ORDERING[op](mine, theirs)


@dataclass(frozen=True)
class ValuePath(Filter):
    """`attr[valFilter]`: «matches if one element satisfies the inner filter» (RFC 7644 §3.4.2.2, valuePath)."""

    path: AttributePath
    inner: Filter

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reader", _reader(self.path))

    def matches(self, resource: dict) -> bool:
        inner = self.inner
        for element in self._reader(resource):
            if isinstance(element, dict) and inner.matches(element):
                return True
        return False


@dataclass(frozen=True)
class PatchPath:
    """A PATCH `path` (RFC 7644 §3.5.2, Figure 7: `attrPath` or `valuePath [subAttr]`).

    `target` is the attribute with its optional sub-attribute (`name.givenName`, or `value` in
    `emails[type eq "work"].value`); `value_filter`, when given, selects elements of a
    multi-valued attribute and is evaluated against one element dict.
    """

    text: str
    target: AttributePath
    value_filter: Filter | None = None

    @property
    def attribute(self) -> Attribute:
        return self.target.attribute

    @property
    def sub(self) -> Attribute | None:
        return self.target.sub


def _definition(target: Target) -> Attribute:
    return target if isinstance(target, Attribute) else target.definition


def _hidden(target: Target) -> bool:
    """An attribute returned "never" (password) cannot be filtered on: nothing matches it."""
    return _definition(target).returned == "never"


def _reader(target: Target) -> Callable[[dict], list]:
    """A function giving the assigned values of `target` in a resource (multi-valued attributes flattened), with
    its names looked up once: a scan calls it for every user."""
    if isinstance(target, Attribute):
        name = target.name

        def read_core(resource: dict) -> list:
            raw = resource.get(name)
            if raw is None or raw == "":
                return []
            if isinstance(raw, list):
                return [item for item in raw if not is_unassigned(item)]
            return [] if raw == {} else [raw]
        return read_core
    in_core, attribute = target.schema == CORE_USER, target.attribute.name
    sub = target.sub.name if target.sub is not None else None

    def read_path(resource: dict) -> list:
        container = resource if in_core else resource.get(ENTERPRISE_USER)
        raw = container.get(attribute) if isinstance(container, dict) else None
        if raw is None:
            return []
        if sub is None:
            items = raw if isinstance(raw, list) else [raw]
            return [item for item in items if not is_unassigned(item)]
        if isinstance(raw, dict):  # a complex attribute: name.familyName
            value = raw.get(sub)
            return [] if value is None or is_unassigned(value) else [value]
        found = []
        for item in raw if isinstance(raw, list) else ():  # a multi-valued one: emails.value
            value = item.get(sub) if isinstance(item, dict) else None
            if value is not None and not is_unassigned(value):
                found.append(value)
        return found
    return read_path


def _kind(value: Any) -> str:
    """The JSON type of a value; values of different JSON types are never equal or ordered."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "other"


def _fold(definition: Attribute, value: Any) -> Any:
    """RFC 7644 §3.4.2.2: «the case sensitivity for String type attributes SHALL be determined by the attribute's "caseExact"»."""
    return value if definition.case_exact or not isinstance(value, str) else value.casefold()


def _key(definition: Attribute, value: Any) -> Any:
    """What eq/ne/gt/ge/lt/le compare: an instant for dateTime («chronological order»), else the folded value."""
    return _instant(value) if definition.type == "dateTime" else _fold(definition, value)


def _instant(value: Any) -> datetime | None:
    """An ISO-8601 dateTime (RFC 7643 §2.3.5) as an aware datetime (UTC when no offset); None if unparseable."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------
# From parse tree to Filter / PatchPath


def _resolve(name: str) -> AttributePath | None:
    """RFC 7644 §3.10 attribute notation, URN-qualified or not.

    An unqualified name the core schema lacks is looked up in the enterprise extension, because
    Entra sends `"path": "manager"` (Microsoft's SCIM tutorial, legacy example 5:
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
    the two schemas share no names.
    """
    found = resolve(name)
    if found is None and split_urn(name)[0] is None:
        found = resolve(f"{ENTERPRISE_USER}:{name}")
    return found


def _literal(token: Token) -> Any:
    """compValue: a JSON literal (RFC 7644 §3.4.2.2); true/false/null case-insensitively."""
    keywords = {"TRUE": True, "FALSE": False, "NULL": None}
    return keywords[token.type] if token.type in keywords else json.loads(token)


def _at(token: Token) -> str:
    return f"at character {token.column}"


def _compare(target: Target, op_token: Token, value: Any) -> Compare:
    """Build a comparison, refusing what RFC 7644 §3.4.2.2 rules out (400 invalidFilter).

    «Boolean and Binary attributes SHALL cause a failed response» for gt/ge/lt/le; co/sw/ew need a
    string. A complex attribute named without a sub-attribute compares its "value" sub-attribute.
    """
    op = op_token.lower()
    definition = _definition(target)
    where = f"'{op_token}' {_at(op_token)}"
    if definition.type == "complex":
        value_sub = definition.sub("value")
        if op in _ORDERING or value_sub is None:
            raise _Invalid(f"{where}: '{definition.name}' is complex; compare one of its sub-attributes")
        target = AttributePath(target.schema, target.attribute, value_sub)
        definition = value_sub
    if op in _ORDERING and (isinstance(value, bool) or value is None):
        raise _Invalid(f"{where}: {op} needs a string, number or dateTime value, not {json.dumps(value)}")
    if op in _ORDERING and definition.type in ("boolean", "binary"):
        raise _Invalid(f"{where}: {op} is not defined for the {definition.type} attribute '{definition.name}'")
    if op in _SUBSTRING and (not isinstance(value, str) or definition.type == "boolean"):
        raise _Invalid(f"{where}: {op} needs a string attribute and a string value")
    if definition.type == "dateTime" and op not in _SUBSTRING and value is not None and _instant(value) is None:
        raise _Invalid(f"{where}: {json.dumps(value)} is not a dateTime for '{definition.name}'")
    return Compare(target, op, value)


class _Builder(Interpreter):
    """Turns the parse tree into Filter nodes, resolving each attribute name as it goes.

    Inside a value filter (`emails[...]`) names are sub-attributes of that attribute (RFC 7644
    §3.4.2.2: «expressions MUST be applied to the same value of a parent attribute»).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.scope: Attribute | None = None
        self.depth = 0

    def visit(self, tree: Tree) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Invalid("the expression is nested too deeply")
        try:
            return super().visit(tree)
        finally:
            self.depth -= 1

    def or_exp(self, tree: Tree) -> Filter:
        return Or(tuple(self.visit_children(tree)))

    def and_exp(self, tree: Tree) -> Filter:
        return And(tuple(self.visit_children(tree)))

    def negation(self, tree: Tree) -> Filter:
        return Not(self.visit(tree.children[0]))

    def present(self, tree: Tree) -> Filter:
        return self._on(tree.children[0], Present)

    def compare(self, tree: Tree) -> Filter:
        ref, op, value = tree.children
        return self._on(ref, lambda target: _compare(target, op, _literal(value)))

    def value_path(self, tree: Tree) -> ValuePath:
        name, inner = tree.children
        if self.scope is not None:
            raise _Invalid(f"'{name}' {_at(name)}: value filters cannot be nested")
        path = self._attribute(name)
        if path.sub is not None or not (path.attribute.multi_valued and path.attribute.type == "complex"):
            raise _Invalid(f"'{name}' {_at(name)}: a value filter needs a multi-valued complex attribute")
        self.scope = path.attribute
        try:
            return ValuePath(path, self.visit(inner))
        finally:
            self.scope = None

    def path(self, tree: Tree) -> PatchPath:
        if len(tree.children) == 1 and isinstance(tree.children[0], Token):
            return PatchPath(self.text, self._attribute(tree.children[0]))
        value_path = self.visit(tree.children[0])
        sub = self._sub(value_path.path.attribute, tree.children[1]) if len(tree.children) == 2 else None
        target = AttributePath(value_path.path.schema, value_path.path.attribute, sub)
        return PatchPath(self.text, target, value_path.inner)

    def _on(self, ref: Token | Tree, build: Callable[[Target], Filter]) -> Filter:
        """Build a comparison on an attrPath, or on Entra's `emails[type eq "work"].value` (one element must satisfy both)."""
        if isinstance(ref, Token):
            return build(self._attribute(ref))
        value_path, name = ref.children
        outer = self.visit(value_path)
        return ValuePath(outer.path, And((outer.inner, build(self._sub(outer.path.attribute, name)))))

    def _attribute(self, name: Token) -> Target:
        found = _resolve(name) if self.scope is None else self.scope.sub(name)
        if found is None:
            raise _Invalid(f"unknown attribute '{name}' {_at(name)}")
        return found

    def _sub(self, parent: Attribute, name: Token) -> Attribute:
        found = parent.sub(name)
        if found is None:
            raise _Invalid(f"'{parent.name}' has no sub-attribute '{name}' ({_at(name)})")
        return found


def _syntax_detail(error: UnexpectedInput, text: str) -> str:
    """Where the text stops following the grammar, and what would have been accepted there."""
    token = getattr(error, "token", None)
    if isinstance(error, UnexpectedToken) and token.type == "$END":
        found = "unexpected end"
        expected = error.accepts or error.expected
    else:
        word = token if token is not None else text[error.pos_in_stream :].split(maxsplit=1)[0][:30]
        found = f"unexpected '{word}' at character {error.column}"
        expected = getattr(error, "accepts", None) or getattr(error, "expected", None) or getattr(error, "allowed", None)
    wanted = sorted({_EXPECTED.get(name, name) for name in expected or ()})
    return f"{found}; expected {' or '.join(wanted)}" if wanted else found


def _parse(text: str, start: str) -> Any:
    """Parse with one of the two start rules; any problem becomes _Invalid."""
    if not text.strip():
        raise _Invalid("it is empty")
    if len(text) > MAX_LENGTH:
        raise _Invalid(f"it is longer than {MAX_LENGTH} characters")
    try:
        tree = _PARSER.parse(text, start=start)
    except UnexpectedInput as error:
        raise _Invalid(_syntax_detail(error, text)) from None
    return _Builder(text).visit(tree)


# ---------------------------------------------------------------------------------------------
# Public API


@lru_cache(maxsize=1024)
def parse_filter(text: str) -> Filter:
    """Parse a `filter` parameter (RFC 7644 §3.4.2.2). Anything invalid → 400 invalidFilter.

    «Providers MUST decline to filter results if the specified filter operation is not recognized
    and return an HTTP 400 error with a "scimType" error of "invalidFilter"».
    """
    try:
        return _parse(text, "filter")
    except _Invalid as problem:
        raise invalid_filter(f"Invalid filter {_quote(text)}: {problem}") from None


@lru_cache(maxsize=1024)
def parse_path(text: str) -> PatchPath:
    """Parse a PATCH `path`; «The "path" attribute was invalid or malformed» → 400 invalidPath (RFC 7644 Table 9)."""
    try:
        return _parse(text, "path")
    except _Invalid as problem:
        raise invalid_path(f"Invalid path {_quote(text)}: {problem}") from None


def username_equality(f: Filter) -> str | None:
    """The userName of `userName eq "x"` (alone or as one side of an `and`), for an index lookup; else None.

    The caller still applies the whole filter to the user it finds.
    """
    for operand in f.operands if isinstance(f, And) else (f,):
        if (
            isinstance(operand, Compare)
            and operand.op == "eq"
            and isinstance(operand.target, AttributePath)
            and operand.target.schema == CORE_USER
            and operand.target.attribute.name == "userName"
            and isinstance(operand.value, str)
        ):
            return operand.value
    return None


def _quote(text: str) -> str:
    return json.dumps(text[:200])
