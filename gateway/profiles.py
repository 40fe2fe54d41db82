"""Security profiles from configuration: the roles a token carries -> the profiles they give -> permissions."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from domain.permissions import Permission

DEFAULT_FILE = Path(__file__).with_name("profiles.toml")


@dataclass(frozen=True)
class Profile:
    name: str
    roles: frozenset[str]
    permissions: frozenset[Permission]


@dataclass(frozen=True)
class Profiles:
    profiles: tuple[Profile, ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Profiles:
        """Read and check a profiles file; a mistake in it stops the gateway from starting."""
        file = Path(path) if path else DEFAULT_FILE
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh).get("profiles", {})
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SystemExit(f"profiles file {file}: {exc}") from None
        return cls(tuple(_profile(name, spec, file) for name, spec in raw.items()))

    def resolve(self, roles: list[str]) -> tuple[tuple[str, ...], frozenset[Permission]]:
        """The profiles these roles give, and the union of their permissions."""
        held = set(roles)
        matched = [p for p in self.profiles if p.roles & held]
        permissions = frozenset().union(*(p.permissions for p in matched)) if matched else frozenset()
        return tuple(p.name for p in matched), permissions


def _profile(name: str, spec: object, file: Path) -> Profile:
    if not isinstance(spec, dict):
        raise SystemExit(f"profiles file {file}: [profiles.{name}] must be a table")
    roles, perms = spec.get("roles", [name]), spec.get("permissions", [])
    if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        raise SystemExit(f"profiles file {file}: profiles.{name}.roles must be a list of strings")
    try:
        permissions = frozenset(Permission(p) for p in perms)
    except (ValueError, TypeError):
        known = ", ".join(p.value for p in Permission)
        raise SystemExit(f"profiles file {file}: profiles.{name}.permissions: each one of {known}") from None
    return Profile(name, frozenset(roles), permissions)
