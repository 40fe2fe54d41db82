"""The demo users, the two clients of the identity provider stand-in, and the loopback redirect rule."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["DemoUser", "Client", "DEMO_USERS", "SERVICE_CLIENT", "WEB_CLIENT_ID", "CLIENTS", "find_user",
           "is_loopback_url"]

WEB_CLIENT_ID = "ccgw-web"
SERVICE_CLIENT = {"client_id": "ccgw-integration", "client_secret": "ccgw-integration-secret"}
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class DemoUser:
    given_name: str
    family_name: str
    email: str
    role: str

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def sub(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{self.email}"))

    def claims(self) -> dict[str, Any]:
        """The identity claims this user's tokens carry."""
        return {"sub": self.sub, "given_name": self.given_name, "family_name": self.family_name, "name": self.name,
                "email": self.email, "email_verified": True, "preferred_username": self.email, "roles": [self.role]}


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("Clara", "Oswald", "clara.oswald@ctms.example.com", "clinical_lead"),
    DemoUser("Martin", "Keller", "martin.keller@ctms.example.com", "cra"),
    DemoUser("Sofia", "Lindgren", "sofia.lindgren@ctms.example.com", "medical_viewer"),
    DemoUser("Amir", "Haddad", "amir.haddad@ctms.example.com", "read_only"),
    DemoUser("Ada", "Admin", "ada.admin@ctms.example.com", "admin"),
)


def find_user(email: str) -> DemoUser | None:
    wanted = email.strip().lower()
    return next((u for u in DEMO_USERS if u.email == wanted), None)


def is_loopback_url(url: str) -> bool:
    """An http URL on a loopback host, any port and path, without credentials or fragment (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.username
            and not parts.password and not parts.fragment and "#" not in url)


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str | None
    grant_types: tuple[str, ...]

    @property
    def public(self) -> bool:
        return self.secret is None

    def allows_redirect(self, uri: str) -> bool:
        return "authorization_code" in self.grant_types and is_loopback_url(uri)

    def secret_matches(self, secret: str | None) -> bool:
        if self.secret is None or secret is None:
            return False
        return hmac.compare_digest(self.secret.encode(), secret.encode())

    def service_claims(self) -> dict[str, Any]:
        """The claims of this client's own service account (client-credentials tokens)."""
        return {"sub": f"service-account-{self.client_id}", "azp": self.client_id,
                "preferred_username": f"service-account-{self.client_id}", "roles": ["integration"]}


CLIENTS: dict[str, Client] = {
    WEB_CLIENT_ID: Client(WEB_CLIENT_ID, None, ("authorization_code",)),
    SERVICE_CLIENT["client_id"]: Client(SERVICE_CLIENT["client_id"], SERVICE_CLIENT["client_secret"],
                                        ("client_credentials",)),
}
