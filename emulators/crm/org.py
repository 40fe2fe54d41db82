"""What one CRM org stand-in holds: its identity, its store, its sessions, its API usage and open query locators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .cursors import Cursors
from .limits import ApiUsage
from .sessions import Sessions
from .store import Store

__all__ = ["Org", "API_VERSION"]

API_VERSION = "66.0"


@dataclass
class Org:
    """The state every route of one org shares."""

    name: str
    instance: str
    org_id: str
    store: Store
    sessions: Sessions
    usage: ApiUsage
    cursors: Cursors
    today: date
    api_version: str = API_VERSION
    # The public keys of the certificates registered for the demo connected app (the JWT bearer grant).
    jwt_keys: tuple[RSAPublicKey, ...] = ()
