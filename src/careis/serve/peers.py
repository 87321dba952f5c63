"""The measure page's "Compared with peers": an organisation against its peer practices.

Why only `measures/published.csv`: it is the file docs/disclosure.md says anyone may see
(counts of 1-7 hidden, others rounded to 5, secondary suppression, derived figures computed
from the published counts). Every figure here is one of its cells, or the funnel's pooled
value and limits computed from the cells it shows, so a hidden cell stays hidden and nothing
can be added back: exact results, monthly counts and patient rows are never read.

Who the peers are (as OpenPrescribing and Fingertips compare): for a practice, the practices
of its PCN in the run's memberships, or of its federation where it has no PCN; for a PCN,
federation or sub-ICB, its member practices. A practice that moved during the run is
compared with the group it joined last.

The funnel is `careis.measures.spc.funnel` (OHID's Fingertips method, as PHEindicatormethods'
`calculate_funnel_limits`: exact Poisson limits for rates, Wilson score for proportions,
95% and 99.8%, around the peers' pooled value), drawn by the report's `funnel_chart`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from careis.measures.results import MeasureInfo
from careis.measures.spc import FunnelKind, FunnelPoint, funnel
from careis.serve.runs import Row

#: A practice's peer group, in order of preference.
PRACTICE_PEER_LEVELS = ("pcn", "federation")
#: What a cell hidden by disclosure control shows, on the page and in the downloads.
SUPPRESSED = "suppressed"
WHERE_TEXT = {
    "": "within the limits",
    "above 95%": "above the 95% limit",
    "above 99.8%": "above the 99.8% limit",
    "below 95%": "below the 95% limit",
    "below 99.8%": "below the 99.8% limit",
}
LEVEL_WORDS = {"pcn": "PCN", "federation": "federation", "sub_icb": "sub-ICB"}


@dataclass(frozen=True)
class PeerGroup:
    """The practices an organisation is compared with: a PCN's, federation's or sub-ICB's."""

    level: str
    code: str
    members: list[str]
    focus: str  # the practice the page is about ("" for a group's own page)


@dataclass(frozen=True)
class Peer:
    """One peer practice's published cells, as text, and where it sits in the funnel."""

    code: str
    name: str
    numerator: str
    denominator: str
    value: str
    suppressed: bool
    where: str
    focus: bool
    plain: tuple[str, str, str]  # numerator, denominator, value for downloads (no separators)


@dataclass
class PeerView:
    """The peer comparison of one measure for one organisation (the page's section)."""

    group: PeerGroup | None
    peers: list[Peer] = field(default_factory=list)
    unit: str = ""
    centre: float | None = None
    points: list[FunnelPoint] = field(default_factory=list)
    kind: FunnelKind = "rate"
    per: float = 1000.0
    note: str = ""  # why there is no funnel ("" when there is one)


def peer_group(memberships: list[Row], level: str, code: str) -> PeerGroup | None:
    """The peer group of `code` at `level` from the run's memberships (None if it has none)."""
    if level == "practice":
        for group_level in PRACTICE_PEER_LEVELS:
            joined = [m for m in memberships
                      if m["practice_code"] == code and m["level"] == group_level]  # fmt: skip
            if joined:
                latest = max(joined, key=lambda m: m.get("joined") or "")["group_code"]
                members = _members(memberships, group_level, latest)
                return PeerGroup(group_level, latest, members, code)
        return None
    members = _members(memberships, level, code)
    return PeerGroup(level, code, members, "") if members else None


def _members(memberships: list[Row], level: str, group: str) -> list[str]:
    return sorted({m["practice_code"] for m in memberships
                   if m["level"] == level and m["group_code"] == group})  # fmt: skip


def funnel_kind(info: MeasureInfo) -> tuple[FunnelKind, float] | None:
    """Which funnel a measure takes, and its multiplier; None where the published cells
    cannot place it (a standardised rate needs the unpublished expected counts; a count or a
    change has no exposure)."""
    if info.kind == "proportion":
        return "proportion", 100.0
    if info.kind == "rate" and not info.standardised:
        return "rate", info.per or 1000.0
    return None


def _is_hidden(row: Row) -> bool:
    return str(row.get("suppressed", "")).lower() in ("true", "1", "yes")


def _number(text: str) -> float | None:
    try:
        return float(text) if text not in ("", None) else None
    except ValueError:
        return None


def _cell(text: str, *, count: bool, sep: str = ",") -> str:
    """A published cell as the page shows it (`sep=""`: as a download holds it, a number a
    spreadsheet reads): a hidden (blank) cell says so."""
    value = _number(text)
    if value is None:
        return SUPPRESSED
    return f"{value:{sep}.0f}" if count else f"{value:{sep}.1f}"


def performance_rows(published: Iterable[Row], measure: str, members: list[str]) -> list[Row]:
    """The published performance-period row of each member practice that has one."""
    wanted = set(members)
    return sorted(
        (r for r in published
         if r["measure_id"] == measure and r["level"] == "practice"
         and r["period"] == "performance" and r["org_code"] in wanted),
        key=lambda r: r["org_code"],
    )  # fmt: skip


def _plotted(rows: list[Row]) -> list[tuple[str, float, float]]:
    """(practice, numerator, denominator) of each row whose cells are all published."""
    out = []
    for r in rows:
        num, den = _number(r.get("numerator", "")), _number(r.get("denominator", ""))
        if not _is_hidden(r) and num is not None and den is not None and den > 0:
            out.append((r["org_code"], num, den))
    return out


def compare(
    info: MeasureInfo, group: PeerGroup | None, published: list[Row], names: dict[str, str]
) -> PeerView:
    """The peers' published cells and, where the measure takes one, their funnel."""
    if group is None:
        return PeerView(None, note="this organisation has no PCN or federation in the run.")
    rows = performance_rows(published, info.id, group.members)
    view = PeerView(group, unit=rows[0].get("unit", "") if rows else info.unit)
    if not rows:
        view.note = "the run's published results have no performance-period value for them."
        return view
    shape = funnel_kind(info)
    plotted = _plotted(rows)
    if shape is None:
        view.note = f"a {_kind_words(info)} has no funnel (its limits need figures not published)."
    elif len(plotted) < 2:
        view.note = "fewer than two peers have a published value."
    else:
        view.kind, view.per = shape
        codes, num, den = zip(*plotted, strict=True)
        view.centre, view.points = funnel(codes, num, den, kind=view.kind, per=view.per)
    where = {p.org: WHERE_TEXT[p.outside] for p in view.points}
    unplotted = "not plotted" if view.points else "no funnel plot"
    view.peers = [_peer(r, names, where, group.focus, unplotted) for r in rows]
    return view


def _kind_words(info: MeasureInfo) -> str:
    return "standardised rate" if info.standardised else info.kind


def _peer(
    row: Row, names: dict[str, str], where: dict[str, str], focus: str, unplotted: str
) -> Peer:
    code, hidden = row["org_code"], _is_hidden(row)
    cells = [_cells(row, hidden, sep) for sep in (",", "")]
    return Peer(
        code, names.get(code, ""), *cells[0], hidden,
        "not plotted (suppressed)" if hidden else where.get(code, unplotted),
        code == focus, cells[1],
    )  # fmt: skip


def _cells(row: Row, hidden: bool, sep: str) -> tuple[str, str, str]:
    """Numerator, denominator and value as published (a hidden row's value says so)."""
    num = _cell(row.get("numerator", ""), count=True, sep=sep)
    den = _cell(row.get("denominator", ""), count=True, sep=sep)
    return num, den, SUPPRESSED if hidden else _cell(row.get("value", ""), count=False, sep=sep)


PEER_FIELDS = ["organisation", "name", "numerator", "denominator", "value", "unit",
               "against_funnel_limits", "this_organisation"]  # fmt: skip


def peer_rows(view: PeerView) -> list[Row]:
    """The peers' table as download rows: the page's cells without thousands separators
    (hidden ones say so)."""
    return [
        {"organisation": p.code, "name": p.name, "numerator": p.plain[0],
         "denominator": p.plain[1], "value": p.plain[2], "unit": view.unit,
         "against_funnel_limits": p.where, "this_organisation": "yes" if p.focus else ""}
        for p in view.peers
    ]  # fmt: skip


def describe(view: PeerView, names: dict[str, str]) -> str:
    """Who the peers are, in words: 'the 2 practices of PCN U00001 (Name)'."""
    group = view.group
    if group is None:
        return ""
    name = names.get(group.code, "")
    label = f"{LEVEL_WORDS.get(group.level, group.level)} {group.code}"
    return f"the {len(group.members)} practices of {label}{f' ({name})' if name else ''}"
