"""The import walk's memory: a page's body is let go once read unless it is evidence (suites/test_import.py,
`Walk`), and a released exchange says where its body is (scimcert.client, `Exchange.release`)."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
from suite_runs import external, run_suite

from scimcert.client import RELEASED_KEEPS, Exchange
from scimcert.paths import SUITES
from scimcert.reference import ReferenceServer

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def suite_module():
    spec = importlib.util.spec_from_file_location("import_checks", SUITES / "test_import.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def page(number: int, ids: list[str], total: int, start: int, **envelope) -> Exchange:
    users = [{"id": i, "userName": f"{i}@example.com", "title": "x" * 1000} for i in ids]
    body = {"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start, "itemsPerPage": len(users),
            "Resources": users, **envelope}
    text = json.dumps(body)
    return Exchange("importPage", "GET", f"https://example.com/Users?startIndex={start}&count=2", {}, None,
                    id=f"main-{number}", status=200, response_text=text, _parsed=json.loads(text))


def test_pages_are_released_once_read_unless_they_are_evidence():
    """Five pages of two users: page 3 lists a user of page 1 again, page 4 states a wrong itemsPerPage. The
    first and last pages, the repeating page and the rule-breaking page keep their bodies; page 2 is
    released; every page keeps its ids and paging numbers for the judgement."""
    walk = suite_module().Walk(count=2)
    answers = [page(1, ["a", "b"], 10, 1), page(2, ["c", "d"], 10, 3), page(3, ["a", "e"], 10, 5),
               page(4, ["f", "g"], 10, 7, itemsPerPage=5), page(5, ["h", "i"], 10, 9)]
    for number, answer in enumerate(answers):
        walk.add(1 + 2 * number, answer)
    kept = [answer.id for answer in answers if _readable(answer)]
    assert kept == ["main-1", "main-3", "main-4", "main-5"]
    assert walk.ids == ["a", "b", "c", "d", "a", "e", "f", "g", "h", "i"]
    assert walk.twice == {"a"} and walk.repeated.answer is answers[2]
    assert walk.totals == [10] * 5 and [p.held for p in walk.pages] == [2] * 5
    assert walk.pages[3].envelope["itemsPerPage"] == 5


def test_a_released_body_names_the_transcript_and_cannot_be_read():
    answer = page(7, ["a", "b"], 2, 1)
    length = len(answer.response_text)
    answer.release()
    assert length > RELEASED_KEEPS
    assert answer.response_text.endswith(f"({length} characters; whole in the transcript, exchange main-7)")
    assert len(answer.response_text) < RELEASED_KEEPS + 100
    with pytest.raises(RuntimeError, match="main-7 was released"):
        answer.json  # noqa: B018


def _readable(answer: Exchange) -> bool:
    try:
        return answer.json is not None
    except RuntimeError:
        return False


def test_the_small_walk_of_a_large_tenant_passes_a_server_that_caps_pages(tmp_path):
    """1,000 users and a server whose pages hold at most 100 (its ServiceProviderConfig filter.maxResults):
    the small walk (about 8 pages) never asks for more than Okta's count of 100, so a page the server is
    allowed to cut (RFC 7644 §3.4.2.4: «it MAY return fewer results») is no false failure."""
    with ReferenceServer(seed_users=1000) as server:
        run = run_suite(tmp_path, "-k", "test_import_walk or test_import_order_is_stable", "--idp", "okta",
                        env=external(server), suites="suites/test_import.py")
    outcomes = {(c["nodeid"].split("::")[-1], r["requirement"]): r["outcome"] for c, r in run.results()}
    assert run.returncode == 0, run.stdout[-2000:]
    assert outcomes[("test_import_walk[okta-small]", "import.walk-complete")] == "passed"
    assert outcomes[("test_import_order_is_stable[okta]", "import.stable-order")] == "passed"


@pytest.mark.parametrize("total", [0, 1, 2, 6, 7, 16, 24, 203, 204, 799, 800, 1000])
def test_the_small_walk_leaves_its_last_page_short(total, monkeypatch):
    """The small walk's count (about 8 pages, 2 to Okta's 100 a page) leaves the last page short where a
    smaller count can: a full last page cannot tell an itemsPerPage that echoes the count from the number
    returned, so whether that fault is seen would depend on the tenant's size. It never grows: a
    totalResults that is only the page size stays below the check's own users."""
    module = suite_module()
    monkeypatch.setattr(module, "total_of", lambda client, idp, start, count: (None, total))
    monkeypatch.setattr(module, "okta_count", lambda idp: 100)
    count = module.small_count(None, None)
    first = min(100, max(2, -(-total // 8)))  # about 8 pages
    assert 2 <= count <= first
    assert total % count or count == 2
    assert count == first or total % first == 0  # moved only off a full last page


@pytest.mark.parametrize("user_id", ["2819c223-7f76-453a-919d-413861904646", "2819C223-7F76-453A-919D-413861904646",
                                     "{2819c223-7f76-453a-919d-413861904646}", "2819c2237f76453a919d413861904646",
                                     "42", "user@example.com", ""])
def test_a_walk_keeps_every_id_exactly(user_id):
    """A canonical UUID is kept as its number, any other spelling as it is: each comes back as sent, and two
    spellings of one UUID stay two ids."""
    module = suite_module()
    assert module.text(module.key(user_id)) == user_id
    canonical = module.key("2819c223-7f76-453a-919d-413861904646")
    assert (module.key(user_id) == canonical) == (user_id == "2819c223-7f76-453a-919d-413861904646")
