"""An OpenID provider stand-in: discovery, JWKS with rotation, code + PKCE with a demo-user login page, client
credentials."""

from .app import create_app
from .users import DEMO_USERS, SERVICE_CLIENT, WEB_CLIENT_ID, DemoUser

__all__ = ["create_app", "DEMO_USERS", "SERVICE_CLIENT", "WEB_CLIENT_ID", "DemoUser"]
