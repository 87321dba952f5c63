"""The stylesheet is served once at an address naming its content, not inlined in each page.

Why it matters: the vendored NHS.UK frontend CSS is ~284 KB; inlined, every page (never
cached: pages can hold patient data) carried it again. The static report keeps its inline
CSS: it must work as one file.
"""

from __future__ import annotations

import hashlib
import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from careis.report.html import environment
from careis.serve.app import STYLESHEET_URL
from conftest import login

LINK = re.compile(r'<link rel="stylesheet" href="(/static/careis-[0-9a-f]{16}\.css)">')
#: A page's HTML without the stylesheet (measured on the tiny run: login 1,290 bytes, the
#: commissioner's overview 4,061; with the CSS inlined they were 293,189 and 295,960).
PAGE_LIMIT = 30_000


def test_pages_link_the_stylesheet_instead_of_inlining_it(app: FastAPI) -> None:
    anonymous = TestClient(app)
    login_page = anonymous.get("/login")
    comm = login(app, "comm")
    for response in (login_page, comm.get("/runs/rerun"), comm.get("/runs/open/audit")):
        assert response.status_code == 200
        assert len(response.content) < PAGE_LIMIT, len(response.content)
        assert "<style" not in response.text and " style=" not in response.text
        assert LINK.findall(response.text) == [STYLESHEET_URL]
        assert response.headers["cache-control"] == "no-store"
        assert "style-src 'self'" in response.headers["content-security-policy"]
        assert "unsafe-inline" not in response.headers["content-security-policy"]


def test_the_stylesheet_answers_with_long_caching_to_anyone(app: FastAPI) -> None:
    css = TestClient(app).get(STYLESHEET_URL)  # not logged in: the login page needs it
    assert css.status_code == 200
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert css.headers["x-content-type-options"] == "nosniff"
    digest = hashlib.sha256(css.content).hexdigest()[:16]
    assert STYLESHEET_URL.endswith(f"/careis-{digest}.css")
    text = css.text
    assert len(css.content) > 250_000 and ".nhsuk-header" in text  # the NHS.UK frontend
    assert ".nhsuk-header__account" in text  # serve's own rules


def test_another_stylesheet_address_is_not_found(app: FastAPI) -> None:
    client = TestClient(app)
    for url in ("/static/careis-0000000000000000.css", "/static/careis-../x.css"):
        response = client.get(url)
        assert response.status_code == 404 and response.headers["cache-control"] == "no-store"


def test_the_static_report_still_inlines_its_css() -> None:
    """The report's layout keeps the CSS inline (one file works on its own)."""
    assert ".nhsuk-header" in str(environment().globals["css"])
    base = environment().loader.get_source(environment(), "base.html.j2")[0]  # type: ignore[union-attr]
    assert "<style>" in base and "{{ css }}" in base
