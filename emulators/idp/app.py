"""The identity provider's routes, its loopback CORS, and the `create_app` factory."""

from __future__ import annotations

from collections import Counter

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.knobs import Knobs, KnobsMiddleware

from .admin import AdminMiddleware
from .authorize import authorize_form, authorize_submit, logout
from .codes import CodeStore
from .grants import GRANT_TYPES, token
from .keys import ALGORITHMS, KeyRing
from .provider import Provider, provider_of
from .tokens import TokenIssuer

__all__ = ["create_app"]

DISCOVERY = "/.well-known/openid-configuration"
LOOPBACK_ORIGIN = r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?"
CORS_PATHS = frozenset({DISCOVERY, "/jwks", "/token"})


async def discovery(request: Request) -> Response:
    issuer = provider_of(request).issuer_for(request)
    return JSONResponse({
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": ["sub", "given_name", "family_name", "name", "email", "email_verified", "roles"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": list(ALGORITHMS),
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "authorization_response_iss_parameter_supported": True,
    })


async def jwks(request: Request) -> Response:
    return JSONResponse(provider_of(request).keys.jwks())


class LoopbackCors:
    """CORS for what a page on another loopback port fetches (discovery, keys, token); other paths pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origin_regex=LOOPBACK_ORIGIN, allow_methods=["GET", "POST"],
                                   allow_headers=["Authorization", "Content-Type"], max_age=600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cors = scope["type"] == "http" and scope["path"] in CORS_PATHS
        await (self.cors if cors else self.app)(scope, receive, send)


def create_app(*, issuer: str | None = None, audience: str = "ccgw", token_ttl_s: int = 3600,
               knobs: Knobs | None = None) -> Starlette:
    """The provider; without `issuer`, each request's own base URL is the issuer (any free port works)."""
    knobs = knobs or Knobs()
    stats: Counter[str] = Counter()
    keys = KeyRing()
    provider = Provider(keys, CodeStore(), TokenIssuer(keys, audience, token_ttl_s),
                        issuer.rstrip("/") if issuer else None)
    routes = [
        Route(DISCOVERY, discovery, methods=["GET"]),
        Route("/jwks", jwks, methods=["GET"]),
        Route("/authorize", authorize_form, methods=["GET"]),
        Route("/authorize", authorize_submit, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
        Route("/logout", logout, methods=["GET"]),
    ]
    app = Starlette(routes=routes, middleware=[
        Middleware(AdminMiddleware, provider=provider),
        Middleware(KnobsMiddleware, knobs=knobs, stats=stats),
        Middleware(LoopbackCors),
    ])
    app.state.knobs = knobs
    app.state.stats = stats
    app.state.provider = provider
    return app
