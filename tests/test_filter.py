"""Unit and property tests of the reference server's filter and PATCH-path parser (RFC 7644 §3.4.2.2, §3.5.2).

Entra's filters come from Microsoft's SCIM tutorial:
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimcert.reference.attributes import CORE_USER, ENTERPRISE_USER
from scimcert.reference.errors import ScimError
from scimcert.reference.filter import Filter, Index, Scope, parse_filter, parse_path, username_equality

ALICE = {
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "Alice-Ext",
    "schemas": [CORE_USER, ENTERPRISE_USER],
    "userName": "Alice.Smith@Example.com",
    "name": {"givenName": "Alice", "familyName": "Smith"},
    "displayName": "Alice Smith",
    "active": True,
    "emails": [
        {"value": "alice@example.com", "type": "work", "primary": True},
        {"value": "Alice@Home.org", "type": "home"},
    ],
    "addresses": [{"type": "work", "locality": "Paris", "country": "FR"}],
    "title": "",
    "password": "s3cret!",
    "meta": {
        "resourceType": "User",
        "created": "2024-01-01T00:00:00Z",
        "lastModified": "2024-06-01T12:00:00.500+02:00",
        "version": 'W/"3"',
    },
    ENTERPRISE_USER: {"department": "R&D", "employeeNumber": "701984", "manager": {"value": "boss-1"}},
}

MATCHES = [
    # eq, and each attribute's caseExact (RFC 7643 §7: userName, emails.value, name.* are caseExact false)
    ('userName eq "alice.smith@example.com"', True),
    ('userName eq "ALICE.SMITH@EXAMPLE.COM"', True),
    ('userName eq "bob@example.com"', False),
    ('externalId eq "Alice-Ext"', True),
    ('externalId eq "alice-ext"', False),
    ('id eq "2819c223-7f76-453a-919d-413861904646"', True),
    ('id eq "2819C223-7F76-453A-919D-413861904646"', False),
    ('name.familyName eq "SMITH"', True),
    ('meta.resourceType eq "User"', True),
    ('meta.resourceType eq "user"', False),
    # ne; absent is "not equal"
    ('userName ne "bob"', True),
    ('userName ne "ALICE.smith@example.com"', False),
    ('nickName ne "x"', True),
    ('title ne "x"', True),
    # co / sw / ew
    ('userName co "@example"', True),
    ('userName co "@EXAMPLE.COM"', True),
    ('userName co "@other"', False),
    ('userName sw "alice"', True),
    ('userName sw "smith"', False),
    ('userName ew ".COM"', True),
    ('userName ew "alice"', False),
    ('externalId sw "alice"', False),
    ('externalId sw "Alice"', True),
    # gt / ge / lt / le on strings, case-folded when caseExact is false
    ('userName gt "alice"', True),
    ('userName gt "ALICE.SMITH@EXAMPLE.COM"', False),
    ('userName ge "ALICE.SMITH@EXAMPLE.COM"', True),
    ('userName lt "b"', True),
    ('userName le "alice.smith@example.com"', True),
    ('externalId lt "a"', True),  # "A" < "a": caseExact, no folding
    # dateTime: chronological, whatever the offset notation
    ('meta.created eq "2024-01-01T00:00:00+00:00"', True),
    ('meta.created lt "2024-01-01T00:00:01Z"', True),
    ('meta.lastModified gt "2024-06-01T09:59:59Z"', True),
    ('meta.lastModified gt "2024-06-01T10:00:00.5Z"', False),
    ('meta.lastModified ge "2024-06-01T10:00:00.5Z"', True),
    ('meta.lastModified le "2024-06-01T10:00:00"', False),
    ('meta.created co "2024-01"', True),
    # booleans compare by JSON type
    ("active eq true", True),
    ("active eq TRUE", True),
    ("active eq false", False),
    ("active ne false", True),
    ('active eq "true"', False),
    ('active ne "true"', True),
    ("active eq 1", False),
    # null
    ("nickName eq null", True),
    ("title eq null", True),
    ("userName eq null", False),
    ("userName ne null", True),
    # pr: not null, "", [], {}
    ("userName pr", True),
    ("title pr", False),
    ("nickName pr", False),
    ("emails pr", True),
    ("phoneNumbers pr", False),
    ("name pr", True),
    ("name.middleName pr", False),
    # multi-valued: any element; complex without sub-attribute compares "value"
    ('emails.value eq "ALICE@home.org"', True),
    ('emails co "home.org"', True),
    ('emails eq "alice@example.com"', True),
    ('emails.type eq "home"', True),
    ('emails.type ne "work"', True),
    ('emails.type eq "other"', False),
    ('addresses.locality eq "paris"', True),
    ("emails.primary eq true", True),
    # valuePath: one element satisfies the whole inner filter
    ('emails[type eq "work" and value co "@example.com"]', True),
    ('emails[type eq "home" and value co "@example.com"]', False),
    ('emails[type eq "home" or primary eq true]', True),
    ('emails[not (type eq "work")]', True),
    ("emails[primary eq true]", True),
    ("emails[display pr]", False),
    ('addresses[type eq "work" and country eq "fr"]', True),
    ('emails[type eq "work"].value eq "alice@example.com"', True),  # Entra's form (Microsoft's SCIM tutorial)
    ('emails[type eq "home"].value eq "alice@example.com"', False),
    ('emails[type eq "home"].value pr', True),
    # URN-qualified names and the enterprise extension
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice.smith@example.com"', True),
    ('URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME EQ "alice.smith@example.com"', True),
    ('urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "alice"', True),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"', True),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "boss-1"', True),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "boss-1"', True),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber sw "70"', True),
    ('department eq "R&D"', True),  # unqualified extension name
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr", False),
    ('schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', True),
    # password is returned "never": no filter on it matches
    ("password pr", False),
    ('password eq "s3cret!"', False),
    ('password ne "x"', False),
    # logic, keywords in any case, extra whitespace
    ('title pr or userName sw "alice"', True),
    ('title pr and userName sw "alice"', False),
    ('not (title pr) and userName sw "alice"', True),
    ('NOT(title pr)', True),
    ('userName Sw "alice" AnD active Eq true', True),
    ('  userName   eq   "alice.smith@example.com"  ', True),
    ('((userName pr))', True),
    ('not (not (userName pr))', True),
    # JSON string escapes
    ('displayName eq "Alice\\u0020Smith"', True),
    ('displayName eq "Alice\\tSmith"', False),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R\\u0026D"', True),
]


@pytest.mark.parametrize(("text", "expected"), MATCHES)
def test_matches(text: str, expected: bool) -> None:
    assert parse_filter(text).matches(ALICE) is expected


def _user(uid: str, *, title: str | None = None, active: bool = False, dept: str | None = None) -> dict:
    user: dict = {"id": uid, "userName": f"{uid}@example.com", "active": active}
    if title:
        user["title"] = title
    if dept:
        user[ENTERPRISE_USER] = {"department": dept}
    return user


PEOPLE = [
    _user("u1", title="Eng"),
    _user("u2", active=True),
    _user("u3", title="Eng", active=True, dept="Sales"),
    _user("u4", dept="Sales"),
    _user("u5", title="Ops", active=True, dept="Sales"),
]

PRECEDENCE = [
    # RFC 7644 §3.4.2.2: «"not" takes precedence over "and", which takes precedence over "or"»
    ('title pr or active eq true and department eq "Sales"', {"u1", "u3", "u5"}),
    ('(title pr or active eq true) and department eq "Sales"', {"u3", "u5"}),
    ('department eq "Sales" and active eq true or title eq "Eng"', {"u1", "u3", "u5"}),
    ('department eq "Sales" and (active eq true or title eq "Eng")', {"u3", "u5"}),
    ("not (title pr) and active eq true", {"u2"}),
    ("not (title pr and active eq true)", {"u1", "u2", "u4"}),
    ('not (title pr) or department eq "Sales"', {"u2", "u3", "u4", "u5"}),
    ('title eq "Eng" or title eq "Ops" or active eq true', {"u1", "u2", "u3", "u5"}),
    ('title pr and active eq true and department eq "Sales"', {"u3", "u5"}),
    ('title eq "Ops" OR title eq "Eng" AND active eq false', {"u1", "u5"}),
]


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE)
def test_precedence_and_grouping(text: str, expected: set[str]) -> None:
    flt = parse_filter(text)
    assert {u["id"] for u in PEOPLE if flt.matches(u)} == expected


INVALID = [
    ("", "empty"),
    ("   ", "empty"),
    ("userName", "expected"),
    ("userName eq", "end"),
    ('userName eq "unterminated', "unexpected"),
    ('userName regex "a"', "regex"),
    ('userName equals "a"', "equals"),
    ('userName EQUAL "a"', "EQUAL"),
    ("externalId eq jyoung", "jyoung"),  # Entra's legacy unquoted example (Microsoft's SCIM tutorial)
    ("userName eq 'single'", "unexpected"),
    ('(userName eq "a"', "')'"),
    ('userName eq "a")', "')'"),
    ('((userName eq "a")', "')'"),
    ('userName eq "a" and', "end"),
    ('and userName eq "a"', "and"),
    ('userName eq "a" or or title pr', "or"),
    ('userName eq "a" title pr', "title"),
    ('not userName eq "a"', "'('"),
    ('emails[type eq "work"', "']'"),
    ('emails[type eq "work"]]', "']'"),
    ("emails[]", "unexpected"),
    ('noSuchAttr eq "x"', "noSuchAttr"),
    ('name.noSuchSub eq "x"', "name.noSuchSub"),
    ('emails[noSuchSub eq "x"]', "noSuchSub"),
    ('emails[type eq "w"].noSuchSub eq "x"', "noSuchSub"),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "x"', "unknown attribute"),
    ('urn:example:custom:attr eq "x"', "unknown attribute"),
    ("active gt true", "gt"),
    ("active ge false", "ge"),
    ('active lt "x"', "boolean"),
    ('userName gt null', "null"),
    ('userName le true', "true"),
    ('emails gt "a"', "complex"),
    ('name eq "Alice"', "complex"),
    ('addresses co "Paris"', "complex"),
    ("userName co 1", "co"),
    ("userName sw true", "sw"),
    ("userName ew null", "ew"),
    ('active co "t"', "co"),
    ('meta.created gt "yesterday"', "dateTime"),
    ('meta.created eq 5', "dateTime"),
    ('name[givenName eq "x"]', "multi-valued"),
    ('userName[value eq "x"]', "multi-valued"),
    ('emails.value[type eq "x"]', "multi-valued"),
    ('emails[type eq "w" and emails[value pr]]', "nested"),
    ('userName eq "a" and (title pr', "')'"),
    ("userName eq 01", "unexpected"),
    ("userName eq +1", "unexpected"),
    ('"userName" eq "x"', "unexpected"),
    ("\x00\xff\ufffd", "unexpected"),
    ("userName eq \"\x01\"", "unexpected"),
    ("x" * 5000, "longer than"),
    ("not (" * 70 + "title pr" + ")" * 70, "nested too deeply"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID)
def test_invalid_filters_are_400_invalid_filter(text: str, fragment: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter(text)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidFilter")
    assert fragment.lower() in caught.value.detail.lower()


def test_syntax_error_detail_names_the_position() -> None:
    with pytest.raises(ScimError) as caught:
        parse_filter('userName regex "a"')
    assert "character 10" in caught.value.detail
    assert "eq" in caught.value.detail  # what would have been accepted


def test_parsed_filters_are_cached() -> None:
    assert parse_filter('userName eq "cache"') is parse_filter('userName eq "cache"')


USERNAME_EQUALITY = [
    ('userName eq "a@x.com"', "a@x.com"),
    ('USERNAME EQ "A@X.com"', "A@X.com"),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"', "a"),
    ('userName eq "a" and active eq true', "a"),
    ('active eq true and userName eq "b"', "b"),
    ('title pr and active eq true and userName eq "c"', "c"),
    ('userName eq "a" or active eq true', None),
    ('not (userName eq "a")', None),
    ('userName ne "a"', None),
    ('userName co "a"', None),
    ("userName eq null", None),
    ("userName eq 1", None),
    ('displayName eq "a"', None),
    ('emails[value eq "a"]', None),
]


@pytest.mark.parametrize(("text", "expected"), USERNAME_EQUALITY)
def test_username_equality(text: str, expected: str | None) -> None:
    assert username_equality(parse_filter(text)) == expected


PATHS = [
    # text, schema, attribute, sub-attribute, has a value filter
    ("title", CORE_USER, "title", None, False),
    ("TITLE", CORE_USER, "title", None, False),
    ("name.givenName", CORE_USER, "name", "givenName", False),
    ("Name.GIVENNAME", CORE_USER, "name", "givenName", False),
    ("emails", CORE_USER, "emails", None, False),
    ('emails[type eq "work"]', CORE_USER, "emails", None, True),
    ('emails[type eq "work"].value', CORE_USER, "emails", "value", True),
    ('addresses[type eq "work"].locality', CORE_USER, "addresses", "locality", True),
    ('phoneNumbers[type eq "mobile" and primary eq true].value', CORE_USER, "phoneNumbers", "value", True),
    ("urn:ietf:params:scim:schemas:core:2.0:User:userName", CORE_USER, "userName", None, False),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", ENTERPRISE_USER, "manager", None, False),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", ENTERPRISE_USER, "manager", "value", False),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", ENTERPRISE_USER, "employeeNumber", None, False),
    ("manager", ENTERPRISE_USER, "manager", None, False),  # Entra's unqualified form
    ("meta.created", CORE_USER, "meta", "created", False),
    ("id", CORE_USER, "id", None, False),
    ("x509Certificates", CORE_USER, "x509Certificates", None, False),
]


@pytest.mark.parametrize(("text", "schema", "attribute", "sub", "filtered"), PATHS)
def test_parse_path(text: str, schema: str, attribute: str, sub: str | None, filtered: bool) -> None:
    path = parse_path(text)
    assert path.text == text
    assert (path.target.schema, path.attribute.name) == (schema, attribute)
    assert (path.sub.name if path.sub else None) == sub
    assert (path.value_filter is not None) == filtered


def test_path_value_filter_applies_to_one_element() -> None:
    flt = parse_path('emails[type eq "work" and value ew "@example.com"].value').value_filter
    assert flt.matches({"type": "WORK", "value": "a@EXAMPLE.com"})
    assert not flt.matches({"type": "home", "value": "a@example.com"})
    assert flt.equalities() is None
    assert parse_path('emails[type eq "work" and primary eq true]').value_filter.equalities() == {"type": "work", "primary": True}
    assert parse_path('emails[type eq "work" or type eq "home"]').value_filter.equalities() is None


INVALID_PATHS = [
    "",
    "noSuchAttr",
    "name.noSuchSub",
    "members",  # a Group attribute
    'members[value eq "x"]',
    "emails[type eq",
    'emails[type eq "work"',
    'emails[type eq "work"].',
    'emails[type eq "work"].noSuchSub',
    'emails[type eq "work"].value.more',
    'emails[noSuchSub eq "work"]',
    'emails[type regex "work"]',
    'name[givenName eq "x"]',
    'title eq "x"',
    "emails.value.more",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:noSuchAttr",
    "(title)",
    "title pr",
    "a b",
    "\x00",
]


@pytest.mark.parametrize("text", INVALID_PATHS)
def test_invalid_paths_are_400_invalid_path(text: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_path(text)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidPath")


# ---------------------------------------------------------------------------------------------
# Properties

FRAGMENTS = [
    "userName", "emails", "emails.value", "name.givenName", "meta.lastModified", "active", "title", "type",
    "value", "primary", "password", "manager", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:",
    "urn:ietf:params:scim:schemas:core:2.0:User:", "eq", "NE", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr",
    "regex", "and", "OR", "not", "(", ")", "[", "]", ".", '"x"', '"2024-01-01T00:00:00Z"', '"', "\\", "1", "-2.5e3",
    "true", "False", "null", "jyoung", " ", "  ", "\t", "$ref", "\u00e9",
]

grammarish = st.lists(st.sampled_from(FRAGMENTS), max_size=14).flatmap(
    lambda parts: st.sampled_from([" ", ""]).map(lambda sep: sep.join(parts))
)


def _parse_or_400(text: str) -> Filter | None:
    try:
        return parse_filter(text)
    except ScimError as error:
        assert (error.status, error.scim_type) == (400, "invalidFilter")
        return None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_is_invalid_filter(text: str) -> None:
    result = _parse_or_400(text)
    assert result is None or isinstance(result, Filter)


@settings(max_examples=200, deadline=None)
@given(grammarish)
def test_grammarish_text_parses_or_is_invalid_filter(text: str) -> None:
    _parse_or_400(text)


@settings(max_examples=200, deadline=None)
@given(grammarish)
def test_any_text_parses_as_path_or_is_invalid_path(text: str) -> None:
    try:
        parse_path(text)
    except ScimError as error:
        assert (error.status, error.scim_type) == (400, "invalidPath")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
    | st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
elements = st.dictionaries(st.sampled_from(["value", "type", "primary", "display", "locality"]), json_values, max_size=4)
resources = st.dictionaries(
    st.sampled_from(["id", "userName", "externalId", "title", "active", "password", "schemas", "name", "meta",
                     "emails", "addresses", ENTERPRISE_USER]),
    json_values
    | st.lists(elements | json_values, max_size=3)
    | st.dictionaries(st.sampled_from(["givenName", "created", "lastModified", "department", "manager"]),
                      json_values | elements, max_size=3),
    max_size=8,
)
SAMPLE_FILTERS = [text for text, _ in MATCHES] + [text for text, _ in PRECEDENCE]


@settings(max_examples=100, deadline=None)
@given(resources)
def test_matches_never_raises(resource: dict) -> None:
    for text in SAMPLE_FILTERS:
        assert parse_filter(text).matches(resource) in (True, False)


# ---------------------------------------------------------------------------------------------
# The index: Filter.select answers what Filter.matches answers, user by user


def _selected(flt: Filter, index: Index, users: dict[str, dict]) -> set[str]:
    """What the store does (store._Users.matching): the index for the users it holds, `matches` for the irregular."""
    return flt.select(Scope(index)) | {i for i in index.irregular if flt.matches(users[i])}


@pytest.mark.parametrize(("text", "expected"), MATCHES)
def test_select_agrees_with_matches(text: str, expected: bool) -> None:
    """Every case of the table above, answered by the index."""
    index = Index()
    index.add(ALICE["id"], ALICE)
    assert not index.irregular
    assert (ALICE["id"] in parse_filter(text).select(Scope(index))) is expected


WORDS = ["", "a", "A", "ada", "Ada.L@X.com", "work", "WORK", "home", "\u00e9", "E\u0301", "\u00df", "ss", "2024", "@", "z"]
INSTANTS = ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00", "2024-06-01T12:00:00.500+02:00",
            "2024-06-01T10:00:00.5", "2023-12-31T23:59:59Z"]
words = st.sampled_from(WORDS)
element = st.fixed_dictionaries({}, optional={"value": words, "type": words, "primary": st.booleans(), "display": words})
canonical_users = st.fixed_dictionaries({"userName": words}, optional={
    "id": words, "externalId": words, "title": words, "displayName": words, "nickName": words,
    "active": st.booleans(),
    "name": st.fixed_dictionaries({}, optional={"givenName": words, "familyName": words}),
    "emails": st.lists(element, max_size=3),
    "addresses": st.lists(st.fixed_dictionaries({}, optional={"locality": words, "type": words}), max_size=2),
    "meta": st.fixed_dictionaries({}, optional={"created": st.sampled_from(INSTANTS),
                                                "lastModified": st.sampled_from(INSTANTS)}),
    "password": words,
    ENTERPRISE_USER: st.fixed_dictionaries({}, optional={
        "department": words, "manager": st.fixed_dictionaries({}, optional={"value": words})}),
})


def _comparisons(names: list[str], ops: list[str], literals: list[str]) -> st.SearchStrategy[str]:
    return st.builds("{} {} {}".format, st.sampled_from(names), st.sampled_from(ops), st.sampled_from(literals))


QUOTED_WORDS = [f'"{w}"' for w in WORDS]
STRINGS = ["userName", "id", "externalId", "title", "displayName", "nickName", "name.givenName", "name.familyName",
           "emails.value", "emails.type", "addresses.locality", "department", "password",
           f"{ENTERPRISE_USER}:manager.value"]
COMPLEX = ["emails", "manager"]  # compared by their "value"
DATES = ["meta.created", "meta.lastModified"]
ORDER = ["gt", "ge", "lt", "le"]
SUBSTRING = ["co", "sw", "ew"]
OTHER_KINDS = ["null", "1", "true", '"true"']
PRESENT = [*STRINGS, *COMPLEX, *DATES, "active", "name", "meta", "addresses", "emails.primary", "phoneNumbers"]


def _leaves(strings: list[str], booleans: list[str], present: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        _comparisons(strings, ["eq", "ne", *ORDER, *SUBSTRING], QUOTED_WORDS),
        _comparisons(strings, ["eq", "ne"], OTHER_KINDS),
        _comparisons(booleans, ["eq", "ne"], ["true", "false", *OTHER_KINDS]),
        st.sampled_from(present).map("{} pr".format),
    )


def _logic(leaves: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(leaves, lambda inner: st.one_of(
        st.builds("({} and {})".format, inner, inner), st.builds("({} or {})".format, inner, inner),
        inner.map("not ({})".format)), max_leaves=4)


email_filters = _logic(_leaves(["value", "type", "display"], ["primary"], ["value", "type", "display", "primary"]))
address_filters = _logic(_leaves(["locality", "type"], ["primary"], ["locality", "type", "primary"]))
filters = _logic(st.one_of(
    _leaves(STRINGS, ["active", "emails.primary"], PRESENT),
    _comparisons(COMPLEX, ["eq", "ne", *SUBSTRING], QUOTED_WORDS),
    _comparisons(DATES, ["eq", "ne", *ORDER], [f'"{i}"' for i in INSTANTS]),
    _comparisons(DATES, ["eq", "ne"], ["null"]),
    _comparisons(DATES, SUBSTRING, ['"2024"', '"01T"', '"Z"', '"+02:00"']),
    email_filters.map("emails[{}]".format),
    address_filters.map("addresses[{}]".format),
    st.builds('emails[{}].value eq "{}"'.format, email_filters, words),
))


@settings(max_examples=300, deadline=None)
@given(st.lists(canonical_users | canonical_users | resources, max_size=6), st.lists(filters, min_size=1, max_size=4),
       st.data())
def test_select_is_matches_on_every_user(users: list[dict], texts: list[str], data: st.DataObject) -> None:
    """Canonical users, and any JSON (values of another type: irregular), indexed, some removed and replaced."""
    stored = {f"u{n}": user for n, user in enumerate(users)}
    index = Index()
    for user_id, user in stored.items():
        index.add(user_id, user)
    for user_id in data.draw(st.lists(st.sampled_from(sorted(stored)), max_size=3)) if stored else ():
        index.remove(user_id)
        stored[user_id] = data.draw(canonical_users)
        index.add(user_id, stored[user_id])
    for user_id in data.draw(st.lists(st.sampled_from(sorted(stored)), max_size=2)) if stored else ():
        index.remove(user_id)
        stored.pop(user_id, None)
    for text in texts:
        flt = parse_filter(text)
        assert _selected(flt, index, stored) == {i for i, user in stored.items() if flt.matches(user)}, text


ODD_USERS = {
    "empties": {"userName": "", "title": "", "name": {}, "meta": {}, "emails": [{}, {"value": ""}, {"type": "work"}]},
    "empty-elements": {"emails": [{}, None, ""], "addresses": [{}], ENTERPRISE_USER: {"manager": {}}},
    "two-emails": {"userName": "b@example.com", "emails": [{"value": "Alice@Home.org", "type": "home"},
                                                           {"value": "b@example.com", "type": "work", "primary": True}]},
    "schemas": {"schemas": [CORE_USER], ENTERPRISE_USER: "not a block"},
    "spellings": {"Title": "Eng", f"{CORE_USER}:userName": "alice.smith@example.com", "name": {"GivenName": "Alice"}},
    "string-active": {"userName": "c@example.com", "active": "true"},
    "bad-date": {"meta": {"created": "yesterday"}},
    "number-name": {"name": {"givenName": 5}},
    "emails-object": {"emails": {"value": "alice@example.com"}},
    "title-list": {"title": ["Eng", "Ops"]},
    "email-string": {"emails": ["alice@example.com"]},
}


@pytest.mark.parametrize("text", SAMPLE_FILTERS)
def test_select_agrees_with_matches_on_odd_users(text: str) -> None:
    """Unassigned values, names spelt otherwise than the schema, and values of another type (irregular)."""
    users, index = {**ODD_USERS, "alice": ALICE}, Index()
    for user_id, user in users.items():
        index.add(user_id, user)
    assert index.irregular == {"string-active", "bad-date", "number-name", "emails-object", "title-list", "email-string"}
    flt = parse_filter(text)
    assert _selected(flt, index, users) == {i for i, user in users.items() if flt.matches(user)}
