"""Security-profile permissions and the acting user who holds them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from domain.owner import owner_text


class Permission(Enum):
    CLINICAL_ACTIVITY_CREATE = "CLINICAL_ACTIVITY_CREATE"
    CLINICAL_ACTIVITY_EDIT = "CLINICAL_ACTIVITY_EDIT"
    MEDICAL_ACTIVITY_VIEW = "MEDICAL_ACTIVITY_VIEW"
    CONNECTION_ADMIN = "CONNECTION_ADMIN"


@dataclass(frozen=True)
class Actor:
    """The user a request acts for: whose name and email make the owner text of what they create."""

    first_name: str
    last_name: str
    email: str
    permissions: frozenset[Permission]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def owner(self) -> str | None:
        return owner_text(self.first_name, self.last_name, self.email)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
