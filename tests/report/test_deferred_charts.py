"""Charts drawn together (in worker processes) are the same SVG as charts drawn one by one.

`careis.run_report.write_report` draws the report's charts inside `deferred_svgs`, sharing
them between processes; the report must stay byte-identical to drawing each in turn.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from careis.report import charts, svg_render


def _charts(n: int) -> list[alt.Chart]:
    out = []
    for i in range(n):
        df = pd.DataFrame({"month": list(range(12)), "rate": [(j * 7 + i) % 11 for j in range(12)]})
        out.append(
            alt.Chart(df, title=f"chart {i}")
            .mark_line(point=True)
            .encode(x="month:O", y="rate:Q", tooltip=["month", "rate"])
        )
    return out


def test_deferred_charts_drawn_in_parallel_are_the_same_svg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_by_one = [charts.to_svg(c) for c in _charts(5)]
    monkeypatch.setattr(svg_render, "_workers", lambda n: 2)
    with charts.deferred_svgs() as fill:
        tokens = [charts.to_svg(c) for c in _charts(5)]
        assert all(t.startswith("@@careis-chart-") for t in tokens)
        page = fill("<p>" + "</p><p>".join(tokens) + "</p>")
    assert page == "<p>" + "</p><p>".join(one_by_one) + "</p>"
    assert "<title>" in one_by_one[0]  # the tooltips are added to deferred charts too


def test_outside_the_context_charts_are_drawn_at_once() -> None:
    (chart,) = _charts(1)
    with charts.deferred_svgs():
        pass
    assert charts.to_svg(chart).startswith("<svg")


def test_few_charts_are_drawn_in_this_process() -> None:
    assert svg_render._workers(svg_render.PARALLEL_MIN - 1) == 0
