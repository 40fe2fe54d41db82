"""Signing in on the timeline page through the identity provider stand-in, in a real headless chromium: Clara (clinical
lead) sees a person's medical activities, Martin (CRA) does not; signing out, a reload, a token the gateway stops
accepting, sign-in answers the page did not ask for, and a gateway without an issuer (no sign-in at all). GraphiQL's
sign-in is driven in test_graphiql_browser.py."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.browser import offline_page

CLARA = "clara.oswald@ctms.example.com"
MARTIN = "martin.keller@ctms.example.com"
# People with at least one medical activity, as Clara (who may see them) reads them.
WITH_MEDICAL = """{ people(first: 40) { edges { node { id firstName lastName
  medical: timeline(first: 1, filter: {kinds: [MEDICAL]}) { edges { node { id } } }
  clinical: timeline(first: 1, filter: {kinds: [CLINICAL]}) { edges { node { id } } } } } } }"""
PAGE = 100  # `?first=100`: the whole timeline of a seed person on one page


def sign_in(page, expect, name: str) -> None:  # noqa: ANN001 - playwright objects
    """Click "Sign in", choose `name` on the provider's login page, and wait to be back on the page, signed in."""
    page.locator("#sign-in").click()
    page.get_by_role("button", name=name).click()
    expect(page.locator("#who")).to_contain_text(name)
    expect(page.locator("#sign-out")).to_be_visible()
    assert "code=" not in page.url and "state=" not in page.url, page.url


def open_person(page, expect, person: dict) -> None:  # noqa: ANN001 - playwright objects
    page.locator("#search").fill(person["lastName"])
    page.locator("#search-form button[type=submit]").click()
    page.locator(f"#people button[data-id='{person['id']}']").click()
    expect(page.locator("#person-name")).to_have_text(f"{person['firstName']} {person['lastName']}")
    expect(page.locator("#timeline")).to_have_attribute("aria-busy", "false")


def expect_signed_out(page, expect) -> None:  # noqa: ANN001 - playwright objects
    """The "Sign in" button, nobody named, and no data of the API left on the page."""
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#sign-out")).to_be_hidden()
    expect(page.locator("#who")).to_have_text("")
    expect(page.locator("#main")).to_be_hidden()
    expect(page.locator("#people li")).to_have_count(0)
    expect(page.locator("#timeline li")).to_have_count(0)


def kinds_on(page) -> list[str]:  # noqa: ANN001 - a playwright page
    return page.locator("#timeline li.item").evaluate_all("els => els.map(e => e.dataset.kind)")


def ids_on(page) -> list[str]:  # noqa: ANN001 - a playwright page
    return page.locator("#timeline li.item").evaluate_all("els => els.map(e => e.dataset.id)")


@pytest.fixture(scope="module")
def person(stack) -> dict:  # noqa: ANN001 - the shared e2e fixture
    """A person with medical and clinical activities, chosen through the API with Clara's token."""
    edges = stack.as_user(CLARA).gql(WITH_MEDICAL)["data"]["people"]["edges"]
    return next(e["node"] for e in edges if e["node"]["medical"]["edges"] and e["node"]["clinical"]["edges"])


@pytest.mark.browser
def test_clara_sees_medical_activities_and_martin_does_not(stack, timeline_of, person) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    clara = [n["id"] for n in timeline_of(person["id"], gql=stack.as_user(CLARA).gql)]
    martin = timeline_of(person["id"], gql=stack.as_user(MARTIN).gql)
    assert len(clara) <= PAGE and martin, "the person fits on one page, and Martin sees some of it"
    assert {n["kind"] for n in martin} == {"CLINICAL"}
    home = f"{stack.url}/?first={PAGE}"

    with offline_page() as browser:
        page = browser.page
        page.goto(home)
        expect_signed_out(page, expect)
        expect(page.locator("#signed-out")).to_be_visible()

        sign_in(page, expect, "Clara Oswald")
        assert page.url == home, "the page's own query comes back after the provider"
        expect(page.locator("#who")).to_have_text(f"Clara Oswald ({CLARA})")
        open_person(page, expect, person)
        expect(page.locator("#timeline li.item")).to_have_count(len(clara))
        assert ids_on(page) == clara
        assert "MEDICAL" in kinds_on(page)
        # The token lives in the page's memory only: no cookie, nothing in Web Storage (the PKCE entry is gone).
        stored = page.evaluate("() => [document.cookie, localStorage.length, sessionStorage.length]")
        assert stored == ["", 0, 0]
        assert browser.page.context.cookies() == []

        page.locator("#sign-out").click()  # through the provider's end-session endpoint, back to the page
        expect_signed_out(page, expect)
        assert urlsplit(page.url).path == "/"

        page.goto(home)
        sign_in(page, expect, "Martin Keller")
        expect(page.locator("#who")).to_have_text(f"Martin Keller ({MARTIN})")
        open_person(page, expect, person)
        expect(page.locator("#timeline li.item")).to_have_count(len(martin))
        assert ids_on(page) == [n["id"] for n in martin]
        assert set(kinds_on(page)) == {"CLINICAL"}
        page.locator("#filters input[name=kind][value=MEDICAL]").check()
        expect(page.locator("#timeline-status")).to_have_text("No activities match the filters.")
        expect(page.locator("#timeline li.item")).to_have_count(0)
    browser.assert_clean()


@pytest.mark.browser
def test_a_reload_or_a_refused_token_signs_the_page_out(stack) -> None:  # noqa: ANN001 - the shared e2e fixture
    from playwright.sync_api import expect

    with offline_page() as browser:
        page = browser.page
        page.goto(f"{stack.url}/")
        sign_in(page, expect, "Clara Oswald")
        expect(page.locator("#people li").first).to_be_visible()
        page.reload()  # the token was in memory only
        expect_signed_out(page, expect)

        sign_in(page, expect, "Clara Oswald")
        expect(page.locator("#people li").first).to_be_visible()
        # The gateway stops accepting the token (expired, revoked): its next answer is a 401.
        refusal = {"errors": [{"message": "the token has expired", "extensions": {"code": "UNAUTHENTICATED"}}]}
        page.route("**/graphql", lambda route: route.fulfill(
            status=401, content_type="application/json", body=json.dumps(refusal),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}))
        page.locator("#search").fill("a")
        page.locator("#search-form button[type=submit]").click()
        expect(page.locator("#auth-message")).to_have_text("Signed out: sign in again")
        expect_signed_out(page, expect)
        expect(page.locator("#errors")).to_be_hidden()
    browser.assert_clean(console=False)
    # The refused request is the only console error (chromium reports every 4xx it fetches).
    assert browser.console_errors and all("401" in e for e in browser.console_errors), browser.console_errors


# (what the page holds in sessionStorage, the answer's query, the message): none of them is traded for a token.
FORGED = [
    (None, "code=stolen-code&state=forged", "Sign-in failed: the answer does not match a sign-in started here"),
    ("s1", "code=c&state=other", "Sign-in failed: the answer does not match a sign-in started here"),
    ("s1", "code=c&state=s1&iss=http%3A%2F%2F127.0.0.1%3A9%2F", "Sign-in failed: the answer came from another"),
    ("s1", "error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=s1", "Sign-in failed: <b>no</b>"),
]


@pytest.mark.browser
def test_a_sign_in_answer_the_page_did_not_ask_for_is_refused(stack) -> None:  # noqa: ANN001 - the e2e fixture
    from playwright.sync_api import expect

    with offline_page() as browser:
        page = browser.page
        token_requests: list[str] = []
        page.on("request", lambda r: token_requests.append(r.url) if urlsplit(r.url).path == "/token" else None)
        for pending_state, answer, message in FORGED:
            page.goto(f"{stack.url}/")
            if pending_state:  # as if "Sign in" had been clicked here: a PKCE verifier and a state wait
                pending = {"state": pending_state, "verifier": "v" * 43, "redirectUri": f"{stack.url}/",
                           "returnTo": ""}
                page.evaluate("p => sessionStorage.setItem('ccgw.sign-in', JSON.stringify(p))", pending)
            page.goto(f"{stack.url}/?{answer}")
            expect(page.locator("#auth-message")).to_contain_text(message)  # as text: markup is never parsed
            expect_signed_out(page, expect)
            assert page.url == f"{stack.url}/", "the answer is gone from the address bar"
            assert page.evaluate("() => sessionStorage.length") == 0
        assert token_requests == [], "no code was traded for a token"
    browser.assert_clean()


@pytest.mark.browser
def test_without_an_issuer_the_pages_need_no_sign_in(stack) -> None:  # noqa: ANN001 - the shared e2e fixture
    from playwright.sync_api import expect

    open_gateway = stack.start_gateway(oidc_issuer=None, worker=False)  # development on loopback: a default user
    with offline_page() as browser:
        page = browser.page
        page.goto(f"{open_gateway.url}/")
        expect(page.locator("#people li").first).to_be_visible()
        expect(page.locator("#auth")).to_be_hidden()
        expect(page.locator("#signed-out")).to_be_hidden()
        page.goto(f"{open_gateway.url}/graphql")
        expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
        expect(page.locator("#auth")).to_be_hidden()
    browser.assert_clean(console=False)
    assert not [e for e in browser.console_errors if "Content Security Policy" in e], browser.console_errors
