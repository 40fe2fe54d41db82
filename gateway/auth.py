"""Who a request acts for. Until authentication exists: the configured default user."""

from __future__ import annotations

import re

from domain.permissions import Actor, Permission
from gateway.settings import Settings

_USER = re.compile(r"^\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]+)>\s*$")


def default_actor(settings: Settings) -> Actor:
    match = _USER.match(settings.default_user)
    if not match:
        raise SystemExit(f"CCGW_DEFAULT_USER must look like 'First Last <email>', not {settings.default_user!r}")
    first, _, last = match["name"].partition(" ")
    try:
        perms = frozenset(Permission(p.strip()) for p in settings.default_permissions.split(",") if p.strip())
    except ValueError as exc:
        raise SystemExit(f"CCGW_DEFAULT_PERMISSIONS: {exc}") from None
    return Actor(first, last, match["email"], perms)
