"""The ingest report: what was read, mapped and set aside, and how, as HTML and CSV.

Why a report and not just a log: the person who ran the ingest has to show the data owner
that nothing was lost (read = mapped + set aside for every file and record type), which
codes careis understood and which it did not, how practice registration was derived and
which mapping files were applied. The CSV is the reconciliation for machines; the HTML says
the same for people.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careis.data.sources.ingest import IngestRun

TOP = 20  # unmapped codes shown per reason


def _table(head: list[str], rows: list[list[object]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(f'{v:,}' if isinstance(v, int) else str(v))}</td>" for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _codes(run: IngestRun) -> str:
    by_system = run.con.execute(
        "SELECT code_system, count(*), count(DISTINCT code) FROM out_events GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    unmapped = run.con.execute(
        f"""SELECT reason, detail, n FROM (
              SELECT reason, detail, count(*) AS n,
                     row_number() OVER (PARTITION BY reason ORDER BY count(*) DESC, detail) AS k
              FROM set_aside WHERE detail IS NOT NULL GROUP BY 1, 2) WHERE k <= {TOP}
            ORDER BY reason, n DESC, detail"""
    ).fetchall()
    return (
        "<h2>Codes</h2><p>Events written, by careis code system:</p>"
        + _table(["code system", "events", "distinct codes"], [list(r) for r in by_system])
        + f"<p>Values behind set-aside records (top {TOP} per reason), e.g. codes in a "
        "system careis does not map:</p>"
        + _table(["reason", "value", "records"], [list(r) for r in unmapped])
    )


def _size(run: IngestRun) -> str:
    """How much data there is, said plainly: a few patients per practice means a run's
    small-number suppression hides most figures (correct, not a failure)."""
    got = run.con.execute(
        """SELECT (SELECT count(*) FROM out_patients),
                  (SELECT count(DISTINCT practice_code) FROM out_registrations),
                  (SELECT max(n) FROM (SELECT count(DISTINCT patient_id) AS n
                                       FROM out_registrations GROUP BY practice_code)),
                  (SELECT min(start_date) FROM out_registrations),
                  (SELECT max(admission_date) FROM out_admissions),
                  (SELECT max(event_date) FROM out_events)"""
    ).fetchone()
    patients, practices, largest, first, last_adm, last_ev = got or (0, 0, 0, None, None, None)
    text = (
        f"{patients:,} patients registered with {practices:,} practices (the largest has "
        f"{largest or 0:,}). Registrations from {first or 'n/a'}; last admission "
        f"{last_adm or 'n/a'}; last coded event {last_ev or 'n/a'}. A careis run needs "
        "its periods inside these dates (the performance period may end at most a month "
        "after the last admission)."
    )
    if (largest or 0) < 1000:
        text += (
            " This is very little data: a run's small-number suppression (by default, counts "
            "of 1 to 7 are hidden and others rounded to 5) will hide most published figures. "
            "That is correct, not a failure."
        )
    return f"<h2>Size of the data</h2><p>{html.escape(text)}</p>"


def write_report(run: IngestRun, folder: Path, rows: dict[str, int]) -> None:
    """Write report.csv (the reconciliation) and report.html (everything) into `folder`."""
    from careis.data.sources.ingest import reconciliation_rows, write_reconciliation_csv

    write_reconciliation_csv(run, folder / "report.csv")
    totals = [sum(c.read for c in run.counts), sum(c.mapped for c in run.counts),
              sum(c.set_aside for c in run.counts)]  # fmt: skip
    ok = all(c.reconciles for c in run.counts)
    recon = _table(
        ["source file", "record type", "read", "mapped", "set aside", "reason", "count"],
        [list(r) for r in reconciliation_rows(run)],
    )
    ignored = "".join(
        f"<li>{html.escape(f)}: {html.escape(', '.join(c))}</li>"
        for f, c in sorted(run.ignored_columns.items())
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in run.notes)
    files = "".join(f"<li>{html.escape(str(p))}</li>" for p in run.mappings.files)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>careis ingest report: {html.escape(run.fmt)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #bbb;padding:2px 6px;text-align:left}}</style></head><body>
<h1>careis ingest ({html.escape(run.fmt)}): {html.escape(str(run.source))}</h1>
<p>Records read {totals[0]:,} = mapped {totals[1]:,} + set aside {totals[2]:,}:
<strong>{"reconciles" if ok else "DOES NOT RECONCILE"}</strong> for every file and record type.
Set-aside records are listed with file, line and id in set_aside.csv beside this report.</p>
<h2>Reconciliation</h2>{recon}
{_size(run)}
<h2>Canonical tables written</h2>{_table(["table", "rows"], [[k, v] for k, v in rows.items()])}
<h2>How the data were mapped</h2><ul>{notes}</ul>
<h2>Columns ignored</h2><ul>{ignored or "<li>none</li>"}</ul>
{_codes(run)}
<h2>Mapping files applied</h2><ul>{files}</ul>
<p>Every mapping row in force (with its origin) is in mappings_used.csv; override any with
<code>--mapping FILE</code> (see docs/data-sources.md).</p></body></html>"""
    (folder / "report.html").write_text(page, encoding="utf-8")
