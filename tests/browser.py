"""Headless Debian chromium for the browser tests: offline (loopback only), with every page error collected."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

TIMEOUT_MS = 15_000
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


def find_chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class OfflinePage:
    page: Any
    external: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def assert_clean(self, *, console: bool = True) -> None:
        assert self.external == [], f"the page tried to reach the internet: {self.external}"
        assert self.page_errors == [], f"JavaScript errors on the page: {self.page_errors}"
        if console:
            assert self.console_errors == [], f"console errors (CSP?): {self.console_errors}"


@contextmanager
def offline_page() -> Iterator[OfflinePage]:
    """A page in headless chromium that may reach 127.0.0.1 only; skips the test when chromium is missing."""
    chromium = find_chromium()
    if chromium is None:
        reason = "no chromium at /usr/bin/chromium or on PATH (apt-get install chromium)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            out = OfflinePage(context.new_page())

            def only_loopback(route, request) -> None:  # noqa: ANN001 - the page must work with no internet
                if urlsplit(request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    out.external.append(request.url)
                    route.abort()

            context.route("**/*", only_loopback)
            out.page.on("pageerror", lambda exc: out.page_errors.append(str(exc)))
            out.page.on("console", lambda msg: out.console_errors.append(msg.text) if msg.type == "error" else None)
            yield out
        finally:
            browser.close()


# -- accessibility and screenshots ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-output" / "screenshots"
WIDTHS = (375, 1400)
HEIGHT = 900
BLOCKING = ("serious", "critical")


def axe_violations(page: Any) -> list[dict]:
    """axe-core's violations on the page as it is now; its script is evaluated from the test side (the page's CSP
    allows no script but its own, and the gateway never serves axe)."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT.relative_to(ROOT)} is missing: run `npm ci` (make install)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    return page.evaluate("""async () => {
        const result = await window.axe.run(document, { resultTypes: ["violations"] });
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
    }""")


def assert_accessible(page: Any, view: str) -> list[dict]:
    """No serious or critical axe-core violation; the minor and moderate ones are returned (and printed)."""
    found = axe_violations(page)
    blocking = [v for v in found if v["impact"] in BLOCKING]
    assert blocking == [], f"{view}: axe-core found serious or critical violations: {blocking}"
    for v in found:
        print(f"axe {view}: {v['impact']} {v['id']}: {v['help']} at {v['targets']}")
    return found


def check_view(page: Any, view: str) -> list[Path]:
    """axe-core at 375 px and 1400 px wide, and a full-page screenshot at each width written to
    test-output/screenshots/<view>-<width>.png; the viewport is put back as it was."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    shots = []
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{view} at {width} px scrolls sideways by {overflow} px"
            assert_accessible(page, f"{view} at {width} px")
            path = SCREENSHOTS / f"{view}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(path)
    finally:
        if before:
            page.set_viewport_size(before)
    return shots
