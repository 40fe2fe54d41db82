"""Security-profile permissions and the acting user who holds them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from domain.owner import owner_text

# The longest audit name kept; the store's actor columns are this wide.
AUDIT_NAME_MAX = 255


class Permission(Enum):
    CLINICAL_ACTIVITY_CREATE = "CLINICAL_ACTIVITY_CREATE"
    CLINICAL_ACTIVITY_EDIT = "CLINICAL_ACTIVITY_EDIT"
    MEDICAL_ACTIVITY_VIEW = "MEDICAL_ACTIVITY_VIEW"
    CONNECTION_ADMIN = "CONNECTION_ADMIN"


@dataclass(frozen=True)
class Actor:
    """The user a request acts for: whose name and email make the owner text of what they create.

    `sub` is the identity provider's stable subject; `email` may be empty (a service account has none)."""

    sub: str
    first_name: str
    last_name: str
    email: str
    permissions: frozenset[Permission]
    profiles: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.sub

    @property
    def owner(self) -> str | None:
        return owner_text(self.first_name or self.name, self.last_name, self.email)

    @property
    def audit_name(self) -> str:
        """Who the audit trail records: the subject, and the email when there is one."""
        return (f"{self.sub} ({self.email})" if self.email else self.sub)[:AUDIT_NAME_MAX]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
