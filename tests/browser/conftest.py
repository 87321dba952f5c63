"""Headless Chromium for the browser tests: the system browser, driven by Playwright.

Why the system browser: browser downloads are blocked here and in CI, so Playwright is pointed
at Debian's `chromium` (`executable_path`). Without it the tests skip with the reason, except
where CAREIS_REQUIRE_BROWSER=1 (.ci/run sets it): there a missing browser is a failure, so CI
can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Screenshots are kept here as test artefacts (out/ is git-ignored).
ARTEFACTS = Path(__file__).parents[2] / "out" / "browser"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CAREIS_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "CAREIS_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)"
            )
        pytest.skip("no chromium on PATH: install Debian's chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()
