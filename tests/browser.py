"""Headless Debian chromium for the browser tests: offline (loopback only), with every page error collected."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
