"""Writing from the timeline page in a real headless chromium against the real gateway over the stand-ins: Clara logs a
completed phone activity against a study site (chosen with the search-as-you-type picker), edits its channel and
deletes it after a confirmation; a refused write shows the server's error next to its field and keeps the values; a
double click and a retried request write once; she logs a call and sends it to Clinical; Martin (no medical view)
sees no medical activity and none of the call controls."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest

from tests.browser import check_view, offline_page
from tests.gateway.test_sign_in_browser import sign_in

CLARA = "clara.oswald@ctms.example.com"
MARTIN = "martin.keller@ctms.example.com"
# People whose timeline starts before today (so an activity logged today goes to the top), with their study roles
# and CRM accounts, as Clara reads them.
CANDIDATES = """{ people(first: 40) { edges { node { id firstName lastName
  accounts { connection { id name } } studyRoles { id }
  top: timeline(first: 1) { edges { node { date } } }
  medical: timeline(first: 1, filter: {kinds: [MEDICAL]}) { edges { node { id } } } } } } }"""
SITE = """{ studies(first: 1) { edges { node { name sites { id name } } } } }"""
ACTIVITY = """query($id: ID!) { node(id: $id) { ... on ClinicalActivity { channel status subject date
  context { __typename ... on StudySite { id } } } } }"""


def subject_rows(ctms_api, subject: str) -> list[dict]:  # noqa: ANN001 - the fixture's REST client
    """The CTMS records with this subject, read from the stand-in itself."""
    return ctms_api.rows(f"SELECT id FROM crm_activity__v WHERE subject__v = '{subject}'")


def candidates(stack) -> list[dict]:  # noqa: ANN001 - the shared e2e fixture
    edges = stack.as_user(CLARA).gql(CANDIDATES)["data"]["people"]["edges"]
    return [e["node"] for e in edges]


def person_to_write_for(people: list[dict]) -> dict:
    """Someone with accounts in both orgs, whose newest activity is older than today."""
    today = date.today().isoformat()
    return next(p for p in people if len(p["accounts"]) == 2
                and all(e["node"]["date"] < today for e in p["top"]["edges"]))


def a_study_site(stack) -> dict:  # noqa: ANN001 - the shared e2e fixture
    study = stack.as_user(CLARA).gql(SITE)["data"]["studies"]["edges"][0]["node"]
    return {**study["sites"][0], "study": study["name"]}


@pytest.fixture(scope="module")
def people(stack) -> list[dict]:  # noqa: ANN001
    return candidates(stack)


@pytest.fixture(scope="module")
def person(people) -> dict:  # noqa: ANN001
    return person_to_write_for(people)


@pytest.fixture(scope="module")
def site(stack) -> dict:  # noqa: ANN001
    return a_study_site(stack)


def open_person(page, expect, person: dict) -> None:  # noqa: ANN001 - playwright objects
    page.locator("#search").fill(person["lastName"])
    page.locator("#search-form button[type=submit]").click()
    page.locator(f"#people button[data-id='{person['id']}']").click()
    expect(page.locator("#person-name")).to_have_text(f"{person['firstName']} {person['lastName']}")
    expect(page.locator("#timeline")).to_have_attribute("aria-busy", "false")


def fill_activity(page, site: dict, *, day: str, subject: str, completed: bool = True) -> None:  # noqa: ANN001
    """Open "Log an activity" and fill it: the site through the picker (typed, then chosen with the keyboard)."""
    panel = page.locator("#log-activity-panel")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    picker = page.get_by_role("combobox", name="Context")
    picker.fill(site["name"])
    option = page.locator(f"#activity-context-options [role=option][data-id='{site['id']}']")
    option.wait_for()
    for _ in range(40):  # down the list to the site, as a keyboard user would
        picker.press("ArrowDown")
        if option.get_attribute("aria-selected") == "true":
            break
    picker.press("Enter")
    page.locator("#activity-date").fill(day)
    page.locator("#activity-channel").select_option("PHONE")
    page.locator("#activity-completed").set_checked(completed)
    page.locator("#activity-subject").fill(subject)


@pytest.mark.browser
def test_clara_logs_edits_and_deletes_an_activity(stack, ctms_api, person, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    clara = stack.as_user(CLARA)
    subject = f"Site call {uuid.uuid4().hex[:8]}"
    today = date.today().isoformat()
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        open_person(page, expect, person)
        expect(page.locator("#log-call-panel")).to_be_visible()  # she may view medical activities

        fill_activity(page, site, day=today, subject=subject)
        expect(page.get_by_role("combobox", name="Context")).to_have_value(
            f"Study site: {site['name']} — {site['study']}")
        expect(page.locator("#activity-date-hint")).to_have_text("")
        check_view(page, "timeline-log-activity")
        page.get_by_role("button", name="Log activity", exact=True).click()

        top = page.locator("#timeline li.item").first
        expect(top.locator(".subject")).to_have_text(subject)
        expect(page.locator("#activity-status")).to_have_text(f"Logged: phone activity of {today}.")
        expect(page.locator("#activity-subject")).to_have_value("")  # the form is ready for the next one
        activity_id = top.get_attribute("data-id")
        assert top.get_attribute("data-channel") == "PHONE" and top.get_attribute("data-status") == "COMPLETED"
        expect(top.locator(".meta")).to_contain_text(f"Study site: {site['name']}")
        stored = clara.gql(ACTIVITY, {"id": activity_id})["data"]["node"]
        assert stored["context"] == {"__typename": "StudySite", "id": site["id"]}
        assert (stored["date"], stored["subject"]) == (today, subject)
        assert len(subject_rows(ctms_api, subject)) == 1

        # Edit: the dialog opens on the activity's values; the channel changes, in the list and in the CTMS.
        top.get_by_role("button", name=f"Edit phone activity of {today}").click()
        dialog = page.get_by_role("dialog", name="Edit activity")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_label("Subject")).to_have_value(subject)
        check_view(page, "timeline-edit-dialog")
        dialog.get_by_label("Channel").select_option("VIDEO")
        dialog.get_by_role("button", name="Save changes").click()
        expect(dialog).to_be_hidden()
        item = page.locator(f"#timeline li.item[data-id='{activity_id}']")
        expect(item).to_have_attribute("data-channel", "VIDEO")
        assert clara.gql(ACTIVITY, {"id": activity_id})["data"]["node"]["channel"] == "VIDEO"

        # Delete: a confirmation first; "Cancel" keeps it, "Delete" removes it everywhere.
        item.get_by_role("button", name=f"Delete video activity of {today}").click()
        confirm = page.get_by_role("dialog", name="Delete this activity?")
        expect(confirm).to_contain_text(subject)
        expect(page.locator("#delete-cancel")).to_be_focused()
        check_view(page, "timeline-delete-dialog")
        page.keyboard.press("Escape")
        expect(confirm).to_be_hidden()
        expect(item).to_have_count(1)
        item.get_by_role("button", name=f"Delete video activity of {today}").click()
        confirm.get_by_role("button", name="Delete", exact=True).click()
        expect(confirm).to_be_hidden()
        expect(item).to_have_count(0)
        assert subject_rows(ctms_api, subject) == []
        assert clara.gql(ACTIVITY, {"id": activity_id})["data"]["node"] is None
    browser.assert_clean()


@pytest.mark.browser
def test_a_refused_write_shows_the_error_next_to_its_field_and_keeps_the_values(stack, ctms_api, person,
                                                                                 site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    subject = f"Future call {uuid.uuid4().hex[:8]}"
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        open_person(page, expect, person)
        page.locator("#log-activity-panel summary").click()
        # Nothing chosen yet: the picker says what the rule is.
        expect(page.locator("#activity-context-hint")).to_contain_text("exactly one context")
        fill_activity(page, site, day=tomorrow, subject=subject)
        # The rule shows while typing: a completed activity cannot be in the future.
        hint = page.locator("#activity-date-hint")
        expect(hint).to_have_attribute("data-rule", "COMPLETED_IN_FUTURE")
        page.locator("#activity-completed").uncheck()
        expect(hint).to_have_text("A future date: this activity is planned.")
        page.locator("#activity-completed").check()

        # Sent anyway: the server's rule (domain/) refuses it, its message shows next to "Completed".
        page.get_by_role("button", name="Log activity", exact=True).click()
        error = page.locator("#activity-completed-error")
        expect(error).to_be_visible()
        expect(error).to_contain_text("cannot be completed; plan it instead")
        expect(error).to_have_attribute("data-code", "COMPLETED_IN_FUTURE")
        expect(page.locator("#activity-completed")).to_have_attribute("aria-invalid", "true")
        check_view(page, "timeline-refused-write")
        # Nothing is lost: every value is still in the form, and nothing was written.
        expect(page.get_by_role("combobox", name="Context")).to_have_value(
            f"Study site: {site['name']} — {site['study']}")
        expect(page.locator("#activity-date")).to_have_value(tomorrow)
        expect(page.locator("#activity-subject")).to_have_value(subject)
        expect(page.locator("#activity-completed")).to_be_checked()
        expect(page.locator("#activity-channel")).to_have_value("PHONE")
        assert subject_rows(ctms_api, subject) == []

        # Planned instead, it goes through; the error is gone.
        page.locator("#activity-completed").uncheck()
        page.get_by_role("button", name="Log activity", exact=True).click()
        expect(page.locator("#activity-status")).to_contain_text("Logged")
        expect(error).to_be_hidden()
        [row] = subject_rows(ctms_api, subject)
        item = page.locator("#timeline li.item", has_text=subject)
        expect(item).to_have_attribute("data-status", "PLANNED")

        # Without a context: the server's CONTEXT_REQUIRED shows next to the picker.
        page.locator("#activity-subject").fill(subject + " again")
        page.get_by_role("button", name="Log activity", exact=True).click()
        expect(page.locator("#activity-context-error")).to_have_attribute("data-code", "CONTEXT_REQUIRED")
        assert subject_rows(ctms_api, subject + " again") == []
        stack.as_user(CLARA).gql("mutation($id: ID!) { deleteClinicalActivity(id: $id) { deletedId } }",
                                 {"id": item.get_attribute("data-id")})
    browser.assert_clean()


@pytest.mark.browser
def test_a_double_click_or_a_retried_request_writes_once(stack, ctms_api, person, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    first, second = (f"Once {uuid.uuid4().hex[:8]}" for _ in range(2))
    today = date.today().isoformat()
    sent: list[dict] = []
    with offline_page() as browser:
        page = browser.page
        page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.method == "POST" and "LogActivity"
                in (r.post_data or "") else None)
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        open_person(page, expect, person)

        fill_activity(page, site, day=today, subject=first)
        page.get_by_role("button", name="Log activity", exact=True).dblclick()
        expect(page.locator("#activity-status")).to_contain_text("Logged")
        assert len(subject_rows(ctms_api, first)) == 1
        assert len(sent) == 1, "the second click found the button disabled"
        expect(page.locator("#timeline li.item", has_text=first)).to_have_count(1)

        # The gateway writes, but its answer is lost on the way back: the page sends the same request again, with
        # the same idempotency key, and the gateway answers with the activity it wrote the first time.
        lost: list[str] = []

        def lose_first_answer(route) -> None:  # noqa: ANN001 - a playwright Route
            operation = next((op for op in ("LogActivity", "DeleteActivity") if op in (route.request.post_data or "")),
                             None)
            if operation and operation not in lost:
                route.fetch()  # the gateway handles it...
                lost.append(operation)
                route.abort("connectionreset")  # ...and the page never hears back
            else:
                route.fallback()

        page.route("**/graphql", lose_first_answer)
        fill_activity(page, site, day=today, subject=second)
        page.get_by_role("button", name="Log activity", exact=True).click()
        expect(page.locator("#activity-status")).to_contain_text("Logged")
        assert len(subject_rows(ctms_api, second)) == 1
        keys = [body["variables"]["input"]["idempotencyKey"] for body in sent[1:]]
        assert len(keys) == 2 and keys[0] == keys[1], keys
        assert keys[0] != sent[0]["variables"]["input"]["idempotencyKey"]
        expect(page.locator("#timeline li.item", has_text=second)).to_have_count(1)

        # A delete whose answer is lost: sent again, it finds nothing left to delete, which is what was asked.
        page.locator("#timeline li.item", has_text=second).locator("button.delete").click()
        page.locator("#delete-confirm").click()
        expect(page.locator("#timeline li.item", has_text=second)).to_have_count(0)
        expect(page.get_by_role("dialog")).to_have_count(0)
        assert lost == ["LogActivity", "DeleteActivity"] and subject_rows(ctms_api, second) == []
        stack.as_user(CLARA).gql("mutation($id: ID!) { deleteClinicalActivity(id: $id) { deletedId } }", {
            "id": page.locator("#timeline li.item", has_text=first).get_attribute("data-id")})
    browser.assert_clean(console=False)
    # The lost answer is the only console error (chromium reports the failed fetch).
    assert all("Failed to load resource" in e or "ERR_CONNECTION_RESET" in e for e in browser.console_errors), \
        browser.console_errors


@pytest.mark.browser
def test_clara_logs_a_call_and_sends_it_to_clinical(stack, crm_api, person) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    subject = f"Call {uuid.uuid4().hex[:8]}"
    today = date.today().isoformat()
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        open_person(page, expect, person)
        page.locator("#log-call-panel summary").click()
        org = page.get_by_label("CRM org")  # the person has an account in both orgs: a picker
        expect(org.locator("option")).to_have_count(2)
        assert sorted(org.locator("option").all_inner_texts()) == ["eu", "us"]
        org.select_option(label="eu")
        page.locator("#call-date").fill(today)
        page.locator("#call-completed").check()
        page.locator("#call-subject").fill(subject)
        expect(page.get_by_label("Send to Vault Clinical")).not_to_be_checked()
        check_view(page, "timeline-log-call")
        page.get_by_role("button", name="Log call", exact=True).click()
        expect(page.locator("#call-status")).to_have_text("Call logged in eu.")
        # Not sent: not on the timeline (only calls sent to Clinical are), but listed with "Send to Clinical".
        calls = crm_api["eu"].records(f"SELECT Id FROM Call2_vod__c WHERE Subject_vod__c = '{subject}'")
        assert len(calls) == 1
        unsent = page.locator("#unsent-list li")
        expect(unsent).to_have_count(1)
        expect(unsent).to_have_attribute("data-call-id", calls[0]["Id"])
        expect(page.locator("#timeline li.item", has_text=subject)).to_have_count(0)

        unsent.get_by_role("button", name="Send to Clinical").click()
        item = page.locator("#timeline li.item", has_text=subject)
        expect(item).to_have_attribute("data-kind", "MEDICAL")
        expect(item.locator(".meta")).to_contain_text("CRM org: eu")
        expect(unsent).to_have_count(0)
        expect(item.get_by_role("button")).to_have_count(0)  # a call is edited in its CRM, not here
    browser.assert_clean()


@pytest.mark.browser
def test_martin_sees_no_medical_activity_and_no_call_controls(stack, people) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    person = next(p for p in people if p["medical"]["edges"] and p["accounts"])
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/?first=100")
        sign_in(page, expect, "Martin Keller")
        open_person(page, expect, person)
        expect(page.locator("body")).to_have_attribute("data-permissions",
                                                       "CLINICAL_ACTIVITY_CREATE CLINICAL_ACTIVITY_EDIT")
        kinds = page.locator("#timeline li.item").evaluate_all("els => els.map(e => e.dataset.kind)")
        assert kinds and set(kinds) == {"CLINICAL"}
        expect(page.locator("#log-call-panel")).to_be_hidden()
        expect(page.get_by_role("button", name="Send to Clinical")).to_have_count(0)
        expect(page.get_by_role("button", name="Log call")).to_have_count(0)
        expect(page.locator("#log-activity-panel")).to_be_visible()  # he may log and edit clinical activities
        expect(page.locator("#timeline li.item").first.get_by_role("button", name="Edit", exact=False)).to_be_visible()
        check_view(page, "timeline-martin")

    # Amir (read only): no write control at all.
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Amir Haddad")
        open_person(page, expect, person)
        expect(page.locator("#timeline li.item").first).to_be_visible()
        expect(page.locator("#log-activity-panel")).to_be_hidden()
        expect(page.locator("#log-call-panel")).to_be_hidden()
        expect(page.locator("#timeline").get_by_role("button")).to_have_count(0)
    browser.assert_clean()


@pytest.mark.browser
def test_logging_and_deleting_work_with_the_keyboard_alone(stack, ctms_api, person, site) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    subject = f"Keyboard {uuid.uuid4().hex[:8]}"
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        open_person(page, expect, person)
        keys = page.keyboard
        page.locator("#log-activity-panel summary").focus()
        keys.press("Enter")  # opens the panel
        keys.press("Tab")
        expect(page.get_by_role("combobox", name="Context")).to_be_focused()
        keys.type(site["name"])
        option = page.locator(f"#activity-context-options [role=option][data-id='{site['id']}']")
        option.wait_for()
        for _ in range(40):
            keys.press("ArrowDown")
            if option.get_attribute("aria-selected") == "true":
                break
        keys.press("Enter")
        expect(page.locator("#activity-context-hint")).to_have_text("")
        keys.press("Tab")
        expect(page.locator("#activity-date")).to_be_focused()  # today already: a completed activity is fine
        for _ in range(6):  # chromium's date field: its parts (month, day, year) are stops of their own
            keys.press("Tab")
            if page.evaluate("() => document.activeElement.id") == "activity-channel":
                break
        expect(page.locator("#activity-channel")).to_be_focused()
        keys.press("Tab")
        keys.press("Space")
        expect(page.locator("#activity-completed")).to_be_checked()
        keys.press("Tab")
        keys.type(subject)
        keys.press("Enter")  # submits the form
        item = page.locator("#timeline li.item", has_text=subject)
        expect(item).to_have_count(1)
        assert len(subject_rows(ctms_api, subject)) == 1

        item.locator("button.delete").focus()
        keys.press("Enter")
        expect(page.locator("#delete-cancel")).to_be_focused()
        keys.press("Shift+Tab")
        expect(page.locator("#delete-confirm")).to_be_focused()
        keys.press("Enter")
        expect(item).to_have_count(0)
        expect(page.locator("#timeline-status")).to_be_focused()  # the focus does not get lost with the item
        assert subject_rows(ctms_api, subject) == []
    browser.assert_clean()
