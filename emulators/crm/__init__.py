"""A stand-in for a Salesforce REST API org (Veeva CRM): OAuth, SOQL, sObjects, collections, describe, polling."""

from .app import create_app
from .store import MEMORY_URL

__all__ = ["create_app", "MEMORY_URL"]
