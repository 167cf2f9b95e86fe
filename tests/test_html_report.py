"""conformance.html in a real browser: Debian's chromium, headless, driven by Playwright (`.ci/run` installs the
chromium package; Playwright's own browsers are never downloaded).

The report comes from a failing run against a reference server whose answers carry a hostile payload (a
<script>, an onerror handler) in a value the report shows as evidence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from suite_runs import external, run_suite

from scimcert.reference import ReferenceServer
from scimcert.reference.faults import layers_for
from scimcert.reference.layers import Answer, Exchange, Rewrite

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "<script>document.title='pwned';window.pwned=1</script><img src=x onerror=\"window.pwned=2\">"


def _hostile_display_name(ex: Exchange, answer: Answer) -> None:
    body = answer.body
    if isinstance(body, dict) and "userName" in body:
        answer.body = {**body, "displayName": HOSTILE}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    reports = tmp_path_factory.mktemp("html")
    layers = [*layers_for(["create-200-not-201"]), Rewrite(on_response=_hostile_display_name)]
    with ReferenceServer(layers=layers) as server:
        run = run_suite(reports, "--idp", "okta", suites="suites/test_create.py", env=external(server))
    assert run.returncode == 1, run.stdout[-2000:]
    return reports / "conformance.html"


@pytest.fixture(scope="module")
def page(report):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (.ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        opened = browser.new_page()
        requests: list[str] = []
        opened.on("request", lambda request: requests.append(request.url))
        dialogs: list[str] = []
        opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        opened.goto(report.as_uri())
        opened.wait_for_load_state("load")
        opened.requests, opened.dialogs = requests, dialogs
        yield opened
        browser.close()


def test_the_verdict_is_visible(page):
    verdict = page.locator(".verdict").first
    assert verdict.is_visible() and verdict.inner_text() == "FAIL"
    assert "create.created-201" in page.locator("#failures").inner_text()


def test_every_table_of_contents_link_resolves(page):
    links = page.locator("nav#toc a")
    targets = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert {"#verdict", "#matrix", "#defects", "#failures", "#requirements", "#certificate"} <= set(targets)
    for target in targets:
        assert page.locator(target).count() == 1, target
        page.click(f"nav#toc a[href='{target}']")
        assert page.evaluate("location.hash") == target and page.locator(target).is_visible()


def test_expanding_a_failure_shows_its_curl_line(page):
    evidence = page.locator("#failures details.evidence").first
    curl = evidence.locator("pre.curl")
    assert not curl.is_visible()  # folded until asked for
    evidence.locator("summary").click()
    assert curl.is_visible() and curl.inner_text().startswith("curl -sS -X POST ")
    assert "$SCIM_TOKEN" in curl.inner_text()


def test_the_page_makes_no_external_request(page, report):
    assert page.requests == [report.as_uri()]


def test_a_hostile_servers_script_in_evidence_stays_inert(page):
    page.locator("#failures details.evidence").first.locator("summary").click()
    assert page.evaluate("window.pwned") is None and page.title() == "scimcert conformance report"
    assert page.dialogs == []
    shown = page.locator("#failures details.evidence pre").all_text_contents()
    assert any("<script>document.title='pwned'" in text for text in shown)  # shown as text, not run


def test_sources_are_links_and_json_bodies_are_pretty_printed(page):
    sources = page.locator("#failures a[href^='https://']")
    assert sources.count() >= 1
    bodies = page.locator("#failures details.evidence pre").all_text_contents()
    assert any(text.startswith("{\n  \"") for text in bodies)
