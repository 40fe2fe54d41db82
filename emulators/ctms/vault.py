"""What one CTMS stand-in holds: its identity, its store, its sessions and its open query pages."""

from __future__ import annotations

from dataclasses import dataclass, field

from .cursors import Cursors
from .sessions import Sessions
from .store import Store

__all__ = ["Vault", "API_VERSION", "API_VERSIONS", "VAULT_ID", "VAULT_NAME"]

API_VERSION = "v26.1"
API_VERSIONS = ("v25.1", "v25.2", "v25.3", API_VERSION)
VAULT_ID = 1776
VAULT_NAME = "CTMS Stand-in Vault"


@dataclass
class Vault:
    """The state every route of one vault shares."""

    store: Store
    sessions: Sessions
    cursors: Cursors = field(default_factory=Cursors)
