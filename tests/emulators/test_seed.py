"""The seed world is deterministic: the same arguments give the same records, byte for byte, in the same order."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date

import pytest

from emulators.seed import World, build_world

TODAY = date(2026, 3, 2)


def digest(world: World) -> str:
    """SHA-256 of the world as JSON, keeping every key and record in the order the seed wrote it."""
    text = json.dumps(dataclasses.asdict(world), default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(("people", "seed", "expected"), [
    (40, 7, "ba98d6270283db3eea5ba6eeb588a8d287c7481b06779bdcae1794b936bdff68"),
    (3, 7, "12684369e0cc4500c7c134ac9627f39b5d69865e6be0962f60cacec04b305ddf"),
    (200, 42, "4d017f67c9ba2f58c277e9297d5bf844cb5d052104ceffd0c3530a4a60def805"),
], ids=["40-people", "3-people", "200-people-seed-42"])
def test_the_world_is_the_same_byte_for_byte(people: int, seed: int, expected: str) -> None:
    assert digest(build_world(people, seed, today=TODAY)) == expected


def test_the_digest_sees_a_changed_record() -> None:
    world = build_world(40, today=TODAY)
    before = digest(world)
    world.crm["us"]["Call2_vod__c"][0]["Status_vod__c"] = "Planned_vod"
    assert digest(world) != before


def test_a_different_seed_or_day_gives_a_different_world() -> None:
    base = digest(build_world(40, today=TODAY))
    assert digest(build_world(40, seed=8, today=TODAY)) != base
    assert digest(build_world(40, today=date(2026, 3, 3))) != base
