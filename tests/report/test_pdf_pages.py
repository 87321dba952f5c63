"""The PDFs as paper: a practice's statement and the service specification, rasterised.

Issue 18 "done means": the PDFs rasterised (poppler's pdftoppm) and checked. Each page is A4,
has something on it, and nothing runs into the right-hand margin (a table wider than the page
is not cut by WeasyPrint, it is drawn past the margin and then off the paper); the text
(pdftotext) names the practice and gives the statement's total exactly as its CSV sums. Pages
are kept as PNG under out/pdf/ for a person to look at.

Without poppler-utils the tests skip with the reason, except where CAREIS_REQUIRE_BROWSER=1
(.ci/run, which installs it): there a missing pdftoppm is a failure, as a missing browser is.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from careis.cli import main
from careis.money import format_gbp

pytestmark = pytest.mark.slow

ARTEFACTS = Path(__file__).parents[2] / "out" / "pdf"
CONTRACT = Path(__file__).parents[2] / "examples" / "contracts" / "enhanced_service.yaml"
DPI = 60
MM = DPI / 25.4  # pixels a millimetre
A4 = (round(210 * MM), round(297 * MM))
RIGHT_MARGIN_MM = 14  # print_document.css: @page { margin: 16mm 14mm }
WHITE = 250  # grey level counted as paper (anti-aliasing leaves 251-255 at edges)


@pytest.fixture(scope="module")
def poppler() -> None:
    missing = [t for t in ("pdftoppm", "pdftotext") if shutil.which(t) is None]
    if missing:
        reason = f"no {' or '.join(missing)} on PATH (apt-get install poppler-utils)"
        if os.environ.get("CAREIS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CAREIS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)


def _pages(pdf: Path, out: Path) -> list[tuple[int, int, bytes]]:
    """Each page as (width, height, grey bytes), from pdftoppm's binary PGM; a PNG of each is
    kept beside for eyes."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(pdf), str(out / pdf.stem)], check=True)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", str(pdf), str(out / pdf.stem)], check=True)
    pages = []
    for pgm in sorted(out.glob(f"{pdf.stem}-*.pgm")):
        data = pgm.read_bytes()
        magic, width, height, depth, pixels = data.split(maxsplit=4)
        assert (magic, depth) == (b"P5", b"255"), pgm
        pages.append((int(width), int(height), pixels[: int(width) * int(height)]))
        pgm.unlink()
    return pages


def _check_paper(pdf: Path, out: Path) -> int:
    pages = _pages(pdf, out)
    assert pages, f"{pdf}: no pages"
    for n, (width, height, pixels) in enumerate(pages, start=1):
        where = f"{pdf.name} page {n}"
        assert abs(width - A4[0]) <= 1 and abs(height - A4[1]) <= 1, (where, width, height)
        ink = [i for i, v in enumerate(pixels) if v < WHITE]
        assert len(ink) > width * height // 200, f"{where} is blank"
        rightmost = max(i % width for i in ink)
        limit = width - (RIGHT_MARGIN_MM - 1) * MM
        assert rightmost <= limit, f"{where}: ink at {rightmost / MM:.0f} mm, into the margin"
    return len(pages)


def _text(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True)
    return " ".join(done.stdout.decode("utf-8").split())


def test_a_practice_statement_on_paper(poppler: None, demo_run: Path) -> None:
    folder = sorted((demo_run / "practices").glob("*/statement.pdf"))[0].parent
    with (folder / "statement.csv").open(encoding="utf-8", newline="") as handle:
        total = sum((Decimal(r["amount"]) for r in csv.DictReader(handle)), Decimal(0))
    assert _check_paper(folder / "statement.pdf", ARTEFACTS / folder.name) == 1
    text = _text(folder / "statement.pdf")
    name = _practice_name(demo_run, folder.name)  # the payment file's, in the data's capitals
    assert name.lower() in text.lower(), f"{name!r} not in the statement's text"
    assert f"Total {format_gbp(total)}" in text, f"total {format_gbp(total)} not printed"
    assert re.search(r"\b\d{1,3},\d{3} × ", text), "quantities as finance writes them (10,443)"
    # a group target's line says whose change the figure is (the practice's own)
    assert "(this practice; the target is on federation" in text


def _practice_name(run: Path, code: str) -> str:
    with (run / "payments" / "payment_file.csv").open(encoding="utf-8", newline="") as handle:
        return next(r["name"] for r in csv.DictReader(handle) if r["provider"] == code)


def test_the_service_specification_on_paper(
    poppler: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("spec")
    with pytest.raises(SystemExit) as info:
        main(["commission", "spec", str(CONTRACT), "--out", str(out)])
    assert info.value.code in (0, None)
    pages = _check_paper(out / "service_specification.pdf", ARTEFACTS / "service_specification")
    assert pages >= 2, "title page, then the specification"
    text = _text(out / "service_specification.pdf")
    assert "Proactive Care Enhanced Service 2024/25" in text
    assert "Sign-off" in text and "Personalised care plans" in text
