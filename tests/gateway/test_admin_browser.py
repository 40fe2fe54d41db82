"""The admin page in a real headless chromium against the gateway over the stand-ins: ada.admin sees a mirror FAILED
during an org outage with its last error and the org's health, retries it once the org is back and sees it SYNCED;
disables and enables a connection with the keyboard; filters the audit log by user and by action. clara.oswald (no
CONNECTION_ADMIN) is told she needs the permission and the page asks the API for no admin data."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from tests.browser import check_view, offline_page
from tests.conftest import global_id
from tests.gateway.test_sign_in_browser import sign_in

CLARA = "clara.oswald@ctms.example.com"
AMIR = "amir.haddad@ctms.example.com"
AUDIT_PAGE = 25  # the admin page's audit page size
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { id sync { connection { name } state } } userErrors { code } } }"""
SYNC = """query($id: ID!) { node(id: $id) { ... on ClinicalActivity { sync { connection { name } state } } } }"""
ENABLED = "{ connections { name enabled } }"
ADMIN_FIELDS = ("auditEntries", "failedMirrors", "backlog", "connections", "retrySync", "updateConnection")


def sync_of(gql: Callable[..., dict], activity_id: str) -> dict[str, str]:
    return {s["connection"]["name"]: s["state"] for s in gql(SYNC, {"id": activity_id})["data"]["node"]["sync"]}


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def failed_activity(stack, knobs) -> tuple[object, str]:  # noqa: ANN001 - the e2e fixtures
    """A gateway that gives up after one attempt, and a new activity whose eu mirror FAILED in an eu outage."""
    gw = stack.start_gateway(max_attempts=1, worker_interval_s=0.1)
    knobs(stack.orgs["eu"], outage="503")
    body = gw.gql(CREATE, {"input": {
        "personId": global_id("Person", "0PE000000000003"), "context": {"studySiteId": global_id("StudySite",
                                                                                                   "0SI000000000001")},
        "date": (date.today() - timedelta(days=1)).isoformat(), "channel": "PHONE", "completed": True,
        "subject": "admin page retry"}})
    activity_id = body["data"]["createClinicalActivity"]["activity"]["id"]
    wait_for(lambda: sync_of(gw.gql, activity_id) == {"us": "SYNCED", "eu": "FAILED"}, "the eu mirror to fail")
    return gw, activity_id


def connection_enabled(gql: Callable[..., dict], name: str) -> bool:
    return next(c["enabled"] for c in gql(ENABLED)["data"]["connections"] if c["name"] == name)


@pytest.mark.browser
def test_admin_retries_a_failed_mirror_toggles_a_connection_and_filters_the_audit_log(stack, knobs) -> None:  # noqa
    from playwright.sync_api import expect

    gw, activity_id = failed_activity(stack, knobs)
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{gw.url}/admin")
        sign_in(page, expect, "Ada Admin")
        row = page.locator(f"#failed tr[data-activity-id='{activity_id}']")
        expect(row).to_be_visible()
        expect(row.locator("td[data-label='Connection']")).to_have_text("eu")
        expect(row.locator("td[data-label='Last error']")).not_to_have_text("—")
        expect(page.locator("#connections tr[data-name='eu'] td[data-label='Health']")).to_contain_text("unreachable")
        expect(page.locator("#connections tr[data-name='us'] td[data-label='Health']")).to_have_text("reachable")
        check_view(page, "admin-failed")

        knobs(stack.orgs["eu"], outage=None)
        row.get_by_role("button", name="Retry").click()
        expect(page.locator("#failed-status")).to_contain_text("eu: SYNCED")
        expect(row).to_have_count(0)
        # The retry ends by redrawing the tables and moving the keyboard to the failed list's heading: only then
        # is the connections table the one to press keys in.
        expect(page.locator("#failed-heading")).to_be_focused()
        assert sync_of(gw.gql, activity_id) == {"us": "SYNCED", "eu": "SYNCED"}

        toggle_with_keyboard(page, expect, gw, "us")
        page.get_by_role("button", name="Test us").click()  # testConnection: one verdict per check
        expect(page.locator("#test-result h3")).to_have_text("us: every check passed")
        expect(page.locator("#test-result li.ok")).to_have_count(5)
        filter_audit_log(page, expect)
        page_through_audit_log(page, expect, stack)
    browser.assert_clean(console=False)
    # The only console errors: /readyz answering 503 while eu was down (chromium reports every 5xx it fetches).
    assert all("503" in e for e in browser.console_errors), browser.console_errors


def toggle_with_keyboard(page, expect, gw, name: str) -> None:  # noqa: ANN001 - playwright objects, a Gateway
    """Disable, then enable, the connection `name` with Enter on its focused button."""
    try:
        page.get_by_role("button", name=f"Disable {name}").focus()
        page.keyboard.press("Enter")
        expect(page.locator(f"#connections tr[data-name='{name}']")).to_have_attribute("data-enabled", "false")
        expect(page.locator(f"#connections tr[data-name='{name}'] td[data-label='Health']")).to_have_text("disabled")
        assert not connection_enabled(gw.gql, name)
        expect(page.get_by_role("button", name=f"Enable {name}")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator(f"#connections tr[data-name='{name}']")).to_have_attribute("data-enabled", "true")
        assert connection_enabled(gw.gql, name)
    finally:
        if not connection_enabled(gw.gql, name):  # the rest of the session needs the org
            gw.gql("mutation($id: ID!) { updateConnection(input: {id: $id, enabled: true}) { userErrors { code } } }",
                   {"id": global_id("Connection", name)})


def filter_audit_log(page, expect) -> None:  # noqa: ANN001 - playwright objects
    """By action (typed, Enter submits), by user, then both cleared."""
    rows = page.locator("#audit tbody tr")
    page.locator("#audit-action").fill("retrySync")
    page.locator("#audit-action").press("Enter")
    expect(page.locator("#audit-status")).to_contain_text("matching the filter")
    assert rows.count() >= 1
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.operation)")) == {"retrySync"}
    page.locator("#audit-action").fill("")
    page.locator("#audit-user").fill("clara.oswald")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-status")).to_contain_text("matching the filter")
    actors = rows.locator(".actor").all_inner_texts()
    assert all(CLARA in a for a in actors), actors
    page.locator("#audit-user").fill("ada.admin")
    page.locator("#audit-action").fill("updateConnection")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-status")).to_contain_text("matching the filter")
    expect(rows.first).to_have_attribute("data-operation", "updateConnection")
    assert all("ada.admin" in a for a in rows.locator(".actor").all_inner_texts())
    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#audit-status")).not_to_contain_text("matching")


def page_through_audit_log(page, expect, stack) -> None:  # noqa: ANN001 - playwright objects, the e2e fixture
    """More entries than a page (25): "Load more entries" adds the next ones, none twice."""
    amir = stack.as_user(AMIR)
    for _ in range(AUDIT_PAGE + 2):  # each request's refusal is one entry
        amir.gql("{ backlog { pending } }")
    page.locator("#audit-user").fill("amir.haddad")
    page.locator("#audit-action").fill("backlog")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(AUDIT_PAGE)
    page.get_by_role("button", name="Load more entries").click()
    expect(page.locator("#audit-status")).not_to_contain_text(f"{AUDIT_PAGE} entries")
    texts = rows.evaluate_all("rs => rs.map(r => r.textContent)")
    assert len(texts) >= AUDIT_PAGE + 2
    stamps = rows.locator("time").evaluate_all("ts => ts.map(t => t.getAttribute('datetime'))")
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) == len(stamps), stamps


@pytest.mark.browser
def test_a_user_without_connection_admin_sees_no_admin_data(stack) -> None:  # noqa: ANN001 - the e2e fixture
    from playwright.sync_api import expect

    with offline_page() as browser:
        page = browser.page
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.post_data or "") if r.url.endswith("/graphql") else None)
        page.goto(f"{stack.url}/admin")
        sign_in(page, expect, "Clara Oswald")
        expect(page.locator("#forbidden")).to_be_visible()
        expect(page.locator("#forbidden")).to_contain_text("connection admin permission")
        expect(page.locator("#main")).to_be_hidden()
        assert page.locator("tbody tr").count() == 0
        queries = [json.loads(body)["query"] for body in asked if body]
        assert queries, "the page asked who the viewer is"
        assert not [q for q in queries if any(f in q for f in ADMIN_FIELDS)], queries
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        expect(page.locator("#admin-link")).to_be_hidden()
    browser.assert_clean()
