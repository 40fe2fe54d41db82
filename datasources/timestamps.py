"""Date-time text on the two wires: one helper for Vault's (`…51.000Z`) and one for Salesforce's (`…51.000+0000`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class WireTime:
    """A backend's date-time text: read in any ISO-8601 form it writes, written in UTC with milliseconds."""

    backend: str
    suffix: str  # how the written text says UTC

    def parse(self, text: str) -> datetime:
        """A timezone-aware UTC datetime; ValueError when the text is not a date and time (text without an
        offset is UTC, as both backends mean)."""
        if not isinstance(text, str) or "T" not in text:
            raise ValueError(f"not a {self.backend} date-time")
        try:
            value = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(f"not a {self.backend} date-time") from None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def parse_optional(self, value: object) -> datetime | None:
        """`parse` for a record's field, where null or empty text means no time."""
        if value is None or value == "":
            return None
        return self.parse(str(value))

    def format(self, value: datetime) -> str:
        """The text the backend reads; a naive datetime is taken as UTC."""
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}{self.suffix}"


# Vault writes and reads `2026-11-26T15:23:51.000Z`.
VAULT_TIME = WireTime("Vault", "Z")
# Salesforce writes `2026-11-26T15:23:51.000+0000` but documents `+hh:mm` for what it reads (SOQL literals and the
# start/end of the updated/deleted resources), so that is the form written here.
SALESFORCE_TIME = WireTime("Salesforce", "+00:00")
