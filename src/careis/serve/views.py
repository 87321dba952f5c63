"""View-models: what each page shows, built from data the Authorizer has already handed out.

Why separate from the routes: these are plain functions of rows and decisions, testable
without a browser, and they never open a file themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from careis.serve import workflow
from careis.serve.authorize import Rerun, RunView
from careis.serve.models import AuditEvent, Decision, User
from careis.serve.peers import LEVEL_WORDS, PeerView, describe
from careis.serve.runs import Row, Target, org_names, total


@cache
def _names() -> dict[str, str]:
    return org_names()


def name_of(code: str) -> str:
    """An organisation's name, or '' when careis's reference data does not know the code."""
    return _names().get(code, "")


@dataclass(frozen=True)
class RunLink:
    """One row of the run list: the run and this role's page in it."""

    name: str
    scheme: str
    status: str
    manifest_hash: str
    href: str


def run_link(user: User, view: RunView) -> RunLink:
    """Where this user's work in a run is: the overview, their group, practice or the ledger."""
    run = view.record.name
    href = {
        "commissioner": f"/runs/{run}",
        "federation": f"/runs/{run}/federations/{user.org_code}",
        "practice": f"/runs/{run}/practices/{user.org_code}",
        "finance": f"/runs/{run}/ledger",
    }[user.role]
    return RunLink(
        run, view.folder.scheme_name, view.record.status, view.record.manifest_hash, href
    )


def state_of(decision: Decision | None) -> str:
    """A practice's position on its statement, in words."""
    if decision is None:
        return "no decision yet"
    if decision.decision == "accept":
        return "accepted"
    return "query answered" if decision.answer is not None else "query open"


def run_values(db: Session, view: RunView) -> dict[str, Any]:
    """What every page of a run shows at its top (scheme, status, approval or rejection)."""
    return _run_values(db, view)


def measures(db: Session, view: RunView, charts: list[dict[str, Any]]) -> dict[str, Any]:
    """The measures page: each series' summary and the Making Data Count counts."""
    from careis.report.headline import mdc_summary
    from careis.serve.measures import settings_of

    suppression, _ = settings_of(view.folder)
    return {
        **_run_values(db, view), "charts": charts,
        "mdc": mdc_summary([c["summary"] for c in charts if c.get("summary")]),
        "suppressed_range": f"{suppression.low}-{suppression.high}",
    }  # fmt: skip


def peer_values(found: PeerView, funnel: str, code: str) -> dict[str, Any]:
    """The "Compared with peers" section: who the peers are, the funnel, the table, and a
    sentence saying where this organisation sits (or why it is not plotted)."""
    group = found.group
    focus = next((p for p in found.peers if p.focus), None)
    if focus is None or (not funnel and not focus.suppressed):
        position = ""
    elif focus.suppressed:
        position = f"{code}'s published value is suppressed, so it is not plotted."
    else:
        position = f"{code} is {focus.where} of the funnel (ringed and labelled on the chart)."
    return {
        "group": group, "who": describe(found, _names()), "peers": found.peers,
        "unit": found.unit, "funnel": funnel, "note": found.note, "position": position,
        "centre": "" if found.centre is None else f"{found.centre:,.1f}",
        "group_level": LEVEL_WORDS.get(group.level, group.level) if group else "",
        "exposure": "denominator" if found.kind == "proportion" else "person-years",
    }  # fmt: skip


def side_by_side(
    db: Session, view: RunView, base: RunView, differences: list[Any]
) -> dict[str, Any]:
    """Each provider's total in two runs of one scheme, with the change `careis pay diff`
    finds (run `base` is the diff's run A, this run its run B)."""
    changes = {d.key: d.difference for d in differences if d.table == "provider_total"}
    totals: dict[str, dict[str, Decimal | None]] = {}
    for which, folder in (("base", base.folder), ("this", view.folder)):
        for r in folder.statements():
            totals.setdefault(r["provider"], {"base": None, "this": None})
            current = totals[r["provider"]][which] or Decimal("0")
            totals[r["provider"]][which] = current + Decimal(r["amount"] or "0")
    rows = [
        {"provider": code, "name": name_of(code), "base": t["base"], "this": t["this"],
         "change": changes.get(code, "")}
        for code, t in sorted(totals.items())
    ]  # fmt: skip
    return {
        **_run_values(db, view), "base": base.record, "rows": rows,
        "inputs": [d for d in differences if d.table == "input"],
        "base_total": total(base.folder.statements()), "total": total(view.folder.statements()),
    }  # fmt: skip


SIDE_FIELDS = ["provider", "name", "base_run", "base_total", "this_run", "this_total", "change"]
SIDE_MONEY = {"base_total", "this_total"}


def side_rows(values: dict[str, Any]) -> list[Row]:
    """The side-by-side table: each provider's total in both runs and the change (text)."""
    return [
        {"provider": r["provider"], "name": r["name"], "base_run": values["base"].name,
         "base_total": "" if r["base"] is None else f"{r['base']:.2f}",
         "this_run": values["run"].name,
         "this_total": "" if r["this"] is None else f"{r['this']:.2f}", "change": r["change"]}
        for r in values["rows"]
    ]  # fmt: skip


def _run_values(db: Session, view: RunView) -> dict[str, Any]:
    return {
        "run": view.record, "scheme": view.folder.scheme_name,
        "commissioner": view.folder.commissioner_name,
        "approval": workflow.approval(db, view.record),
        "rejection": workflow.rejection(db, view.record),
    }  # fmt: skip


def overview(
    db: Session, view: RunView, rerun: Rerun | None, same_scheme: list[RunView] | None = None
) -> dict[str, Any]:
    """Every practice with its total and decision; the groups; open queries."""
    decisions = workflow.current_decisions(db, view.record)
    practices = [
        {
            "code": r["provider"], "name": name_of(r["provider"]), "pcn": r["pcn"],
            "federation": r["federation"], "total": r["total"],
            "state": state_of(decisions.get(r["provider"])),
        }
        for r in view.folder.summary()
        if r["provider"] in view.folder.practices()
    ]  # fmt: skip
    groups = [(level, g) for level in ("federation", "pcn") for g in view.folder.groups(level)]
    return {
        **_run_values(db, view), "practices": practices, "groups": groups,
        "queries": workflow.open_queries(db, view.record),
        "grand_total": total(view.folder.summary(), "total"), "rerun": rerun_tables(rerun),
        "same_scheme": [v.record.name for v in same_scheme or []],
    }  # fmt: skip


def _member_row(view: RunView, code: str, floors: dict[str, Decimal | None]) -> dict[str, Any]:
    lines = view.folder.practice_statement(code)
    performance = [r for r in lines if r["component_type"] == "performance"]
    below = [
        r["component_id"]
        for r in performance
        if floors.get(r["component_id"]) is not None
        and r["met"] != "not_assessable"  # in no group at the level: no floor was tested
        and _num(r["measure_value"]) is not None
        and _num(r["measure_value"]) > -floors[r["component_id"]]  # type: ignore[operator]
    ]
    return {
        "code": code, "name": name_of(code), "total": total(lines),
        "performance": performance, "below_floor": below,
    }  # fmt: skip


def _aim(target: Target, value: str) -> dict[str, Any]:
    """The group's change against the target reduction, at the two decimals statements print."""
    number = _num(value)
    shown = None if number is None else number.quantize(Decimal("0.01"))
    met = None
    if shown is not None and target.target_percent is not None:
        met = shown <= -target.target_percent
    return {"target": target, "value": shown, "met": met}


def federation(db: Session, view: RunView, org: str, members: list[str]) -> dict[str, Any]:
    """Members against the contract's federation target and practice floor."""
    targets = view.folder.targets()
    floors = {t.component_id: t.floor_percent for t in targets}
    level = "federation" if "federation" in view.folder.group_levels(org) else "pcn"
    aims = [_aim(t, view.folder.measure_value(t.measure, level, org)) for t in targets]
    rows = [_member_row(view, code, floors) for code in members]
    return {
        **_run_values(db, view), "org": org,
        "org_name": name_of(org), "level": level, "aims": aims, "members": rows,
        "group_total": sum((r["total"] for r in rows), Decimal("0")),
    }  # fmt: skip


def practice(db: Session, view: RunView, code: str, lines: list[Row]) -> dict[str, Any]:
    """The statement (named and totalled), the decision history and the current state."""
    history = db.scalars(
        select(Decision)
        .where(Decision.run_id == view.record.id, Decision.practice_code == code)
        .order_by(Decision.id)
    ).all()
    first = lines[0] if lines else {}
    return {
        **_run_values(db, view), "code": code, "name": name_of(code),
        "pcn": first.get("pcn", ""), "federation": first.get("federation", ""),
        "lines": lines, "total": total(lines), "history": history,
        "state": state_of(history[-1] if history else None),
    }  # fmt: skip


def ledger(db: Session, view: RunView, rows: list[Row], rerun: Rerun | None) -> dict[str, Any]:
    return {**_run_values(db, view), "rows": rows, "rerun": rerun_tables(rerun)}


#: `careis pay diff`'s tables, in the order and words the pages show them.
DIFF_TABLES = {
    "input": "Inputs", "provider_total": "Totals per provider", "statement": "Statement lines",
    "ledger": "Ledger movements",
}  # fmt: skip


def rerun_tables(rerun: Rerun | None) -> dict[str, Any] | None:
    """A re-run's differences against the approved run, grouped as `careis pay diff` lists them."""
    if rerun is None:
        return None
    groups = [
        (table, title, [d for d in rerun.differences if d.table == table])
        for table, title in DIFF_TABLES.items()
    ]
    return {
        "base": rerun.base.record, "error": rerun.error, "count": len(rerun.differences),
        "groups": [g for g in groups if g[2]],
        "base_total": rerun.base_total, "total": rerun.total,
        "change": rerun.total - rerun.base_total,
    }  # fmt: skip


def audit(db: Session, view: RunView) -> dict[str, Any]:
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.run_name == view.record.name).order_by(AuditEvent.id)
    ).all()
    return {**_run_values(db, view), "events": events}


def _num(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except ArithmeticError:
        return None


# --- the pages' tables as download rows (CSV text by column) ---------------------------------

RUN_FIELDS = ["run", "scheme", "status", "manifest_sha256"]


def run_rows(links: list[RunLink]) -> list[Row]:
    return [
        {"run": r.name, "scheme": r.scheme, "status": r.status, "manifest_sha256": r.manifest_hash}
        for r in links
    ]


def practice_rows(practices: list[dict[str, Any]]) -> list[Row]:
    """The overview's practices: code, name, PCN, federation, total, position."""
    return [
        {"practice": p["code"], "name": p["name"], "pcn": p["pcn"], "federation": p["federation"],
         "total": str(p["total"]), "statement": p["state"]}
        for p in practices
    ]  # fmt: skip


#: A member's performance line in the download's words (anything else: not met).
MEMBER_MET = {"yes": "met", "not_assessable": "not assessable"}


def member_rows(members: list[dict[str, Any]]) -> list[Row]:
    """A federation's members: each performance line, the floor, the total (no patients)."""
    return [
        {
            "practice": m["code"], "name": m["name"],
            "performance": "; ".join(
                f"{p['component_id']}: {p['measure_value']}% "
                f"{MEMBER_MET.get(p['met'], 'not met')}"
                for p in m["performance"]
            ),
            "below_floor": ", ".join(m["below_floor"]), "total": f"{m['total']:.2f}",
        }
        for m in members
    ]  # fmt: skip


CHANGE_FIELDS = [
    "table", "key", "approved_sha256", "this_sha256", "approved_amount", "this_amount",
    "change",
]  # fmt: skip
#: The money columns of a table of changes (an input's change is words, which stay text).
CHANGE_MONEY = {"approved_amount", "this_amount", "change"}


def change_rows(rerun: Rerun, table: str) -> list[Row]:
    """One table of `careis pay diff`, hashes and amounts in columns of their own (so a hash
    is never read as a number by a spreadsheet)."""
    rows = []
    for d in rerun.differences:
        if d.table != table:
            continue
        hashes = (d.run_a, d.run_b, "", "") if table == "input" else ("", "", d.run_a, d.run_b)
        rows.append(dict(zip(CHANGE_FIELDS, (d.table, d.key, *hashes, d.difference), strict=True)))
    return rows


AUDIT_FIELDS = ["at_utc", "user", "action", "detail", "run", "manifest_sha256"]


def audit_rows(events: Any) -> list[Row]:
    return [
        dict(zip(AUDIT_FIELDS, (e.at.isoformat(sep=" "), e.user_name, e.action, e.detail,
                                e.run_name or "", e.manifest_hash or ""), strict=True))
        for e in events
    ]  # fmt: skip
