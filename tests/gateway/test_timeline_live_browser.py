"""The timeline page live, in a real headless chromium: it subscribes to `activityChanged` for the person shown
(graphql-transport-ws), so an activity logged from the page turns from PENDING to SYNCED without a reload or a
refetch, and what others create, change or delete shows up by itself; when the socket drops it reconnects with
backoff and refetches the timeline, which brings what happened meanwhile."""

from __future__ import annotations

import re
import uuid
from datetime import date

import pytest

from tests.browser import offline_page
from tests.gateway.test_sign_in_browser import sign_in
from tests.gateway.test_timeline_writes_browser import (
    CLARA,
    a_study_site,
    candidates,
    fill_activity,
    open_person,
    person_to_write_for,
)

CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { id } userErrors { message } } }"""
UPDATE = """mutation($input: UpdateClinicalActivityInput!) { updateClinicalActivity(input: $input) {
  activity { id } userErrors { message } } }"""
DELETE = "mutation($id: ID!) { deleteClinicalActivity(id: $id) { deletedId } }"
# Every sync state a badge of the activity with this subject has shown, in order (kept by the page's DOM itself).
WATCH_BADGES = """subject => {
  window.__states = [];
  const seen = () => {
    for (const li of document.querySelectorAll('#timeline li.item')) {
      if (li.querySelector('.subject').textContent !== subject) continue;
      const states = [...li.querySelectorAll('.sync')].map(b => b.dataset.state).join(' ');
      if (window.__states[window.__states.length - 1] !== states) window.__states.push(states);
    }
  };
  new MutationObserver(seen).observe(document.getElementById('timeline'), { subtree: true, childList: true,
    attributes: true });
}"""


@pytest.fixture(scope="module")
def person(stack) -> dict:  # noqa: ANN001 - the shared e2e fixture
    return person_to_write_for(candidates(stack))


@pytest.fixture(scope="module")
def site(stack) -> dict:  # noqa: ANN001 - the shared e2e fixture
    return a_study_site(stack)


@pytest.fixture
def live_gateway(stack):  # noqa: ANN001, ANN201 - the shared e2e fixture; a Gateway
    """A gateway of its own that answers a write at once (its mirrors PENDING) and delivers them in the background,
    in its own process: on SQLite its events reach its own subscribers."""
    return stack.start_gateway(inline_delivery_s=0)


def timeline_requests(page) -> list[str]:  # noqa: ANN001 - a playwright page
    found: list[str] = []
    page.on("request", lambda r: found.append(r.url) if "query Timeline" in (r.post_data or "") else None)
    return found


def open_live(page, expect, gateway, person: dict, user: str = "Clara Oswald") -> None:  # noqa: ANN001
    """Sign `user` in on `gateway`'s timeline page and open `person`, with live updates on."""
    page.goto(f"{gateway.url}/")
    sign_in(page, expect, user)
    open_person(page, expect, person)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")


def new_input(person: dict, site: dict, subject: str) -> dict:
    return {"personId": person["id"], "context": {"studySiteId": site["id"]}, "date": date.today().isoformat(),
            "channel": "EMAIL", "completed": True, "subject": subject, "idempotencyKey": uuid.uuid4().hex}


@pytest.mark.browser
def test_badges_turn_synced_and_others_changes_show_live(stack, knobs, live_gateway, person, site) -> None:  # noqa
    from playwright.sync_api import expect

    clara = stack.as_user(CLARA, live_gateway)
    mine, theirs = f"Live {uuid.uuid4().hex[:8]}", f"Elsewhere {uuid.uuid4().hex[:8]}"
    for org in stack.orgs.values():
        knobs(org, latency_ms=400)  # the mirrors take a moment: PENDING is seen first
    with offline_page() as browser:
        page = browser.page
        open_live(page, expect, live_gateway, person)
        fetched = timeline_requests(page)
        page.evaluate("() => { window.__samePage = true; }")
        page.evaluate(WATCH_BADGES, mine)

        fill_activity(page, site, day=date.today().isoformat(), subject=mine)
        page.get_by_role("button", name="Log activity", exact=True).click()
        item = page.locator("#timeline li.item").first
        expect(item.locator(".subject")).to_have_text(mine)
        badges = item.locator(".sync")
        expect(badges).to_have_count(2)
        targets = badges.evaluate_all("els => els.map(e => e.dataset.target)")
        expect(badges).to_have_text([f"{target}: SYNCED" for target in targets], timeout=30_000)
        states = page.evaluate("() => window.__states")
        assert states[0] != "SYNCED SYNCED" and "PENDING" in states[0], states
        assert states[-1] == "SYNCED SYNCED", states
        assert fetched == [], "the badges changed by the subscription's events, not by reading the timeline again"
        assert page.evaluate("() => window.__samePage === true"), "no reload"

        # Someone else logs an activity for the person shown: it appears; changed, it changes; deleted, it goes.
        created = clara.gql(CREATE, {"input": new_input(person, site, theirs)})["data"]["createClinicalActivity"]
        other = page.locator(f"#timeline li.item[data-id='{created['activity']['id']}']")
        expect(other.locator(".subject")).to_have_text(theirs)
        expect(other).to_have_attribute("data-channel", "EMAIL")
        clara.gql(UPDATE, {"input": {"id": created["activity"]["id"], "channel": "VIDEO"}})
        expect(other).to_have_attribute("data-channel", "VIDEO")
        clara.gql(DELETE, {"id": created["activity"]["id"]})
        expect(other).to_have_count(0)
        assert fetched == [] and page.evaluate("() => window.__samePage === true")
        clara.gql(DELETE, {"id": item.get_attribute("data-id")})
        expect(page.locator("#timeline li.item", has_text=mine)).to_have_count(0)
    browser.assert_clean()


@pytest.mark.browser
def test_a_dropped_socket_reconnects_and_the_page_refetches(stack, live_gateway, person, site) -> None:  # noqa
    from playwright.sync_api import expect

    clara = stack.as_user(CLARA, live_gateway)
    subject = f"While away {uuid.uuid4().hex[:8]}"
    sockets: list = []
    down = {"now": False}

    def through(ws) -> None:  # noqa: ANN001 - a playwright WebSocketRoute: passed on to the gateway, unless down
        if down["now"]:
            ws.close(code=1011, reason="down")
            return
        ws.connect_to_server()
        sockets.append(ws)

    with offline_page() as browser:
        page = browser.page
        page.route_web_socket("**/graphql", through)
        page.goto(f"{live_gateway.url}/")
        sign_in(page, expect, "Clara Oswald")
        open_person(page, expect, person)
        status = page.locator("#live-status")
        expect(status).to_have_attribute("data-state", "live")
        fetched = timeline_requests(page)
        editable = page.locator("#timeline li.item:has(button.edit)").first
        focused_id = editable.get_attribute("data-id")
        editable.locator("button.edit").focus()

        # The connection drops and stays down for a while: the page says so and keeps trying.
        down["now"] = True
        sockets[-1].close(code=1011, reason="gone")
        expect(status).to_have_attribute("data-state", "reconnecting")
        expect(status).to_have_text("Live updates: reconnecting…")
        created = clara.gql(CREATE, {"input": new_input(person, site, subject)})["data"]["createClinicalActivity"]
        new_id = created["activity"]["id"]
        page.wait_for_timeout(1500)  # the event was sent while the page was away: it never got it
        expect(page.locator(f"#timeline li.item[data-id='{new_id}']")).to_have_count(0)

        # Back: subscribed again, and the timeline read again brings what happened meanwhile.
        down["now"] = False
        expect(status).to_have_attribute("data-state", "live", timeout=30_000)
        expect(page.locator(f"#timeline li.item[data-id='{new_id}']")).to_have_count(1)
        assert len(fetched) == 1, fetched
        # The list was drawn anew; the keyboard focus is still on the entry it was on.
        expect(page.locator(f"#timeline li.item[data-id='{focused_id}'] button.edit")).to_be_focused()
        clara.gql(DELETE, {"id": new_id})
        expect(page.locator(f"#timeline li.item[data-id='{new_id}']")).to_have_count(0)
    browser.assert_clean(console=False)
    assert all("WebSocket" in e for e in browser.console_errors), browser.console_errors


def overflow(gateway) -> None:  # noqa: ANN001 - a Gateway
    """More events at once than each subscriber of `gateway` can hold: their streams end with EVENTS_LOST."""
    from datasources import events

    for listener in list(gateway.server.config.app.state.services.store.events.local._listeners):
        burst = [events.ActivityEvent(events.Change.UPDATED, "clinical", f"0AC{i:012d}", None)
                 for i in range(events.QUEUE_MAX + 1)]
        listener._loop.call_soon_threadsafe(lambda lst=listener, b=burst: [lst._put(e) for e in b])


@pytest.mark.browser
def test_a_subscription_that_fell_behind_is_renewed_and_the_page_refetches(stack, live_gateway, person,  # noqa
                                                                           site) -> None:
    from playwright.sync_api import expect

    subject = f"Missed {uuid.uuid4().hex[:8]}"
    with offline_page() as browser:
        page = browser.page
        open_live(page, expect, live_gateway, person)
        fetched = timeline_requests(page)
        # Written through another gateway: on SQLite its event never reaches this page's gateway.
        elsewhere = stack.as_user(CLARA).gql(CREATE, {"input": new_input(person, site, subject)})
        new_id = elsewhere["data"]["createClinicalActivity"]["activity"]["id"]
        page.wait_for_timeout(500)
        expect(page.locator(f"#timeline li.item[data-id='{new_id}']")).to_have_count(0)

        overflow(live_gateway)  # the page's stream ends with EVENTS_LOST: it reads again and subscribes again
        expect(page.locator(f"#timeline li.item[data-id='{new_id}']")).to_have_count(1)
        assert len(fetched) == 1, fetched
        expect(page.locator("#errors")).to_be_hidden()
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        stack.as_user(CLARA, live_gateway).gql(DELETE, {"id": new_id})  # and it listens again
        expect(page.locator(f"#timeline li.item[data-id='{new_id}']")).to_have_count(0)
    browser.assert_clean()


LOG_CALL = """mutation($input: LogCallInput!) { logCall(input: $input) {
  callId activity { id } userErrors { message } } }"""


@pytest.mark.browser
def test_martin_gets_no_medical_activity_live(stack, live_gateway, person, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    clara = stack.as_user(CLARA, live_gateway)
    call, marker = f"Medical {uuid.uuid4().hex[:8]}", f"Clinical {uuid.uuid4().hex[:8]}"
    org = person["accounts"][0]["connection"]
    with offline_page() as browser:
        page = browser.page
        open_live(page, expect, live_gateway, person, "Martin Keller")

        # Clara logs a call sent to Clinical, then a clinical activity: Martin's page gets the second only (the
        # events come in order, so the first would be there by the time the second is).
        logged = clara.gql(LOG_CALL, {"input": {
            "connectionId": org["id"], "personId": person["id"], "date": date.today().isoformat(),
            "channel": "PHONE", "completed": True, "subject": call, "sendToClinical": True,
            "idempotencyKey": uuid.uuid4().hex}})["data"]["logCall"]
        assert logged["activity"], logged
        created = clara.gql(CREATE, {"input": new_input(person, site, marker)})["data"]["createClinicalActivity"]
        expect(page.locator("#timeline li.item", has_text=marker)).to_have_count(1)
        expect(page.locator("#timeline li.item", has_text=call)).to_have_count(0)
        assert set(page.locator("#timeline li.item").evaluate_all("els => els.map(e => e.dataset.kind)")) == {
            "CLINICAL"}
        clara.gql(DELETE, {"id": created["activity"]["id"]})
        expect(page.locator("#timeline li.item", has_text=marker)).to_have_count(0)
    browser.assert_clean()


@pytest.mark.browser
def test_a_live_update_keeps_the_keyboard_focus_where_it_was(stack, live_gateway, person, site) -> None:  # noqa
    """An entry changed elsewhere is drawn anew; a keyboard user on its "Delete" stays on its "Delete", and its
    dialog, closed, comes back to it."""
    from playwright.sync_api import expect

    clara = stack.as_user(CLARA, live_gateway)
    subject = f"Focus {uuid.uuid4().hex[:8]}"
    with offline_page() as browser:
        page = browser.page
        open_live(page, expect, live_gateway, person)
        created = clara.gql(CREATE, {"input": new_input(person, site, subject)})["data"]["createClinicalActivity"]
        item = page.locator(f"#timeline li.item[data-id='{created['activity']['id']}']")
        expect(item.locator(".subject")).to_have_text(subject)
        expect(item.locator(".sync")).to_have_text([re.compile(": SYNCED$")] * 2, timeout=30_000)
        item.locator("button.delete").focus()
        page.evaluate("() => { window.__before = document.querySelector('#timeline li.item:focus-within'); }")

        clara.gql(UPDATE, {"input": {"id": created["activity"]["id"], "channel": "VIDEO"}})
        expect(item).to_have_attribute("data-channel", "VIDEO")
        assert page.evaluate("() => window.__before !== document.querySelector(`#timeline li.item[data-id="
                             f"'{created['activity']['id']}']`)"), "the entry was drawn anew"
        expect(item.locator("button.delete")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#delete-cancel")).to_be_focused()

        # Changed again while its delete dialog is open: closing the dialog comes back to the entry shown now.
        clara.gql(UPDATE, {"input": {"id": created["activity"]["id"], "channel": "PHONE"}})
        expect(item).to_have_attribute("data-channel", "PHONE")
        page.keyboard.press("Escape")
        expect(item.locator("button.delete")).to_be_focused()
        clara.gql(DELETE, {"id": created["activity"]["id"]})
        expect(item).to_have_count(0)
    browser.assert_clean()
