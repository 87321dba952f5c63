"""The one place that decides who may read what: every page and download asks the Authorizer.

Why one module: a practice user must never read another practice's file by guessing a URL,
and a federation or commissioner user must never get a patient-level file. When every read
goes through these methods (they return the data, not a yes/no), a new page cannot forget the
check; the access-matrix test walks every route against every role to prove it.

Rules (role x organisation scope, the user's `org_code`):
- commissioner: runs whose contract names its code as commissioner; every federation, PCN
  and practice statement in them; the ledger and audit log; never patient-level files.
- federation (or PCN): runs it has members in; its own page and its members' statements;
  never patient-level files.
- practice: runs it is paid in; its own statement, register and worklist files only.
- finance: approved runs of its commissioner only; the ledger and the payment file (a
  rejected run is never approved, so finance never sees it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from careis.errors import CareisError, DataError
from careis.payments.diff import Difference, diff_runs
from careis.serve import measures, peers
from careis.serve.measures import Series
from careis.serve.models import Approval, Run, User
from careis.serve.runs import Row, RunFolder, manifest_hash, total, valid_name
from careis.serve.statement import StatementRun, statement_run

_T = TypeVar("_T")

#: Patient-level files a practice may download from its own folder (and nobody else may).
PRACTICE_FILES = frozenset(
    {"register.csv", "frailty.csv", "register_changes.csv", "measure_flags.csv", "worklist.csv"}
)
FILE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\.csv")


class Denied(Exception):
    """403: the user is logged in but this is not theirs to see or do."""


class Missing(Exception):
    """404: no such run, organisation or file (or not one this user may know of)."""


class Changed(Exception):
    """409: the run folder's manifest no longer matches the one registered."""


@dataclass(frozen=True)
class RunView:
    """A registered run with its folder, handed out only by the Authorizer."""

    record: Run
    folder: RunFolder


@dataclass(frozen=True)
class Rerun:
    """What changed in a run against its scheme's approved run (`careis pay diff`)."""

    base: RunView
    differences: list[Difference]
    base_total: Decimal
    total: Decimal
    error: str = ""  # why the difference could not be computed (a damaged file), else ""


class Folders:
    """RunFolder objects kept between requests (their CSVs are read once), and what is made
    from them once per registered run: differences, monthly series, SPC charts, peers and
    funnels (registered runs never change: a changed manifest is refused first).

    Why a lock per entry: FastAPI runs the pages in a thread pool, and fifty users opening a
    measure at once would each draw its chart (0.3-1.1 s of CPU) before the first had cached
    it; the load test's slow tail was exactly that. One request makes an entry; the others
    wait for it, while entries of other keys are made in parallel.
    """

    def __init__(self) -> None:
        self._by_path: dict[str, RunFolder] = {}
        self._made: dict[tuple[Any, ...], Any] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, record: Run) -> RunFolder:
        with self._guard:
            if record.path not in self._by_path:
                self._by_path[record.path] = RunFolder(Path(record.path))
            return self._by_path[record.path]

    def _once(self, key: tuple[Any, ...], make: Callable[[], _T]) -> _T:
        """The entry `key`, made by `make` the first time it is asked for (once, by one thread)."""
        if key in self._made:
            return cast(_T, self._made[key])
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._made:
                self._made[key] = make()
        return cast(_T, self._made[key])

    def diff(self, base: RunView, view: RunView) -> list[Difference]:
        """`careis pay diff` of the approved run `base` (run A) and `view` (run B)."""
        key = ("diff", base.record.path, base.record.manifest_hash, view.record.path,
               view.record.manifest_hash)  # fmt: skip
        return self._once(key, lambda: diff_runs(base.folder.root, view.folder.root))

    def series(self, view: RunView) -> dict[measures.Key, measures.Series]:
        """The run's monthly series (read once per registered run)."""
        key = ("series", view.record.path, view.record.manifest_hash)
        return self._once(key, lambda: measures.series_of(view.folder))

    def subjects(self, view: RunView) -> dict[measures.Key, measures.Series]:
        """Every measure and organisation with a page: monthly series and yearly results."""
        key = ("subjects", view.record.path, view.record.manifest_hash)
        return self._once(key, lambda: measures.subjects_of(view.folder, self.series(view)))

    def published(self, view: RunView) -> list[dict[str, Any]]:
        """published.csv typed for the report's measure table (read once per run)."""
        key = ("published", view.record.path, view.record.manifest_hash)
        return self._once(key, lambda: measures.published_rows(view.folder))

    def statement_run(self, view: RunView) -> StatementRun:
        """What every statement of the run shares (its contract, ledger, reference), read once
        per run rather than on every practice page."""
        key = ("statement_run", view.record.path, view.record.manifest_hash)
        return self._once(key, lambda: statement_run(view.folder))

    def chart(self, view: RunView, series: measures.Series, *, draw: bool = True) -> dict[str, Any]:
        """One series' SPC chart and summary, by the report's code (once per run); `draw=False`
        for the summary alone (a summary table of a hundred series is then instant). A
        measure with yearly results only has no chart: its note says so."""
        key = ("chart", view.record.path, view.record.manifest_hash,
               (series.measure, series.level, series.org), draw)  # fmt: skip
        if not series.points:
            return self._once(key, lambda: _not_charted(series))
        return self._once(key, lambda: _chart(view, series, draw=draw))

    def peers(self, view: RunView, series: measures.Series) -> peers.PeerView:
        """The series' organisation against its peers, from published.csv (once per run)."""
        key = ("peers", view.record.path, view.record.manifest_hash,
               (series.measure, series.level, series.org))  # fmt: skip

        def compare() -> peers.PeerView:
            group = peers.peer_group(view.folder.memberships(), series.level, series.org)
            info = measures.measure_info(series.measure)
            return peers.compare(info, group, view.folder.published(), measures.names())

        return self._once(key, compare)

    def funnel(self, view: RunView, series: measures.Series) -> str:
        """The peers' funnel plot as SVG by the report's `funnel_chart` ('' without one)."""
        key = ("funnel", view.record.path, view.record.manifest_hash,
               (series.measure, series.level, series.org))  # fmt: skip
        return self._once(key, lambda: _draw_funnel(self.peers(view, series), series))


def _chart(view: RunView, series: measures.Series, *, draw: bool) -> dict[str, Any]:
    """A monthly series charted by the report's `spc_series`, named for the pages."""
    from careis.report.measures_view import spc_series

    info = measures.measure_info(series.measure)
    suppression, periods = measures.settings_of(view.folder)
    names = measures.names()
    chart = spc_series(info, series.level, series.org, series.points, suppression,
                       names, periods, draw=draw)  # fmt: skip
    return _named(chart, series)


def _not_charted(series: measures.Series) -> dict[str, Any]:
    """The chart entry of a measure with no monthly series (its results are for the year)."""
    info = measures.measure_info(series.measure)
    org = measures.names().get(series.org, "") or series.org
    chart = {"title": f"{info.name}, {org} ({series.org})", "svg": "",
             "note": "the run reports it for each period, not month by month"}  # fmt: skip
    return _named(chart, series)


def _named(chart: dict[str, Any], series: measures.Series) -> dict[str, Any]:
    """A chart entry with what the pages name it by, and its one-sentence summary."""
    info = measures.measure_info(series.measure)
    org_name = measures.names().get(series.org, "")
    chart.update(
        measure=series.measure, name=info.name, level=series.level.replace("_", "-"),
        org=series.org, org_name=org_name,
        sentence=measures.sentence(chart, f"{info.name}, {org_name or series.org}"),
    )  # fmt: skip
    return chart


def _draw_funnel(found: peers.PeerView, series: measures.Series) -> str:
    """The funnel of `found`, the page's practice ringed; titles in the measure's units."""
    if found.centre is None or found.group is None:
        return ""
    from careis.report.spc_charts import funnel_chart

    info = measures.measure_info(series.measure)
    group = f"{peers.LEVEL_WORDS.get(found.group.level, found.group.level)} {found.group.code}"
    proportion = found.kind == "proportion"
    return funnel_chart(
        found.centre, found.points,
        title=f"{info.name}, performance period, practices of {group}",
        x_title="denominator" if proportion else "person-years",
        y_title="%" if proportion else f"rate per {found.per:,.0f}",
        per=found.per, kind=found.kind, highlight=found.group.focus,
    )  # fmt: skip


class Authorizer:
    """Role x scope checks for one logged-in user; each method returns only what they may see."""

    def __init__(self, user: User, db: Session, folders: Folders) -> None:
        self.user = user
        self.db = db
        self.folders = folders

    @property
    def role(self) -> str:
        return self.user.role

    def _require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Denied(f"a {self.role} account cannot do this.")

    def _in_scope(self, view: RunView) -> bool:
        folder, org = view.folder, self.user.org_code
        if self.role == "finance":
            return view.record.status == "approved" and folder.commissioner_code == org
        if self.role == "commissioner":
            return folder.commissioner_code == org
        if self.role == "federation":
            return org in folder.groups("federation") or org in folder.groups("pcn")
        return org in folder.practices()

    def _view(self, record: Run) -> RunView:
        return RunView(record, self.folders.get(record))

    def runs(self) -> list[RunView]:
        """The registered runs this user may know of, by name."""
        records = self.db.scalars(select(Run).order_by(Run.name)).all()
        return [v for v in (self._view(r) for r in records) if self._in_scope(v)]

    def run(self, name: str) -> RunView:
        """One run by its URL name: 404 unless it exists and is in scope; 409 if changed."""
        if not valid_name(name):
            raise Missing("no such run.")
        record = self.db.scalar(select(Run).where(Run.name == name))
        if record is None:
            raise Missing("no such run.")
        view = self._view(record)
        if not self._in_scope(view):
            raise Missing("no such run.")
        if manifest_hash(view.folder.root) != record.manifest_hash:
            raise Changed(
                "this run folder's manifest.json has changed since it was registered; register "
                "the new outputs as a new run (a new folder name)."
            )
        return view

    def overview(self, name: str) -> RunView:
        """The whole run (all statements and groups): commissioner only."""
        self._require("commissioner")
        return self.run(name)

    def federation(self, name: str, code: str) -> tuple[RunView, list[str]]:
        """A federation or PCN and its member practices: the commissioner, or that group."""
        self._require("commissioner", "federation")
        view = self.run(name)
        if self.role == "federation" and code != self.user.org_code:
            raise Denied("this is another federation's page.")
        members = view.folder.members(code) if valid_name(code) else []
        if not members or not view.folder.group_levels(code) & {"federation", "pcn"}:
            raise Missing("no such federation or PCN in this run.")
        return view, members

    def statement(self, name: str, code: str) -> tuple[RunView, list[Row]]:
        """A practice's statement lines: that practice, its federation/PCN, or the commissioner."""
        self._require("commissioner", "federation", "practice")
        view = self.run(name)
        self._practice_scope(view, code, patient_level=False)
        return view, view.folder.practice_statement(code)

    def statement_pdf(self, name: str, code: str) -> Path:
        """The practice's statement.pdf as the run wrote it: whoever may see the statement."""
        view, _ = self.statement(name, code)
        if not view.folder.has_file("practices", code, "statement.pdf"):
            raise Missing("this run has no PDF of the statement.")
        return view.folder.path("practices", code, "statement.pdf")

    def practice_file(self, name: str, code: str, file: str) -> tuple[RunView, list[Row]]:
        """A patient-level file of one practice: that practice's own users only."""
        self._require("practice")
        view = self.run(name)
        self._practice_scope(view, code, patient_level=True)
        if not FILE_NAME.fullmatch(file) or file not in PRACTICE_FILES:
            raise Missing("no such file.")
        try:
            return view, view.folder.practice_file(code, file)
        except DataError as exc:
            raise Missing("no such file.") from exc

    def practice_files(self, name: str, code: str) -> list[str]:
        """The patient-level files present in the practice's folder (its own users only)."""
        self._require("practice")
        view = self.run(name)
        self._practice_scope(view, code, patient_level=True)
        return [f for f in sorted(PRACTICE_FILES) if view.folder.has_file("practices", code, f)]

    def decide(self, name: str, code: str) -> RunView:
        """Accepting or querying a statement: that practice's own users only."""
        self._require("practice")
        view = self.run(name)
        self._practice_scope(view, code, patient_level=True)
        return view

    def answer(self, name: str, code: str) -> RunView:
        """Answering a practice's query: the commissioner."""
        self._require("commissioner")
        view = self.run(name)
        self._practice_scope(view, code, patient_level=False)
        return view

    def approve(self, name: str) -> RunView:
        self._require("commissioner")
        return self.run(name)

    def reject(self, name: str) -> RunView:
        """Rejecting a run (with a reason): the commissioner."""
        self._require("commissioner")
        return self.run(name)

    def ledger(self, name: str) -> tuple[RunView, list[Row]]:
        """Every money movement: finance (approved runs only) or the commissioner."""
        self._require("commissioner", "finance")
        view = self.run(name)
        return view, view.folder.ledger()

    def ledger_table(self, name: str) -> RunView:
        """The ledger as a table download: the commissioner (finance's is the payment file,
        whose export is audited)."""
        self._require("commissioner")
        return self.run(name)

    def payment_file(self, name: str) -> tuple[RunView, list[Row]]:
        """The payment export: only for an approved run, for finance or the commissioner."""
        view, rows = self.ledger(name)
        if view.record.status != "approved":
            raise Denied("the payment file is exported only from an approved run.")
        return view, rows

    def audit(self, name: str) -> RunView:
        self._require("commissioner")
        return self.run(name)

    def rerun(self, name: str) -> Rerun | None:
        """What changed against the scheme's approved run: the commissioner, and finance (who
        sees approved runs only); None when the scheme has no earlier approved run."""
        self._require("commissioner", "finance")
        return self.rerun_of(self.run(name))

    def rerun_of(self, view: RunView) -> Rerun | None:
        """The same for a run already handed out by `run`.

        The base is the scheme's latest approved run other than this one; for an approved
        run, the latest approved before it (so an approved re-run keeps showing what it
        changed). It is read through `run`, so it must be in scope and unchanged too.
        """
        self._require("commissioner", "finance")
        own = self.db.scalar(select(Approval.id).where(Approval.run_id == view.record.id))
        approved = self.db.execute(
            select(Run, Approval.id)
            .join(Approval, Approval.run_id == Run.id)
            .where(Run.id != view.record.id)
            .order_by(Approval.id.desc())
        ).all()
        for record, approval_id in approved:
            if own is not None and approval_id > own:
                continue
            candidate = self._view(record)
            if not candidate.folder.has_file("manifest.json") or not self._in_scope(candidate):
                continue
            if candidate.folder.scheme_key != view.folder.scheme_key:
                continue  # another scheme's run: not read any further
            base = self.run(record.name)  # in scope and unchanged, or 409
            totals = total(base.folder.statements()), total(view.folder.statements())
            try:
                return Rerun(base, self.folders.diff(base, view), *totals)
            except CareisError as exc:
                return Rerun(base, [], *totals, error=exc.problem)
        return None

    def same_scheme(self, view: RunView) -> list[RunView]:
        """The other runs of this run's scheme this user may see (for runs side by side)."""
        self._require("commissioner")
        return [
            v
            for v in self.runs()
            if v.record.id != view.record.id
            and v.folder.has_file("manifest.json")
            and v.folder.scheme_key == view.folder.scheme_key
        ]

    def compare(self, name: str, other: str) -> tuple[RunView, RunView, list[Difference]]:
        """Two runs of one scheme side by side (`careis pay diff OTHER NAME`): the
        commissioner; both runs in scope and unchanged, else 404/409."""
        self._require("commissioner")
        view = self.run(name)
        base = self.run(other)
        if base.record.id == view.record.id or base.folder.scheme_key != view.folder.scheme_key:
            raise Missing("no such run of this scheme to compare with.")
        try:
            return view, base, self.folders.diff(base, view)
        except CareisError as exc:
            raise Missing(f"these runs cannot be compared: {exc.problem}") from exc

    def _sees_series(self, view: RunView, level: str, org: str, *, summary: bool) -> bool:
        """Whether this user may see one organisation's measure series (aggregates only):
        the commissioner every level (its summary table: sub-ICB and federations), a
        federation or PCN its own and its members' practice level, a practice its own."""
        own = self.user.org_code
        if self.role == "commissioner":
            return level in (measures.COMMISSIONER_LEVELS if summary else measures.LEVELS)
        if self.role == "federation":
            if level in ("federation", "pcn"):
                return org == own
            return level == "practice" and org in view.folder.members(own)
        return self.role == "practice" and level == "practice" and org == own

    def measures(self, name: str) -> tuple[RunView, list[dict[str, Any]]]:
        """The run's measures with their Making Data Count summary, at the levels this user
        may see: the commissioner, a federation or PCN, a practice (never finance)."""
        self._require("commissioner", "federation", "practice")
        view = self.run(name)
        series = self.folders.series(view)
        shown = [s for (_, level, org), s in series.items()
                 if self._sees_series(view, level, org, summary=True)]  # fmt: skip
        order = {lv: i for i, lv in enumerate(measures.LEVELS)}
        shown.sort(key=lambda s: (s.measure, order[s.level], s.org))
        return view, [self.folders.chart(view, s, draw=False) for s in shown]

    def result_orgs(self, view: RunView) -> list[tuple[str, str]]:
        """The (level, organisation) pairs of the run's published results this user's
        measures pages show: the commissioner's sub-ICB and federations (the report's
        table), a federation or PCN its own and its members, a practice its own."""
        pairs = {(r["level"], r["org_code"]) for r in self.folders.published(view)}
        order = {lv: i for i, lv in enumerate(measures.LEVELS)}
        shown = [p for p in pairs if self._sees_series(view, *p, summary=True)]
        return sorted(shown, key=lambda p: (order[p[0]], p[1]))

    def measure_results(self, name: str) -> tuple[RunView, dict[str, Any], list[Row]]:
        """Every measure's published results at the user's organisations: the report's table
        and its download rows (the commissioner, a federation or PCN, a practice)."""
        self._require("commissioner", "federation", "practice")
        view = self.run(name)
        orgs = self.result_orgs(view)
        section = measures.results_section(self.folders.published(view), orgs)
        return view, section, measures.result_rows(view.folder, orgs)

    def measure_result(
        self, name: str, measure: str, code: str
    ) -> tuple[RunView, dict[str, Any], list[Row]]:
        """One measure's published results for one organisation (its page's table)."""
        view, series = self._series(name, measure, code)
        rows = [r for r in self.folders.published(view) if r["measure_id"] == measure]
        orgs = [(series.level, series.org)]
        section = measures.results_section(rows, orgs)
        return view, section, measures.result_rows(view.folder, orgs, measure)

    def measure_chart(self, name: str, measure: str, code: str) -> tuple[RunView, dict[str, Any]]:
        """One measure's chart for one organisation, within the same scope as `measures`."""
        view, series = self._series(name, measure, code)
        return view, self.folders.chart(view, series)

    def measure_peers(
        self, name: str, measure: str, code: str
    ) -> tuple[RunView, peers.PeerView, str]:
        """The organisation against its peers, with the funnel's SVG: whoever may see the
        organisation's chart. The peers' figures are all published.csv cells (anyone's, by
        docs/disclosure.md), so the peers need not be in the user's own scope: a practice
        sees its PCN's practices as the public would, never an exact or hidden count."""
        view, series = self._series(name, measure, code)
        return view, self.folders.peers(view, series), self.folders.funnel(view, series)

    def _series(self, name: str, measure: str, code: str) -> tuple[RunView, Series]:
        """The series a measure page is about, if this user may see it (403/404 otherwise)."""
        self._require("commissioner", "federation", "practice")
        view = self.run(name)
        if not valid_name(measure) or not valid_name(code):
            raise Missing("no such measure or organisation in this run.")
        found = [s for (m, _, org), s in self.folders.subjects(view).items()
                 if m == measure and org == code]  # fmt: skip
        shown = [s for s in found if self._sees_series(view, s.level, code, summary=False)]
        own = self.user.org_code
        outside = self.role == "practice" or code not in view.folder.members(own)
        if not shown and self.role != "commissioner" and code != own and outside:
            raise Denied("this organisation's measures are not yours to see.")
        if not shown:
            raise Missing("no such measure or organisation in this run.")
        return view, shown[0]

    def _practice_scope(self, view: RunView, code: str, *, patient_level: bool) -> None:
        """Whether this user may see practice `code` (patient level: only the practice itself)."""
        folder, org = view.folder, self.user.org_code
        if self.role == "practice":
            if code != org:
                raise Denied("this is another practice's page.")
        elif patient_level:
            raise Denied("patient-level data is shown only to the practice's own users.")
        elif self.role == "federation" and code not in folder.members(org):
            raise Denied("this practice is not a member of your federation or PCN.")
        if not valid_name(code) or code not in folder.practices():
            raise Missing("no such practice in this run.")
