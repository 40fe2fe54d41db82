"""The owner/form text carried to the other system: "[First] [Last] ([Email])"."""

from __future__ import annotations

MAX_LENGTH = 255


def owner_text(first: str | None, last: str | None, email: str | None) -> str | None:
    """The owner text of a user, or None when nothing is known of them (the field is optional)."""
    name = " ".join(part.strip() for part in (first, last) if part and part.strip())
    mail = (email or "").strip()
    if not name and not mail:
        return None
    text = f"{name} ({mail})" if name and mail else name or f"({mail})"
    return text[:MAX_LENGTH]
