"""Import checks: Okta's paged walk of GET /Users (startIndex+count until totalResults), and its edges.
OneLogin's 'Get Users' is walked the same way (its paging is not documented: the step is inferred);
Entra never lists users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from scimcert.client import Exchange
from scimcert.suites import dig, given_user, integer_paging, list_of, needs, number, resources, rfc_user

pytestmark = pytest.mark.quiet_tenant  # every check here reads the whole list (scimcert/quiet.py)

OWN_USERS = 3          # users a walk check creates, to find again
WALKS = 3              # a walk during which the tenant changed is repeated, this many walks at most
SMALL_COUNT = 2        # the smallest page, so that even a small tenant is really paged
SMALL_PAGES = 8        # a small walk's pages: its count grows with the tenant, so a large one costs no more
PAGE_LIMITS = {"okta": 1000, "small": 250}  # pages of one walk; past it, completeness is not judged
PAGE_RULES = ("import.paging-integers", "import.items-per-page", "import.count-honoured", "import.start-index",
              "import.full-pages",
              "import.total-consistent")


def okta_count(idp) -> int:
    """The count the IdP's import sends (Okta: 100)."""
    return number(dig(idp.steps, "importPage", "defaults", "count")) or 100


def needs_import(idp) -> None:
    needs(idp, "importPage")


def items(answer: Exchange) -> list:
    """The Resources array as sent (any element type); [] when absent."""
    found = dig(answer.json, "Resources")
    return found if isinstance(found, list) else []


@dataclass
class Page:
    """One page of a walk as read: what the rules need of it. Its body is released once read (the transcript
    keeps it, under the exchange's id) unless it is evidence: the first and the last page, a page that
    breaks a page rule, repeats an id or fails its schema. A walk of 100,000 users then holds their ids,
    not their bodies, and each id as `key` keeps it."""

    start: int           # the startIndex asked for
    answer: Exchange
    envelope: dict       # the ListResponse without its Resources
    held: int            # how many Resources, of any type
    keys: list[int | str]  # the ids of its resources, each as `key` keeps it

    @property
    def total(self) -> int | None:
        return number(self.envelope.get("totalResults"))


@dataclass
class Walk:
    """The pages of one walk: startIndex=1, 1+count, ... while startIndex <= totalResults."""

    count: int
    pages: list[Page] = field(default_factory=list)
    broken: Exchange | None = None  # the answer that stopped the walk: not a 200 ListResponse
    finished: bool = False          # startIndex passed totalResults within the page limit
    moved: str = ""                 # "275→282": page 1, read again after the walk, states another total
    repeated: Page | None = None    # the first page holding an id seen before on the walk
    twice: set[str] = field(default_factory=set)  # the ids seen more than once
    seen: set[int | str] = field(default_factory=set, repr=False)  # as `key` keeps them

    def add(self, start: int, answer: Exchange) -> None:
        found = items(answer)
        keys = [key(str(dig(r, "id"))) for r in found if isinstance(r, dict) and dig(r, "id") is not None]
        page = Page(start, answer, {k: v for k, v in list_of(answer).items() if k != "Resources"}, len(found), keys)
        for user_key in keys:
            if user_key in self.seen:
                self.twice.add(text(user_key))
                self.repeated = self.repeated or page
            self.seen.add(user_key)
        if self.pages and not self.evidence(self.pages[-1]):
            self.pages[-1].answer.release()  # it is no longer the last page
        self.pages.append(page)

    def evidence(self, page: Page) -> bool:
        return (page is self.pages[0] or page is self.repeated or page.answer.violations
                or page.answer.idp_violations or any(not ok for _, ok, *_ in page_rules(self, page)))

    @property
    def ids(self) -> list[str]:
        return [text(k) for page in self.pages for k in page.keys]

    def times_seen(self, user_id: str) -> int:
        return sum(page.keys.count(key(user_id)) for page in self.pages)

    @property
    def totals(self) -> list[int | None]:
        return [page.total for page in self.pages]

    @property
    def last(self) -> Exchange | None:
        return self.broken or (self.pages[-1].answer if self.pages else None)

    @property
    def settled(self) -> bool:
        return self.broken is not None or (not self.moved and len(set(self.totals)) <= 1)

    def page_of(self, user_id: str) -> Exchange | None:
        return next((page.answer for page in self.pages if key(user_id) in page.keys), self.last)


def key(user_id: str) -> int | str:
    """An id as a walk keeps it: a UUID in canonical form as its 128-bit number (44 bytes in memory, not 85:
    a walk of 100,000 users keeps every id), any other id as it is. Lossless: `text` gives the id back, and
    a number never equals a string."""
    try:
        number = uuid.UUID(user_id)
    except ValueError:
        return user_id
    return number.int if str(number) == user_id else user_id


def text(user_key: int | str) -> str:
    return str(uuid.UUID(int=user_key)) if isinstance(user_key, int) else user_key


def small_count(client, idp) -> int:
    """A count that pages the tenant in about SMALL_PAGES short pages (at least SMALL_COUNT a page, at most
    the IdP's own count: RFC 7644 §3.4.2.4 lets a server return fewer than a count asked for, so pages larger
    than the IdP's are not asked for), read from totalResults of the first small page. Where a smaller count
    can (down to SMALL_COUNT), the last page is left short: only a short page tells itemsPerPage (the number
    returned) from the count asked for, whatever the tenant's size. Never a larger count: a totalResults
    that is only the page size (2) must stay below the check's own 3 users."""
    total = total_of(client, idp, 1, SMALL_COUNT)[1] or 0
    count = min(okta_count(idp), max(SMALL_COUNT, -(-total // SMALL_PAGES)))
    while total % count == 0 and count > SMALL_COUNT:
        count -= 1
    return count


def total_of(client, idp, start: int, count: int) -> tuple[Exchange, int | None]:
    answer = client.send(idp.request("importPage", startIndex=start, count=count))
    return answer, number(dig(answer.json, "totalResults"))


def walk(client, idp, count: int, limit: int) -> Walk:
    """Okta's import walk with pages of `count`, stopping at a non-200 or unreadable page; then page 1
    is read again, to tell a tenant that changed meanwhile (other checks at work) from a server whose
    totalResults varies."""
    result = Walk(count)
    start = 1
    for _ in range(limit):
        request = idp.request("importPage", startIndex=start, count=count)
        answer = client.send(request)
        total = number(dig(answer.json, "totalResults"))
        if answer.status not in request.accepts or list_of(answer) is None or total is None:
            result.broken = answer
            return result
        result.add(start, answer)
        start += count
        if start > total:
            result.finished = True
            break
    after = total_of(client, idp, 1, count)[1]
    if after != result.totals[0]:
        result.moved = f"{result.totals[0]}→{after}"
    return result


def settled_walk(client, idp, count: int, limit: int) -> tuple[Walk, str]:
    """A walk, repeated (WALKS in all at most) while totalResults moved during it."""
    history: list[str] = []
    for _ in range(WALKS):
        run = walk(client, idp, count, limit)
        if run.settled:
            break
        history.append(run.moved or "→".join(str(t) for t in dict.fromkeys(run.totals)))
    note = f" (walked {len(history) + run.settled} times; totalResults moved {', '.join(history)})" if history else ""
    return run, note


def page_rules(run: Walk, page: Page) -> list[tuple[str, bool, str, object, object]]:
    """(requirement, holds, message, expected, actual) of each page rule on `page`."""
    body, held, start = page.envelope, page.held, page.start
    total = page.total or 0
    remaining = min(run.count, max(0, total - start + 1))
    first_total = run.pages[0].total
    paging = {k: body.get(k) for k in ("totalResults", "startIndex", "itemsPerPage")}
    return [
        ("import.paging-integers", integer_paging(body),
         "totalResults, startIndex and itemsPerPage are JSON integers", "integers", paging),
        ("import.items-per-page", number(body.get("itemsPerPage")) == held,
         f"itemsPerPage counts the resources of the page at startIndex={start}", held, body.get("itemsPerPage")),
        ("import.count-honoured", held <= run.count,
         f"the page at startIndex={start}&count={run.count} holds at most {run.count} resources",
         f"<= {run.count}", held),
        ("import.start-index", number(body.get("startIndex")) == start,
         "startIndex echoes the startIndex asked for", start, body.get("startIndex")),
        ("import.full-pages", held >= remaining,
         f"no gap: the page at startIndex={start}&count={run.count} holds every user it can "
         f"({remaining} of totalResults={total}); Okta steps startIndex by count, so a short page skips users",
         remaining, held),
        ("import.total-consistent", page.total == first_total,
         "totalResults is the same on every page of the walk", first_total, body.get("totalResults")),
    ]


def judge_pages(verdict, run: Walk, note: str) -> None:
    """Per-page rules: the first page breaking a rule is the evidence; otherwise one pass per rule.

    totalResults is compared across pages only when the tenant held still during the walk."""
    failed: set[tuple[str, int]] = set()
    judged = [r for r in PAGE_RULES if not (run.moved and r == "import.total-consistent")]
    for page in run.pages:
        for rule, (requirement, ok, message, expected, actual) in enumerate(page_rules(run, page)):
            if not ok and (requirement, rule) not in failed and requirement in judged:
                failed.add((requirement, rule))
                verdict.check(requirement, False, message + note, expected=expected, actual=actual,
                              exchange=page.answer)
    for requirement in judged if run.pages else ():
        if not any(r == requirement for r, _ in failed):
            verdict.check(requirement, True, f"every page of the walk (count={run.count}) meets the rule",
                          exchange=run.pages[0].answer)


def judge_walk(verdict, run: Walk, own: list[str], note: str) -> None:
    """Whole-walk rules: no id twice, each created user exactly once, as many users as totalResults.

    When the tenant changed during every walk (other checks create and delete users), the rules that
    need a still tenant are not judged, and the reason is reported."""
    judge_pages(verdict, run, note)
    if run.broken is not None:
        verdict.require("import.walk-complete", False,
                        f"the walk (count={run.count}) stopped: a page is not a 200 ListResponse with a totalResults",
                        expected="200 ListResponse with an integer totalResults",
                        actual=run.broken.status or run.broken.error, exchange=run.broken)
    busy = (f"; the rest is not judged: other checks kept creating or deleting users{note}; "
            "run the import checks on a quiet tenant") if run.moved else ""
    verdict.check("import.total-consistent", (run.totals[0] or 0) >= len(own),
                  f"totalResults counts at least the {len(own)} users this check created (not the page size)" + busy,
                  expected=f">= {len(own)}", actual=run.totals[0], exchange=run.pages[0].answer)
    if run.moved:
        verdict.skip("import.walk-complete", busy.removeprefix("; the rest is "))
        return
    twice = sorted(run.twice)
    evidence = run.repeated.answer if run.repeated else run.last
    for requirement, message in (("import.walk-complete", "no user appears twice in the walk"),
                                 ("import.start-index", "consecutive pages do not overlap")):
        verdict.check(requirement, not twice, message + note, expected="every id once",
                      actual=f"repeated: {twice[:10]}" if twice else "no repeats", exchange=evidence)
    if not run.finished:
        return  # cut short at the page limit: a tenant this large is judged on its pages only
    seen = {i: run.times_seen(i) for i in own}
    verdict.check("import.walk-complete", all(n == 1 for n in seen.values()),
                  f"each of the {len(own)} users this check created appears exactly once" + note,
                  expected=own, actual=seen, exchange=run.last)
    walked = sum(page.held for page in run.pages)
    verdict.check("import.total-consistent", walked == run.totals[-1],
                  "the walk returns as many users as totalResults says" + note,
                  expected=run.totals[-1], actual=walked, exchange=run.last)


@pytest.mark.parametrize("size", ["okta", "small"])
@pytest.mark.requirement("import.walk-complete", *PAGE_RULES)
def test_import_walk(idp, client, verdict, users, size):
    """Creates 3 users, then walks GET /Users as Okta's import does: startIndex=1, 1+count, ... until
    startIndex > totalResults, with Okta's count=100 (okta) or a small count (small: about 8 short pages,
    count=2 on a small tenant, so that it is really paged).

    Verifies: every page has integer paging numbers, itemsPerPage = len(Resources) <= count, echoes the
    startIndex asked for, joins the previous page without gap or overlap and states the same totalResults;
    the walk returns no id twice, each created user exactly once, and as many users as totalResults
    (RFC 7644 §3.4.2, §3.4.2.4; Okta SCIM 2.0 guide, https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/;
    Okta QA's past-the-end page, https://github.com/ory/polis/pull/4054).
    """
    needs_import(idp)
    own = [given_user(client, idp, users)[1] for _ in range(OWN_USERS)]
    count = okta_count(idp) if size == "okta" else small_count(client, idp)
    run, note = settled_walk(client, idp, count, PAGE_LIMITS[size])
    judge_walk(verdict, run, own, note)


@pytest.mark.requirement("import.stable-order")
def test_import_order_is_stable(idp, client, verdict, users):
    """Creates 3 users, then walks GET /Users twice with a small count (about 8 pages, at least 2 a page).

    Verifies: the users seen by both walks come in the same order (Okta SCIM 2.0 guide,
    https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/; the same ordering whatever count and startIndex).
    """
    needs_import(idp)
    for _ in range(OWN_USERS):
        given_user(client, idp, users)
    count = small_count(client, idp)
    first, second = (walk(client, idp, count, PAGE_LIMITS["small"]) for _ in range(2))
    for run in (first, second):
        if run.broken is not None:
            pytest.skip(f"precondition failed: a page of the walk answered {run.broken.status or run.broken.error} "
                        "(judged by import.walk-complete)")
    common = set(first.ids) & set(second.ids)
    order = [i for i in dict.fromkeys(first.ids) if i in common]  # first sighting: a concurrent insert may
    again = [i for i in dict.fromkeys(second.ids) if i in common]  # shift a user onto the next page too
    differs = next((k for k, (a, b) in enumerate(zip(order, again, strict=False)) if a != b), None)
    around = slice(max(0, (differs or 0) - 2), (differs or 0) + 3)
    verdict.check("import.stable-order", differs is None,
                  f"two walks (count={count}) list the {len(common)} users they share in the same order",
                  expected=order[around] if differs is not None else f"{len(order)} users in one order",
                  actual=again[around] if differs is not None else f"{len(again)} users in that order",
                  exchange=second.page_of(again[differs]) if differs is not None else second.last)


@pytest.mark.parametrize("where", ["after-total", "next-page"])
@pytest.mark.requirement("import.past-end")
def test_page_past_the_end(idp, client, verdict, users, where):
    """Creates a user, reads totalResults T from Okta's first import page, then asks for a page past the end:
    startIndex=T+1 (after-total) or the next page of Okta's walk, e.g. startIndex=101&count=100 when fewer
    than 100 users exist, as Okta's QA does (next-page).

    Verifies: 200 with a ListResponse, no resources, itemsPerPage 0 and the same totalResults
    (Okta QA, https://github.com/ory/polis/pull/4054; RFC 7644 §3.4.2.4).
    """
    needs_import(idp)
    given_user(client, idp, users)
    count = okta_count(idp)
    for _ in range(WALKS):  # page 1, the page past the end, page 1 again: repeated while the tenant changes
        first, total = total_of(client, idp, 1, count)
        if first.status != 200 or total is None:
            pytest.skip(f"precondition failed: the first import page answered {first.status or first.error} "
                        "without a totalResults (judged by import.walk-complete)")
        start = total + 1 if where == "after-total" else -(-total // count) * count + 1
        request = idp.request("importPage", startIndex=start, count=count)
        answer = client.send(request)
        still = total_of(client, idp, 1, count)[1] == total
        if still and number(dig(answer.json, "totalResults")) == total:
            break
    verdict.require("import.past-end", answer.status in request.accepts,
                    f"startIndex={start}&count={count} past totalResults={total} succeeds",
                    expected=list(request.accepts), actual=answer.status or answer.error, exchange=answer)
    body = list_of(answer)
    verdict.require("import.past-end", body is not None, "the answer is a ListResponse (not [], null or an HTML page)",
                    expected="ListResponse", actual=answer.excerpt(200), exchange=answer)
    own = number(body.get("totalResults"))
    if own is not None and own >= start:
        pytest.skip(f"the tenant grew past startIndex={start} during each of {WALKS} attempts: run on a quiet tenant")
    busy = "" if still else f" (totalResults not compared: the tenant kept changing during {WALKS} attempts)"
    verdict.check("import.past-end", not items(answer), "a page past the end holds no resources" + busy,
                  expected=0, actual=len(items(answer)), exchange=answer)
    verdict.check("import.past-end", number(body.get("itemsPerPage")) == 0,
                  "itemsPerPage is the number returned (0), not the count asked for",
                  expected=0, actual=body.get("itemsPerPage", "(absent)"), exchange=answer)
    if still:
        verdict.check("import.past-end", number(body.get("totalResults")) == total,
                      "totalResults is the same as on the first page", expected=total,
                      actual=body.get("totalResults", "(absent)"), exchange=answer)


@pytest.mark.requirement("import.count-zero")
def test_count_zero(idp, client, verdict, users):
    """Creates a user, then sends Okta's import page with count=0 (startIndex=1&count=0).

    Verifies: 200 with a ListResponse holding totalResults (at least the created user) and no resources
    (RFC 7644 §3.4.2.4).
    """
    needs_import(idp)
    given_user(client, idp, users)
    request = idp.request("importPage", startIndex=1, count=0)
    answer = client.send(request)
    verdict.require("import.count-zero", answer.status in request.accepts, "count=0 succeeds",
                    expected=list(request.accepts), actual=answer.status or answer.error, exchange=answer)
    body = list_of(answer)
    verdict.require("import.count-zero", body is not None,
                    "the answer is a ListResponse (not [], null or an HTML page)",
                    expected="ListResponse", actual=answer.excerpt(200), exchange=answer)
    total = number(body.get("totalResults"))
    verdict.check("import.count-zero", total is not None and total >= 1,
                  "totalResults counts the users (at least the one this check created)",
                  expected=">= 1", actual=body.get("totalResults", "(absent)"), exchange=answer)
    verdict.check("import.count-zero", not items(answer), "count=0 returns no resources",
                  expected=0, actual=len(items(answer)), exchange=answer)


@pytest.mark.requirement("import.paging-bounds")
def test_paging_bounds_are_read_not_refused(client, verdict, users):
    """Creates a user, then sends GET /Users?startIndex=1&count=2, the same with startIndex=0 and with
    startIndex=-5, and GET /Users?startIndex=1&count=-1 (RFC probes).

    Verifies: startIndex below 1 answers 200 with the page of startIndex=1 (startIndex 1, the same users),
    and a negative count answers 200 with no resources and a totalResults, like count=0 (RFC 7644
    §3.4.2.4, https://www.rfc-editor.org/rfc/rfc7644#section-3.4.2.4: «A value less than 1 SHALL be
    interpreted as 1»; «A negative value SHALL be interpreted as "0"»).
    """
    rfc_user(client, users)
    first = client.raw("GET", "/Users", query="startIndex=1&count=2", label="RFC GET /Users (startIndex=1)")
    if first.status != 200 or list_of(first) is None:
        pytest.skip(f"precondition failed: GET /Users?startIndex=1&count=2 answered {first.status or first.error} "
                    "(judged by import.*)")
    expected = [dig(r, "id") for r in resources(first)]
    for start in (0, -5):
        page = client.raw("GET", "/Users", query=f"startIndex={start}&count=2",
                          label=f"RFC GET /Users (startIndex={start})")
        verdict.check("import.paging-bounds", page.status == 200 and number(dig(page.json, "startIndex")) == 1
                      and [dig(r, "id") for r in resources(page)] == expected,
                      f"startIndex={start} is read as 1", expected=f"200, startIndex 1, ids {expected}",
                      actual=f"{page.status or page.error}, startIndex {dig(page.json, 'startIndex')}, "
                             f"ids {[dig(r, 'id') for r in resources(page)]}", exchange=page)
    negative = client.raw("GET", "/Users", query="startIndex=1&count=-1", label="RFC GET /Users (count=-1)")
    verdict.check("import.paging-bounds", negative.status == 200 and not items(negative)
                  and number(dig(negative.json, "totalResults")) is not None,
                  "count=-1 is read as 0: a totalResults and no resources",
                  expected="200, totalResults, no resources",
                  actual=f"{negative.status or negative.error}, totalResults {dig(negative.json, 'totalResults')}, "
                         f"{len(items(negative))} resource(s)", exchange=negative)
