"""The provider's state shared by its endpoints: keys, outstanding codes, the token issuer, the issuer URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse

from .codes import CodeStore
from .keys import KeyRing
from .tokens import TokenIssuer

__all__ = ["Provider", "provider_of", "redirect_to"]


@dataclass
class Provider:
    keys: KeyRing
    codes: CodeStore
    tokens: TokenIssuer
    # None: the issuer is the URL each request reached the provider at, so it works on any free port.
    issuer: str | None = None

    def issuer_for(self, request: Request) -> str:
        return self.issuer or str(request.base_url).rstrip("/")


def provider_of(request: Request) -> Provider:
    return request.app.state.provider


def redirect_to(uri: str, **params: str | None) -> RedirectResponse:
    """A 302 to `uri` with `params` added to whatever query it already has."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, v) for k, v in params.items() if v is not None]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=302,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
