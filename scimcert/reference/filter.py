"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2), parsed by one lark grammar.

`parse_filter` and `parse_path` share the grammar below (two start rules). Attribute names are
resolved against the schemas of a resource type (attributes.ResourceType: User by default) at parse time,
so a parsed `Filter` only holds canonical definitions; `Filter.matches` then evaluates against a resource
in canonical form (values.py), and `Filter.select` answers the same for every resource of an `Index` at
once (the store's lists).
Every malformed input becomes a 400 ScimError: invalidFilter for filters, invalidPath for paths.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.visitors import Interpreter

from .attributes import CORE_USER, USER, Attribute, AttributePath, ResourceType, resolve, split_urn
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
_TESTS = {"eq": operator.eq, "ne": operator.ne, **_ORDERING, **_SUBSTRING}


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

    def select(self, scope: Scope) -> set:
        """The rows of `scope` the filter matches, worked out from the index with set operations: exactly the
        rows on which `matches` is true, without calling it per row."""
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

    def select(self, scope: Scope) -> set:
        return set().union(*(operand.select(scope) for operand in self.operands))


@dataclass(frozen=True)
class And(Filter):
    operands: tuple[Filter, ...]

    def matches(self, resource: dict) -> bool:
        for operand in self.operands:
            if not operand.matches(resource):
                return False
        return True

    def select(self, scope: Scope) -> set:
        found, everyone = self.operands[0].select(scope), len(scope.universe)
        for operand in self.operands[1:]:
            if not found:
                break
            more = operand.select(scope)
            # a side that is every row leaves the other as it is: no intersection of two 100,000-row sets
            found = more if len(found) == everyone else found if len(more) == everyone else found & more
        return found

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

    def select(self, scope: Scope) -> set:
        return scope.universe - self.operand.select(scope)


@dataclass(frozen=True)
class Present(Filter):
    """RFC 7644 §3.4.2.2 `pr`: «If the attribute has a non-empty value, or if it contains a non-empty node for complex attributes, there is a match.»"""

    target: Target

    def __post_init__(self) -> None:
        object.__setattr__(self, "_reader", None if _hidden(self.target) else _reader(self.target))

    def matches(self, resource: dict) -> bool:
        return self._reader is not None and bool(self._reader(resource))

    def select(self, scope: Scope) -> set:
        if self._reader is None:
            return set()
        column, owners = scope.column(self.target)
        return owners(column)  # a column holds assigned values only


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

    def select(self, scope: Scope) -> set:
        """`matches` over a column of keys: one C-level pass (`compress` over `map`) instead of a call per user."""
        if self._equal is None:
            return set()
        definition = _definition(self.target)
        texts = definition.type == "dateTime" and self.op in _SUBSTRING  # co/sw/ew: a dateTime as written
        column, owners = scope.column(self.target, texts)
        if self.value is None:
            present = owners(column)
            return present if self.op == "ne" else scope.universe - present
        wanted = _fold(definition, self.value) if texts else _keyer(definition)(self.value)
        if wanted is _IRREGULAR:  # not of the attribute's JSON type: no stored value is equal to it or ordered with it
            return set(scope.universe) if self.op == "ne" else set()
        hits = owners(itertools.compress(column, map(_TESTS[self.op], column.values(), itertools.repeat(wanted))))
        return (scope.universe - owners(column)) | hits if self.op == "ne" else hits  # ne: absent, or a value differs

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

    def select(self, scope: Scope) -> set:
        return scope.index.owners(self.inner.select(Scope(scope.index, self.path)))


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
    in_core, schema, attribute = not target.is_extension, target.schema, target.attribute.name
    sub = target.sub.name if target.sub is not None else None

    def read_path(resource: dict) -> list:
        container = resource if in_core else resource.get(schema)
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
# The index: every user's values as the keys comparisons compare, column by column

_KINDS = {"boolean": "boolean", "integer": "number", "decimal": "number"}
"""The JSON type of a coerced value (values.coerce_single), by attribute type; "string" for the other simple types."""
_IRREGULAR = object()
"""The key of a value the index cannot stand for (see `_keyer`)."""

Column = tuple[str, str, str | None]
"""Which values an index column holds: (schema, attribute, sub-attribute or None), canonical names."""


def _column(path: AttributePath) -> Column:
    return path.schema, path.attribute.name, path.sub.name if path.sub is not None else None


def _keyer(definition: Attribute) -> Callable[[Any], Any]:
    """The key the index keeps for one assigned value, and `Compare.select` looks for: what `Compare` compares
    (the string folded by caseExact, the instant of a dateTime, the number or boolean), or a complex value itself
    (only `pr` reads it). `_IRREGULAR` for a value not of the attribute's JSON type, or a string that is no
    dateTime."""
    if definition.type == "complex":
        return lambda value: value if isinstance(value, dict) else _IRREGULAR
    if definition.type == "dateTime":
        return lambda value: _IRREGULAR if not isinstance(value, str) or (instant := _instant(value)) is None \
            else instant
    kind = _KINDS.get(definition.type, "string")
    if kind == "string":
        fold = (lambda text: text) if definition.case_exact else str.casefold
        return lambda value: fold(value) if isinstance(value, str) else _IRREGULAR
    return lambda value: value if _kind(value) == kind else _IRREGULAR


@lru_cache(maxsize=4096)
def _stored(resource_type: ResourceType, schema: str, name: str, sub: str | None = None) \
        -> tuple[Column, Callable[[Any], Any], Attribute] | None:
    """For a key stored in a resource (or in its extension block), or a key `sub` of one of its complex values: the
    column its values go to, their keyer and the definition; None when no filter reads it (the readers look up
    canonical names only, and nothing matches an attribute returned "never")."""
    found = resolve(name if schema == resource_type.schema else f"{schema}:{name}", resource_type)
    if found is None or found.sub is not None or found.attribute.name != name or _hidden(found):
        return None
    definition = found.attribute
    if sub is not None:
        definition = definition.sub_attributes.get(sub.lower())
        if definition is None or definition.name != sub or definition.returned == "never":
            return None
    return (schema, name, sub), _keyer(definition), definition


class Index:
    """The filterable values of the resources of one type (users by default) as keys, column by column, so that
    `Filter.select` answers a filter with a few C-level passes and set operations over 100,000 users instead of
    calling `Filter.matches` on each. Below, "user" stands for a resource of the index's type.

    `columns[(schema, attribute, sub-attribute or None)]` maps a row to the key of its value (`_keyer`), and
    `texts[...]` a row to the text of a dateTime (what co, sw and ew compare); only assigned values have a row.
    A row is a user id for a single-valued attribute and its sub-attributes; each element of a multi-valued
    attribute gets a row number of its own, shared by the columns of its sub-attributes (what a value filter's
    «same value» needs) and mapped to its user by `owner`. `users` holds the ids of the users indexed. A user with
    a value the index cannot stand for (a value of another JSON type than its attribute's, a list for a single
    value: canonical users have none, values.coerce) is left out and listed in `irregular`, for the caller to
    match one by one.
    """

    def __init__(self, resource_type: ResourceType = USER) -> None:
        self.resource_type = resource_type
        self.columns: defaultdict[Column, dict[Any, Any]] = defaultdict(dict)
        self.texts: defaultdict[Column, dict[Any, str]] = defaultdict(dict)
        self.owner: dict[int, str] = {}
        self.users: set[str] = set()
        self.irregular: set[str] = set()
        self._elements: dict[str, list[int]] = {}  # a user's element rows, to remove them
        self._numbers = itertools.count()

    def add(self, user_id: str, user: dict) -> None:
        """Index a user not indexed yet (or list it as irregular)."""
        self.users.add(user_id)
        if not self._put(user_id, user):
            self.remove(user_id)
            self.irregular.add(user_id)

    def remove(self, user_id: str) -> None:
        """Forget a user: its rows in every column (not only where its values say, in case they changed since)."""
        self.users.discard(user_id)
        self.irregular.discard(user_id)
        rows = [user_id, *self._elements.pop(user_id, ())]
        for column in itertools.chain(self.columns.values(), self.texts.values()):
            for row in rows:
                column.pop(row, None)
        for row in rows[1:]:
            del self.owner[row]

    def owners(self, rows: Iterable[int]) -> set[str]:
        """The users of element rows."""
        return set(map(self.owner.__getitem__, rows))

    def _put(self, user_id: str, user: dict) -> bool:
        """Key every assigned value of a user a filter can read, as the readers (`_reader`) see them, into its
        column; False at the first irregular value (some of the others put already)."""
        kind = self.resource_type
        for schema, container in ((kind.schema, user), *((urn, user.get(urn)) for urn in kind.extensions)):
            if not isinstance(container, dict):
                continue  # no extension block: none of its attributes has a value, as the readers see it
            for name, raw in container.items():
                stored = _stored(kind, schema, name)
                if stored is None or is_unassigned(raw):
                    continue
                attribute = stored[2]
                if not attribute.multi_valued:
                    values = [(user_id, raw)]
                elif isinstance(raw, list):
                    values = [(self._element(user_id), item) for item in raw if not is_unassigned(item)]
                else:
                    return False
                for row, value in values:
                    if not self._keep(stored, row, value):
                        return False
                    if attribute.type != "complex":
                        continue
                    for sub, sub_value in value.items():
                        stored_sub = _stored(kind, schema, name, sub)
                        if stored_sub is not None and not is_unassigned(sub_value) \
                                and not self._keep(stored_sub, row, sub_value):
                            return False
        return True

    def _keep(self, stored: tuple[Column, Callable[[Any], Any], Attribute], row: str | int, value: Any) -> bool:
        """Put the key of one value in its column (and a dateTime's text in `texts`); False when irregular."""
        column, keyer, definition = stored
        key = keyer(value)
        if key is _IRREGULAR:
            return False
        self.columns[column][row] = key
        if definition.type == "dateTime":
            self.texts[column][row] = _fold(definition, value)
        return True

    def _element(self, user_id: str) -> int:
        row = next(self._numbers)
        self.owner[row] = user_id
        self._elements.setdefault(user_id, []).append(row)
        return row


class Scope:
    """What `Filter.select` evaluates over: the indexed users (`within` None), or inside a value filter the
    elements of their multi-valued attribute `within`. `universe` is every row of the scope."""

    def __init__(self, index: Index, within: AttributePath | None = None) -> None:
        self.index, self.within = index, within
        self.universe = index.users if within is None else index.columns.get(_column(within), {}).keys()

    def column(self, target: Target, texts: bool = False) -> tuple[dict, Callable[[Iterable], set]]:
        """The column `target` reads (the texts of a dateTime with `texts`), and how a set of its rows becomes a
        set of this scope's rows: the owners of elements when a user-level name reads a multi-valued attribute
        (`emails.value`), else the rows themselves."""
        within = self.within
        name = _column(target) if within is None else (within.schema, within.attribute.name, target.name)
        column = (self.index.texts if texts else self.index.columns).get(name, {})
        return column, (self.index.owners if within is None and target.attribute.multi_valued else set)


# ---------------------------------------------------------------------------------------------
# From parse tree to Filter / PatchPath


def _resolve(name: str, resource_type: ResourceType) -> AttributePath | None:
    """RFC 7644 §3.10 attribute notation, URN-qualified or not.

    An unqualified name the core schema lacks is looked up in the extensions, because Entra sends
    `"path": "manager"` for the enterprise extension's manager (Microsoft's SCIM tutorial, legacy example 5:
    https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups);
    the User schemas share no names.
    """
    found = resolve(name, resource_type)
    if found is None and split_urn(name, resource_type)[0] is None:
        for urn in resource_type.extensions:
            found = found or resolve(f"{urn}:{name}", resource_type)
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

    def __init__(self, text: str, resource_type: ResourceType) -> None:
        self.text = text
        self.resource_type = resource_type
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
        found = _resolve(name, self.resource_type) if self.scope is None else self.scope.sub(name)
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


def _parse(text: str, start: str, resource_type: ResourceType) -> Any:
    """Parse with one of the two start rules, naming attributes of `resource_type`; any problem becomes _Invalid."""
    if not text.strip():
        raise _Invalid("it is empty")
    if len(text) > MAX_LENGTH:
        raise _Invalid(f"it is longer than {MAX_LENGTH} characters")
    try:
        tree = _PARSER.parse(text, start=start)
    except UnexpectedInput as error:
        raise _Invalid(_syntax_detail(error, text)) from None
    return _Builder(text, resource_type).visit(tree)


# ---------------------------------------------------------------------------------------------
# Public API


@lru_cache(maxsize=1024)
def parse_filter(text: str, resource_type: ResourceType = USER) -> Filter:
    """Parse a `filter` parameter (RFC 7644 §3.4.2.2) on resources of a type. Anything invalid → 400 invalidFilter.

    «Providers MUST decline to filter results if the specified filter operation is not recognized
    and return an HTTP 400 error with a "scimType" error of "invalidFilter"».
    """
    try:
        return _parse(text, "filter", resource_type)
    except _Invalid as problem:
        raise invalid_filter(f"Invalid filter {_quote(text)}: {problem}") from None


@lru_cache(maxsize=1024)
def parse_path(text: str, resource_type: ResourceType = USER) -> PatchPath:
    """Parse a PATCH `path` on a resource of a type; «The "path" attribute was invalid or malformed» → 400
    invalidPath (RFC 7644 Table 9)."""
    try:
        return _parse(text, "path", resource_type)
    except _Invalid as problem:
        raise invalid_path(f"Invalid path {_quote(text)}: {problem}") from None


def equality(f: Filter, schema: str, name: str) -> str | None:
    """The string of `name eq "x"` (alone or as one side of an `and`) for the core attribute `name` of `schema`, for
    an index lookup; else None. The caller still applies the whole filter to the resource it finds."""
    for operand in f.operands if isinstance(f, And) else (f,):
        if (
            isinstance(operand, Compare)
            and operand.op == "eq"
            and isinstance(operand.target, AttributePath)
            and operand.target.schema == schema
            and operand.target.sub is None
            and operand.target.attribute.name == name
            and isinstance(operand.value, str)
        ):
            return operand.value
    return None


def username_equality(f: Filter) -> str | None:
    """The userName of `userName eq "x"` (alone or as one side of an `and`), for an index lookup; else None."""
    return equality(f, CORE_USER, "userName")


def _quote(text: str) -> str:
    return json.dumps(text[:200])
