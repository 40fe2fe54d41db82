"""What the gateway's readiness check and worker ask of the backends' clients: a round trip each, and pacing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from datasources.store.models import ConnectionRow


class Probe(Protocol):
    """One backend's client as readiness sees it."""

    @property
    def source(self) -> str:
        """Its name in errors and reports ("ctms", "crm:<connection>")."""

    @property
    def base_url(self) -> str: ...

    async def probe(self) -> None:
        """A real round trip; raises SourceError (or a transport error) when the backend does not answer."""

    def state(self) -> dict[str, object]:
        """What administrators are shown of the backend's state beyond whether it answers."""


class Probes(Protocol):
    """The backends of a process, as its readiness check and worker see them."""

    def targets(self, connections: Sequence[ConnectionRow]) -> list[Probe]:
        """The clients readiness probes: the CTMS's, then the org's of each of these connections."""

    @property
    def pacing_s(self) -> float:
        """How long the CTMS last asked callers to wait between calls (0 when it is not throttling)."""
