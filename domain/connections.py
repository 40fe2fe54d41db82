"""What a connection to a CRM org is made of: how it signs in, which variables hold its secrets, and its limits."""

from __future__ import annotations

from enum import Enum

# The product allows one connection per CRM org, ten at most.
MAX_CONNECTIONS = 10


class CrmAuth(Enum):
    """How the gateway signs in to an org (OAuth 2.0 grants of the org's connected app).

    CLIENT_CREDENTIALS: the app's client id and secret, as the app's run-as user. PASSWORD: the client id and secret
    and a user's username and password. JWT_BEARER: an assertion signed with the private key whose certificate the
    app holds, naming the client id and the user (RFC 7523); no secret travels."""

    CLIENT_CREDENTIALS = "CLIENT_CREDENTIALS"
    PASSWORD = "PASSWORD"
    JWT_BEARER = "JWT_BEARER"


# The variables (attribute of a connection -> what they hold) each kind of sign-in needs.
NEEDED_VARIABLES: dict[CrmAuth, dict[str, str]] = {
    CrmAuth.CLIENT_CREDENTIALS: {"client_id_env": "client id", "client_secret_env": "client secret"},
    CrmAuth.PASSWORD: {"client_id_env": "client id", "client_secret_env": "client secret",
                       "username_env": "username", "password_env": "password"},
    CrmAuth.JWT_BEARER: {"client_id_env": "client id", "private_key_env": "private key"},
}


class ConnectionCheck(Enum):
    """What testing a connection checks, in this order; each gets one verdict."""

    REACHABILITY = "REACHABILITY"
    CREDENTIALS = "CREDENTIALS"
    API_VERSION = "API_VERSION"
    CTMS_IDENTIFIER_FIELD = "CTMS_IDENTIFIER_FIELD"
    CRM_IDENTIFIER_FIELD = "CRM_IDENTIFIER_FIELD"
