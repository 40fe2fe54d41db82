"""A stand-in for the Veeva Vault Clinical (CTMS) REST API: auth, VQL, object records, metadata, burst limits."""

from .app import create_app
from .vault import API_VERSION

__all__ = ["create_app", "API_VERSION"]
