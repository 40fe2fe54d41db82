"""Settings from CCGW_* environment variables, over an optional TOML config file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from domain.permissions import Permission

ALL_PERMISSIONS = ",".join(p.value for p in Permission)


@dataclass
class Settings:
    database_url: str = "sqlite:///ccgw.db"
    ctms_url: str = "http://127.0.0.1:8101"
    ctms_username_env: str = "CCGW_CTMS_USERNAME"
    ctms_password_env: str = "CCGW_CTMS_PASSWORD"
    ctms_api_version: str = "v26.1"
    ctms_timeout_s: float = 5.0
    crm_timeout_s: float = 5.0
    # OpenID Connect: the issuer whose tokens are accepted (discovery at {issuer}/.well-known/openid-configuration),
    # the audience they must name, the claim holding the roles, and the clock leeway for exp/nbf/iat.
    oidc_issuer: str | None = None
    oidc_audience: str = "ccgw"
    oidc_roles_claim: str = "roles"
    oidc_leeway_s: float = 30.0
    # An unknown key id makes the gateway refetch the provider's keys at most this often.
    oidc_jwks_cooldown_s: float = 5.0
    # A verified token is remembered (by its sha256) for this long, never past its exp (0 = verify every request),
    # in a cache of at most this many tokens.
    oidc_token_cache_s: float = 60.0
    oidc_token_cache_size: int = 10_000
    # The public client the browser pages sign in with (authorization code + PKCE).
    oidc_client_id: str = "ccgw-web"
    # Roles -> profiles -> permissions (TOML); unset: the profiles shipped with the gateway.
    profiles_file: str | None = None
    # Without an issuer (development on loopback only, or --insecure-no-auth): every request acts as this user.
    insecure_no_auth: bool = False
    default_user: str = "Clara Oswald <clara.oswald@ctms.example.com>"
    default_permissions: str = ALL_PERMISSIONS
    # Introspection (and GraphiQL's schema docs): "admin" (CONNECTION_ADMIN only), "open" or "closed".
    introspection: str = "admin"
    # Serve /graphql as an Apollo Federation 2 subgraph (keys, `_entities`, `_service`) instead of standalone.
    federation: bool = False
    # Readiness probes of the backends are reused for this long.
    readyz_cache_s: float = 5.0
    inline_delivery_s: float = 2.0
    max_attempts: int = 8
    worker: bool = True
    worker_interval_s: float = 1.0
    poll_interval_s: float = 5.0
    # The identifier values of every CTMS person are read at start and then this often (0 = never): a person's
    # first request then needs one round of backend calls, not two (resolvers/identifiers.py).
    identifiers_refresh_s: float = 600.0
    # Queries reuse the backends' answers for up to this many seconds (0 = read them at every query), at most this
    # many answers per process. Any change the gateway makes or sees forgets them all (datasources/read_cache.py).
    read_cache_s: float = 0.0
    read_cache_size: int = 2_000
    # Automatic persisted queries (Apollo's APQ): a client may send a query's SHA-256 in place of its text, once
    # it has sent both; false: such requests get PERSISTED_QUERY_NOT_SUPPORTED.
    persisted_queries: bool = True
    max_body_bytes: int = 1_000_000
    # Bounded execution (schema/cost.py counts the cost): operations costing more are refused before they run;
    # execution is cancelled past the deadline; larger answers are replaced by an error; requests per user per
    # minute (0 = no limit); GET /graphql?query=... accepted (answers carry Cache-Control: no-store) or refused.
    max_cost: int = 10_000
    request_timeout_s: float = 30.0
    max_response_bytes: int = 5_000_000
    rate_limit_per_minute: int = 600
    allow_get: bool = True
    # Subscriptions (WebSocket, graphql-transport-ws): origins besides the gateway's own whose pages may open a
    # socket (comma-separated `scheme://host[:port]`), active subscriptions per connection, and how long a connection
    # may stay without connection_init.
    ws_allowed_origins: str = ""
    ws_max_subscriptions: int = 20
    ws_init_timeout_s: float = 10.0
    # Log lines as JSON objects ("json") or readable text ("text"; `ccgw demo` uses it unless this is set).
    log_format: str = "json"
    # Serve /metrics without a token on this host:port too (an internal interface); unset: only the gateway's own
    # /metrics, for a CONNECTION_ADMIN token. `ccgw worker` serves its metrics only there.
    metrics_bind: str | None = None
    # Tracing: the collector's OTLP/HTTP endpoint (unset: no tracing), the service name spans carry, and the share
    # of traces started here that are kept (a trace continued from a caller's traceparent follows its decision).
    otel_endpoint: str | None = None
    otel_service_name: str = "ccgw"
    otel_sample_ratio: float = 1.0
    # Test-only: the write step at which the process kills itself (resolvers.crash.STEPS).
    crash_at: str | None = None

    @classmethod
    def load(cls, config_file: str | None = None, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        path = config_file or env.get("CCGW_CONFIG")
        if path:
            with Path(path).open("rb") as fh:
                values.update(tomllib.load(fh).get("ccgw", {}))
        for f in fields(cls):
            key = f"CCGW_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
        settings = cls()
        for f in fields(cls):
            if f.name in values:
                setattr(settings, f.name, _coerce(f.type, values[f.name], f.name))
        return settings


def _coerce(kind: object, value: object, name: str) -> object:
    text = str(value)
    try:
        if kind in ("float", float):
            return float(text)
        if kind in ("int", int):
            return int(text)
        if kind in ("bool", bool):
            if isinstance(value, bool):
                return value
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
    except ValueError:
        raise SystemExit(f"setting {name}: {text!r} is not a valid {kind}") from None
    if kind == "str | None":
        return text or None
    return value
