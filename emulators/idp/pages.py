"""The HTML pages: the login page listing the demo users, the error page, the signed-out page."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from html import escape
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from .users import DEMO_USERS

__all__ = ["login_page", "error_page", "signed_out_page"]

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.5rem; }
ul { list-style: none; padding: 0; }
li { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.3rem 1rem; margin: 0.5rem 0; }
button { min-width: 10rem; padding: 0.5rem 1rem; font: inherit; cursor: pointer; }
.detail { color: #4a5263; overflow-wrap: anywhere; }
.error { color: #a61b1b; font-weight: 600; }
"""
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()


def _csp(form_target: str | None = None) -> str:
    forms = "'self'"
    if form_target is not None:
        # Chromium checks form-action on the redirect that follows the POST too.
        parts = urlsplit(form_target)
        forms += f" {parts.scheme}://{parts.netloc}"
    return (f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; form-action {forms}; "
            "frame-ancestors 'none'; base-uri 'none'")


def _page(title: str, body: str, status: int, form_target: str | None = None) -> HTMLResponse:
    html = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body><main>{body}</main></body></html>\n")
    headers = {"Content-Security-Policy": _csp(form_target), "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=status, headers=headers)


def login_page(params: Mapping[str, str], message: str | None = None) -> HTMLResponse:
    """One form carrying the authorization request; each user is a submit button sending its email."""
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items())
    rows = "".join(
        f'<li><button type="submit" name="email" value="{escape(u.email)}" aria-describedby="user-{i}">'
        f'{escape(u.name)}</button><span id="user-{i}" class="detail">{escape(u.email)} · profile '
        f"{escape(u.role)}</span></li>" for i, u in enumerate(DEMO_USERS))
    alert = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    body = (f"<h1>Sign in to ccgw</h1>{alert}<p>Identity provider stand-in: choose a demo user.</p>"
            f'<form method="post" action="/authorize">{hidden}<ul aria-label="Demo users">{rows}</ul></form>')
    return _page("Sign in", body, 400 if message else 200, params.get("redirect_uri"))


def error_page(message: str, title: str = "Sign-in request refused") -> HTMLResponse:
    body = f'<h1>{escape(title)}</h1><p class="error" role="alert">{escape(message)}</p>'
    return _page(title, body, 400)


def signed_out_page() -> HTMLResponse:
    return _page("Signed out", "<h1>Signed out</h1><p>You can close this page.</p>", 200)
