"""The admin page at /admin: its own HTML, script and stylesheet under the pages' strict CSP, no inline code, no
absolute URL, data put in the DOM as text only; no data in the page itself (it asks /graphql as the signed-in user)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx

from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.test_graphiql_browser import serve


def test_admin_page_is_static_with_its_own_files_only() -> None:
    settings = Settings(worker=False, oidc_issuer="http://127.0.0.1:8301/")
    with serve(create_app(settings)) as url:  # no lifespan: the page needs no services
        r = httpx.get(f"{url}/admin", headers={"Accept": "text/html"}, follow_redirects=False)
        files = {link: httpx.get(url + link) for link in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text)}
        home = httpx.get(f"{url}/").text
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert 'href="/"' in page and 'href="/graphql"' in page, "linked to the timeline and GraphiQL"
    assert 'href="/admin" id="admin-link" hidden' in home, "the timeline links here (shown to admins only)"
    for link in re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", page, flags=re.I):
        assert not link.startswith("//") and urlsplit(link).scheme in ("", "data"), link
    assert "http:" not in page and "https:" not in page
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="module" src="/static/admin.js">']
    assert "<style" not in page and "style=" not in page
    assert set(files) == {"/static/admin.css", "/static/admin.js"}
    assert all(answer.status_code == 200 for answer in files.values())
    assert r.headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'; style-src 'self';")
    assert "connect-src 'self' http://127.0.0.1:8301;" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    # Every control is labelled: inputs by a <label for>, buttons by their text or aria-label.
    for input_id in re.findall(r'<input id="([^"]+)"', page):
        assert f'<label for="{input_id}"' in page, input_id


def test_admin_script_puts_data_in_the_dom_as_text_only() -> None:
    with serve(create_app(Settings(worker=False))) as url:
        code = httpx.get(f"{url}/static/admin.js").text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, sink
    assert "localStorage" not in code and "document.cookie" not in code
    assert "http://" not in code and "https://" not in code
