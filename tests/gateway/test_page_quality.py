"""Every view of the pages in headless chromium, at 375 px (a phone) and 1400 px wide: axe-core finds no serious or
critical violation, nothing scrolls sideways, and a screenshot of each is written to
test-output/screenshots/<view>-<width>.png. Views: the timeline page signed out, the identity provider's sign-in page,
the timeline with a person shown, the admin page, and the admin page refusing a user without CONNECTION_ADMIN.

`CCGW_DOCS_PICTURE=1` also writes docs/timeline.png, the README's picture (the timeline, 1400 px wide)."""

from __future__ import annotations

import os
from datetime import date, timedelta

import pytest

from tests.browser import HEIGHT, ROOT, assert_accessible, check_view, offline_page
from tests.conftest import global_id
from tests.gateway.test_sign_in_browser import WITH_MEDICAL, open_person, sign_in

CLARA = "clara.oswald@ctms.example.com"
PICTURED = "0PE000000000003"  # a seeded person with an account in each org
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { id } userErrors { code } } }"""
DOCS_PICTURE = ROOT / "docs" / "timeline.png"


@pytest.fixture(scope="module")
def person(stack) -> dict:  # noqa: ANN001 - the shared e2e fixture
    """A person with medical and clinical activities and an account in an org, as Clara reads them."""
    edges = stack.as_user(CLARA).gql(WITH_MEDICAL)["data"]["people"]["edges"]
    return next(e["node"] for e in edges if e["node"]["medical"]["edges"] and e["node"]["clinical"]["edges"])


def docs_picture(stack, page, expect) -> None:  # noqa: ANN001 - the e2e fixture, playwright objects
    """docs/timeline.png: a person matched in both orgs, with two activities logged through the API (their mirrors
    SYNCED) over the seeded ones, 1400 px wide."""
    clara = stack.as_user(CLARA)
    person = clara.gql("query($id: ID!) { node(id: $id) { ... on Person { id firstName lastName } } }",
                       {"id": global_id("Person", PICTURED)})["data"]["node"]
    for days, channel, subject in ((1, "PHONE", "Enrollment update"), (3, "VIDEO", "Site activation follow-up")):
        created = clara.gql(CREATE, {"input": {
            "personId": person["id"], "context": {"studySiteId": global_id("StudySite", "0SI000000000001")},
            "date": (date.today() - timedelta(days=days)).isoformat(), "channel": channel, "completed": True,
            "subject": subject}})
        assert "errors" not in created, created
    page.set_viewport_size({"width": 1400, "height": HEIGHT})
    page.goto(f"{stack.url}/?first=6")
    sign_in(page, expect, "Clara Oswald")
    open_person(page, expect, person)
    expect(page.locator("#timeline .sync-SYNCED").first).to_be_visible()
    page.screenshot(path=str(DOCS_PICTURE))


@pytest.mark.browser
def test_every_view_is_accessible_and_readable_at_both_widths(stack, person) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/?first=10")
        expect(page.locator("#sign-in")).to_be_visible()
        check_view(page, "signed-out")
        page.locator("#sign-in").click()
        expect(page.get_by_role("button", name="Clara Oswald")).to_be_visible()
        check_view(page, "sign-in")
        page.get_by_role("button", name="Clara Oswald").click()
        expect(page.locator("#who")).to_contain_text("Clara Oswald")
        open_person(page, expect, person)
        check_view(page, "timeline")
        if os.environ.get("CCGW_DOCS_PICTURE") == "1":
            docs_picture(stack, page, expect)

        page.goto(f"{stack.url}/admin")
        sign_in(page, expect, "Clara Oswald")
        expect(page.locator("#forbidden")).to_be_visible()
        check_view(page, "admin-forbidden")

        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Ada Admin")
        page.locator("#admin-link").click()  # shown to an admin only; a new page: sign in again
        sign_in(page, expect, "Ada Admin")
        expect(page.locator("#connections tbody tr").first).to_be_visible()
        expect(page.locator("#audit-status")).not_to_have_text("Loading…")
        check_view(page, "admin")
    browser.assert_clean()


@pytest.mark.browser
def test_the_check_fails_on_a_serious_violation() -> None:
    with offline_page() as browser:
        browser.page.set_content('<!doctype html><html lang="en"><title>t</title><main><h1>t</h1>'
                                 '<input type="text"><img src="data:,"></main></html>')
        with pytest.raises(AssertionError, match="label"):
            assert_accessible(browser.page, "unlabelled input")
