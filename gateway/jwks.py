"""The identity provider's signing keys: discovered, fetched asynchronously, cached, refetched with a cooldown."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import jwt

log = logging.getLogger("ccgw.auth")

DISCOVERY_PATH = "/.well-known/openid-configuration"


class IdentityProviderUnavailable(Exception):
    """The keys are not cached and the identity provider cannot be reached."""


class KeySet:
    """The issuer's JWKS by `kid`.

    Keys are refreshed after `refresh_s`; an unknown `kid` triggers a refetch at most once per `cooldown_s` (a flood of
    forged key ids cannot turn into a flood of requests to the provider). When the provider is down, cached keys keep
    verifying tokens."""

    def __init__(self, issuer: str, *, refresh_s: float = 300.0, cooldown_s: float = 10.0,
                 timeout_s: float = 5.0) -> None:
        self.issuer = issuer.rstrip("/")
        self.refresh_s = refresh_s
        self.cooldown_s = cooldown_s
        self.timeout_s = timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._jwks_uri: str | None = None
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key with this id, or None when the provider does not publish it."""
        if self._stale() or kid not in self._keys:
            await self._refresh(force=kid not in self._keys)
        return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at > self.refresh_s

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._tried_at is not None and now - self._tried_at < self.cooldown_s:
                if not self._keys and force:
                    raise IdentityProviderUnavailable("no signing keys could be fetched yet")
                return
            if not force and not self._stale():
                return  # another request refreshed them while this one waited
            self._tried_at = now
            try:
                self._keys = await self._fetch()
                self._fetched_at = time.monotonic()
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, jwt.PyJWKError) as exc:
                log.warning("identity provider keys could not be fetched (%s); %d cached keys stay in use",
                            type(exc).__name__, len(self._keys))
                if not self._keys:
                    raise IdentityProviderUnavailable(type(exc).__name__) from None

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        session = self._http()
        if self._jwks_uri is None:
            async with session.get(self.issuer + DISCOVERY_PATH) as reply:
                reply.raise_for_status()
                meta = await reply.json(content_type=None)
            if str(meta.get("issuer", "")).rstrip("/") != self.issuer:
                raise ValueError("the discovery document names another issuer")
            self._jwks_uri = str(meta["jwks_uri"])
        async with session.get(self._jwks_uri) as reply:
            reply.raise_for_status()
            body = await reply.json(content_type=None)
        keys: dict[str, jwt.PyJWK] = {}
        for entry in body.get("keys", []):
            if entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[str(entry["kid"])] = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue  # a key type or algorithm we do not accept
        return keys

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
