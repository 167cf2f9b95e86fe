"""Guest checks: guests (users outside the organization's domains) are invisible to SCIM: never listed,
counted, found, readable, writable or creatable (Asana's SCIM docs, https://developers.asana.com/docs/scim; GET /Users and
GET /Users/:id do not return guest users; the rest is tenant policy inferred from them and from the Asana Guests FAQ,
https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ)."""

from __future__ import annotations

import pytest

from scimcert.suites import (
    CORE_USER,
    dig,
    found_nobody,
    integer_paging,
    list_of,
    named,
    needs,
    number,
    resources,
    values_for,
)

NO_GUESTS = "SCIM_GUESTS is not set"
MAX_PAGES = 200  # 20,000 users at Okta's 100 a page
WALKS = 3  # the tenant changes while other checks run: a count is compared on a walk whose total held still


def _guests(target) -> tuple:
    if not target.guests:
        pytest.skip(NO_GUESTS)
    return target.guests


def _with_ids(target) -> list:
    guests = [g for g in _guests(target) if g.id]
    if not guests:
        pytest.skip("no guest id configured (SCIM_GUESTS=userName=id): the id-based checks need one")
    return guests


def _walk(client, idp):
    """Every page of the IdP's import step from startIndex 1 until totalResults is reached (advancing by
    the users received, so short pages lose nobody). Returns (pages, totals seen); skips when the import
    itself fails (judged by import.*)."""
    needs(idp, "importPage")
    pages, totals, start = [], [], 1
    for _ in range(MAX_PAGES):
        request = idp.request("importPage", startIndex=start)
        page = client.send(request)
        body = list_of(page)
        if page.status not in request.accepts or body is None or not integer_paging(body):
            pytest.skip(f"precondition failed: the import page at startIndex {start} answered "
                        f"{page.status or page.error} without integer paging (judged by import.*)")
        pages.append(page)
        totals.append(body["totalResults"])
        start += len(resources(page))
        if not resources(page) or start > body["totalResults"]:
            return pages, totals
    pytest.skip(f"the import did not end within {MAX_PAGES} pages")


def _is_guest(resource: dict, guests) -> bool:
    return any(str(resource.get("userName", "")).casefold() == g.userName.casefold()
               or (g.id and str(resource.get("id")) == g.id) for g in guests)


@pytest.mark.quiet_tenant  # it compares totalResults with the users it walks
@pytest.mark.requirement("guests.not-listed")
def test_guests_not_listed(idp, client, verdict, target):
    """Walks every page of the IdP's import (Okta: GET /Users?startIndex=1&count=100, onwards).

    Verifies: no guest appears (userName compared case-insensitively, or the guest's id) in any page,
    and totalResults equals the number of users walked, guests not counted (Asana's SCIM docs, https://developers.asana.com/docs/scim). Other
    checks create users meanwhile, so the count is compared on a walk whose totalResults held still
    (up to three walks); when none does, only the pages are judged.
    """
    guests = _guests(target)
    pages, totals = _walk(client, idp)
    for page in pages:
        shown = [{"id": r.get("id"), "userName": r.get("userName")} for r in resources(page) if _is_guest(r, guests)]
        verdict.check("guests.not-listed", not shown, "the import page holds no guest",
                      expected="no guest among the Resources", actual=shown or "(none)", exchange=page)
    counted = None
    for attempt in range(WALKS):
        if attempt:
            pages, totals = _walk(client, idp)
        members = {str(r.get("id") or r.get("userName")) for page in pages for r in resources(page)
                   if not _is_guest(r, guests)}
        if len(set(totals)) == 1:
            counted = (pages[-1], totals[0], len(members))
            if len(members) == totals[0]:
                break
    if counted is not None:
        last, total, walked = counted
        verdict.check("guests.not-listed", walked == total,
                      "totalResults counts exactly the members the import walks (guests not counted)",
                      expected=f"totalResults {walked} (the distinct non-guest users on all pages)",
                      actual=f"totalResults {total}", exchange=last)


@pytest.mark.quiet_tenant  # it must not meet what guests.create-rejected creates and deletes at once
@pytest.mark.requirement("guests.not-found-by-filter")
def test_guests_not_found_by_filter(idp, client, verdict, target):
    """Sends the IdP's existence check (Okta: filter=userName eq "<guest>"; OneLogin, Entra: theirs) for
    each configured guest.

    Verifies: 200 with totalResults 0 and no resource, or the 404 an IdP takes as "nobody" (OneLogin)
    (tenant policy inferred from Asana's SCIM docs, https://developers.asana.com/docs/scim).
    """
    for guest in _guests(target):
        lookup = idp.request("findUser", userName=guest.userName)
        found = client.send(lookup)
        verdict.check("guests.not-found-by-filter", found_nobody(found, lookup)
                      and (found.status == 404 or number(dig(found.json, "totalResults")) == 0),
                      f"the filter for guest {guest.userName} finds nobody",
                      expected="200 with totalResults 0 and no Resources" + (" (or 404)" if 404 in lookup.accepts else ""),
                      actual=f"{found.status or found.error}; totalResults {dig(found.json, 'totalResults')}; "
                             f"{len(resources(found))} resource(s)", exchange=found)


def _by_id(client, idp, users, guest) -> list:
    """The requests a guest's id receives: senders taking an id, each named for the evidence."""
    values = values_for(users.new(), userName=guest.userName, email=guest.userName, active=True)
    body = {"schemas": [CORE_USER], "userName": guest.userName, "active": True,
            "emails": [{"value": guest.userName, "type": "work", "primary": True}]}
    senders = [lambda i: client.send(idp.request("getUser", id=i))]
    senders += [lambda i, v=v: client.send(idp.request("updateUser", v, **values, id=i, current=body))
                for v in idp.variants("updateUser")]
    if idp.has("deleteUser"):
        senders.append(lambda i: client.send(idp.request("deleteUser", id=i)))
    else:
        senders.append(lambda i: client.raw("DELETE", f"/Users/{i}", label="RFC DELETE /Users/{id}"))
    return senders


@pytest.mark.requirement("guests.id-404")
def test_guest_ids_answer_404(idp, client, verdict, target, users):
    """For each configured guest id: the IdP's read (GET /Users/{id}), its updates in each shape (Okta:
    PUT of a plausible body, the guest's userName and email with active true; path-less PATCH replace
    of active true, a no-op on an active guest; OneLogin: its template PUT; Entra: its PATCHes) and its
    DELETE (an RFC DELETE /Users/{id} for IdPs that never delete); each also for an id that does not exist. The guests configured should be disposable: a target failing this
    check really writes (and deletes) them.

    Verifies: each answers 404, or at least exactly what the unknown id answers (a request shape refused
    before the lookup is judged by update.*): guests are invisible to SCIM (Asana's SCIM docs,
    https://developers.asana.com/docs/scim).
    """
    unknown = idp.unknown_ids[0] if idp.unknown_ids else "scimcert-unknown-id-0000"
    for guest in _with_ids(target):
        for send in _by_id(client, idp, users, guest):
            answer, stranger = send(guest.id), send(unknown)
            like_unknown = answer.status is not None and 400 <= answer.status < 500 and answer.status == stranger.status
            verdict.check("guests.id-404", answer.status == 404 or like_unknown,
                          f"{answer.label} on the id of guest {guest.userName} answers 404, like an unknown id",
                          expected=f"404 (an unknown id answers {stranger.status or stranger.error})",
                          actual=answer.status or answer.error, exchange=answer)


@pytest.mark.holds_writes("guest-usernames")  # no guest check, nor another IdP's create, meets its member
@pytest.mark.requirement("guests.create-rejected")
def test_guest_create_rejected(idp, client, verdict, target, users):
    """Sends the IdP's create for each configured guest's userName and email, then the IdP's filter.

    Verifies: 4xx, and no user created under that userName (tenant policy inferred from the Asana Guests FAQ,
    https://help.asana.com/hc/en-us/articles/14070393544859-Guests-FAQ; a guest's email is outside the
    organization's domains). A member the target creates anyway is deleted at once: it bears the guest's
    userName, and neither the guest checks nor another IdP's create must meet it (under pytest-xdist it
    holds the tenant writing until it is gone, scimcert/quiet.py).
    """
    guest_ids = {g.id for g in _guests(target) if g.id}
    for guest in _guests(target):
        values = values_for(users.new(), userName=guest.userName, email=guest.userName)
        answer = client.send(idp.request("createUser", **values))
        verdict.check("guests.create-rejected", answer.status is not None and 400 <= answer.status < 500,
                      f"creating guest {guest.userName} as a member is refused",
                      expected="4xx", actual=answer.status or answer.error, exchange=answer)
        found = client.send(idp.request("findUser", userName=guest.userName))
        listed = named(found, guest.userName) if found.status == 200 else []
        created = [str(r.get("id")) for r in listed if str(r.get("id")) not in guest_ids]  # the guest's own record
        if found.status == 200:  # leaking into the filter is guests.not-found-by-filter
            verdict.check("guests.create-rejected", not created, f"no user {guest.userName} was created",
                          expected="no user other than the guest itself", actual=created or "(none)",
                          exchange=found)
        members = [*created, *([str(answer.created_id)] if answer.created_id is not None else [])]
        for member in dict.fromkeys(m for m in members if m not in guest_ids):  # never the guest itself
            client.raw("DELETE", f"/Users/{member}", label="remove the member created with a guest's userName")
