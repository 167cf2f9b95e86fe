"""Update semantics RFC 7644 pins down beyond the IdPs' own requests (RFC probes, each on a user of its own
created by an RFC POST /Users): a replace of an attribute the user lacks, a value filter that matches
nothing, an add of a value already there, read-only values in a PUT, answers that reflect the stored user,
and the ETag header on every answer that returns a version."""

from __future__ import annotations

import uuid

import pytest

from scimcert.suites import PATCH_OP, dig, read_back, rfc_body, rfc_patch, rfc_user

NICKNAME = "Sam"
TITLE = "Principal Engineer"


def _read(client, user_id: str):
    return client.raw("GET", f"/Users/{user_id}", label="RFC GET /Users/{id}")


def _said(answer) -> str:
    return f"{answer.status or answer.error}: {answer.excerpt(200)}"


def _operation(op: str, path: str, value) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [{"op": op, "path": path, "value": value}]}


@pytest.mark.requirement("update.replace-missing-adds")
def test_replace_of_a_missing_attribute_adds_it(client, verdict, users):
    """Creates a user without a nickName (RFC POST /Users), then sends an RFC PATCH replace of path nickName
    and reads the user back. Where the nickName does not show, an RFC PATCH add of it tells a target that
    does not keep nickName at all (skipped) from one whose replace does not add.

    Verifies: 200 or 204, and GET shows the nickName (RFC 7644 §3.5.2.3,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.3: «If the target location path specifies an
    attribute that does not exist, the service provider SHALL treat the operation as an "add".»).
    """
    _, user_id, _ = rfc_user(client, users)
    if dig(read_back(client, user_id), "nickName") is not None:
        pytest.skip("precondition failed: the user created without a nickName reads back with one")
    answer = rfc_patch(client, user_id, _operation("replace", "nickName", NICKNAME), "RFC PATCH replace nickName (absent)")
    read = _read(client, user_id)
    shown = dig(read.json, "nickName") if read.status == 200 else None
    if answer.status not in (200, 204) or shown != NICKNAME:
        added = rfc_patch(client, user_id, _operation("add", "nickName", NICKNAME), "RFC PATCH add nickName")
        after = _read(client, user_id)
        if added.status not in (200, 204) or dig(after.json, "nickName") != NICKNAME:
            pytest.skip(f"the target does not keep a nickName even when added (add answered {_said(added)}; GET "
                        f"shows nickName {dig(after.json, 'nickName')!r}): a replace has nothing to add")
    verdict.check("update.replace-missing-adds", answer.status in (200, 204),
                  "the replace of the absent nickName succeeds (treated as an add)", expected=[200, 204],
                  actual=_said(answer), exchange=answer)
    if answer.status in (200, 204):
        verdict.check("update.replace-missing-adds", shown == NICKNAME, "GET shows the nickName the replace added",
                      expected=NICKNAME, actual=shown if read.status == 200 else read.status or read.error,
                      exchange=read)


@pytest.mark.requirement("update.value-filter-no-match")
def test_value_filter_matching_nothing_is_no_target(client, verdict, users):
    """Creates a user whose only email is of type work (RFC POST /Users), then sends an RFC PATCH replace of
    emails[type ne "work"].value, and reads the user back. The filter has no eq term, so it cannot describe
    a new element (Entra's emails[type eq "work"].value on a user without a work email expects one to be
    added, https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups,
    and is not sent here). A target that refuses the path itself (400 invalidFilter or invalidPath: no ne in
    value paths) is skipped.

    Verifies: 400 with scimType noTarget, and the emails unchanged (RFC 7644 §3.5.2.3,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.3: «If the target location is a multi-valued
    attribute for which a value selection filter ("valuePath") has been supplied and no record match was
    made, the service provider SHALL indicate failure by returning HTTP status code 400 and a "scimType"
    error code of "noTarget".»).
    """
    new, user_id, _ = rfc_user(client, users)
    before = read_back(client, user_id)
    types = [dig(e, "type") for e in dig(before, "emails") or []]
    if types != ["work"]:
        pytest.skip(f"precondition failed: the user created with one work email reads back with email types {types}")
    local, _, domain = new.email.rpartition("@")
    path = 'emails[type ne "work"].value'
    answer = rfc_patch(client, user_id, _operation("replace", path, f"{local}.other@{domain}"),
                       "RFC PATCH replace through a value filter matching nothing")
    scim_type = dig(answer.json, "scimType")
    if answer.status == 400 and scim_type in ("invalidFilter", "invalidPath"):
        pytest.skip(f"the target does not take the value path {path} (400 {scim_type}: {answer.excerpt(150)}): "
                    "whether a filter matching nothing is noTarget cannot be seen")
    verdict.check("update.value-filter-no-match", answer.status == 400 and scim_type == "noTarget",
                  "the replace through a value filter matching no element is refused with 400 noTarget",
                  expected="400 noTarget", actual=_said(answer), exchange=answer)
    after = _read(client, user_id)
    verdict.check("update.value-filter-no-match", after.status == 200 and dig(after.json, "emails") == dig(before, "emails"),
                  "the user's emails are unchanged", expected=dig(before, "emails"),
                  actual=dig(after.json, "emails") if after.status == 200 else after.status or after.error,
                  exchange=after)


@pytest.mark.requirement("update.add-existing-unchanged", "update.add-existing-succeeds")
def test_add_of_a_value_already_there(client, verdict, users):
    """Creates a user with one email (RFC POST /Users) and reads it, then sends an RFC PATCH add of emails
    holding that very element (as read), and reads the user again.

    Verifies: 200 or 204, the email not duplicated and meta.version kept (update.add-existing-succeeds,
    SHOULD), and meta.lastModified unchanged (update.add-existing-unchanged, MUST) (RFC 7644 §3.5.2.1,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2.1: «If the target location already contains the
    value specified, no changes SHOULD be made to the resource, and a success response SHOULD be returned.
    Unless other operations change the resource, this operation SHALL NOT change the modify timestamp of
    the resource.»). An add refused, or one that changed the user after all, leaves no unchanged user to judge:
    the MUST part is then skipped.
    """
    _, user_id, _ = rfc_user(client, users)
    before = read_back(client, user_id)
    emails = dig(before, "emails")
    if not isinstance(emails, list) or len(emails) != 1 or not isinstance(emails[0], dict):
        pytest.skip(f"precondition failed: the user created with one email reads back with emails {emails!r}")
    modified, version = dig(before, "meta", "lastModified"), dig(before, "meta", "version")
    answer = rfc_patch(client, user_id, _operation("add", "emails", emails), "RFC PATCH add the email already there")
    if not verdict.check("update.add-existing-succeeds", answer.status in (200, 204),
                         "the add of the email the user already has succeeds", expected=[200, 204],
                         actual=_said(answer), exchange=answer):
        verdict.skip("update.add-existing-unchanged", "the add of a value already there was refused: no change "
                     "to judge (judged by update.add-existing-succeeds)")
        return
    after = _read(client, user_id)
    if after.status != 200 or not isinstance(after.json, dict):
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {after.status or after.error} after the add")
    kept = dig(after.json, "emails") or []
    unchanged = verdict.check("update.add-existing-succeeds", len(kept) == 1, "the email is not duplicated",
                              expected=emails, actual=kept, exchange=after)
    if version is not None:
        verdict.check("update.add-existing-succeeds", dig(after.json, "meta", "version") == version,
                      "meta.version is unchanged", expected=version, actual=dig(after.json, "meta", "version"),
                      exchange=after)
    if modified is None:
        verdict.skip("update.add-existing-unchanged", "the user has no meta.lastModified (judged by schema.meta)")
        return
    if not unchanged:  # «Unless other operations change the resource»: this add did change it
        verdict.skip("update.add-existing-unchanged", "the add changed the user (the email was duplicated, judged by "
                     "update.add-existing-succeeds): a new lastModified is then the truth")
        return
    verdict.check("update.add-existing-unchanged", dig(after.json, "meta", "lastModified") == modified,
                  "meta.lastModified is unchanged", expected=modified,
                  actual=dig(after.json, "meta", "lastModified"), exchange=after)


@pytest.mark.requirement("update.readonly-put-ignored")
def test_put_ignores_read_only_values(client, verdict, users):
    """Creates a user (RFC POST /Users) and reads it, then sends an RFC PUT of the user as read with another
    id, meta.created "2001-01-01T00:00:00Z" and a group membership (groups is readOnly on a User, RFC 7643
    §4.1.2), and reads the original id and the id sent.

    Verifies: 200, with the read-only values ignored (RFC 7644 §3.5.1,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.5.1, readOnly: «Any values provided SHALL be ignored.»;
    RFC 7643 §7, https://www.rfc-editor.org/rfc/rfc7643#section-7: «The attribute SHALL NOT be modified.»), or
    400 with scimType mutability (RFC 7644 §3.12's example answers a PUT so: «Attribute 'id' is
    readOnly»); a 200 body names the original id; GET /Users/{original id} shows the user with its id and
    meta.created and without the group, and GET /Users/{the id sent} answers 404. Okta's PUT sends id and meta back as read
    (https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/), which is why they must be
    ignored rather than refused when they match.
    """
    _, user_id, _ = rfc_user(client, users)
    before = read_back(client, user_id)
    created = dig(before, "meta", "created")
    meta = before.get("meta") if isinstance(before.get("meta"), dict) else {}
    other = str(uuid.uuid4())
    body = {**before, "id": other, "meta": {**meta, "created": "2001-01-01T00:00:00Z"},
            "groups": [{"value": "scimcert-client-group", "display": "Not a group of this server"}]}
    answer = client.raw("PUT", f"/Users/{user_id}", body=body, label="RFC PUT with another id and meta.created")
    refused = answer.status == 400 and dig(answer.json, "scimType") == "mutability"
    verdict.check("update.readonly-put-ignored", answer.status == 200 or refused,
                  "the PUT is answered 200 with id and meta.created ignored (or refused with 400 mutability)",
                  expected="200 (or 400 mutability)", actual=_said(answer), exchange=answer)
    if answer.status == 200 and isinstance(answer.json, dict) and "id" in answer.json:
        verdict.check("update.readonly-put-ignored", str(answer.json["id"]) == user_id, "the PUT's answer keeps the id",
                      expected=user_id, actual=answer.json["id"], exchange=answer)
    after = _read(client, user_id)
    verdict.check("update.readonly-put-ignored", after.status == 200 and str(dig(after.json, "id")) == user_id,
                  "GET of the original id shows the user under that id", expected=user_id,
                  actual=dig(after.json, "id") if after.status == 200 else after.status or after.error, exchange=after)
    if created is not None and after.status == 200:
        verdict.check("update.readonly-put-ignored", dig(after.json, "meta", "created") == created,
                      "meta.created is kept", expected=created, actual=dig(after.json, "meta", "created"),
                      exchange=after)
    if after.status == 200:
        groups = [dig(g, "value") for g in dig(after.json, "groups") or [] if isinstance(g, dict)]
        verdict.check("update.readonly-put-ignored", "scimcert-client-group" not in groups, "the groups sent are ignored",
                      expected="no group scimcert-client-group", actual=groups or "(none)", exchange=after)
    elsewhere = _read(client, other)
    verdict.check("update.readonly-put-ignored", elsewhere.status == 404,
                  "no user answers under the id the PUT sent", expected=404, actual=_said(elsewhere), exchange=elsewhere)


def _state(value: object) -> object:
    """A value with the unassigned forms made one: absent, null and [] (RFC 7643 §2.5)."""
    return None if value in (None, []) else value


def _reflects(verdict, answer, read, user_id: str, what: str) -> None:
    """update.response-reflects-state: the 200 `answer` is the user `read` by a following GET, meta aside
    (its location may be relative in one and absolute in the other)."""
    body = answer.json
    if not verdict.check("update.response-reflects-state", isinstance(body, dict) and str(dig(body, "id")) == user_id,
                         f"the {what} answer carries the entire user (id {user_id})", expected=f"the user {user_id}",
                         actual=answer.excerpt(200) or "(an empty body)", exchange=answer):
        return
    if read.status != 200 or not isinstance(read.json, dict):
        pytest.skip(f"precondition failed: GET /Users/{user_id} answered {read.status or read.error} after the {what}")
    differ = sorted(str(k) for k in {*body, *read.json} - {"meta"} if _state(body.get(k)) != _state(read.json.get(k)))
    verdict.check("update.response-reflects-state", not differ,
                  f"the {what} answer is the user a following GET shows (meta aside)", expected="the same attributes",
                  actual={k: {f"{what} answer": body.get(k), "GET": read.json.get(k)} for k in differ} or "(the same)",
                  exchange=answer)


@pytest.mark.requirement("update.response-reflects-state")
def test_update_answers_reflect_the_stored_user(client, verdict, users):
    """Creates a user without active (RFC POST /Users) and reads it back, sends an RFC PATCH replace of its
    title and reads it back, then an RFC PUT of the body it was created with and another title, and reads it
    back again.

    Verifies: the 201 carries the entire user, equal to the following GET but for meta (defaults included,
    RFC 7644 §3.3: «the response body SHOULD contain the service provider's representation of the newly
    created resource»); a PATCH answered 200 carries the entire user, equal to the following GET but for meta (a 204
    is allowed and has nothing to compare; a PATCH that fails is judged elsewhere); the PUT answers 200 with
    the entire user, equal to the following GET but for meta (RFC 7644 §3.1,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.1: «SCIM responses SHALL reflect resource state as
    interpreted by the service provider»; §3.5.1: «a successful PUT operation returns a 200 OK response code
    and the entire resource within the response body»; §3.5.2: «the server either MUST return a 200 OK
    response code and the entire resource within the response body … or MAY return HTTP status code 204»).
    """
    new = users.new()
    sent = rfc_body(new, omit=("active", "displayName"))
    created = client.raw("POST", "/Users", body=sent, label="RFC POST /Users (without active)")
    user_id = created.created_id
    if created.status != 201 or user_id is None:
        pytest.skip(f"precondition failed: POST /Users answered {_said(created)} (judged by create.created-201)")
    if isinstance(created.json, dict) and created.json:  # a 201 without a body has nothing to compare
        _reflects(verdict, created, _read(client, user_id), user_id, "POST")
    patched = rfc_patch(client, user_id, _operation("replace", "title", TITLE), "RFC PATCH replace title")
    if patched.status == 200:
        _reflects(verdict, patched, _read(client, user_id), user_id, "PATCH")
    put = client.raw("PUT", f"/Users/{user_id}", body={**sent, "title": f"{TITLE} II"}, label="RFC PUT with a new title")
    verdict.require("update.response-reflects-state", put.status == 200, "the PUT answers 200", expected=200,
                    actual=_said(put), exchange=put)
    _reflects(verdict, put, _read(client, user_id), user_id, "PUT")


@pytest.mark.requirement("update.etag-header")
def test_etag_header_on_every_versioned_answer(client, verdict, users):
    """Where /ServiceProviderConfig declares etag support: creates a user (RFC POST /Users), reads it, sends
    an RFC PATCH replace of its title and an RFC PUT of the body it was created with and another title.

    Verifies: the 201, the GET, a PATCH answered 200 and a PUT answered 200 each carry an ETag header, equal
    to the body's meta.version where the body has one (RFC 7644 §3.14,
    https://www.rfc-editor.org/rfc/rfc7644#section-3.14: «When supported, SCIM ETags MUST be specified as an
    HTTP header and SHOULD be specified within the 'version' attribute contained in the resource's 'meta'
    attribute.»; RFC 7643 §3.1: version «must be the same as the entity-tag (ETag) HTTP response header»).
    A PATCH answered 204, or a write that fails (judged elsewhere), has no version to judge.
    """
    config = client.raw("GET", "/ServiceProviderConfig", label="RFC GET /ServiceProviderConfig")
    if dig(config.json, "etag", "supported") is not True:
        pytest.skip("the ServiceProviderConfig does not declare etag support (RFC 7644 §3.14 applies only then)")
    new = users.new()
    sent = rfc_body(new)
    created = client.raw("POST", "/Users", body=sent, label="RFC POST /Users")
    user_id = created.created_id
    if created.status != 201 or user_id is None:
        pytest.skip(f"precondition failed: POST /Users answered {created.status or created.error} "
                    "(judged by create.created-201)")
    answers = [("POST 201", created)]
    read = _read(client, user_id)
    if read.status == 200:
        answers.append(("GET", read))
    patched = rfc_patch(client, user_id, _operation("replace", "title", TITLE), "RFC PATCH replace title")
    if patched.status == 200:
        answers.append(("PATCH 200", patched))
    put = client.raw("PUT", f"/Users/{user_id}", body={**sent, "title": f"{TITLE} II"}, label="RFC PUT with a new title")
    if put.status == 200:
        answers.append(("PUT 200", put))
    for what, answer in answers:
        etag, version = answer.header("etag"), dig(answer.json, "meta", "version")
        verdict.check("update.etag-header", etag is not None, f"the {what} answer carries an ETag header",
                      expected=version or "an ETag header", actual=etag or "(none)", exchange=answer)
        if etag is not None and version is not None:
            verdict.check("update.etag-header", etag == version, f"the {what} answer's ETag is its meta.version",
                          expected=version, actual=etag, exchange=answer)
