"""The format of the backends' record ids: an id that does not fit names no record, and is never sent."""

from __future__ import annotations

import re

# Vault and Salesforce both use case-sensitive 15-character ids, and an 18-character form (Salesforce's
# case-safe one; the CTMS stand-in's ids are 15).
_RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def is_record_id(value: object) -> bool:
    """A CTMS or CRM record id: 15 or 18 letters and digits."""
    return isinstance(value, str) and _RECORD_ID.fullmatch(value) is not None
