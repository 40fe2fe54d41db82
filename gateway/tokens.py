"""Get an access token from an OpenID provider as a client would: code + PKCE through its login page, or client
credentials."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, quote_plus, urlencode, urljoin, urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener

__all__ = ["TokenError", "fetch_token", "fetch_service_token"]

TIMEOUT_S = 10.0
# Never followed: the code is read from the Location of the provider's redirect.
REDIRECT_URI = "http://127.0.0.1/ccgw-token/callback"


class TokenError(Exception):
    """Why no token could be had; the message is meant for the person at the terminal."""


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = build_opener(_NoRedirect)


class LoginForm(HTMLParser):
    """The provider's login form: its action, its hidden fields, and the emails its user buttons submit."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.emails: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None and a.get("method", "").lower() == "post":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("name") == "email":
            self.emails.append(a.get("value", ""))


def fetch_token(idp_url: str, email: str, client_id: str = "ccgw-web") -> str:
    """Sign `email` in at the provider (authorization code + PKCE S256) and return the access token."""
    config = _discover(idp_url)
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                       "scope": "openid profile email", "state": state, "code_challenge": _s256(verifier),
                       "code_challenge_method": "S256"})
    authorize_url = f"{config['authorization_endpoint']}?{query}"
    status, _, page = _call(Request(authorize_url))
    if status != 200:
        raise TokenError(f"the provider refused the sign-in request (HTTP {status})")
    form = LoginForm()
    form.feed(page.decode("utf-8", "replace"))
    if form.action is None:
        raise TokenError("the provider's sign-in page has no login form this command understands")
    if email.lower() not in (e.lower() for e in form.emails):
        raise TokenError(f"{email} is not among the users the provider offers: {', '.join(form.emails)}")
    login = urlencode({**form.fields, "email": email}).encode()
    status, headers, _ = _call(Request(urljoin(authorize_url, form.action), data=login, method="POST"))
    code = _code_from(status, headers.get("Location", ""), state, config["issuer"])
    return _token_request(config["token_endpoint"], {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": client_id,
        "code_verifier": verifier})


def fetch_service_token(idp_url: str, client_id: str, client_secret: str) -> str:
    """An access token for a confidential client's own service account (client credentials, HTTP Basic)."""
    config = _discover(idp_url)
    basic = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()).decode()
    return _token_request(config["token_endpoint"], {"grant_type": "client_credentials"},
                          {"Authorization": f"Basic {basic}"})


def _discover(idp_url: str) -> dict[str, Any]:
    issuer = idp_url.rstrip("/")
    if urlsplit(issuer).scheme not in ("http", "https"):
        raise TokenError(f"--idp must be an http(s) URL, not {idp_url!r}")
    status, _, body = _call(Request(f"{issuer}/.well-known/openid-configuration"))
    config = _json(body) if status == 200 else None
    needed = ("issuer", "authorization_endpoint", "token_endpoint")
    if not isinstance(config, dict) or not all(isinstance(config.get(k), str) for k in needed):
        raise TokenError(f"{issuer} does not answer OpenID Connect discovery (HTTP {status})")
    if config["issuer"] != issuer:
        raise TokenError(f"the provider calls itself {config['issuer']}, not {issuer}")
    return config


def _code_from(status: int, location: str, state: str, issuer: str) -> str:
    if status not in (302, 303) or not location:
        raise TokenError(f"the provider did not redirect back after sign-in (HTTP {status})")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if "error" in params:
        raise TokenError(f"sign-in refused: {params['error']}: {params.get('error_description', '')}".rstrip(": "))
    if params.get("state") != state:
        raise TokenError("the provider's redirect carries another state: refusing it")
    if params.get("iss", issuer) != issuer:
        raise TokenError("the provider's redirect names another issuer: refusing it")
    if not params.get("code"):
        raise TokenError("the provider's redirect carries no code")
    return params["code"]


def _token_request(endpoint: str, form: dict[str, str], headers: dict[str, str] | None = None) -> str:
    request = Request(endpoint, data=urlencode(form).encode(), method="POST",
                      headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                               **(headers or {})})
    status, _, body = _call(request)
    answer = _json(body)
    if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        error = answer.get("error", "") if isinstance(answer, dict) else ""
        detail = answer.get("error_description", "") if isinstance(answer, dict) else ""
        raise TokenError(f"the token endpoint refused (HTTP {status}): {error} {detail}".strip())
    return answer["access_token"]


def _call(request: Request) -> tuple[int, Any, bytes]:
    """Status, headers and body of one request; an HTTP error status is an answer, not an exception."""
    try:
        with _opener.open(request, timeout=TIMEOUT_S) as response:
            return response.status, response.headers, response.read()
    except HTTPError as exc:
        return exc.code, exc.headers, exc.read()
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TokenError(f"cannot reach {request.full_url.split('?')[0]}: {reason}") from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
