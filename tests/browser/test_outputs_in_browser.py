"""Every HTML output as its readers see it, in real headless Chromium (issue 18 "done means").

For each page, at 1400 px (a desktop) and 390 px (a phone): the page is no wider than the
screen (wide tables scroll inside their own labelled region), the font actually used is a
sans-serif (the browser's own report, not the declared list: a broken stylesheet falls back to
Times), and axe-core finds no accessibility violation. Printed (A4, print media): no table
cell falls off the page and the collapsed details are expanded. On screen and in print every
chart scales to its container (viewBox, height auto) and is never wider than it. A screenshot of each page at
each width is kept under out/browser/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from careis.cli import main
from conftest import ARTEFACTS

pytestmark = pytest.mark.slow

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text("utf-8")
WIDTHS = (1400, 390)
A4_CSS_PX = 718  # 210 mm less the 2 x 12 mm page margins, at 96 px per inch
A4_LANDSCAPE_CSS_PX = 1032  # 297 mm less the margins: the report and the workbench print so
LANDSCAPE = {"report", "commissioning"}


@pytest.fixture(scope="module")
def pages(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One of each kind of HTML output: the run's, and the commissioning workbench's."""
    commission = tmp_path_factory.mktemp("commission")
    workbench = Path(__file__).parents[2] / "examples" / "commissioning" / "workbench.yaml"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "commission",
                "report",
                str(workbench),
                "--run",
                str(demo_run),
                "--out",
                str(commission),
            ]
        )
    assert info.value.code in (0, None)
    compared = tmp_path_factory.mktemp("compare")
    contracts = sorted((Path(__file__).parents[2] / "examples" / "contracts").glob("*.yaml"))
    with pytest.raises(SystemExit) as info:  # 20 draws: the page's layout, in a few seconds
        main(["contracts", "compare", str(demo_run), *map(str, contracts),
              "--out", str(compared), "--draws", "20"])  # fmt: skip
    assert info.value.code in (0, None)
    statement = sorted((demo_run / "practices").glob("*/statement.html"))[0]
    record = sorted(commission.glob("decision_record_*.html"))[0]
    return {
        "report": demo_run / "report.html",
        "statement": statement,
        "statements-index": demo_run / "payments" / "statements.html",
        "model-card": demo_run / "risk" / "model_card.html",
        "commissioning": commission / "commissioning_report.html",
        "decision-record": record,
        "service-specification": commission / "service_specification.html",
        "compare": compared / "report.html",
    }


NAMES = (
    "report",
    "statement",
    "statements-index",
    "model-card",
    "commissioning",
    "decision-record",
    "service-specification",
    "compare",
)


def _open(browser: Any, path: Path, width: int, media: str = "screen") -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.emulate_media(media=media)
    page.goto(path.as_uri())
    return page


def _fonts_used(page: Any, selector: str) -> list[str]:
    """The platform fonts Chromium actually drew the element's text with (DevTools' CSS
    domain), e.g. ['DejaVu Sans'] - not the font-family list the stylesheet declares."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return [f["familyName"] for f in fonts]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", NAMES)
def test_page_fits_the_screen_in_a_sans_serif(
    browser: Any, pages: dict[str, Path], name: str, width: int
) -> None:
    page = _open(browser, pages[name], width)
    try:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"{name}-{width}.png"))
        doc_width = page.evaluate("document.documentElement.scrollWidth")
        assert doc_width <= width, f"{name} is {doc_width} px wide on a {width} px screen"
        for selector in ("h1", "main p:not(.print-only)"):
            used = _fonts_used(page, selector)
            assert used and not any(
                re.search(r"serif|times", f, re.I) and "sans" not in f.lower() for f in used
            ), (name, selector, used)
    finally:
        page.close()


@pytest.mark.parametrize("name", NAMES)
def test_printed_page_keeps_every_column_and_opens_details(
    browser: Any, pages: dict[str, Path], name: str
) -> None:
    width = A4_LANDSCAPE_CSS_PX if name in LANDSCAPE else A4_CSS_PX
    page = _open(browser, pages[name], width, media="print")
    try:
        cut = page.evaluate(
            """w => [...document.querySelectorAll('th, td')]
                 .filter(c => c.getBoundingClientRect().right > w + 1)
                 .slice(0, 5).map(c => c.textContent.trim().slice(0, 40))""",
            width,
        )
        assert not cut, f"{name} printed on A4 loses cells: {cut}"
        hidden = page.evaluate(
            """() => [...document.querySelectorAll('details > :not(summary)')]
                 .filter(e => e.getBoundingClientRect().height === 0).length"""
        )
        assert hidden == 0, f"{name}: {hidden} collapsed details do not print"
    finally:
        page.close()


@pytest.mark.parametrize("name", NAMES)
def test_axe_finds_no_violations(browser: Any, pages: dict[str, Path], name: str) -> None:
    page = _open(browser, pages[name], 1400)
    try:
        page.add_script_tag(content=AXE)
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .map(v => v.id + ' (' + v.impact + ', ' + v.nodes.length + '): '
                      + v.nodes.slice(0, 2).map(n => n.target.join(' ')).join('; '))"""
        )
        assert violations == [], f"{name}: {violations}"
    finally:
        page.close()


#: Pages with charts, and how many at least (a page whose charts vanished would pass the fit
#: check with nothing to check).
CHARTS = {"report": 12, "compare": 8, "model-card": 1}
CHART_BOXES = """() => [...document.querySelectorAll('main svg.marks')].map(s => {
    const r = s.getBoundingClientRect(), box = s.parentElement.getBoundingClientRect();
    const vb = s.viewBox.baseVal;
    const text = [...s.querySelectorAll('text')].map(t => parseFloat(t.getAttribute('font-size')));
    return {width: r.width, height: r.height, right: r.right, room: box.width,
            vbw: vb ? vb.width : 0, vbh: vb ? vb.height : 0, font: Math.min(...text, 99)};
})"""


@pytest.mark.parametrize(
    ("width", "media"),
    [(1400, "screen"), (390, "screen"), (A4_CSS_PX, "print"), (A4_LANDSCAPE_CSS_PX, "print")],
)
@pytest.mark.parametrize("name", sorted(CHARTS))
def test_charts_scale_to_their_container(
    browser: Any, pages: dict[str, Path], name: str, width: int, media: str
) -> None:
    page = _open(browser, pages[name], width, media=media)
    try:
        charts = page.evaluate(CHART_BOXES)
        assert len(charts) >= CHARTS[name], f"{name}: {len(charts)} charts"
        for i, c in enumerate(charts):
            where = f"{name} chart {i} at {width} px ({media})"
            assert c["vbw"] > 0, f"{where} has no viewBox: it cannot scale"
            assert c["width"] <= c["room"] + 1, f"{where}: {c['width']:.0f} px in {c['room']:.0f}"
            assert c["right"] <= width + 1, f"{where} runs off the page"
            # height auto: drawn in the viewBox's proportions, not squashed or cropped
            assert abs(c["height"] / c["width"] - c["vbh"] / c["vbw"]) < 0.01, where
            if name == "compare":  # its panels are drawn near full size: 12 px text stays >= 11
                assert c["font"] * c["width"] / c["vbw"] >= 11, f"{where}: text too small"
    finally:
        page.close()
