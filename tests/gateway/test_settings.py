"""Settings: defaults, a TOML file, CCGW_* variables over it, and clear refusals of bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.permissions import Permission
from gateway.auth import default_actor
from gateway.settings import Settings


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "ccgw.toml"
    config.write_text('[ccgw]\nctms_url = "https://vault.example.com"\nmax_attempts = 4\nworker = false\n')
    s = Settings.load(str(config), env={"CCGW_MAX_ATTEMPTS": "6", "CCGW_INLINE_DELIVERY_S": "0.5"})
    assert (s.ctms_url, s.max_attempts, s.worker, s.inline_delivery_s) == ("https://vault.example.com", 6, False, 0.5)
    assert Settings.load(env={"CCGW_CONFIG": str(config)}).ctms_url == "https://vault.example.com"
    assert Settings.load(env={}).database_url == "sqlite:///ccgw.db"


@pytest.mark.parametrize(("name", "value"), [("CCGW_MAX_ATTEMPTS", "many"), ("CCGW_WORKER", "perhaps"),
                                             ("CCGW_CTMS_TIMEOUT_S", "soon")])
def test_a_bad_value_stops_with_a_clear_message(name: str, value: str) -> None:
    with pytest.raises(SystemExit, match=f"{name.removeprefix('CCGW_').lower()}: '{value}' is not a valid"):
        Settings.load(env={name: value})


def test_the_default_user_and_permissions_come_from_settings() -> None:
    actor = default_actor(Settings(default_user="Ada Lovelace <ada@example.com>",
                                   default_permissions="MEDICAL_ACTIVITY_VIEW"))
    assert (actor.name, actor.email) == ("Ada Lovelace", "ada@example.com")
    assert actor.owner == "Ada Lovelace (ada@example.com)"
    assert actor.permissions == frozenset({Permission.MEDICAL_ACTIVITY_VIEW})
    with pytest.raises(SystemExit, match="CCGW_DEFAULT_USER"):
        default_actor(Settings(default_user="no email here"))
    with pytest.raises(SystemExit, match="CCGW_DEFAULT_PERMISSIONS"):
        default_actor(Settings(default_permissions="FLY"))
