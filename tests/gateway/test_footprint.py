"""What a gateway process loads: not Alembic (with Mako and Pygments) when its database needs no migration, nor the
PostgreSQL driver on SQLite; each is memory every process would hold for nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datasources.store.db import migrate

PROBE = """
import asyncio, sys
from gateway.app import create_app
from gateway.settings import Settings
app = create_app(Settings(database_url=sys.argv[1], worker=False, identifiers_refresh_s=0))
async def main():
    async with app.router.lifespan_context(app):
        pass
asyncio.run(main())
print(sorted(m for m in ("alembic", "mako", "pygments", "asyncpg") if m in sys.modules))
"""


@pytest.mark.slow  # a process of its own
def test_a_gateway_on_a_migrated_sqlite_database_loads_no_alembic_nor_asyncpg(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    migrate(url)
    out = subprocess.run([sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
