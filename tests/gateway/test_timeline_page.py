"""The timeline page at `/`: served as one self-contained HTML page (nothing fetched from elsewhere), and driven in a
real headless chromium against the real gateway over the stand-ins: search, pick a person, read the timeline, load
more, filter, and see a source outage as a banner next to the partial data."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.browser import offline_page
from tests.gateway.test_graphiql_browser import serve

SYNC_BADGE = re.compile(r"^(us|eu|CTMS): (SYNCED|PENDING|FAILED|NO_MATCH|CONFLICT)$")
PAGE = 3
AIKOS = """{ people(search: "Aiko", first: 20) { edges { node { id timeline(first: 100) { edges { cursor } } } } } }"""


def ids_of(items) -> list[str]:  # noqa: ANN001 - a playwright Locator
    return items.evaluate_all("els => els.map(e => e.dataset.id)")


def load_all(page, expect, items) -> None:  # noqa: ANN001 - playwright objects
    """Click "Load more" until it goes away; each click must add items."""
    more = page.locator("#more")
    expect(page.locator("#timeline")).to_have_attribute("aria-busy", "false")
    for _ in range(50):
        if not more.is_visible():
            return
        before = items.count()
        more.click()
        expect(page.locator("#timeline")).to_have_attribute("aria-busy", "false")
        assert items.count() > before
    raise AssertionError("Load more never went away")


def test_home_is_the_self_contained_timeline_page() -> None:
    with serve(create_app(Settings(worker=False))) as url:  # no lifespan: the page needs no services
        r = httpx.get(f"{url}/", headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert 'href="/graphql"' in page  # GraphiQL stays one click away
    assert 'id="timeline"' in page and 'id="search"' in page
    links = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", page, flags=re.I)
    assert links, "expected at least the GraphiQL link"
    for link in links:
        assert not link.startswith("//") and urlsplit(link).scheme in ("", "data"), link
    assert "http:" not in page and "https:" not in page, "no absolute URL of any kind"
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    assert "innerHTML" not in page and "insertAdjacentHTML" not in page and "document.write" not in page
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "unsafe-inline" not in csp


@pytest.mark.browser
def test_timeline_page_in_chromium(stack, knobs, timeline_of) -> None:  # noqa: ANN001 - the shared e2e fixtures
    from playwright.sync_api import expect

    # A CSP violation (the inline script or style not matching its hash) shows up as a console error.
    with offline_page() as browser:
        page = browser.page
        # A small page size (`?first=3`) so that "Load more" shows with the seed's few activities per person.
        page.goto(f"{stack.url}/?first={PAGE}")
        expect(page.locator("header a[href='/graphql']")).to_be_visible()
        page.locator("#search").fill("Aiko")
        page.locator("#search-form button[type=submit]").click()
        people = stack.gql(AIKOS)["data"]["people"]["edges"]
        buttons = page.locator("#people button")
        expect(buttons).to_have_count(len(people))  # the search's answer replaced the first listing of everyone
        names = buttons.all_inner_texts()
        assert names and all("aiko" in name.lower() for name in names), names
        # The Aiko with the longest timeline, so that paging is exercised.
        person_id = max(people, key=lambda e: len(e["node"]["timeline"]["edges"]))["node"]["id"]
        whole = [n["id"] for n in timeline_of(person_id)]
        clinical = [n["id"] for n in timeline_of(person_id, filter={"kinds": ["CLINICAL"]})]
        assert len(whole) > PAGE and clinical, "the seed gives an Aiko several pages, clinical ones among them"
        page.locator(f"#people button[data-id='{person_id}']").click()

        items = page.locator("#timeline li.item")
        timeline = page.locator("#timeline")
        expect(page.locator("#person-name")).to_contain_text("Aiko")
        expect(items).to_have_count(PAGE)
        expect(timeline).to_have_attribute("aria-busy", "false")
        expect(items.first.locator(".kind")).to_have_text(re.compile(r"^(CLINICAL|MEDICAL)$"))
        expect(items.first.locator("time.date")).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
        badges = page.locator("#timeline .sync").all_inner_texts()
        assert badges and all(SYNC_BADGE.match(b) for b in badges), badges
        expect(page.locator("#errors")).to_be_hidden()

        load_all(page, expect, items)
        assert ids_of(items) == whole, "every page once, in the API's order"
        dates = items.locator("time.date").all_inner_texts()
        assert dates == sorted(dates, reverse=True), "newest first"

        # Only CLINICAL: the list restarts with the filtered first page, and paging keeps the filter.
        page.locator("#filters input[name=kind][value=CLINICAL]").check()
        expect(items).to_have_count(min(PAGE, len(clinical)))
        load_all(page, expect, items)
        assert set(items.evaluate_all("els => els.map(e => e.dataset.kind)")) == {"CLINICAL"}
        assert ids_of(items) == clinical

        # One CRM org down: a visible banner naming the source, and the rest of the timeline still shown.
        page.locator("#filters input[name=kind][value=CLINICAL]").uncheck()
        knobs(stack.orgs["us"], outage="503")
        page.locator("#filters input[name=status][value=COMPLETED]").check()
        banner = page.locator("#errors")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("SOURCE_UNAVAILABLE")
        expect(banner).to_contain_text("crm:us")
        expect(timeline).to_have_attribute("aria-busy", "false")
        assert items.count() > 0
        assert set(items.evaluate_all("els => els.map(e => e.dataset.status)")) == {"COMPLETED"}
    browser.assert_clean()
