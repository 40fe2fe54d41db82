"""A stand-in for the Veeva Vault Clinical (CTMS) REST API: auth, VQL, object records, metadata, burst limits."""

from .app import API_VERSION, create_app

__all__ = ["create_app", "API_VERSION"]
