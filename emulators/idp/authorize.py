"""The authorization endpoint (code + PKCE S256, a login page listing the demo users) and the logout endpoint."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import Response

from .codes import CHALLENGE_RE
from .pages import error_page, login_page, signed_out_page
from .provider import provider_of, redirect_to
from .users import CLIENTS, find_user, is_loopback_url

__all__ = ["authorize_form", "authorize_submit", "logout"]

REQUEST_PARAMS = ("response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method", "state",
                  "nonce", "scope")
DEFAULT_SCOPE = "openid profile email"
SIGN_OUT_REFUSED = "Sign-out request refused"


def _checked(request: Request, items: Sequence[tuple[str, object]]) -> dict[str, str] | Response:
    """The request's parameters, or the response refusing it (RFC 6749 §4.1.2.1)."""
    params = {k: v for k, v in items if k in REQUEST_PARAMS and isinstance(v, str)}
    client = CLIENTS.get(params.get("client_id", ""))
    if client is None:
        return error_page("The client_id is missing or unknown.")
    if not client.allows_redirect(params.get("redirect_uri", "")):
        return error_page("The redirect_uri is missing or not registered for this client.")
    issuer = provider_of(request).issuer_for(request)

    def refuse(error: str, description: str) -> Response:
        return redirect_to(params["redirect_uri"], error=error, error_description=description,
                           state=params.get("state"), iss=issuer)

    names = [k for k, _ in items if k in REQUEST_PARAMS]
    if len(set(names)) != len(names):
        return refuse("invalid_request", "a parameter was sent more than once")
    if params.get("response_type") != "code":
        return refuse("unsupported_response_type", "response_type must be code")
    if params.get("code_challenge_method") != "S256":
        return refuse("invalid_request", "PKCE is required: code_challenge_method must be S256")
    if not CHALLENGE_RE.fullmatch(params.get("code_challenge", "")):
        return refuse("invalid_request", "code_challenge must be 43 base64url characters")
    return params


async def authorize_form(request: Request) -> Response:
    checked = _checked(request, request.query_params.multi_items())
    return checked if isinstance(checked, Response) else login_page(checked)


async def authorize_submit(request: Request) -> Response:
    form = await request.form()
    items = form.multi_items()
    checked = _checked(request, [(k, v) for k, v in items if k != "email"])
    if isinstance(checked, Response):
        return checked
    user = find_user(str(form.get("email") or ""))
    if user is None:
        return login_page(checked, "Choose one of the demo users below.")
    provider = provider_of(request)
    scope = checked.get("scope") or DEFAULT_SCOPE
    code = provider.codes.issue(client_id=checked["client_id"], redirect_uri=checked["redirect_uri"],
                                challenge=checked["code_challenge"], user=user, scope=scope,
                                nonce=checked.get("nonce"))
    return redirect_to(checked["redirect_uri"], code=code, state=checked.get("state"),
                       iss=provider.issuer_for(request))


async def logout(request: Request) -> Response:
    """There is no provider session to end: send the browser back to the (loopback) page it came from."""
    target = request.query_params.get("post_logout_redirect_uri")
    client_id = request.query_params.get("client_id")
    if client_id is not None and client_id not in CLIENTS:
        return error_page("The client_id is unknown.", SIGN_OUT_REFUSED)
    if target is None:
        return signed_out_page()
    if not is_loopback_url(target):
        return error_page("The post_logout_redirect_uri must be an http URL on a loopback host.", SIGN_OUT_REFUSED)
    return redirect_to(target, state=request.query_params.get("state"))
