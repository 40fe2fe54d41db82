"""The timeline page at `/`: its HTML, script and stylesheet come from the gateway itself (nothing from elsewhere, no
inline code, a strict CSP), its filters from the schema; and it is driven in a real headless chromium against the real
gateway over the stand-ins: sign in, search, pick a person, read the timeline, load more, filter, and see a source
outage as a banner next to the partial data."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from schema.root import schema
from tests.browser import offline_page
from tests.gateway.test_graphiql_browser import serve
from tests.gateway.test_sign_in_browser import sign_in

SYNC_BADGE = re.compile(r"^(us|eu|CTMS): (SYNCED|PENDING|FAILED|NO_MATCH|CONFLICT)$")
PAGE = 3
# The timeline page's script and the modules it imports.
TIMELINE_MODULES = ("timeline.js", "dom.js", "api.js", "queries.js", "activity_view.js", "forms.js", "picker.js",
                    "activity_forms.js", "call_forms.js", "live.js")
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


def test_home_is_the_timeline_page_with_its_own_files_only() -> None:
    settings = Settings(worker=False, oidc_issuer="http://127.0.0.1:8301/")
    with serve(create_app(settings)) as url:  # no lifespan: the page needs no services
        r = httpx.get(f"{url}/", headers={"Accept": "text/html"}, follow_redirects=False)
        files = {link: httpx.get(url + link) for link in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text)}
        unlisted = httpx.get(f"{url}/static/timeline.html")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert 'href="/graphql"' in page  # GraphiQL stays one click away
    assert 'id="timeline"' in page and 'id="search"' in page and 'id="sign-in"' in page
    links = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", page, flags=re.I)
    for link in links:
        assert not link.startswith("//") and urlsplit(link).scheme in ("", "data"), link
    assert "http:" not in page and "https:" not in page, "no absolute URL of any kind"
    # No inline code: every script is a file of the gateway's, no <style> element, no style attribute.
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/static/timeline.js">']
    assert "<style" not in page and "style=" not in page
    assert set(files) == {"/static/timeline.css", "/static/timeline.js"}
    for link, answer in files.items():
        assert answer.status_code == 200, link
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-type"].startswith("text/css" if link.endswith(".css") else "text/javascript")
    assert unlisted.status_code == 404, "gateway/static serves scripts and styles only"
    csp = dict(part.strip().split(" ", 1) for part in r.headers["content-security-policy"].split(";"))
    assert csp == {
        "default-src": "'none'", "script-src": "'self'", "style-src": "'self'",
        "connect-src": "'self' http://127.0.0.1:8301", "img-src": "'self' data:", "base-uri": "'none'",
        "form-action": "'none'", "frame-ancestors": "'none'",
    }


def test_the_pages_scripts_put_data_in_the_dom_as_text_only() -> None:
    with serve(create_app(Settings(worker=False))) as url:
        scripts = {name: httpx.get(f"{url}/static/{name}").text
                   for name in (*TIMELINE_MODULES, "auth.js", "graphiql.js")}
        csp = httpx.get(f"{url}/").headers["content-security-policy"]
    assert "connect-src 'self';" in csp, "without an issuer the page talks to the gateway only"
    imported = {name for module in TIMELINE_MODULES for name in re.findall(r'from "/static/([^"]+)"', scripts[module])}
    assert imported == set(TIMELINE_MODULES[1:]) | {"auth.js"}, "every module of the timeline page is checked here"
    for name, code in scripts.items():
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, (name, sink)
        assert "localStorage" not in code and "document.cookie" not in code, name
        assert "http://" not in code and "https://" not in code, name


def test_auth_config_and_page_config_are_anonymous_and_come_from_settings_and_schema() -> None:
    settings = Settings(worker=False, oidc_issuer="http://127.0.0.1:8301", oidc_client_id="web", oidc_audience="api")
    with serve(create_app(settings)) as url:
        auth = httpx.get(f"{url}/auth/config").json()
        config = httpx.get(f"{url}/page-config.json").json()
    with serve(create_app(Settings(worker=False))) as url:
        no_auth = httpx.get(f"{url}/auth/config").json()
    assert auth == {"issuer": "http://127.0.0.1:8301", "clientId": "web", "audience": "api"}
    assert no_auth["issuer"] is None, "no issuer: the pages work without sign-in"
    assert config["live"] is (schema.subscription is not None), "the page subscribes when the schema can"
    # Every list-of-enum field of TimelineFilter is one group of checkboxes holding exactly the schema's values.
    timeline_filter = schema._schema.get_type("TimelineFilter")
    enum_fields = {}
    for name, field in timeline_filter.fields.items():
        inner = getattr(field.type, "of_type", None)
        inner = getattr(inner, "of_type", inner)
        if getattr(inner, "values", None) is not None:
            enum_fields[name] = sorted(inner.values)
    groups = config["timelineFilters"]
    assert {g["field"]: sorted(g["values"]) for g in groups} == enum_fields
    assert enum_fields["channels"] == sorted(["IN_PERSON", "VIDEO", "PHONE", "CHAT_TEXT", "EMAIL", "OTHER"])


def test_a_malformed_issuer_fails_at_start() -> None:
    for issuer in ("127.0.0.1:8301", "ftp://idp", "http://idp; script-src *", "http://user:pw@idp"):
        with pytest.raises(SystemExit, match="CCGW_OIDC_ISSUER"):
            create_app(Settings(worker=False, oidc_issuer=issuer))


@pytest.mark.browser
def test_timeline_page_in_chromium(stack, knobs, timeline_of) -> None:  # noqa: ANN001 - the shared e2e fixtures
    from playwright.sync_api import expect

    # A CSP violation (an inline script or style, a request elsewhere) shows up as a console error.
    with offline_page() as browser:
        page = browser.page
        # A small page size (`?first=3`) so that "Load more" shows with the seed's few activities per person.
        page.goto(f"{stack.url}/?first={PAGE}")
        expect(page.locator("header a[href='/graphql']")).to_be_visible()
        sign_in(page, expect, "Clara Oswald")  # back on `?first=3`, the page lists everyone
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
