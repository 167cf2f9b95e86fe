"""Named, realistic deviations of the reference server: each one a bug real vendors ship.

Every fault is a layer around the correct server (`layers.Rewrite`: rewrite the request, answer
it, or rewrite the answer), or, when a bug lives below HTTP, a swap of one object or method on the
server state at build time (`adjust`): a policy rule, the store's `query`, or the store itself.
The correct server's code never mentions them. Apart from the shuffling generator of
`paging-unstable-order` and what two delete faults remember of deleted users (`delete-soft-listed` their
tombstones, `delete-username-held` their userNames), no fault keeps state of its own across requests.
Sources for the bug classes: Okta's SCIM 2.0 guide
(https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/) and failures vendors reported
(e.g. https://github.com/ory/polis/pull/4054, https://github.com/pond/scimitar/pull/29,
https://github.com/grokability/snipe-it/issues/13855); OneLogin's call flow and traffic
(https://developers.onelogin.com/scim/implement-scim-api, https://github.com/goauthentik/authentik/issues/11249);
Entra's documented bodies (Microsoft Learn's SCIM tutorial,
https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups, and its
SCIM compatibility page, linked below); Asana's API (https://developers.asana.com/docs/scim,
https://developers.asana.com/docs/errors); other SaaS SCIM APIs' rules, e.g. Vouch's domain check
(https://github.com/vouch-sh/vouch/pull/826) and Slack's integer status (https://docs.slack.dev/reference/scim-api);
and the deviations of third-party servers recorded in docs/third-party.md.
"""

# Microsoft Learn's SCIM compatibility page:
# https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility

from __future__ import annotations

import dataclasses
import random
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.datastructures import MutableHeaders

from .app import Layer, ServerState
from .attributes import CORE_USER, ENTERPRISE_USER, attributes_of
from .errors import ScimError, not_found, uniqueness
from .filter import parse_filter, parse_path, username_equality
from .http import bearer_token
from .layers import Answer, Exchange, Rewrite
from .patch import PATCH_OP, apply_patch
from .policy import Policy, email_domain
from .representation import project, render
from .store import UserStore
from .tenant import Guest

CAPABILITIES = ("token", "import", "filter", "create", "update", "deactivate", "delete",
                "domain", "guests", "errors", "discovery", "groups")


@dataclass(frozen=True)
class Fault:
    """A named bug: what it breaks (capability), and the requirement IDs of the conformance suite it
    violates (fixtures/requirements.json), written from what the bug means: every one of them must fail
    (or warn, at SHOULD level) and no other may (scimcert.mutation)."""

    name: str
    capability: str
    description: str
    build: Callable[[], Layer]
    requirements: tuple[str, ...] = ()
    idps: tuple[str, ...] = ()  # the only IdP profiles whose requests expose it; () = every profile's
    only: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (requirement, IdPs): a narrower scope for one of them

    def exposed_in(self, requirement: str) -> tuple[str, ...]:
        """The report columns (IdPs) in which `requirement` may show this fault; () = any column."""
        return dict(self.only).get(requirement, self.idps)


FAULTS: dict[str, Fault] = {}


def fault(name: str, capability: str, description: str, *, breaks: tuple[str, ...] = (),
          idps: tuple[str, ...] = (), only: dict[str, tuple[str, ...]] | None = None):
    """Register the decorated layer factory as a fault that breaks the requirements `breaks` (what the
    bug violates first, then what a client reading the answer is denied as a consequence). A fault
    only some IdPs' requests expose names them (`idps`): it must fail those profiles and no other;
    `only` narrows that for single requirements (a quirk only one IdP's request shape carries)."""
    assert capability in CAPABILITIES, capability
    assert name not in FAULTS, name
    assert set(only or {}) <= set(breaks), f"{name}: 'only' names a requirement it does not break"

    def register(build: Callable[[], Layer]) -> Callable[[], Layer]:
        FAULTS[name] = Fault(name, capability, description, build, tuple(breaks), tuple(idps),
                             tuple((r, tuple(i)) for r, i in (only or {}).items()))
        return build

    return register


def layers_for(names: list[str]) -> list[Layer]:
    """Fresh layers for the named faults; KeyError naming any unknown one."""
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise KeyError(f"unknown fault(s): {', '.join(unknown)}; see --list-faults")
    return [FAULTS[n].build() for n in names]


# ---- helpers the faults share -------------------------------------------------------------

def users_in(body: object) -> Iterator[dict]:
    """The user resources of a response body: a single resource or a ListResponse's Resources."""
    if isinstance(body, dict):
        if isinstance(body.get("Resources"), list):
            yield from (r for r in body["Resources"] if isinstance(r, dict))
        elif "userName" in body:
            yield body


def edit_users(edit: Callable[[dict], None]) -> Callable[[Exchange, Answer], None]:
    """An on_response that applies `edit` to every user in a JSON response of the /Users endpoint."""
    def on_response(exchange: Exchange, answer: Answer) -> None:
        body = answer.body
        users = list(users_in(body)) if exchange.path.lstrip("/").startswith("Users") else []
        for user in users:
            edit(user)
        if users:
            answer.body = body
    return on_response


def edit_list(edit: Callable[[Exchange, dict], None]) -> Callable[[Exchange, Answer], None]:
    """An on_response that applies `edit` to the ListResponse of a successful GET /Users."""
    def on_response(exchange: Exchange, answer: Answer) -> None:
        body = answer.body
        if exchange.is_list and answer.status == 200 and isinstance(body, dict):
            edit(exchange, body)
            answer.body = body
    return on_response


def edit_error(edit: Callable[[Answer, dict], None]) -> Callable[[Exchange, Answer], None]:
    """An on_response that applies `edit(answer, body)` to every SCIM Error answer."""
    def on_response(exchange: Exchange, answer: Answer) -> None:
        body = answer.body
        if answer.status >= 400 and isinstance(body, dict) and "status" in body:
            edit(answer, body)
    return on_response


def error(status: int, detail: str, scim_type: str | None = None) -> Answer:
    return Answer.json(status, ScimError(status, detail, scim_type).body())


def without_header(name: str, when: Callable[[Exchange], bool]) -> Rewrite:
    """A layer that drops the response header `name` from the answers to the requests `when` selects."""
    def on_response(ex: Exchange, answer: Answer) -> None:
        if when(ex) and name in answer.headers:
            del answer.headers[name]
    return Rewrite(on_response=on_response)


def html(status: int, text: str) -> Answer:
    page = f"<html><body><h1>{status}</h1><p>{text}</p></body></html>".encode()
    return Answer(status, MutableHeaders({"content-type": "text/html; charset=utf-8"}), page)


def is_user_write(exchange: Exchange) -> bool:
    """POST /Users, or PUT/PATCH /Users/{id}."""
    if exchange.method == "POST":
        return exchange.path.rstrip("/") == "/Users"
    return exchange.method in ("PUT", "PATCH") and exchange.user_id is not None


def patch_ops(exchange: Exchange) -> list[dict]:
    body = exchange.body
    ops = body.get("Operations") if isinstance(body, dict) else None
    return [op for op in ops if isinstance(op, dict)] if isinstance(ops, list) else []


def _attribute_key(name: str) -> str:
    """A body key or PATCH path, lower-cased and without the core User URN."""
    name = name.strip().lower()
    prefix = CORE_USER.lower() + ":"
    return name[len(prefix):] if name.startswith(prefix) else name


DROP = object()  # returned by a `rewrite_attribute` function: take the assignment out of the write


def rewrite_attribute(ex: Exchange, matches: Callable[[str], bool], rewrite: Callable[[Any], Any]) -> bool:
    """Apply `rewrite(value)` to each value a user write assigns to a matching attribute: a key of a
    POST/PUT body, the `path` of a PATCH operation, or a key of a path-less operation's value.
    `matches` gets the key or path via `_attribute_key`. `rewrite` returns the new value or DROP;
    an operation left without anything to do is removed. True when any value matched."""
    body = ex.body
    if not is_user_write(ex) or not isinstance(body, dict):
        return False
    found = False

    def rewrite_keys(container: dict) -> dict:
        nonlocal found
        out = {}
        for key, value in container.items():
            if isinstance(key, str) and matches(_attribute_key(key)):
                found = True
                value = rewrite(value)
                if value is DROP:
                    continue
            out[key] = value
        return out

    if ex.method in ("POST", "PUT"):
        body = rewrite_keys(body)
    elif isinstance(body.get("Operations"), list):
        ops = []
        for op in body["Operations"]:
            if isinstance(op, dict) and isinstance(op.get("path"), str) and "value" in op:
                if matches(_attribute_key(op["path"])):
                    found = True
                    value = rewrite(op["value"])
                    if value is DROP:
                        continue
                    op = {**op, "value": value}
            elif isinstance(op, dict) and op.get("path") is None and isinstance(op.get("value"), dict) and op["value"]:
                value = rewrite_keys(op["value"])
                if not value:
                    continue
                op = {**op, "value": value}
            ops.append(op)
        body["Operations"] = ops
    if found:
        ex.body = body
    return found


def attribute_values(ex: Exchange, name: str) -> list[Any]:
    """The values this user write assigns to the core attribute `name`."""
    values: list[Any] = []
    rewrite_attribute(ex, lambda key: key == name.lower(), lambda v: values.append(v) or v)
    return values


def as_bool(value: Any) -> bool | None:
    """The boolean the server reads: a JSON boolean or the strings "true"/"false" in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def sets_active(ex: Exchange, value: bool) -> bool:
    """Whether this write sets `active` to `value` (PUT body, PATCH with or without path)."""
    return any(as_bool(v) is value for v in attribute_values(ex, "active"))


def nothing_left_to_patch(ex: Exchange) -> None:
    """A PATCH whose operations were all taken out becomes a read of the user (answers 200)."""
    if ex.method == "PATCH" and not patch_ops(ex):
        ex.method, ex.raw_body = "GET", b""


def ignoring(method: str) -> Rewrite:
    """A fault that answers every `method` of a user like a GET of it: 200 with the user, nothing applied."""
    def on_request(ex: Exchange) -> None:
        if ex.method == method and ex.user_id:
            ex.method, ex.raw_body = "GET", b""
    return Rewrite(on_request)


def with_methods(policy: Policy, **methods: Callable) -> Policy:
    """A copy of `policy` whose named methods are replaced."""
    faulty = type(f"Faulty{type(policy).__name__}", (type(policy),), methods)
    return faulty(**{f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)})


def policy_override(**methods: Callable) -> Rewrite:
    """A fault that swaps the tenant policy for one with the given methods replaced."""
    def adjust(state: ServerState) -> None:
        state.policy = with_methods(state.policy, **methods)
    return Rewrite(adjust=adjust)


def query_override(query: Callable[[Callable, Any, int, int], tuple[int, list[dict]]]) -> Rewrite:
    """A fault that swaps the store's `query(filter, startIndex, count)` for
    `query(original_query, filter, startIndex, count)`."""
    def adjust(state: ServerState) -> None:
        original = state.store.query
        state.store.query = lambda flt, start, count: query(original, flt, start, count)
    return Rewrite(adjust=adjust)


def all_users(store: UserStore) -> list[dict]:
    return store.query(None, 1, sys.maxsize)[1]


def read_instead(ex: Exchange) -> None:
    """Serve this write (a DELETE, a PATCH left with nothing to do) as a read of its resource: nothing is applied,
    and `as_no_content` answers the read's 200 with the 204 the write would have had."""
    ex.method, ex.raw_body = "GET", b""
    ex.notes["read instead"] = True


def as_no_content(ex: Exchange, answer: Answer) -> None:
    """An on_response: the 200 of a request `read_instead` turned into a read becomes 204 No Content."""
    if ex.notes.get("read instead") and answer.status == 200:
        answer.replace(Answer(204, MutableHeaders({"content-type": "application/scim+json"})))


# ---- helpers of the group faults ------------------------------------------------------------

def group_id(ex: Exchange) -> str | None:
    """The id of /Groups/{id}, else None."""
    parts = ex.path.strip("/").split("/")
    return parts[1] if len(parts) == 2 and parts[0] == "Groups" and parts[1] != ".search" else None


def is_group_list(ex: Exchange) -> bool:
    """GET /Groups: a query answered by a ListResponse of groups."""
    return ex.method == "GET" and ex.path.rstrip("/") == "/Groups"


def edit_groups(edit: Callable[[dict], None], when: Callable[[Exchange], bool] = lambda ex: True
                ) -> Callable[[Exchange, Answer], None]:
    """An on_response that applies `edit` to every group of a successful JSON answer of the /Groups endpoint
    (one group, or a ListResponse's Resources) to the requests `when` selects."""
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if not (ex.path.rstrip("/") == "/Groups" or group_id(ex)) or answer.status >= 300 \
                or not isinstance(body, dict) or not when(ex):
            return
        groups = [r for r in body["Resources"] if isinstance(r, dict)] if isinstance(body.get("Resources"), list) \
            else [body] if "id" in body else []
        for group in groups:
            edit(group)
        if groups:
            answer.body = body
    return on_response


def group_ops(rewrite: Callable[[dict, str, str | None], list[dict]]) -> Rewrite:
    """A fault that replaces each operation of a PATCH /Groups/{id} by `rewrite(operation, lower-cased op name,
    lower-cased path or None)`: a list of none, it, or others. A PATCH left without operations is answered
    as the server answers a group PATCH (204), having applied nothing."""
    def on_request(ex: Exchange) -> None:
        ops = patch_ops(ex) if ex.method == "PATCH" and group_id(ex) else []
        kept = [new for op in ops for new in rewrite(op, str(op.get("op", "")).lower(),
                                                     op["path"].strip().lower() if isinstance(op.get("path"), str)
                                                     else None)]
        if kept == ops:
            return
        if kept:
            ex.body = {**ex.body, "Operations": kept}
        else:
            read_instead(ex)
    return Rewrite(on_request, as_no_content)


class _MemberUsers:
    """The user store as a group store reaches it (`get` and `guests` only, groups.GroupStore), where `admit(users,
    id)` stands in a user for an id the store does not hold (None: still unknown), and `guests` are refused."""

    def __init__(self, users: UserStore, admit: Callable[[UserStore, str], dict | None], guests: dict):
        self._users, self._admit, self.guests = users, admit, guests

    def get(self, user_id: str) -> dict:
        try:
            return self._users.get(user_id)
        except ScimError:
            found = self._admit(self._users, user_id)
            if found is None:
                raise
            return found


def members_admitted(admit: Callable[[UserStore, str], dict | None], refuse_guests: bool = True) -> Rewrite:
    """A fault whose group store takes as a member an id `admit` stands a user in for (see _MemberUsers)."""
    def adjust(state: ServerState) -> None:
        users = state.groups.users
        state.groups.users = lambda: _MemberUsers(users(), admit, users().guests if refuse_guests else {})
    return Rewrite(adjust=adjust)


# ---- token ---------------------------------------------------------------------------------

def _authorize_as_active(exchange: Exchange) -> None:
    exchange.headers["authorization"] = f"Bearer {exchange.state.tenant.token}"


@fault("auth-any-bearer-accepted", "token", "Any bearer token is accepted: the token is never checked.",
       breaks=("token.invalid-401", "token.revoked-401", "token.writes-refused", "token.error-body", "token.www-authenticate"))
def _any_bearer():
    def on_request(ex: Exchange) -> None:
        if bearer_token(ex.headers.get("authorization")) is not None:
            _authorize_as_active(ex)
    return Rewrite(on_request)


@fault("auth-revoked-token-accepted", "token", "A revoked service-account token still authenticates.",
       breaks=("token.revoked-401", "token.error-body", "token.www-authenticate"))
def _revoked_accepted():
    def on_request(ex: Exchange) -> None:
        if bearer_token(ex.headers.get("authorization")) in ex.state.tenant.revoked_tokens:
            _authorize_as_active(ex)
    return Rewrite(on_request)


@fault("auth-anonymous-allowed", "token", "Requests without an Authorization header are served.",
       breaks=("token.missing-401", "token.writes-refused", "token.error-body", "token.www-authenticate"))
def _anonymous():
    def on_request(ex: Exchange) -> None:
        if "authorization" not in ex.headers:
            _authorize_as_active(ex)
    return Rewrite(on_request)


@fault("auth-basic-accepted", "token", "The Basic scheme is accepted whatever its credentials.",
       breaks=("token.invalid-401", "token.error-body", "token.www-authenticate"))
def _basic():
    def on_request(ex: Exchange) -> None:
        if ex.headers.get("authorization", "").strip().lower().partition(" ")[0] == "basic":
            _authorize_as_active(ex)
    return Rewrite(on_request)


@fault("auth-token-prefix-accepted", "token",
       "A bearer token is accepted when it starts with a valid token (a prefix comparison), so the token with "
       "characters appended authenticates.", breaks=("token.invalid-401", "token.error-body", "token.www-authenticate"))
def _token_prefix():
    def on_request(ex: Exchange) -> None:
        token = bearer_token(ex.headers.get("authorization"))
        if token and any(token.startswith(valid) for valid in ex.state.tenant.active_tokens):
            _authorize_as_active(ex)
    return Rewrite(on_request)


@fault("auth-challenge-basic", "token",
       "401 answers challenge with WWW-Authenticate: Basic, a scheme the IdPs' bearer tokens never use.", breaks=("token.www-authenticate",))
def _challenge_basic():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.status == 401:
            answer.headers["www-authenticate"] = 'Basic realm="scim"'
    return Rewrite(on_response=on_response)


@fault("auth-no-www-authenticate", "token", "401 answers lack the WWW-Authenticate challenge (RFC 7644 §2).",
       breaks=("token.www-authenticate",))
def _no_challenge():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.status == 401 and "www-authenticate" in answer.headers:
            del answer.headers["www-authenticate"]
    return Rewrite(on_response=on_response)


@fault("auth-403-for-bad-token", "token", "An invalid or missing token answers 403 instead of 401.",
       breaks=("token.missing-401", "token.invalid-401", "token.revoked-401", "token.writes-refused"))
def _forbidden():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.status == 401:
            answer.status = 403
            body = answer.body
            if isinstance(body, dict):
                answer.body = {**body, "status": "403"}
    return Rewrite(on_response=on_response)


@fault("auth-401-html", "token", "401 answers are an HTML page, not a SCIM Error.",
       breaks=("token.error-body", "errors.scim-error-body"))
def _html_401():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.status == 401:
            challenge = answer.headers.get("www-authenticate")
            answer.replace(html(401, "Unauthorized"))
            if challenge:
                answer.headers["www-authenticate"] = challenge
    return Rewrite(on_response=on_response)


# ---- import / paging -----------------------------------------------------------------------

def _page_window(ex: Exchange) -> tuple[int, int] | None:
    """(startIndex, count) of GET /Users as the server reads them; None when it refuses them."""
    options = ex.state.tenant.options
    try:
        start = int(ex.param("startIndex") or 1)
        count = int(ex.param("count") or options.defaultPageSize)
    except ValueError:
        return None
    return max(1, start), min(max(0, count), options.maxPageSize)


@fault("paging-numbers-as-strings", "import", "totalResults, startIndex and itemsPerPage are JSON strings (\"1\").",
       breaks=("import.paging-integers", "schema.list-response", "schema.idp-readable", "token.test-credentials"))
def _strings():
    def edit(ex: Exchange, body: dict) -> None:
        for key in ("totalResults", "startIndex", "itemsPerPage"):
            if key in body:
                body[key] = str(body[key])
    return Rewrite(on_response=edit_list(edit))


@fault("paging-items-per-page-is-count", "import", "itemsPerPage echoes the requested count, not the number returned.",
       breaks=("import.items-per-page", "import.past-end"))
def _items_per_page():
    def edit(ex: Exchange, body: dict) -> None:
        window = _page_window(ex)
        if window:
            body["itemsPerPage"] = window[1]
    return Rewrite(on_response=edit_list(edit))


@fault("paging-items-per-page-is-total", "import", "itemsPerPage states totalResults, not the number returned.",
       breaks=("import.items-per-page", "import.past-end"))
def _items_per_page_total():
    def edit(ex: Exchange, body: dict) -> None:
        if "totalResults" in body:
            body["itemsPerPage"] = body["totalResults"]
    return Rewrite(on_response=edit_list(edit))


@fault("paging-bounds-rejected", "import",
       "startIndex below 1 or a negative count answers 400 invalidValue instead of being read as 1 and 0.", breaks=("import.paging-bounds",))
def _paging_bounds():
    def on_request(ex: Exchange) -> Answer | None:
        def below(name: str, floor: int) -> bool:
            value = ex.param(name)
            return value is not None and value.lstrip("-").isdigit() and int(value) < floor
        if ex.is_list and (below("startIndex", 1) or below("count", 0)):
            return error(400, "startIndex must be at least 1 and count not negative", "invalidValue")
        return None
    return Rewrite(on_request)


@fault("paging-zero-based", "import", "startIndex is treated as 0-based: startIndex=1 skips the first user.",
       breaks=("import.full-pages", "import.total-consistent", "guests.not-listed", "filter.username-eq", "filter.externalid-eq", "filter.projection",
               "filter.precedence", "filter.defaulted-value"))
def _zero_based():
    return query_override(lambda query, flt, start, count: query(flt, start + 1, count))


@fault("paging-count-ignored", "import", "count and startIndex are ignored: every page holds every user.",
       breaks=("import.count-honoured", "import.count-zero", "import.start-index", "import.walk-complete", "import.total-consistent", "import.past-end", "import.paging-bounds"))
def _count_ignored():
    return query_override(lambda query, flt, start, count: query(flt, 1, sys.maxsize))


@fault("paging-empty-as-bare-array", "import", "An empty result is the bare JSON array [] instead of a ListResponse.",
       breaks=("schema.list-response", "schema.idp-readable", "filter.no-match-200", "filter.no-match-list", "import.count-zero", "import.past-end", "guests.not-found-by-filter", "token.test-credentials", "import.paging-bounds"))
def _bare_array():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if ex.is_list and answer.status == 200 and isinstance(body, dict) and body.get("Resources") == []:
            answer.body = []
    return Rewrite(on_response=on_response)


@fault("paging-total-is-page-size", "import", "totalResults is the size of the page, not of the result set.",
       breaks=("import.total-consistent", "import.walk-complete", "import.count-zero", "import.past-end"))
def _total_page():
    def edit(ex: Exchange, body: dict) -> None:
        body["totalResults"] = len(body.get("Resources", []))
    return Rewrite(on_response=edit_list(edit))


@fault("paging-unstable-order", "import",
       "The order of users changes between requests, so a paged walk misses and repeats users.",
       breaks=("import.stable-order", "import.walk-complete", "import.start-index", "guests.not-listed", "import.paging-bounds"))
def _unstable():
    rng = random.Random(7644)  # shared on purpose: each request draws the next order

    def shuffled(query, flt, start, count):
        total, everyone = query(flt, 1, sys.maxsize)
        rng.shuffle(everyone)
        return total, everyone[start - 1 : start - 1 + count]
    return query_override(shuffled)


# ---- filter ---------------------------------------------------------------------------------

@fault("filter-ignored", "filter",
       "The filter parameter is ignored: every user is returned (Okta: 'Multiple users found').",
       breaks=("filter.username-eq", "filter.externalid-eq", "filter.no-match-200", "filter.no-match-list", "filter.invalid-400", "filter.unquoted-tolerated", "guests.not-found-by-filter", "token.test-credentials", "filter.projection", "filter.precedence", "filter.defaulted-value"))
def _filter_ignored():
    def on_request(ex: Exchange) -> None:
        if ex.is_list:
            ex.set_param("filter", None)
    return Rewrite(on_request)


@fault("filter-no-match-404", "filter", "A filter that matches nobody answers 404 instead of an empty ListResponse.",
       breaks=("filter.no-match-200", "filter.no-match-list", "guests.not-found-by-filter", "token.test-credentials", "token.writes-refused", "filter.case-exact"))
def _no_match_404():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if (ex.is_list and answer.status == 200 and ex.param("filter") is not None
                and isinstance(body, dict) and body.get("totalResults") == 0):
            answer.replace(error(404, "User not found"))
    return Rewrite(on_response=on_response)


@fault("filter-username-case-sensitive", "filter",
       "userName is indexed and matched case-sensitively (RFC 7643: caseExact false).",
       breaks=("filter.case-insensitive", "create.case-variant-409", "update.username-conflict-409",
               "create.username-precis"))  # an exact index maps no width and normalizes nothing either
def _case_sensitive():
    def adjust(state: ServerState) -> None:
        store = UserStore(state.tenant.guests)
        store.key = str  # the userName index key: exact case for lookups and uniqueness
        for user in all_users(state.store):
            store.create(user)
        state.store = store
    return Rewrite(adjust=adjust)


@fault("filter-plus-not-decoded", "filter",
       "'+' in the query string is not decoded as a space (OneLogin sends userName+eq+%22...%22).",
       breaks=("filter.encodings", "filter.username-eq", "filter.no-match-list", "guests.not-found-by-filter", "token.test-credentials", "token.writes-refused"),
       only={"filter.username-eq": ("onelogin",), "filter.no-match-list": ("onelogin",), "guests.not-found-by-filter": ("onelogin",), "token.test-credentials": ("onelogin",), "token.writes-refused": ("onelogin",)})
def _plus():
    def on_request(ex: Exchange) -> None:
        if not ex.is_list or "+" not in ex.raw_query:
            return
        for part in ex.raw_query.split("&"):
            name, _, value = part.partition("=")
            if unquote(name) == "filter":
                ex.set_param("filter", unquote(value))  # unquote, unlike unquote_plus, keeps '+'
                return
    return Rewrite(on_request)


@fault("filter-externalid-case-insensitive", "filter",
       "externalId is compared without case in filters (a case-insensitive database collation).",
       breaks=("filter.case-exact",))
def _externalid_no_case():
    def on_request(ex: Exchange) -> None:
        expression = ex.param("filter")
        if ex.is_list and expression and expression.strip().lower().startswith("externalid eq "):
            value = expression.strip()[len("externalId eq "):].strip().strip('"')
            matches = [u for u in all_users(ex.state.store) if str(u.get("externalId", "")).casefold() == value.casefold()]
            if matches:
                ex.set_param("filter", f'externalId eq "{matches[0]["externalId"]}"')
    return Rewrite(on_request)


@fault("filter-externalid-unsupported", "filter",
       "Only userName is filterable: a filter on externalId (Entra's matching attribute) answers 400 invalidFilter.",
       breaks=("filter.externalid-eq",),
       idps=("entra",))
def _externalid_filter():
    def on_request(ex: Exchange) -> Answer | None:
        expression = ex.param("filter") if ex.is_list else None
        if expression is not None and "externalid" in expression.lower():
            return error(400, "Filtering on externalId is not supported", "invalidFilter")
        return None
    return Rewrite(on_request)


@fault("filter-invalid-500", "filter", "An invalid filter crashes the server: 500 instead of 400 invalidFilter.",
       breaks=("filter.invalid-400", "filter.unquoted-tolerated"))
def _invalid_500():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if answer.status == 400 and isinstance(body, dict) and body.get("scimType") == "invalidFilter":
            answer.replace(error(500, "Internal Server Error"))
    return Rewrite(on_response=on_response)


def _top_level_terms(expression: str) -> list[str]:
    """The filter split at its top-level "and"/"or" (outside quotes and parentheses): term, keyword, term, …"""
    terms, depth, quoted, start, i = [], 0, False, 0, 0
    lowered = expression.lower()
    while i < len(expression):
        char = expression[i]
        if char == '"' and expression[i - 1:i] != "\\":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == " ":
            word = next((w for w in ("and", "or") if lowered.startswith(f" {w} ", i)), None)
            if word:
                terms += [expression[start:i].strip(), word]
                i += len(word) + 1
                start = i
        i += 1
    return [*terms, expression[start:].strip()]


@fault("filter-left-to-right", "filter",
       'Logical operators are applied left to right, as if "and" did not bind tighter than "or".',
       breaks=("filter.precedence",))
def _left_to_right():
    def on_request(ex: Exchange) -> None:
        expression = ex.param("filter") if ex.is_list else None
        terms = _top_level_terms(expression) if expression else []
        if len(terms) > 3:
            folded = terms[0]
            for keyword, term in zip(terms[1::2], terms[2::2], strict=True):
                folded = f"({folded} {keyword} {term})"
            ex.set_param("filter", folded)
    return Rewrite(on_request)


@fault("too-many-wrong-error", "filter",
       "A filter matching more than 100 users, sent without count, is refused with 403 and no scimType "
       "(instead of a page, or 400 tooMany).",
       breaks=("filter.too-many",))
def _too_many_403():
    def on_request(ex: Exchange) -> Answer | None:
        expression = ex.param("filter") if ex.is_list and ex.param("count") is None else None
        try:
            broad = bool(expression) and ex.state.store.query(parse_filter(expression), 1, 0)[0] > 100
        except ScimError:
            return None
        return error(403, "Too many results") if broad else None
    return Rewrite(on_request)


@fault("defaulted-usertype-unfilterable", "filter",
       'Users stored without a userType are shown with the default "Employee", while filters compare the '
       "stored value (none).",
       breaks=("filter.defaulted-value",))
def _defaulted_user_type():
    show_default = edit_users(lambda user: user.setdefault("userType", "Employee"))

    def on_response(ex: Exchange, answer: Answer) -> None:
        if not (ex.param("attributes") or ex.param("excludedAttributes")):
            show_default(ex, answer)
    return Rewrite(on_response=on_response)


@fault("projection-urn-names-ignored", "filter",
       "attributes= names in their fully qualified form (urn:…:User:userName) are not recognised and dropped.",
       breaks=("filter.projection",))
def _projection_urn():
    def on_request(ex: Exchange) -> None:
        asked = ex.param("attributes")
        if asked:
            short = [name for name in asked.split(",") if not name.strip().lower().startswith("urn:")]
            ex.set_param("attributes", ",".join(short) or None)
    return Rewrite(on_request)


# ---- create ---------------------------------------------------------------------------------

def _is_create(ex: Exchange) -> bool:
    return ex.method == "POST" and ex.path.rstrip("/") == "/Users"


@fault("create-200-not-201", "create", "POST /Users answers 200 instead of 201 Created.",
       breaks=("create.created-201", "create.enterprise-extension", "create.legacy-urns", "create.emails-object", "create.template-artefacts"))
def _create_200():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if _is_create(ex) and answer.status == 201:
            answer.status = 200
    return Rewrite(on_response=on_response)


@fault("create-no-location", "create", "POST /Users answers without a Location header.",
       breaks=("create.location",))
def _no_location():
    return without_header("location", _is_create)


COUNTRY_NAMES = {"IE": "Ireland", "US": "United States", "SE": "Sweden", "DE": "Germany"}


@fault("country-as-name", "create",
       'Address countries are stored as English names: "IE" comes back as "Ireland".',
       breaks=("schema.address-country", "update.value-path-element", "create.round-trip", "update.round-trip"))
def _country_names():
    def edit(user: dict) -> None:
        for address in user.get("addresses") or []:
            if isinstance(address, dict) and isinstance(address.get("country"), str):
                address["country"] = COUNTRY_NAMES.get(address["country"].upper(), address["country"])
    return Rewrite(on_response=edit_users(edit))


@fault("manager-id-dropped", "create",
       "A manager sent as {\"managerId\": …} (OneLogin's Keepnet template) is answered 201 and silently dropped.",
       breaks=("create.template-artefacts",), idps=("onelogin",))
def _manager_id_dropped():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        extension = body.get(ENTERPRISE_USER) if isinstance(body, dict) else None
        manager = extension.get("manager") if isinstance(extension, dict) else None
        if is_user_write(ex) and isinstance(manager, dict) and "managerId" in manager:
            extension["manager"] = {k: v for k, v in manager.items() if k != "managerId"} or None
            ex.body = body
    return Rewrite(on_request)


@fault("create-answers-before-defaults", "create",
       "The 201 of a create is the user as sent, before the server's defaults: a user created without active "
       "is answered without it, though it is stored (and read back) active.",
       breaks=("update.response-reflects-state",))
def _create_before_defaults():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        ex.notes["active sent"] = isinstance(body, dict) and any(str(k).lower() == "active" for k in body)

    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if _is_create(ex) and answer.status == 201 and not ex.notes.get("active sent") and isinstance(body, dict):
            body.pop("active", None)
            answer.body = body
    return Rewrite(on_request, on_response)


@fault("create-lowercases-username", "create",
       "userName is stored lower-cased, so what the IdP sent is not what it reads back.",
       breaks=("create.echo-values", "create.get-same", "create.legacy-urns", "create.emails-object", "create.template-artefacts", "update.round-trip", "update.username-conflict-409"))
def _lowercase():
    def on_request(ex: Exchange) -> None:
        rewrite_attribute(ex, lambda key: key == "username", lambda v: v.lower() if isinstance(v, str) else v)
    return Rewrite(on_request)


class _Shards:
    """Correct stores side by side: a create whose userName every shard has taken goes to a new
    shard. Duplicates exist while each shard stays consistent; only the stores' public API is used."""

    def __init__(self, first: UserStore, guests: tuple[Guest, ...]):
        self._shards = [first]
        self._guests = guests
        self._lock = threading.Lock()
        self.guests = first.guests

    def _all(self) -> list[UserStore]:
        with self._lock:
            return list(self._shards)

    def __len__(self) -> int:
        return sum(len(shard) for shard in self._all())

    def _holder(self, user_id: str) -> UserStore:
        for shard in self._all():
            try:
                shard.get(user_id)
                return shard
            except ScimError:
                continue
        raise not_found(user_id)

    def create(self, user: dict) -> dict:
        for shard in self._all():
            try:
                return shard.create(user)
            except ScimError as taken:
                if taken.status != 409:
                    raise
        shard = UserStore(self._guests)
        with self._lock:
            self._shards.append(shard)
        return shard.create(user)

    def get(self, user_id: str) -> dict:
        return self._holder(user_id).get(user_id)

    def update(self, user_id: str, change, if_match: str | None = None) -> dict:
        return self._holder(user_id).update(user_id, change, if_match)

    def delete(self, user_id: str, if_match: str | None = None) -> None:
        self._holder(user_id).delete(user_id, if_match)

    def query(self, flt, start_index: int, count: int) -> tuple[int, list[dict]]:
        total, page, skip = 0, [], start_index - 1
        for shard in self._all():
            matched, found = shard.query(flt, 1 + skip, max(0, count - len(page)))
            total += matched
            page += found
            skip = max(0, skip - matched)
        return total, page


@fault("create-duplicate-allowed", "create",
       "A duplicate userName is created again instead of answering 409 uniqueness.",
       breaks=("create.duplicate-409", "create.case-variant-409"))
def _duplicates():
    def adjust(state: ServerState) -> None:
        state.store = _Shards(state.store, state.tenant.guests)
    return Rewrite(adjust=adjust)


@fault("create-duplicate-400", "create",
       "A duplicate userName, or a group's displayName, answers 400 without scimType instead of 409 uniqueness.",
       breaks=("create.duplicate-409", "create.case-variant-409", "groups.displayname-unique"))
def _duplicate_400():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if answer.status == 409 and isinstance(body, dict):
            answer.status = 400
            answer.body = {k: v for k, v in body.items() if k != "scimType"} | {"status": "400"}
    return Rewrite(on_response=on_response)


_SCHEMA_KEYS = {"schemas", "id", "externalid", "meta"}


@fault("create-rejects-unknown-attributes", "create",
       "A POST/PUT body with password, groups or an attribute outside the User schema (Okta sends them) answers 400.",
       breaks=("create.created-201", "create.enterprise-extension", "update.unknown-id-404", "update.readonly-put-ignored"),
       idps=("okta",), only={"update.readonly-put-ignored": ("rfc",)})
def _strict_attributes():
    known = set(attributes_of(CORE_USER)) - {"password", "groups"}

    def acceptable(key: object) -> bool:
        return isinstance(key, str) and (key.lower() in known | _SCHEMA_KEYS or key.lower().startswith("urn:"))

    def on_request(ex: Exchange) -> Answer | None:
        body = ex.body
        if ex.method in ("POST", "PUT") and is_user_write(ex) and isinstance(body, dict):
            strange = sorted(str(k) for k in body if not acceptable(k))
            if strange:
                return error(400, f"Unknown attribute(s): {', '.join(strange)}", "invalidSyntax")
        return None
    return Rewrite(on_request)


@fault("create-returns-password", "create", "The password is returned in responses (RFC 7643: returned never).",
       breaks=("create.password-never-returned", "schema.user", "schema.list-response"))
def _password_echo():
    def on_response(ex: Exchange, answer: Answer) -> None:
        def edit(user: dict) -> None:
            try:
                stored = ex.state.store.get(str(user.get("id")))
            except ScimError:
                return
            if "password" in stored:
                user["password"] = stored["password"]
        edit_users(edit)(ex, answer)
    return Rewrite(on_response=on_response)


@fault("create-keeps-client-id", "create",
       "A POST /Users that carries an id keeps it as the user's id (the client chose it).",
       breaks=("create.readonly-ignored",))
def _client_id():
    def on_response(ex: Exchange, answer: Answer) -> None:
        chosen = ex.body.get("id") if isinstance(ex.body, dict) else None
        if ex.method == "POST" and answer.status == 201 and isinstance(chosen, str) and chosen:
            body = answer.body
            store = ex.state.store
            user = store.get(body["id"])
            store.delete(body["id"])
            with store._lock:
                user["id"] = chosen
                store._users[chosen] = user
                store._order.append(chosen)
                store._by_user_name[store.key(user["userName"])] = chosen
            answer.body = {**body, "id": chosen}
            answer.headers["location"] = answer.headers.get("location", "").replace(body["id"], chosen)
    return Rewrite(on_response=on_response)


@fault("responses-schemas-core-only", "create",
       "Every user answer lists only the core User schema, whatever extension attributes it carries.",
       breaks=("update.extension-schemas", "create.enterprise-extension", "schema.user", "schema.list-response"))
def _schemas_core_only():
    def edit(user: dict) -> None:
        if "userName" in user:  # a user, not a schema or resource type of a discovery list
            user["schemas"] = [CORE_USER]
    return Rewrite(on_response=edit_users(edit))


VENDOR_EXTENSION = "urn:ietf:params:scim:schemas:extension:asana:2.0:User"


@fault("schemas-undeclared-extension", "create",
       "Every user answer also lists a vendor extension URN in schemas, with an attribute under it, that "
       "GET /ResourceTypes does not declare for the User resource type.",
       breaks=("schema.schemas-declared",))
def _undeclared_extension():
    def edit(user: dict) -> None:
        if "userName" in user and isinstance(user.get("schemas"), list):
            user["schemas"] = [*user["schemas"], VENDOR_EXTENSION]
            user[VENDOR_EXTENSION] = {"workspace": "scimcert-reference"}
    return Rewrite(on_response=edit_users(edit))


@fault("external-id-invented", "create",
       "A user without an externalId is answered with one the server made up: its own id.",
       breaks=("create.no-invented-external-id",))
def _external_id_invented():
    def edit(user: dict) -> None:
        if "id" in user and not any(isinstance(key, str) and key.lower() == "externalid" for key in user):
            user["externalId"] = user["id"]
    return Rewrite(on_response=edit_users(edit))


_NULLABLE_STRINGS = {key: attr.name for key, attr in attributes_of(CORE_USER).items()
                     if attr.type == "string" and not attr.multi_valued and attr.mutability != "readOnly"
                     and key not in ("username", "password")}


@fault("null-stored-as-empty-string", "create",
       'A top-level string attribute sent as null in a POST or PUT body is stored as "" (an ORM\'s column '
       "default) and returned so, instead of staying unassigned.",
       breaks=("create.null-unassigned",))
def _null_as_empty():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method in ("POST", "PUT") and is_user_write(ex) and isinstance(body, dict):
            nulls = [_NULLABLE_STRINGS[key.lower()] for key, value in body.items()
                     if isinstance(key, str) and value is None and key.lower() in _NULLABLE_STRINGS]
            if nulls:
                ex.notes["nulls"] = nulls

    def on_response(ex: Exchange, answer: Answer) -> None:
        # the server dropped the nulls (unassigned); the "ORM" writes its default into the row it stored
        body, nulls, store = answer.body, ex.notes.get("nulls"), ex.state.store
        if not nulls or answer.status not in (200, 201) or not isinstance(body, dict):
            return
        with store._lock:
            stored = store._users.get(str(body.get("id")))
            if stored is None:
                return
            stored.update(dict.fromkeys(nulls, ""))
        answer.body = {**body, **dict.fromkeys(nulls, "")}
    return Rewrite(on_request, on_response)


@fault("username-not-precis", "create",
       "userName uniqueness and lookups compare case-folded strings only, without the PRECIS width mapping and "
       "NFC normalization RFC 7644 §5 requires: a fullwidth letter, or the NFD form of an NFC name, makes a second "
       "user.", breaks=("create.username-precis",))
def _not_precis():
    def adjust(state: ServerState) -> None:
        store = state.store
        with store._lock:
            store.key = str.casefold
            store._by_user_name = {store.key(user["userName"]): user_id for user_id, user in store._users.items()}
    return Rewrite(adjust=adjust)


@fault("meta-incomplete", "create",
       "User answers carry meta with resourceType only: no created, lastModified or location.",
       breaks=("schema.meta", "create.location"))
def _meta_incomplete():
    def edit(user: dict) -> None:
        if isinstance(user.get("meta"), dict):
            user["meta"] = {"resourceType": user["meta"].get("resourceType", "User")}
    return Rewrite(on_response=edit_users(edit))


@fault("create-requires-core-schema-first", "create",
       "A create whose schemas do not start with the core User schema answers 400 invalidSyntax.",
       breaks=("create.order-free", "create.legacy-urns"))  # OneLogin's template lists its own URN first
def _core_first():
    def on_request(ex: Exchange) -> Answer | None:
        schemas = ex.body.get("schemas") if isinstance(ex.body, dict) else None
        if ex.method == "POST" and ex.path.rstrip("/") == "/Users" and isinstance(schemas, list) and schemas \
                and schemas[0] != CORE_USER:
            return error(400, f"schemas must start with {CORE_USER}", "invalidSyntax")
        return None
    return Rewrite(on_request)


@fault("filter-boolean-ordering-accepted", "filter",
       "An ordering comparison of a Boolean (active gt true) is answered 200 with an empty list, not 400 invalidFilter.",
       breaks=("filter.invalid-400",))
def _boolean_ordering():
    def on_request(ex: Exchange) -> Answer | None:
        expression = (ex.param("filter") or "").lower()
        if ex.is_list and expression.startswith("active ") and expression.split()[1:2] in (["gt"], ["ge"], ["lt"], ["le"]):
            return Answer.json(200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                     "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        return None
    return Rewrite(on_request)


@fault("create-accepts-missing-username", "create",
       "A POST /Users without userName creates a user anyway, named after its id.",
       breaks=("create.username-required",))
def _missing_username():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method == "POST" and ex.path.rstrip("/") == "/Users" and isinstance(body, dict) \
                and not any(str(k).lower() == "username" and v for k, v in body.items()):
            domain = ex.state.tenant.domains[0]
            ex.body = {"schemas": [CORE_USER], **body, "userName": f"user-{uuid.uuid4().hex[:12]}@{domain}"}
    return Rewrite(on_request)


@fault("create-drops-optional-attributes", "create",
       "displayName, locale and the type of each email are silently dropped from a created user.", breaks=("create.round-trip", "domain.update-rejected"))
def _drop_optional():
    def strip(user: dict) -> None:
        for key in [k for k in user if str(k).lower() in ("displayname", "locale")]:
            del user[key]
        for email in user.get("emails") or []:
            if isinstance(email, dict):
                email.pop("type", None)

    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method == "POST" and ex.path.rstrip("/") == "/Users" and isinstance(body, dict):
            strip(body)
            ex.body = body
    return Rewrite(on_request)


@fault("responses-masked-password", "create",
       "Every user answer carries \"password\": \"********\": a masked password is still returned (RFC 7643: never).",
       breaks=("create.password-never-returned", "schema.user", "schema.list-response"))
def _masked_password():
    return Rewrite(on_response=edit_users(lambda user: user.__setitem__("password", "********")))


@fault("create-integer-id", "create",
       "The id is a JSON number, not a string (RFC 7643 §3.1); /Users/{number} is served, but a group refuses that "
       "number as a member's value.",
       breaks=("schema.user", "schema.list-response", "schema.idp-readable", "create.created-201", "filter.username-eq", "filter.externalid-eq", "schema.meta",
               "groups.member-add"))
def _integer_id():
    def on_request(ex: Exchange) -> None:
        if ex.user_id and ex.user_id.isdigit() and int(ex.user_id) < 2 ** 128:
            ex.path = f"/Users/{uuid.UUID(int=int(ex.user_id))}"

    def edit(user: dict) -> None:
        try:
            user["id"] = uuid.UUID(str(user.get("id"))).int
        except ValueError:
            pass
    return Rewrite(on_request, edit_users(edit))


@fault("create-rejects-scim-json", "create",
       "Bodies sent as application/scim+json are refused with 415 (framework only parses application/json).",
       breaks=("create.created-201", "create.enterprise-extension", "create.legacy-urns", "create.emails-object", "create.template-artefacts", "update.unknown-id-404", "errors.malformed-400", "create.username-required",
               "groups.create-201", "groups.extra-schema-uri"),
       only={"groups.extra-schema-uri": ("entra",)})  # only Entra's group create lists its ADSCIM URI
def _media_type():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.raw_body and "scim+json" in ex.headers.get("content-type", ""):
            return error(415, "Unsupported Media Type")
        return None
    return Rewrite(on_request)


def _user_body(ex: Exchange) -> dict | None:
    """The body of a POST /Users or PUT /Users/{id}, when it is a JSON object."""
    body = ex.body
    return body if ex.method in ("POST", "PUT") and is_user_write(ex) and isinstance(body, dict) else None


@fault("create-rejects-non-rfc-urns", "create",
       "A body whose schemas list a URN other than the RFC User schemas (OneLogin's urn:scim:schemas:core:2.0, "
       "Entra's legacy misspelling) answers 400.",
       breaks=("create.legacy-urns", "create.template-artefacts"),
       idps=("onelogin", "entra"),
       only={"create.legacy-urns": ("onelogin",), "create.template-artefacts": ("entra",)})
def _strict_urns():
    known = {CORE_USER.lower(), ENTERPRISE_USER.lower()}

    def on_request(ex: Exchange) -> Answer | None:
        body = _user_body(ex)
        schemas = body.get("schemas") if body is not None else None
        strange = [u for u in schemas if not isinstance(u, str) or u.lower() not in known] \
            if isinstance(schemas, list) else []
        return error(400, f"Unknown schema URN(s): {strange}", "invalidSyntax") if strange else None
    return Rewrite(on_request)


@fault("create-rejects-emails-object", "create",
       "emails given as one object instead of an array (OneLogin's template) answers 400 invalidValue.",
       breaks=("create.emails-object",),
       idps=("onelogin",))
def _emails_object():
    def on_request(ex: Exchange) -> Answer | None:
        body = _user_body(ex) or {}
        if any(isinstance(k, str) and k.lower() == "emails" and isinstance(v, dict) for k, v in body.items()):
            return error(400, "emails must be an array", "invalidValue")
        return None
    return Rewrite(on_request)


_EXTENSION_URNS = (ENTERPRISE_USER.lower(), "urn:scim:schemas:extension:enterprise:")


@fault("create-drops-enterprise-extension", "create", "Enterprise extension attributes are silently dropped.",
       breaks=("create.enterprise-extension", "create.legacy-urns", "update.manager", "create.round-trip", "update.round-trip", "update.extension-schemas", "create.template-artefacts"))
def _drop_extension():
    def on_request(ex: Exchange) -> None:
        if rewrite_attribute(ex, lambda key: key.startswith(_EXTENSION_URNS), lambda v: DROP):
            nothing_left_to_patch(ex)
    return Rewrite(on_request)


# ---- update ---------------------------------------------------------------------------------

@fault("put-rejects-read-only", "update", "PUT with id and meta in the body (Okta's read-modify-write) answers 400.",
       breaks=("update.put-replace", "deactivate.accepted", "update.unknown-id-404", "update.username-conflict-409"),
       idps=("okta",))
def _put_read_only():
    def on_request(ex: Exchange) -> Answer | None:
        body = ex.body
        if ex.method == "PUT" and ex.user_id and isinstance(body, dict) and ("meta" in body or "id" in body):
            return error(400, "id and meta are read-only", "mutability")
        return None
    return Rewrite(on_request)


@fault("put-ignored", "update", "PUT answers 200 with the user but applies nothing.",
       breaks=("update.put-replace", "deactivate.accepted", "deactivate.readable", "deactivate.found-by-filter", "domain.update-rejected", "create.legacy-urns", "update.round-trip", "update.username-conflict-409"),
       idps=("okta", "onelogin"))
def _put_ignored():
    return ignoring("PUT")


@fault("patch-replace-appends", "update",
       "A PATCH replace of a multi-valued attribute (emails, with or without a path) adds the values to those "
       "the user has instead of replacing them.", breaks=("update.patch-replace",))
def _replace_appends():
    def on_request(ex: Exchange) -> None:
        if ex.method != "PATCH" or not ex.user_id:
            return
        ops = []
        for op in patch_ops(ex):
            if str(op.get("op", "")).lower() == "replace":
                value = op.get("value")
                if str(op.get("path", "")).lower() == "emails":
                    op = {**op, "op": "add"}
                elif op.get("path") is None and isinstance(value, dict) and "emails" in value:
                    ops.append({"op": "add", "path": "emails", "value": value["emails"]})
                    op = {**op, "value": {k: v for k, v in value.items() if k != "emails"}}
            ops.append(op)
        if ops != patch_ops(ex):
            ex.body = {**ex.body, "Operations": [op for op in ops if op.get("value") != {}]}
    return Rewrite(on_request)


@fault("patch-schemas-not-required", "update",
       "A PATCH body without the PatchOp schema (a framework that reads Operations alone) is applied.",
       breaks=("update.patch-malformed-400",))
def _patch_schemas_optional():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method == "PATCH" and isinstance(body, dict) and "schemas" not in body and body.get("Operations"):
            ex.body = {"schemas": [PATCH_OP], **body}
    return Rewrite(on_request)


@fault("patch-remove-without-path-accepted", "update",
       "A PATCH remove without a path answers 204 and does nothing, instead of 400 noTarget.",
       breaks=("update.remove-needs-path", "update.patch-atomic"))
def _remove_without_path():
    def on_request(ex: Exchange) -> Answer | None:
        ops = patch_ops(ex)
        if ex.method == "PATCH" and ops and any(str(o.get("op", "")).lower() == "remove" and "path" not in o for o in ops):
            return Answer(204, MutableHeaders())
        return None
    return Rewrite(on_request)


@fault("patch-not-atomic", "update",
       "A PATCH is applied operation by operation: one that fails is dropped, the others stay applied, 200.",
       breaks=("update.patch-atomic",))
def _not_atomic():
    def on_request(ex: Exchange) -> None:
        ops = patch_ops(ex)
        if ex.method != "PATCH" or not ex.user_id or len(ops) < 2:
            return
        try:
            user = ex.state.store.get(ex.user_id)
        except ScimError:
            return
        kept = []
        for op in ops:
            try:
                user = apply_patch(user, {"schemas": [PATCH_OP], "Operations": [op]})
                kept.append(op)
            except ScimError:
                continue
        if kept and len(kept) < len(ops):
            ex.body = {**ex.body, "Operations": kept}
    return Rewrite(on_request)


@fault("patch-primary-ignored", "update",
       "An email a PATCH adds with primary true is stored as not primary; the old primary stays.",
       # an add of the primary email a user already has stores a second, non-primary copy of it
       breaks=("update.primary-unique", "update.add-existing-succeeds"))
def _primary_ignored():
    def on_request(ex: Exchange) -> None:
        if ex.method != "PATCH" or not ex.user_id:
            return
        ops = []
        for op in patch_ops(ex):
            if str(op.get("op", "")).lower() == "add" and str(op.get("path", "")).lower() == "emails" \
                    and isinstance(op.get("value"), list):
                op = {**op, "value": [{**e, "primary": False} if isinstance(e, dict) else e for e in op["value"]]}
            ops.append(op)
        if ops != patch_ops(ex):
            ex.body = {**ex.body, "Operations": ops}
    return Rewrite(on_request)


@fault("update-uniqueness-unchecked", "update",
       "userName uniqueness is checked on create only: an update may give a user another user's userName.",
       breaks=("update.username-conflict-409",))
def _update_uniqueness():
    def adjust(state: ServerState) -> None:
        claim = state.store._claim
        state.store._claim = lambda user_name, owner: claim(user_name, owner) if owner is None else None
    return Rewrite(adjust=adjust)


@fault("patch-protected-attributes-ignored", "update",
       "A PATCH removing userName is answered 200 (the operation silently dropped) instead of 400 mutability.",
       breaks=("update.protected-attributes",))
def _protected_ignored():
    def on_request(ex: Exchange) -> None:
        ops = patch_ops(ex)
        kept = [op for op in ops if not (str(op.get("op", "")).lower() == "remove"
                                        and str(op.get("path", "")).lower() == "username")]
        if ex.method == "PATCH" and ex.user_id and len(kept) < len(ops):
            ex.body = {**ex.body, "Operations": kept}
            nothing_left_to_patch(ex)
    return Rewrite(on_request)


@fault("pathless-id-applied", "update",
       "A path-less PATCH replace carrying another id moves the user to that id (GET of the old id answers 404).",
       breaks=("update.protected-attributes",))
def _pathless_id_applied():
    def on_request(ex: Exchange) -> None:
        ops = patch_ops(ex)
        for op in ops:
            value = op.get("value")
            if "path" not in op and isinstance(value, dict) and "id" in value and ex.method == "PATCH" and ex.user_id:
                ex.notes["new id"] = str(value["id"])
                op["value"] = {k: v for k, v in value.items() if k != "id"}
        if "new id" in ex.notes:
            ex.body = {**ex.body, "Operations": ops}
            nothing_left_to_patch(ex)

    def on_response(ex: Exchange, answer: Answer) -> None:
        new_id = ex.notes.get("new id")
        if new_id is None or answer.status not in (200, 204):
            return
        store = ex.state.store
        with store._lock:
            user = store._users.pop(ex.user_id)
            user["id"] = new_id
            store._users[new_id] = user
            store._order[store._order.index(ex.user_id)] = new_id
            store._by_user_name[store.key(user["userName"])] = new_id
        body = answer.body
        if isinstance(body, dict):
            answer.body = {**body, "id": new_id}
    return Rewrite(on_request, on_response)


@fault("put-clears-missing-username", "update",
       "A PUT without userName clears it: the user is stored with an empty userName (required is checked on create only).",
       breaks=("update.put-requires-username", "schema.user"))
def _put_clears_username():
    def on_request(ex: Exchange) -> Answer | None:
        body = ex.body
        if ex.method == "PUT" and ex.user_id and isinstance(body, dict) \
                and not any(str(k).lower() == "username" for k in body):
            try:
                cleared = ex.state.store.update(ex.user_id, lambda user: {**user, "userName": ""})
            except ScimError:
                return None
            return Answer.json(200, render(cleared, f"/Users/{ex.user_id}"))
        return None
    return Rewrite(on_request)


@fault("update-rejects-empty-values", "update",
       "A PUT or PATCH that empties an attribute (\"title\": \"\", as Okta pushes an erased value) answers 400 invalidValue.",
       breaks=("update.empty-values", "update.put-clears-omitted", "update.manager"))
def _empty_values():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method not in ("PUT", "PATCH"):
            return None
        values: list[Any] = []
        rewrite_attribute(ex, lambda key: True, lambda value: values.append(value) or value)
        if "" in values:
            return error(400, "Attributes cannot be set to an empty string", "invalidValue")
        return None
    return Rewrite(on_request)


@fault("put-keeps-omitted", "update", "PUT merges instead of replacing: attributes left out of the body are kept.",
       breaks=("update.put-clears-omitted",),
       idps=("okta", "onelogin"))
def _put_merges():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method == "PUT" and ex.user_id and isinstance(body, dict):
            try:
                current = ex.state.store.get(ex.user_id)
            except ScimError:
                return
            given = {str(k).lower() for k in body}
            kept = {k: v for k, v in current.items() if k.lower() not in given | {"id", "meta", "password"}}
            ex.body = {**kept, **body}
    return Rewrite(on_request)


@fault("patch-pathless-rejected", "update",
       "A PATCH operation without a path (Okta, Entra aadOptscim062020) answers 400.",
       breaks=("update.patch-replace", "deactivate.accepted", "update.unknown-id-404", "update.username-conflict-409"),
       idps=("okta", "entra"),
       only={"deactivate.accepted": ("okta",)})
def _pathless():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method == "PATCH" and ex.user_id and any("path" not in op for op in patch_ops(ex)):
            return error(400, "path is required", "noTarget")
        return None
    return Rewrite(on_request)


@fault("patch-op-case-sensitive", "update", "Capitalised op names (Entra's Replace/Add/Remove) are rejected with 400.",
       breaks=("update.patch-operations", "update.value-path-element", "update.operations-in-order", "update.manager", "deactivate.accepted", "update.unknown-id-404", "delete.gone-404", "update.username-conflict-409"),
       idps=("entra",))
def _op_case():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method == "PATCH" and ex.user_id and any(op.get("op") not in ("add", "replace", "remove")
                                                        for op in patch_ops(ex)):
            return error(400, "Unsupported op", "invalidSyntax")
        return None
    return Rewrite(on_request)


@fault("patch-ignored", "update", "PATCH answers 200 with the user but applies nothing.",
       breaks=("update.patch-replace", "update.patch-operations", "update.value-path-element", "update.operations-in-order", "update.manager", "update.version-changes", "deactivate.accepted", "deactivate.readable", "deactivate.found-by-filter", "domain.update-rejected", "update.round-trip", "update.patch-atomic", "update.remove-needs-path", "update.patch-malformed-400", "update.primary-unique", "update.username-conflict-409", "update.extension-schemas", "update.protected-attributes", "update.value-filter-no-match"))
def _patch_ignored():
    return ignoring("PATCH")


@fault("patch-value-path-unsupported", "update",
       "Value-filter paths such as emails[type eq \"work\"].value answer 400 invalidPath.",
       breaks=("update.patch-operations", "update.value-path-element", "update.unknown-id-404", "delete.gone-404", "update.username-conflict-409"),
       idps=("entra",))
def _value_path():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method == "PATCH" and ex.user_id and any("[" in str(op.get("path", "")) for op in patch_ops(ex)):
            return error(400, "Filtered paths are not supported", "invalidPath")
        return None
    return Rewrite(on_request)


def _plain_key(key: object) -> bool:
    """A key of a path-less PATCH value that names an attribute plainly ("title", "name", or a schema URN
    holding an object), not by a dotted or URN-qualified path ("name.givenName", "urn:…:User:department")."""
    if not isinstance(key, str):
        return True
    if key.lower().startswith("urn:"):
        return key.lower() in (CORE_USER.lower(), ENTERPRISE_USER.lower())
    return "." not in key


@fault("patch-dotted-keys-ignored", "update",
       "A path-less PATCH value's dotted and URN-qualified keys (Entra aadOptscim062020: \"name.givenName\") "
       "are silently ignored; the answer is still 200.",
       breaks=("update.patch-replace", "update.round-trip"),
       idps=("entra",))
def _dotted_keys():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method != "PATCH" or not ex.user_id or not isinstance(body, dict) \
                or not isinstance(body.get("Operations"), list):
            return
        kept = []
        for op in body["Operations"]:
            if isinstance(op, dict) and "path" not in op and isinstance(op.get("value"), dict):
                value = {k: v for k, v in op["value"].items() if _plain_key(k)}
                if not value:
                    continue
                op = {**op, "value": value}
            kept.append(op)
        if kept != body["Operations"]:
            ex.body = {**body, "Operations": kept}
            nothing_left_to_patch(ex)
    return Rewrite(on_request)


@fault("patch-manager-string-rejected", "update",
       "A manager given as a bare id string (Entra's Replace …:manager \"<id>\") answers 400 instead of being "
       "read as {\"value\": id}.",
       breaks=("update.manager",),
       idps=("entra",))
def _manager_string():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method != "PATCH" or not ex.user_id:
            return None
        values: list = []
        rewrite_attribute(ex, lambda key: key == "manager" or key.endswith(":manager"),
                          lambda v: values.append(v) or v)
        if any(isinstance(v, str) for v in values):
            return error(400, "manager must be a complex value with a 'value'", "invalidValue")
        return None
    return Rewrite(on_request)


def _tags(header: str | None) -> set[str]:
    return {tag.strip() for tag in (header or "").split(",") if tag.strip()}


@fault("update-version-unchanged", "update",
       "meta.version and the ETag stay W/\"1\" whatever the writes; If-Match W/\"1\" always passes.",
       breaks=("update.version-changes",))
def _version():
    frozen = 'W/"1"'

    def on_request(ex: Exchange) -> None:
        if ex.user_id is None:
            return
        if frozen in _tags(ex.headers.get("if-match")):
            ex.headers["if-match"] = "*"
        if ex.method == "GET" and frozen in _tags(ex.headers.get("if-none-match")):
            ex.notes["not-modified"] = True
            del ex.headers["if-none-match"]

    def edit(user: dict) -> None:
        if isinstance(user.get("meta"), dict):
            user["meta"]["version"] = frozen

    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.notes.get("not-modified") and answer.status == 200:
            answer.replace(Answer(304, MutableHeaders({"etag": frozen})))
            return
        edit_users(edit)(ex, answer)
        if "etag" in answer.headers:
            answer.headers["etag"] = frozen
    return Rewrite(on_request, on_response)


def _assigned(user: dict, path: str) -> bool | None:
    """Whether the attribute a simple PATCH path names (title, name.givenName, urn:…:department) has a
    value in the stored `user`; None for a path the server itself refuses."""
    try:
        target = parse_path(path)
    except ScimError:
        return None
    container = user.get(ENTERPRISE_USER) if target.target.is_extension else user
    value = container.get(target.attribute.name) if isinstance(container, dict) else None
    if target.sub is not None:
        value = value.get(target.sub.name) if isinstance(value, dict) else None
    return value not in (None, "", [], {})


@fault("replace-absent-refused", "update",
       "A PATCH replace whose path names an attribute the user does not have (a nickName never set) answers "
       "400 noTarget instead of adding it.",
       # Entra's update Replaces title, department and its string-form manager on users that may lack them;
       # the RFC probes of the version and of a projected PATCH replace a title or nickName never set.
       breaks=("update.replace-missing-adds", "update.patch-operations", "update.manager",
               "update.username-conflict-409", "update.version-changes", "filter.projection"),
       only={"update.patch-operations": ("entra",), "update.manager": ("entra",),
             "update.username-conflict-409": ("entra",), "update.version-changes": ("rfc",),
             "filter.projection": ("rfc",)})
def _replace_absent():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method != "PATCH" or not ex.user_id:
            return None
        try:
            user = ex.state.store.get(ex.user_id)
        except ScimError:
            return None
        for op in patch_ops(ex):  # in order: an earlier operation may have given the attribute a value
            path = op.get("path")
            if str(op.get("op", "")).lower() == "replace" and isinstance(path, str) and "[" not in path \
                    and _assigned(user, path) is False:
                return error(400, f"No value to replace at '{path}'", "noTarget")
            try:
                user = apply_patch(user, {"schemas": [PATCH_OP], "Operations": [op]})
            except ScimError:
                return None  # the server refuses the request itself
        return None
    return Rewrite(on_request)


@fault("value-filter-no-match-ignored", "update",
       "A PATCH operation whose value filter matches no element (emails[type ne \"work\"].value on a user with "
       "only a work email) is silently dropped: 200 with the unchanged user instead of 400 noTarget.",
       breaks=("update.value-filter-no-match",))
def _no_match_ignored():
    def on_request(ex: Exchange) -> None:
        ops = patch_ops(ex)
        if ex.method != "PATCH" or not ex.user_id or not any("[" in str(op.get("path", "")) for op in ops):
            return
        try:
            user = ex.state.store.get(ex.user_id)
        except ScimError:
            return
        kept = []
        for op in ops:
            try:
                user = apply_patch(user, {"schemas": [PATCH_OP], "Operations": [op]})
            except ScimError as refused:
                if refused.scim_type == "noTarget" and "[" in str(op.get("path", "")):
                    continue
            kept.append(op)
        if len(kept) < len(ops):
            ex.body = {**ex.body, "Operations": kept}
            nothing_left_to_patch(ex)
    return Rewrite(on_request)


@fault("noop-update-restamps", "update",
       "Every update stamps a new meta.lastModified and meta.version, even one that changes nothing (a PATCH "
       "adding an email the user already has).",
       breaks=("update.add-existing-unchanged", "update.add-existing-succeeds"))
def _noop_restamps():
    def adjust(state: ServerState) -> None:
        state.store._unchanged = lambda updated, current: False
    return Rewrite(adjust=adjust)


@fault("add-existing-conflict", "update",
       "A PATCH add of a multi-valued element the user already has (the same email value) answers 409 "
       "uniqueness instead of succeeding without a change.",
       breaks=("update.add-existing-succeeds",))
def _add_existing_conflict():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method != "PATCH" or not ex.user_id:
            return None
        try:
            user = ex.state.store.get(ex.user_id)
        except ScimError:
            return None
        for op in patch_ops(ex):
            path, value = op.get("path"), op.get("value")
            if str(op.get("op", "")).lower() != "add" or not isinstance(path, str) or "[" in path \
                    or not isinstance(value, list):
                continue
            try:
                target = parse_path(path)
            except ScimError:
                continue
            held = user.get(target.attribute.name) if target.sub is None else None
            values = {str(e.get("value")).casefold() for e in held if isinstance(e, dict)} \
                if isinstance(held, list) else set()
            if any(isinstance(e, dict) and str(e.get("value")).casefold() in values for e in value):
                return error(409, f"A value of '{path}' is already there", "uniqueness")
        return None
    return Rewrite(on_request)


@fault("put-body-id-refused", "update",
       "A PUT whose body carries an id other than the URL's answers 400 invalidValue (instead of ignoring the "
       "read-only id).",
       breaks=("update.readonly-put-ignored",))
def _put_body_id():
    def on_request(ex: Exchange) -> Answer | None:
        body = ex.body
        if ex.method == "PUT" and ex.user_id and isinstance(body, dict) and "id" in body \
                and body["id"] != ex.user_id:
            return error(400, "The id in the body does not match the URL", "invalidValue")
        return None
    return Rewrite(on_request)


@fault("patch-answers-stale", "update",
       "A PATCH answered 200 carries the user (and ETag) as it was before the change.",
       # a deactivating PATCH then answers a user still active (Okta's and Entra's deactivation is a PATCH)
       breaks=("update.response-reflects-state", "deactivate.accepted"),
       only={"deactivate.accepted": ("okta", "entra")})
def _patch_stale():
    def on_request(ex: Exchange) -> None:
        if ex.method == "PATCH" and ex.user_id:
            try:
                ex.notes["before"] = ex.state.store.get(ex.user_id)
            except ScimError:
                return

    def on_response(ex: Exchange, answer: Answer) -> None:
        before, body = ex.notes.get("before"), answer.body
        if before is None or answer.status != 200 or not isinstance(body, dict):
            return
        meta = body.get("meta")
        stale = render(before, str(meta.get("location", "")) if isinstance(meta, dict) else "")
        answer.body = project(stale, ex.param("attributes"), ex.param("excludedAttributes"))
        answer.headers["etag"] = before["meta"]["version"]
    return Rewrite(on_request, on_response)


@fault("put-stores-groups", "update",
       "A PUT stores the groups its body carries, though groups is read-only on a User (memberships are made "
       "on the Group).",
       breaks=("update.readonly-put-ignored",))
def _put_stores_groups():
    def on_response(ex: Exchange, answer: Answer) -> None:
        groups = ex.body.get("groups") if isinstance(ex.body, dict) else None
        if ex.method == "PUT" and ex.user_id and answer.status == 200 and isinstance(groups, list) and groups:
            try:
                stored = ex.state.store.update(ex.user_id, lambda user: {**user, "groups": groups})
            except ScimError:
                return
            answer.body = render(stored, f"/Users/{ex.user_id}")
    return Rewrite(on_response=on_response)


@fault("put-answers-empty", "update", "A PUT answers 200 with an empty body instead of the user.",
       breaks=("update.response-reflects-state",))
def _put_empty():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.method == "PUT" and ex.user_id and answer.status == 200:
            answer.raw_body = b""
    return Rewrite(on_response=on_response)


@fault("etag-only-on-get", "update", "Only GET answers carry the ETag header: POST, PUT and PATCH answers lack it.",
       breaks=("update.etag-header",))
def _etag_only_on_get():
    return without_header("etag", is_user_write)


# ---- deactivate -----------------------------------------------------------------------------

def _ignore_active_change(ex: Exchange, to: bool) -> None:
    """Take `active: to` out of a write to a user whose `active` is not `to`: PUT keeps the
    current value, PATCH loses the operation (and a PATCH left empty just reads the user)."""
    if not ex.user_id or not sets_active(ex, to):
        return
    try:
        current = ex.state.store.get(ex.user_id).get("active", True)
    except ScimError:
        return
    if current is to:
        return
    keep = current if ex.method == "PUT" else DROP
    rewrite_attribute(ex, lambda key: key == "active", lambda v: keep if as_bool(v) is to else v)
    nothing_left_to_patch(ex)


@fault("deactivate-ignored", "deactivate", "active=false answers 200 but the user stays active.",
       breaks=("deactivate.accepted", "deactivate.readable", "deactivate.found-by-filter"))
def _deactivate_ignored():
    return Rewrite(lambda ex: _ignore_active_change(ex, False))


@fault("deactivate-deletes", "deactivate",
       "active=false hard-deletes the user (Okta then re-creates it under a new id).",
       breaks=("deactivate.accepted", "deactivate.readable", "deactivate.found-by-filter"))
def _deactivate_deletes():
    def on_request(ex: Exchange) -> None:
        if ex.user_id and sets_active(ex, False):
            ex.method, ex.raw_body = "DELETE", b""
    return Rewrite(on_request)


@fault("deactivate-hidden", "deactivate",
       "Deactivated users disappear from lists and filters (Okta's import and Entra expect them).",
       breaks=("deactivate.found-by-filter",))
def _deactivate_hidden():
    def on_request(ex: Exchange) -> None:
        if ex.is_list:
            given = ex.param("filter")
            visible = "not (active eq false)"
            ex.set_param("filter", visible if given is None else f"({given}) and {visible}")
    return Rewrite(on_request)


@fault("active-string-rejected", "deactivate",
       "active given as the string \"False\"/\"True\" (Entra, OneLogin) answers 400.",
       breaks=("deactivate.accepted", "create.template-artefacts"),
       idps=("onelogin", "entra"),
       only={"create.template-artefacts": ("onelogin",)})
def _active_string():
    def on_request(ex: Exchange) -> Answer | None:
        if any(isinstance(v, str) for v in attribute_values(ex, "active")):
            return error(400, "active must be a boolean", "invalidValue")
        return None
    return Rewrite(on_request)


@fault("active-as-string", "deactivate", "active is returned as the string \"true\"/\"false\" instead of a boolean.",
       breaks=("schema.user", "schema.list-response", "schema.idp-readable", "deactivate.readable", "create.get-same", "update.round-trip",
               "filter.defaulted-value"))
def _active_out_string():
    def edit(user: dict) -> None:
        if isinstance(user.get("active"), bool):
            user["active"] = str(user["active"]).lower()
    return Rewrite(on_response=edit_users(edit))


@fault("active-omitted-when-false", "deactivate", "A deactivated user is returned without the active attribute.",
       breaks=("deactivate.readable", "schema.idp-readable"))
def _active_omitted():
    def edit(user: dict) -> None:
        if user.get("active") is False:
            del user["active"]
    return Rewrite(on_response=edit_users(edit))


@fault("reactivate-ignored", "deactivate", "active=true on a deactivated user answers 200 but the user stays inactive.",
       breaks=("deactivate.reactivate",))
def _reactivate_ignored():
    return Rewrite(lambda ex: _ignore_active_change(ex, True))


# ---- delete ---------------------------------------------------------------------------------

@fault("delete-soft", "delete", "DELETE answers 204 but the user stays readable and listed.",
       breaks=("delete.gone-404", "delete.missing-404", "delete.omitted-from-list", "delete.username-reusable",
               "groups.deleted-user-leaves"),
       idps=("onelogin", "entra"),  # their DELETE; the RFC probes' DELETE (still listed, userName still taken,
       only={"delete.omitted-from-list": ("rfc",), "delete.username-reusable": ("rfc",),  # still a member)
             "groups.deleted-user-leaves": ("rfc",)})
def _soft_delete():
    def on_request(ex: Exchange) -> None:
        if ex.method == "DELETE" and ex.user_id:
            read_instead(ex)
    return Rewrite(on_request, as_no_content)


@fault("delete-twice-204", "delete", "DELETE of an unknown or already deleted id answers 204 instead of 404.",
       breaks=("delete.missing-404", "delete.unknown-404", "guests.id-404"),
       only={"delete.missing-404": ("onelogin", "entra")})
def _delete_twice():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.method == "DELETE" and ex.user_id and answer.status == 404:
            answer.replace(Answer(204, MutableHeaders({"content-type": "application/scim+json"})))
    return Rewrite(on_response=on_response)


@fault("delete-tombstone-writable", "delete",
       "PUT and PATCH to an id that does not exist, such as a deleted user's, answer 200 (a write to a tombstone).",
       breaks=("delete.gone-404", "update.unknown-id-404", "guests.id-404", "schema.idp-readable"))
def _tombstone():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method in ("PUT", "PATCH") and ex.user_id:
            try:
                ex.state.store.get(ex.user_id)
            except ScimError:
                return Answer.json(200, {"schemas": [CORE_USER], "id": ex.user_id, "userName": "deleted@tombstone"})
        return None
    return Rewrite(on_request)


@fault("delete-200-with-body", "delete", "DELETE answers 200 with a body instead of 204 No Content.",
       breaks=("delete.accepted", "groups.delete"),
       idps=("entra", "okta"),  # OneLogin takes the 200 and deletes no group; the body of a DELETE is not judged
       only={"delete.accepted": ("entra",)})  # Okta deletes groups only
def _delete_200():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.method == "DELETE" and answer.status == 204:
            answer.status = 200
            answer.body = {"deleted": True}
    return Rewrite(on_response=on_response)


@fault("delete-unsupported-405", "delete",
       "DELETE /Users/{id} is not implemented: 405 Method Not Allowed for every id (users can only be deactivated).",
       breaks=("delete.accepted", "delete.unknown-404"),  # an unknown id answers 405 too, not 404
       idps=("onelogin", "entra"))  # only they send DELETE
def _delete_405():
    def on_request(ex: Exchange) -> Answer | None:
        if ex.method == "DELETE" and ex.user_id:
            answer = error(405, "DELETE is not supported; deactivate the user with active false instead")
            answer.headers["allow"] = "GET, PUT, PATCH"
            return answer
        return None
    return Rewrite(on_request)


def _deleting(store: UserStore, then: Callable[[dict], None]) -> None:
    """Wrap `store.delete`: after a user is deleted, `then(the user as it was)` (its tombstone)."""
    delete = store.delete

    def delete_remembering(user_id: str, if_match: str | None = None) -> None:
        try:
            user = store.get(user_id)
        except ScimError:
            user = None
        delete(user_id, if_match)
        if user is not None:
            then(user)
    store.delete = delete_remembering


@fault("delete-soft-listed", "delete",
       "A deleted user stays in the unfiltered GET /Users list, marked active false (a soft delete the list query "
       "does not exclude); GET by id answers 404 and filters no longer find it.",
       breaks=("delete.omitted-from-list",))
def _soft_listed():
    def adjust(state: ServerState) -> None:
        store, tombstones = state.store, []
        query = store.query
        _deleting(store, lambda user: tombstones.append({**user, "active": False}))

        def listed(flt, start: int, count: int) -> tuple[int, list[dict]]:
            if flt is not None or not tombstones:
                return query(flt, start, count)
            everyone = query(None, 1, sys.maxsize)[1] + [dict(user) for user in list(tombstones)]
            return len(everyone), everyone[start - 1:start - 1 + count]
        store.query = listed
    return Rewrite(adjust=adjust)


@fault("delete-username-held", "delete",
       "A deleted user's userName stays claimed (a unique index that still covers deleted rows): creating a user "
       "with it again, or renaming one to it, answers 409 uniqueness.",
       breaks=("delete.username-reusable",))
def _username_held():
    def adjust(state: ServerState) -> None:
        store, held = state.store, set()
        claim = store._claim
        _deleting(store, lambda user: held.add(store.key(user["userName"])))

        def claim_unless_held(user_name: str, owner: str | None) -> None:
            if store.key(user_name) in held:
                raise uniqueness(f"userName '{user_name}' is already taken")
            claim(user_name, owner)
        store._claim = claim_unless_held
    return Rewrite(adjust=adjust)


@fault("id-derived-from-username", "delete",
       "The id is derived from the userName (a UUID v5 of the case-folded name), so a user created again with a "
       "deleted user's userName gets the deleted user's id.",
       breaks=("delete.id-not-reused",))
def _id_from_username():
    def adjust(state: ServerState) -> None:
        store = state.store

        def new_id(user: dict) -> str:
            derived = str(uuid.uuid5(uuid.NAMESPACE_URL, str(user["userName"]).casefold()))
            return derived if derived not in store._users else str(uuid.uuid4())  # a renamed user's old name
        store.new_id = new_id
    return Rewrite(adjust=adjust)


# ---- email-domain rule ---------------------------------------------------------------------

def _domain_test(test: Callable[[str, str], bool]) -> Rewrite:
    """A fault that swaps the exact domain comparison for `test(domain, org_domain)`."""
    return policy_override(domain_allowed=lambda self, domain: any(test(domain.lower(), org) for org in self.domains))


@fault("domain-subdomains-accepted", "domain", "Subdomains of an organization domain (sub.example.com) are accepted.",
       breaks=("domain.lookalike-rejected",))
def _subdomains():
    return _domain_test(lambda dom, org: dom == org or dom.endswith("." + org))


@fault("domain-suffix-match", "domain",
       "The domain is compared with endswith: evil-example.com passes for example.com.",
       breaks=("domain.lookalike-rejected",))
def _suffix():
    return _domain_test(lambda dom, org: dom.endswith(org))


@fault("domain-substring-match", "domain",
       "The domain is compared with 'in': example.com.evil.io passes for example.com.",
       breaks=("domain.lookalike-rejected",))
def _substring():
    return _domain_test(lambda dom, org: org in dom)


@fault("domain-case-sensitive", "domain", "The domain comparison is case-sensitive: Jane@EXAMPLE.COM is refused.",
       breaks=("domain.case-insensitive", "create.case-variant-409", "update.username-conflict-409"))
def _domain_case():
    return policy_override(domain_allowed=lambda self, domain: domain in self.domains)


def _shape_only(policy: Policy) -> Policy:
    """The policy without the domain rule: userName and emails must still be email addresses."""
    return with_methods(policy, domain_allowed=lambda self, domain: True)


@fault("domain-unchecked-on-update", "domain",
       "The domain rule is enforced on POST only; PUT and PATCH move users to any domain.",
       breaks=("domain.update-rejected",))
def _unchecked_update():
    def adjust(state: ServerState) -> None:
        shape_only = _shape_only(state.policy)

        def admit_change(self: Policy, before: dict, after: dict) -> None:
            shape_only.check_user(after)
            self.check_transition(before, after)
        state.policy = with_methods(state.policy, admit_change=admit_change)
    return Rewrite(adjust=adjust)


@fault("domain-primary-email-unchecked", "domain",
       "Only userName is checked; a primary email on a foreign domain is accepted.",
       breaks=("domain.foreign-rejected", "domain.update-rejected"))
def _primary_unchecked():
    def adjust(state: ServerState) -> None:
        shape_only = _shape_only(state.policy)

        def check_user(self: Policy, user: dict) -> None:
            shape_only.check_user(user)  # userName present, userName and primary email are addresses
            self.check_address("userName", user["userName"])
        state.policy = with_methods(state.policy, check_user=check_user)
    return Rewrite(adjust=adjust)


@fault("domain-wrong-error", "domain", "A foreign domain answers 403 without scimType instead of 400 invalidValue.",
       breaks=("domain.foreign-rejected", "domain.lookalike-rejected", "domain.update-rejected", "domain.invalid-value"))
def _domain_403():
    def check_address(self: Policy, label: str, address: object) -> None:
        domain = email_domain(address)
        if domain is not None and not self.domain_allowed(domain):
            raise ScimError(403, f"Email domain '{domain}' is not allowed")
        Policy.check_address(self, label, address)
    return policy_override(check_address=check_address)


# ---- guests ---------------------------------------------------------------------------------

def _guest_user(guest: Guest) -> dict:
    return {"schemas": [CORE_USER], "id": guest.id, "userName": guest.userName,
            "displayName": guest.displayName, "active": True,
            "emails": [{"value": guest.userName, "type": "work", "primary": True}],
            "meta": {"resourceType": "User"}}


@fault("guests-listed", "guests", "Guests appear in GET /Users pages (first) and are counted in totalResults.",
       breaks=("guests.not-listed", "schema.idp-readable"))
def _guests_listed():
    def on_request(ex: Exchange) -> None:
        window = _page_window(ex) if ex.is_list and ex.param("filter") is None else None
        if window is None:
            return
        start, count = window
        guests = ex.state.tenant.guests
        shown = guests[start - 1 : start - 1 + count]
        ex.set_param("startIndex", str(max(1, start - len(guests))))
        ex.set_param("count", str(count - len(shown)))
        ex.notes["guests"] = (start, [_guest_user(g) for g in shown], len(guests))

    def edit(ex: Exchange, body: dict) -> None:
        if "guests" in ex.notes:
            start, shown, every = ex.notes["guests"]
            body["Resources"] = shown + body["Resources"]
            body["totalResults"] += every
            body["startIndex"] = start
            body["itemsPerPage"] = len(body["Resources"])
    return Rewrite(on_request, edit_list(edit))


def _filtered_user_name(ex: Exchange) -> str | None:
    try:
        return username_equality(parse_filter(ex.param("filter") or ""))
    except ScimError:
        return None


@fault("guests-found-by-filter", "guests", "filter=userName eq \"<guest>\" finds the guest.",
       breaks=("guests.not-found-by-filter", "schema.idp-readable"))
def _guests_filter():
    def edit(ex: Exchange, body: dict) -> None:
        wanted = _filtered_user_name(ex)
        found = [_guest_user(g) for g in ex.state.tenant.guests
                 if wanted is not None and g.userName.casefold() == wanted.casefold()]
        if found:
            body["Resources"] += found
            body["totalResults"] += len(found)
            body["itemsPerPage"] = len(body["Resources"])
    return Rewrite(on_response=edit_list(edit))


def _guest(ex: Exchange) -> Guest | None:
    return next((g for g in ex.state.tenant.guests if g.id == ex.user_id), None)


@fault("guests-readable-by-id", "guests", "GET /Users/{guestId} returns the guest instead of 404.",
       breaks=("guests.id-404", "schema.idp-readable"))
def _guest_by_id():
    def on_request(ex: Exchange) -> Answer | None:
        guest = _guest(ex)
        return Answer.json(200, _guest_user(guest)) if ex.method == "GET" and guest else None
    return Rewrite(on_request)


@fault("guests-writable-by-id", "guests", "PUT, PATCH and DELETE on a guest id succeed instead of answering 404.",
       breaks=("guests.id-404", "schema.idp-readable"))
def _guest_writable():
    def on_request(ex: Exchange) -> Answer | None:
        guest = _guest(ex)
        if guest is None or ex.method not in ("PUT", "PATCH", "DELETE"):
            return None
        return Answer.json(204, None) if ex.method == "DELETE" else Answer.json(200, _guest_user(guest))
    return Rewrite(on_request)


@fault("guests-creatable", "guests",
       "POST /Users with a guest's email creates a member: the domain rule exempts known guests' addresses.",
       breaks=("guests.create-rejected",))
def _guest_creatable():
    def adjust(state: ServerState) -> None:
        guests = {g.userName.casefold() for g in state.store.guests.values()}

        def check_address(policy: Policy, label: str, address: object) -> None:
            if not (isinstance(address, str) and address.casefold() in guests):
                Policy.check_address(policy, label, address)

        state.policy = with_methods(state.policy, check_address=check_address)
    return Rewrite(adjust=adjust)


# ---- errors ---------------------------------------------------------------------------------

@fault("errors-status-integer", "errors",
       "Error bodies carry status as a JSON number (Slack, Zoom) instead of a string.",
       breaks=("errors.status-string",))
def _status_int():
    def edit(answer: Answer, body: dict) -> None:
        answer.body = {**body, "status": answer.status}
    return Rewrite(on_response=edit_error(edit))


@fault("errors-not-scim", "errors",
       "Error bodies use a vendor envelope {\"errors\":[{\"message\":...}]} (Asana REST) without the Error URN.",
       breaks=("errors.scim-error-body", "errors.content-type", "errors.idp-content-type", "schema.idp-readable", "token.error-body", "create.duplicate-uniqueness", "create.unknown-id-404", "update.unknown-id-404", "errors.malformed-400", "filter.invalid-400", "filter.unquoted-tolerated", "domain.invalid-value", "create.username-required", "errors.unknown-endpoint-404", "update.remove-needs-path", "update.patch-malformed-400", "update.protected-attributes", "update.value-filter-no-match"))
def _vendor_errors():
    def edit(answer: Answer, body: dict) -> None:
        answer.body = {"errors": [{"message": body.get("detail", "")}]}
        answer.headers["content-type"] = "application/json"
    return Rewrite(on_response=edit_error(edit))


@fault("errors-scim-type-always-invalid-value", "errors",
       "Every 400 error names scimType invalidValue, also for an unparsable body or a bad filter.",
       breaks=("errors.scim-type", "filter.invalid-400", "update.remove-needs-path", "update.protected-attributes",
               "update.value-filter-no-match"))
def _scim_type_invalid_value():
    def edit(answer: Answer, body: dict) -> None:
        if answer.status == 400:
            answer.body = {**body, "scimType": "invalidValue"}
    return Rewrite(on_response=edit_error(edit))


@fault("errors-unknown-endpoint-html", "errors",
       "A path the server does not serve answers 404 with an HTML page (the framework's default), not a SCIM Error.",
       breaks=("errors.unknown-endpoint-404", "errors.scim-error-body"))
def _unknown_endpoint_html():
    known = ("/Users", "/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Bulk", "/Me", "/.search")

    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.status == 404 and not ex.path.startswith(known):
            answer.replace(html(404, "Not Found"))
    return Rewrite(on_response=on_response)


@fault("errors-status-always-500", "errors",
       "Every error body says \"status\": \"500\", whatever the HTTP status (one error helper for all).",
       breaks=("errors.status-matches",))
def _status_500():
    def edit(answer: Answer, body: dict) -> None:
        answer.body = {**body, "status": "500"}
    return Rewrite(on_response=edit_error(edit))


@fault("errors-html-404", "errors", "404 answers (unknown ids) are an HTML page.",
       breaks=("errors.scim-error-body", "create.unknown-id-404", "update.unknown-id-404", "errors.unknown-endpoint-404"))
def _html_404():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.status == 404:
            answer.replace(html(404, "Not Found"))
    return Rewrite(on_response=on_response)


@fault("errors-malformed-json-500", "errors",
       "A malformed JSON body crashes the server: an HTML 500 instead of 400 invalidSyntax.",
       breaks=("errors.malformed-400", "errors.scim-error-body"))
def _malformed_500():
    def on_request(ex: Exchange) -> Answer | None:
        if is_user_write(ex) and ex.raw_body.strip() and ex.body is None and ex.raw_body.strip() != b"null":
            return html(500, "Internal Server Error")
        return None
    return Rewrite(on_request)


@fault("responses-application-json", "errors",
       "Every response is labelled application/json instead of application/scim+json.",
       breaks=("errors.content-type", "errors.idp-content-type"),
       only={"errors.idp-content-type": ("entra",)})
def _json_type():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.headers.get("content-type", "").startswith("application/scim+json"):
            answer.headers["content-type"] = "application/json"
    return Rewrite(on_response=on_response)


@fault("responses-text-plain", "errors",
       "JSON bodies are labelled text/plain (a framework's default for a serialized string).",
       breaks=("errors.content-type", "errors.idp-content-type"))
def _text_plain():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if answer.headers.get("content-type", "").startswith("application/scim+json"):
            answer.headers["content-type"] = "text/plain; charset=utf-8"
    return Rewrite(on_response=on_response)


# ---- discovery ------------------------------------------------------------------------------

@fault("discovery-spc-missing", "discovery", "/ServiceProviderConfig answers 404.",
       breaks=("discovery.service-provider-config",))
def _spc_missing():
    def on_request(ex: Exchange) -> Answer | None:
        return error(404, "Not Found") if ex.path.rstrip("/") == "/ServiceProviderConfig" else None
    return Rewrite(on_request)


def _edit_spc(edit: Callable[[dict], None]) -> Rewrite:
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if ex.path.rstrip("/") == "/ServiceProviderConfig" and answer.status == 200 and isinstance(body, dict):
            edit(body)
            answer.body = body
    return Rewrite(on_response=on_response)


@fault("discovery-spc-wrong-schema", "discovery",
       "/ServiceProviderConfig lacks its schema URN and the required bulk block.",
       breaks=("discovery.service-provider-config",))
def _spc_schema():
    def edit(body: dict) -> None:
        body["schemas"] = ["urn:scim:schemas:core:1.0"]
        body.pop("bulk", None)
    return _edit_spc(edit)


@fault("discovery-patch-unadvertised", "discovery",
       "/ServiceProviderConfig says patch is unsupported while PATCH works.",
       breaks=("discovery.patch-advertised",))
def _spc_patch():
    return _edit_spc(lambda body: body.update(patch={"supported": False}))


@fault("projection-ignored", "filter",
       "attributes and excludedAttributes are ignored: every answer holds the whole user, or group with its members.",
       breaks=("filter.projection", "groups.exclude-members"),
       only={"groups.exclude-members": ("entra",)})  # only Entra reads groups with excludedAttributes=members
def _projection_ignored():
    def on_request(ex: Exchange) -> None:
        ex.set_param("attributes", None)
        ex.set_param("excludedAttributes", None)
    return Rewrite(on_request)


@fault("discovery-etag-claimed-not-sent", "discovery",
       "/ServiceProviderConfig says etag is supported, but no response carries an ETag header.",
       breaks=("discovery.etag-advertised", "update.etag-header"))
def _etag_not_sent():
    return without_header("etag", lambda ex: True)


@fault("discovery-paged", "discovery",
       "/Schemas and /ResourceTypes apply count and startIndex like a user list (the RFC says to ignore them).",
       breaks=("discovery.query-ignored",))
def _discovery_paged():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if ex.path.rstrip("/") in ("/Schemas", "/ResourceTypes") and answer.status == 200 and isinstance(body, dict):
            start = int(ex.param("startIndex") or 1) if str(ex.param("startIndex") or "1").isdigit() else 1
            count = int(ex.param("count")) if str(ex.param("count") or "").isdigit() else None
            items = body.get("Resources", [])[start - 1:][:count]
            answer.body = {**body, "Resources": items, "startIndex": start, "itemsPerPage": len(items)}
    return Rewrite(on_response=on_response)


@fault("patch-attributes-204", "filter",
       "A PATCH with the attributes parameter answers 204 with no body (the projection is not served).",
       breaks=("filter.projection",))
def _patch_attributes_204():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.method == "PATCH" and ex.param("attributes") and answer.status == 200:
            answer.replace(Answer(204, MutableHeaders()))
    return Rewrite(on_response=on_response)


@fault("discovery-schemas-incomplete", "discovery",
       "/Schemas lists the core User schema only, while /ResourceTypes declares the enterprise extension.",
       breaks=("discovery.schemas",))
def _schemas_incomplete():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if ex.path.rstrip("/") == "/Schemas" and answer.status == 200 and isinstance(body, dict):
            kept = [r for r in body.get("Resources", []) if not (isinstance(r, dict) and r.get("id") == ENTERPRISE_USER)]
            answer.body = {**body, "Resources": kept, "totalResults": len(kept), "itemsPerPage": len(kept)}
    return Rewrite(on_response=on_response)


@fault("discovery-schemas-bare-array", "discovery",
       "/Schemas and /ResourceTypes answer a bare JSON array instead of a ListResponse.",
       breaks=("discovery.resource-types", "discovery.schemas"))
def _schemas_array():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if ex.path.rstrip("/") in ("/Schemas", "/ResourceTypes") and isinstance(body, dict) and "Resources" in body:
            answer.body = body["Resources"]
    return Rewrite(on_response=on_response)


# ---- groups ---------------------------------------------------------------------------------
# Groups are Asana teams (groups.py); the IdPs' group requests are those of fixtures/idps/*.json.

@fault("group-create-200", "groups", "POST /Groups answers 200 instead of 201 Created.",
       breaks=("groups.create-201", "groups.extra-schema-uri"),
       only={"groups.extra-schema-uri": ("entra",)})  # only Entra's group create lists its ADSCIM URI
def _group_create_200():
    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.method == "POST" and ex.path.rstrip("/") == "/Groups" and answer.status == 201:
            answer.status = 200
    return Rewrite(on_response=on_response)


class _LatestHolder(dict):
    """A name index that keeps the latest holder of each name and forgets a name already forgotten."""

    def __delitem__(self, name: Any) -> None:
        self.pop(name, None)


@fault("group-duplicates-allowed", "groups",
       "displayName uniqueness is not enforced: a second create of a group's name makes a second group "
       "(the Microsoft SCIM Validator's «Create a duplicate Group» expects 409).",
       breaks=("groups.displayname-unique",))
def _group_duplicates():
    def adjust(state: ServerState) -> None:
        store = state.groups
        with store.lock:
            store._by_name = _LatestHolder(store._by_name)
            store._claim = lambda name, owner: None
    return Rewrite(adjust=adjust)


@fault("group-errors-scim-type-invalid-syntax", "groups",
       "Every error of the /Groups endpoint that names a scimType names invalidSyntax (one error mapper for the "
       "endpoint), also for a duplicate displayName (uniqueness) or an unknown member (invalidValue).",
       breaks=("errors.scim-type",))
def _group_scim_type():
    def edit(answer: Answer, body: dict) -> None:
        if body.get("scimType"):
            answer.body = {**body, "scimType": "invalidSyntax"}
    rewrite = edit_error(edit)

    def on_response(ex: Exchange, answer: Answer) -> None:
        if ex.path.rstrip("/") == "/Groups" or group_id(ex):
            rewrite(ex, answer)
    return Rewrite(on_response=on_response)


@fault("group-filter-case-sensitive", "groups",
       "displayName is indexed and matched case-sensitively (RFC 7643 §8.7.1: caseExact false), so a lookup of the "
       "name in another case finds nothing.",
       breaks=("groups.filter-case-insensitive",),
       idps=("okta", "entra"))  # their displayName lookups
def _group_filter_case():
    def adjust(state: ServerState) -> None:
        store = state.groups
        with store.lock:
            store.key = str
            store._by_name = {group["displayName"]: group_id for group_id, group in store._resources.items()}
    return Rewrite(adjust=adjust)


@fault("group-filter-ignored", "groups",
       "The filter parameter of GET /Groups is ignored: a displayName lookup lists every group.",
       breaks=("groups.find-by-displayname", "groups.filter-case-insensitive", "groups.rename"),
       idps=("okta", "entra"))  # their displayName lookups (the rename check finds the group by its new name)
def _group_filter_ignored():
    def on_request(ex: Exchange) -> None:
        if is_group_list(ex):
            ex.set_param("filter", None)
    return Rewrite(on_request)


NAME_COLUMN = 20  # characters of a displayName the faulty read below keeps: every name the suite makes is longer


@fault("group-get-name-truncated", "groups",
       f"GET /Groups/{{id}} answers the displayName cut to its first {NAME_COLUMN} characters (the width of the "
       "column it is read from), not as it was stored.",
       breaks=("groups.get-same", "groups.rename", "groups.extra-schema-uri"),
       only={"groups.rename": ("okta", "entra"), "groups.extra-schema-uri": ("entra",)})  # who renames, who sends ADSCIM
def _group_name_truncated():
    def cut(group: dict) -> None:
        if isinstance(group.get("displayName"), str):
            group["displayName"] = group["displayName"][:NAME_COLUMN]
    return Rewrite(on_response=edit_groups(cut, lambda ex: ex.method == "GET" and group_id(ex) is not None))


@fault("group-total-off-by-one", "groups",
       "totalResults of GET /Groups counts the organization's default team, which is never listed: one more than the "
       "groups a walk finds.",
       breaks=("groups.import-paged",),
       idps=("okta", "onelogin"))  # they read the group list
def _group_total():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if is_group_list(ex) and ex.param("filter") is None and answer.status == 200 and isinstance(body, dict) \
                and isinstance(body.get("totalResults"), int):
            answer.body = {**body, "totalResults": body["totalResults"] + 1}
    return Rewrite(on_response=on_response)


@fault("group-list-numbers-as-strings", "groups",
       "GET /Groups answers totalResults, startIndex and itemsPerPage as JSON strings (a template that quotes every "
       "value; RFC 7644 §3.4.2 and Okta read integers).",
       breaks=("groups.list", "schema.list-response", "schema.idp-readable"),
       only={"groups.list": ("okta", "onelogin"),  # they read the group list; Entra's lookup is a list too
             "schema.idp-readable": ("okta",)})  # Okta's group-list overlay (schemas/idp/okta.json)
def _group_list_strings():
    def on_response(ex: Exchange, answer: Answer) -> None:
        body = answer.body
        if is_group_list(ex) and answer.status == 200 and isinstance(body, dict):
            answer.body = {k: str(v) if k in ("totalResults", "startIndex", "itemsPerPage") else v
                           for k, v in body.items()}
    return Rewrite(on_response=on_response)


@fault("group-schemas-missing", "groups",
       "Groups are answered without schemas (RFC 7643 §3: REQUIRED), alone and in lists.",
       breaks=("schema.group", "schema.list-response"))
def _group_schemas():
    return Rewrite(on_response=edit_groups(lambda group: group.pop("schemas", None)))


@fault("group-add-ignored", "groups",
       "A PATCH add to members answers 204 but stores nothing.",
       breaks=("groups.member-add", "groups.user-groups", "groups.large-membership"),
       # Okta AIW adds by PUT; for Entra an answer without members is not judged, but its users' groups are
       idps=("okta", "onelogin", "entra", "rfc"),
       only={"groups.member-add": ("okta", "onelogin"), "groups.user-groups": ("okta", "onelogin", "entra"),
             "groups.large-membership": ("rfc",)})
def _group_add_ignored():
    return group_ops(lambda op, name, path: [] if name == "add" and path == "members" else [op])


@fault("group-remove-filter-ignored", "groups",
       'A PATCH remove with the path members[value eq "<id>"] answers 204 and removes nothing (only a remove naming '
       "the members in value is implemented).",
       breaks=("groups.member-remove", "groups.user-groups"),
       idps=("okta", "onelogin", "entra"))  # Okta's and OneLogin's remove, Entra's aadOptscim062020 one
def _group_remove_filter():
    return group_ops(lambda op, name, path: [] if name == "remove" and (path or "").startswith("members[") else [op])


@fault("group-remove-value-ignored", "groups",
       'A PATCH remove of members naming them in value (Entra\'s shape) answers 204 and removes nothing (only the '
       'filter path members[value eq "<id>"] is implemented).',
       breaks=("groups.member-remove", "groups.user-groups"),
       idps=("entra", "onelogin"))  # Entra's remove, OneLogin's value variant
def _group_remove_value_ignored():
    return group_ops(lambda op, name, path: [] if name == "remove" and path == "members" and op.get("value")
                     else [op])


@fault("group-remove-value-removes-all", "groups",
       "A PATCH remove of members naming them in value removes every member: the value is ignored, as for a "
       "path without filter (RFC 7644 §3.5.2.2 read literally).",
       breaks=("groups.member-remove", "groups.user-groups"),
       idps=("entra", "onelogin"))  # Entra's remove, OneLogin's value variant
def _group_remove_all():
    return group_ops(lambda op, name, path: [{"op": op["op"], "path": op["path"]}]
                     if name == "remove" and path == "members" and op.get("value") else [op])


@fault("group-put-keeps-members", "groups",
       "PUT /Groups/{id} replaces displayName and externalId but ignores members: the group keeps the members it had.",
       breaks=("groups.member-add", "groups.member-remove", "groups.user-groups"),
       idps=("okta",))  # Okta AIW sends the whole member list by PUT
def _group_put_keeps():
    def on_request(ex: Exchange) -> None:
        body = ex.body
        if ex.method != "PUT" or not group_id(ex) or not isinstance(body, dict):
            return
        try:
            current = ex.state.groups.get(group_id(ex))
        except ScimError:
            return
        kept = {k: v for k, v in body.items() if str(k).lower() != "members"}
        ex.body = {**kept, "members": [{"value": m["value"]} for m in current.get("members", ())]}
    return Rewrite(on_request)


@fault("group-pathless-replace-clears-members", "groups",
       "A path-less PATCH replace (Okta's rename: {id, displayName}) replaces the whole group by its value, so the "
       "members it does not name are cleared.",
       breaks=("groups.rename",),
       idps=("okta",))
def _group_pathless_replace():
    def rewrite(op: dict, name: str, path: str | None) -> list[dict]:
        value = op.get("value")
        if name == "replace" and path is None and isinstance(value, dict) \
                and not any(str(k).lower() == "members" for k in value):
            return [{**op, "value": {**value, "members": []}}]
        return [op]
    return group_ops(rewrite)


@fault("group-rename-ignored", "groups",
       "A PATCH that changes a group's displayName answers 204 but the name stays as it was.",
       breaks=("groups.rename",),
       idps=("okta", "entra"))  # their renames
def _group_rename_ignored():
    def rewrite(op: dict, name: str, path: str | None) -> list[dict]:
        value = op.get("value")
        if path == "displayname":
            return []
        if path is None and isinstance(value, dict):
            value = {k: v for k, v in value.items() if str(k).lower() != "displayname"}
            return [{**op, "value": value}] if value else []
        return [op]
    return group_ops(rewrite)


@fault("group-unknown-member-stored", "groups",
       "A member id that is no user's is stored as a pending member (for a user the IdP has yet to push) instead of "
       "being refused with 400 invalidValue.",
       breaks=("groups.unknown-member-refused",))
def _group_unknown_member():
    return members_admitted(lambda users, user_id: {"id": user_id})


@fault("group-guest-member-accepted", "groups",
       "A guest's id is accepted as a member and listed (the guest rule guards /Users only; Asana's guests are "
       "outside SCIM).",
       breaks=("guests.not-member", "guests.member-refused"))
def _group_guest_member():
    def admit(users: UserStore, user_id: str) -> dict | None:
        guest = users.guests.get(user_id)
        return _guest_user(guest) if guest else None
    return members_admitted(admit, refuse_guests=False)


@fault("user-groups-missing", "groups",
       "Users are answered without their groups attribute (RFC 7643 §4.1.2), though they are members.",
       breaks=("groups.user-groups",))
def _user_groups_missing():
    return Rewrite(on_response=edit_users(lambda user: user.pop("groups", None)))


@fault("group-delete-soft", "groups", "DELETE /Groups/{id} answers 204 but the group stays readable.",
       breaks=("groups.delete",),
       idps=("okta", "entra"))  # they delete groups
def _group_soft_delete():
    def on_request(ex: Exchange) -> None:
        if ex.method == "DELETE" and group_id(ex):
            read_instead(ex)
    return Rewrite(on_request, as_no_content)


@fault("group-keeps-deleted-members", "groups",
       "A deleted user stays a member of its groups (no cascade on the membership rows).",
       breaks=("groups.deleted-user-leaves",),
       idps=("rfc",))  # the RFC check deletes a member
def _group_keeps_deleted():
    def adjust(state: ServerState) -> None:
        state.groups.remove_member = lambda user_id: None
    return Rewrite(adjust=adjust)


@fault("group-members-capped", "groups",
       "GET /Groups/{id} shows at most 100 members (the first page of the membership query).",
       breaks=("groups.large-membership",),
       idps=("rfc",))  # the RFC check makes a group of more than 100
def _group_members_capped():
    def cap(group: dict) -> None:
        if isinstance(group.get("members"), list):
            group["members"] = group["members"][:100]
    return Rewrite(on_response=edit_groups(cap, lambda ex: ex.method == "GET" and group_id(ex) is not None))


@fault("group-exclude-members-ignored", "groups",
       "excludedAttributes=members is ignored on /Groups: the group comes with every member.",
       breaks=("groups.exclude-members",),
       idps=("entra",))  # only Entra reads groups with excludedAttributes=members
def _group_exclude_ignored():
    def on_request(ex: Exchange) -> None:
        excluded = ex.param("excludedAttributes")
        if excluded and (is_group_list(ex) or group_id(ex)):
            kept = [name for name in excluded.split(",") if name.strip().lower() != "members"]
            ex.set_param("excludedAttributes", ",".join(kept) or None)
    return Rewrite(on_request)


@fault("group-unknown-schema-refused", "groups",
       "A group body whose schemas list a URI besides the core Group schema (Entra's ADSCIM Group URI) answers 400 "
       "invalidSyntax (scim2-server, docs/third-party.md).",
       breaks=("groups.extra-schema-uri",),
       idps=("entra",))
def _group_unknown_schema():
    core = "urn:ietf:params:scim:schemas:core:2.0:Group"

    def on_request(ex: Exchange) -> Answer | None:
        body = ex.body
        writes = (ex.method == "POST" and ex.path.rstrip("/") == "/Groups") or (ex.method == "PUT" and group_id(ex))
        schemas = body.get("schemas") if writes and isinstance(body, dict) else None
        strange = [u for u in schemas if u != core] if isinstance(schemas, list) else []
        return error(400, f"Unknown schema URI(s): {strange}", "invalidSyntax") if strange else None
    return Rewrite(on_request)
