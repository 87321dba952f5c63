"""Each practice's worklist: who on its register or frailty list needs what, and why, in words.

Why a separate file from register.csv: the register is the model's output (ranks, scores,
factor codes); a practice acts on a list that says, for each of its own patients, what to do
and why: the post-discharge contact after an emergency admission, a care plan not yet agreed,
a review due, a patient new to the register, the frailty list. Which patients are listed is
data (`worklist_rules.yaml`, careis.risk.worklist_rules): one row per patient per rule that
lists them, naming the rule, its reason and the measure or flag it comes from, sorted by the
rule's priority, then by risk.

The rules run in the engine (Ibis): the hospital spells and GP events behind the
post-discharge rule are joined there, and only the worklist's own rows leave it, to be written
to `practices/<code>/worklist.csv`, that practice's own folder and nowhere else.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr.types import Table

from careis.csvio import write_rows
from careis.risk.efi import MIN_AGE as EFI_MIN_AGE
from careis.risk.worklist_rules import FLAGS, Rule, WorklistRules, load_rules

if TYPE_CHECKING:
    from careis.codelists import CodelistLibrary
    from careis.engine import Engine
    from careis.risk.stage import RiskStage

#: The worklist's columns, named in words.
COLUMNS = [
    "Priority",
    "Rule",
    "Why on the list",
    "Detail",
    "From (measure or flag)",
    "Patient (pseudonym)",
    "Age",
    "Sex",
    "Chance of an emergency admission in the next 12 months",
    "Frailty (eFI)",
    "Still to do this year",
    "New to the register",
]
SEX_WORDS = {"F": "Female", "M": "Male", "U": "Not known"}
#: The eFI categories of the frailty list (the `among: [frail]` of a rule).
FRAIL = ("moderate", "severe")

_ITEM = {"practice_code": "string", "patient_id": "string", "rule": "string", "discharged": "date"}
_PEOPLE = {
    "practice_code": "string", "patient_id": "string", "age": "int64", "sex": "string",
    "risk_score": "float64", "efi_score": "float64", "efi_category": "string",
}  # fmt: skip
_REGISTER = {
    "practice_code": "string", "patient_id": "string", "register_rank": "int64",
    "top_factors": "string",
}  # fmt: skip
_FLAGS = {
    "practice_code": "string", "measure_id": "string", "period": "string",
    "patient_id": "string", "denominator": "int64", "excluded": "int64", "numerator": "int64",
}  # fmt: skip
_ENTERED = {"practice_code": "string", "patient_id": "string", "reason": "string"}


@dataclass
class Sources:
    """What the rules read, as engine tables.

    people: everyone who may be listed (practice_code, patient_id, age, sex, risk_score,
    efi_score, efi_category; nulls where unknown); register: practice_code, patient_id,
    register_rank, top_factors; flags: the measures' patient flags (careis.measures.outputs);
    entered: practice_code, patient_id, reason (None when the run drew no previous refresh);
    admissions and events: the canonical tables (None: rules from emergency_discharge list
    nobody). `probability`: risk_score is a chance (the model), not points."""

    index_date: dt.date
    people: Table
    register: Table
    flags: Table
    entered: Table | None = None
    admissions: Table | None = None
    events: Table | None = None
    probability: bool = True
    measure_names: dict[str, str] = field(default_factory=dict)
    contact_codes: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


def _items(rows: Table, rule: Rule, discharged: Any = None) -> Table:
    """A rule's patients in the one shape every rule's items share."""
    day = discharged if discharged is not None else ibis.null().cast("date")
    return rows.select(
        practice_code=rows.practice_code.cast("string"),
        patient_id=rows.patient_id.cast("string"),
        rule=ibis.literal(rule.id),
        discharged=day,
    )


def _frail(src: Sources, categories: Iterable[str] = FRAIL) -> Table:
    p = src.people
    return p.filter((p.age >= EFI_MIN_AGE) & p.efi_category.isin(list(categories)))


def _discharged(src: Sources, rule: Rule) -> Table | None:
    """Patients discharged from an emergency admission in the rule's window before the index
    date, with no GP contact (an event, or one of `contact_codes`) on or after that day, up
    to the index date. The latest such discharge of each patient is the one shown."""
    if src.admissions is None or src.events is None:
        return None
    days = int(rule.params.within_days or 0)
    day = ibis.literal(src.index_date)
    first = ibis.literal(src.index_date - dt.timedelta(days=days))
    a = src.admissions
    spells = a.filter(
        a.is_emergency & a.discharge_date.notnull() & a.discharge_date.between(first, day)
    )
    latest = spells.group_by("patient_id").aggregate(discharged=spells.discharge_date.max())
    e = src.events
    contacts = e.filter(e.event_date.between(first, day))
    if rule.params.contact_codes:
        system, codes = src.contact_codes[rule.params.contact_codes]
        contacts = contacts.filter((contacts.code_system == system) & contacts.code.isin(codes))
    contacts = contacts.select(cid=contacts.patient_id, cday=contacts.event_date)
    waiting = latest.anti_join(
        contacts, [latest.patient_id == contacts.cid, contacts.cday >= latest.discharged]
    )
    p = src.people.select("practice_code", "patient_id")
    joined = waiting.join(p, "patient_id")
    return _items(joined, rule, joined.discharged)


def _measure_items(src: Sources, rule: Rule) -> Table:
    f = src.flags
    due = f.filter(
        (f.measure_id == rule.measure) & (f.period == rule.period) & (f.denominator == 1)
        & (f.excluded == 0) & (f.numerator == 0)
    )  # fmt: skip
    return _items(due, rule)


def rule_items(src: Sources, rule: Rule) -> Table | None:
    """practice_code, patient_id, rule, discharged: the patients one rule lists."""
    kind = rule.source_kind
    found: Table | None
    if kind == "measure":
        found = _measure_items(src, rule)
    elif kind == "register":
        found = _items(src.register, rule)
    elif kind == "register_entered":
        found = None if src.entered is None else _items(src.entered, rule)
    elif kind == "efi":
        found = _items(_frail(src, rule.params.categories or FRAIL), rule)
    else:
        found = _discharged(src, rule)
    if found is None or rule.among is None:
        return found
    keep = [
        (src.register if group == "register" else _frail(src)).select("practice_code", "patient_id")
        for group in rule.among
    ]
    members = ibis.union(*keep, distinct=True) if len(keep) > 1 else keep[0]
    kept = found.semi_join(
        members,
        [found.practice_code == members.practice_code, found.patient_id == members.patient_id],
    )
    return kept.select(list(_ITEM))  # a projection ends the join (Ibis chains later joins)


def worklist_table(src: Sources, rules: WorklistRules) -> Table:
    """Every rule's items with what the worklist shows of each patient, sorted by practice,
    rule priority, then risk (highest first), eFI score and pseudonym."""
    parts = [t for t in (rule_items(src, r) for r in rules.rules) if t is not None]
    if not parts:
        return ibis.memtable(_empty(_ITEM))
    # one rule: a view, so the joins below start a new join rather than extend the rule's own
    items = ibis.union(*parts) if len(parts) > 1 else parts[0].view()
    priority = ibis.cases(*[(items.rule == r.id, r.priority) for r in rules.rules])
    items = items.mutate(priority=priority.cast("int64"))
    keys = ["practice_code", "patient_id"]
    t = items.left_join(src.people, keys).drop("practice_code_right", "patient_id_right")
    reg = src.register.select(*keys, "register_rank", "top_factors")
    t = t.left_join(reg, keys).drop("practice_code_right", "patient_id_right")
    if src.entered is not None:
        new = src.entered.select(*keys, entered=src.entered.reason)
        t = t.left_join(new, keys).drop("practice_code_right", "patient_id_right")
    else:
        t = t.mutate(entered=ibis.null().cast("string"))
    return t.order_by(
        [
            t.practice_code,
            t.priority,
            ibis.desc(t.risk_score.fill_null(-1.0)),
            ibis.desc(t.efi_score.fill_null(-1.0)),
            t.patient_id,
            t.rule,
        ]
    )


def _arrow(schema: dict[str, str]) -> dict[str, pa.DataType]:
    kinds = {"string": pa.string(), "date": pa.date32(), "int64": pa.int64(),
             "float64": pa.float64()}  # fmt: skip
    return {k: kinds[v] for k, v in schema.items()}


def run_sources(
    engine: Engine,
    stage: RiskStage,
    tables: dict[str, Table],
    patient_flags: pa.Table,
    efi: Table,
    index_date: dt.date,
    library: CodelistLibrary,
    rules: WorklistRules,
    measure_names: dict[str, str],
) -> Sources:
    """The rules' sources in a run: the risk stage's scores, register and entrants, the eFI
    cohort, the measures' patient flags (the measure rules' ones only) and the hospital and GP
    tables, all in the run's engine."""
    model = stage.model
    scored = stage.scored
    if model is not None:
        people = scored.select(
            "practice_code", "patient_id", "age", "sex", "risk_score", "efi_score", "efi_category"
        )
        reg = model.refresh.register.select(list(_REGISTER))
        changes = model.refresh.changes
    else:
        cat = efi.select(e_id=efi.patient_id, efi_category=efi.category)
        people = scored.left_join(cat, scored.patient_id == cat.e_id).select(
            "practice_code", "patient_id", "age", "sex", "risk_score",
            efi_score=ibis.null().cast("float64"), efi_category=cat.efi_category,
        )  # fmt: skip
        from careis.risk.points import top_factors

        rows = stage.register_rows
        factors = ["; ".join(top_factors(r)) for r in rows.to_pylist()]
        reg = rows.select(["practice_code", "patient_id", "register_rank"]).append_column(
            "top_factors", pa.array(factors, type=pa.string())
        )
        changes = None
    people = people.cast(dict(_PEOPLE))
    wanted = sorted({r.measure for r in rules.rules if r.measure is not None})
    flags = patient_flags.select(list(_FLAGS)) if patient_flags.num_rows else None
    if flags is not None:  # only the rows a rule can list leave for the engine
        due = pc.and_(pc.is_in(flags["measure_id"], pa.array(wanted, type=pa.string())),
                      pc.equal(flags["numerator"], 0))  # fmt: skip
        flags = flags.filter(due)
    flags = flags if flags is not None else _empty(_FLAGS)
    entered = None
    if changes is not None:
        new = [c for c in changes if c["change"] == "entered"]
        entered = engine.from_arrow(_table(new, _ENTERED))
    contact = {}
    for r in rules.rules:
        if r.params.contact_codes:
            cl = library.get(r.params.contact_codes)
            contact[r.params.contact_codes] = (cl.system, tuple(cl.codes))
    return Sources(
        index_date=index_date,
        people=people,
        register=engine.from_arrow(_cast(reg, _REGISTER)),
        flags=engine.from_arrow(_cast(flags, _FLAGS)),
        entered=entered,
        admissions=tables.get("admissions"),
        events=tables.get("events"),
        probability=model is not None,
        measure_names=measure_names,
        contact_codes=contact,
    )


def _empty(schema: dict[str, str]) -> pa.Table:
    return pa.table({k: pa.array([], type=v) for k, v in _arrow(schema).items()})


def _table(rows: list[dict[str, Any]], schema: dict[str, str]) -> pa.Table:
    types = _arrow(schema)
    return pa.table({k: pa.array([r.get(k) for r in rows], type=t) for k, t in types.items()})


def _cast(table: pa.Table, schema: dict[str, str]) -> pa.Table:
    types = _arrow(schema)
    return pa.table({k: pc.cast(table[k], t) for k, t in types.items()})


# --------------------------------------------------------------------------- rows in words
def _risk(value: Any, probability: bool) -> str:
    if value is None:
        return ""
    if probability:
        return f"{100 * float(value):.0f}%"
    return f"not estimated (points score {float(value):g})"


def _efi(category: Any, score: Any) -> str:
    if not category:
        return ""
    shown = str(category).capitalize()
    return f"{shown} (eFI {float(score):.2f})" if score is not None else shown


def _detail(r: dict[str, Any], rule: Rule, src: Sources) -> str:
    kind = rule.source_kind
    factors = f"main factors: {r['top_factors']}" if r.get("top_factors") else ""
    if kind == "emergency_discharge":
        days = (src.index_date - r["discharged"]).days
        contact = "no GP contact recorded since"
        if rule.params.contact_codes:
            contact = f"no {rule.params.contact_codes} code recorded since"
        return f"Discharged {r['discharged']}, {days} days before {src.index_date}; {contact}"
    if kind == "register_entered":
        return "; ".join(filter(None, [str(r.get("entered") or ""), factors]))
    if kind == "register":
        rank = f"Rank {r['register_rank']} on the register" if r.get("register_rank") else ""
        return "; ".join(filter(None, [rank, factors]))
    if kind == "efi":
        score = r.get("efi_score")
        shown = f" (eFI {float(score):.2f})" if score is not None else ""
        return f"{str(r.get('efi_category') or '').capitalize()} frailty{shown}"
    name = src.measure_names.get(str(rule.measure), str(rule.measure))
    return f"Counts towards '{name}' ({rule.period} period), not yet met"


def _source(rule: Rule, src: Sources) -> str:
    if rule.measure is not None:
        name = src.measure_names.get(rule.measure)
        return f"measure {rule.measure}" + (f" ({name})" if name else "")
    return f"flag {rule.flag} ({FLAGS[str(rule.flag)]})"


def worklist_rows(
    table: pa.Table, src: Sources, rules: WorklistRules
) -> dict[str, list[dict[str, str]]]:
    """The sorted worklist table (`worklist_table`) as rows in words, by practice."""
    by_id = {r.id: r for r in rules.rules}
    records = table.to_pylist()
    todo: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in records:
        rule = by_id[r["rule"]]
        if rule.measure is not None:
            todo[(r["practice_code"], r["patient_id"])].append(rule.text)
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in records:
        rule = by_id[r["rule"]]
        key = (r["practice_code"], r["patient_id"])
        new = r.get("entered")
        out[r["practice_code"]].append(
            {
                "Priority": str(rule.priority),
                "Rule": rule.id,
                "Why on the list": rule.text,
                "Detail": _detail(r, rule, src),
                "From (measure or flag)": _source(rule, src),
                "Patient (pseudonym)": r["patient_id"],
                "Age": "" if r.get("age") is None else str(r["age"]),
                "Sex": SEX_WORDS.get(r.get("sex") or "", r.get("sex") or ""),
                "Chance of an emergency admission in the next 12 months": _risk(
                    r.get("risk_score"), src.probability
                ),
                "Frailty (eFI)": _efi(r.get("efi_category"), r.get("efi_score")),
                "Still to do this year": "; ".join(todo.get(key, [])) or "Nothing outstanding",
                "New to the register": f"Yes: {new}" if new else "",
            }
        )
    return dict(out)


def write_worklists(
    practices_root: Path,
    src: Sources,
    rules: WorklistRules,
    execute: Any = None,
) -> list[Path]:
    """worklist.csv in every practice folder that has a register or a frailty list, and in
    any other practice that has a patient on the worklist. `execute` turns the Ibis table
    into Arrow (the run's engine; default: the table's own backend)."""
    expr = worklist_table(src, rules)
    table = execute(expr) if execute is not None else expr.to_pyarrow()
    rows = worklist_rows(table, src, rules)
    folders = (
        {p.name for p in practices_root.iterdir() if p.is_dir()}
        if practices_root.is_dir()
        else set()
    )
    codes = {c for c in folders
             if (practices_root / c / "register.csv").exists()
             or (practices_root / c / "frailty.csv").exists()}  # fmt: skip
    written = []
    for code in sorted(codes | set(rows)):
        path = practices_root / code / "worklist.csv"
        write_rows(rows.get(code, []), COLUMNS, path)
        written.append(path)
    return written


# --------------------------------------------------------------------------- from a run folder
def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _csv(path: Path, schema: dict[str, str], practice: str) -> Table:
    """A practice file read as a table of `schema` (missing file or column: empty / null)."""
    rows = _read(path)
    cols: dict[str, pa.Array] = {}
    for name, kind in _arrow(schema).items():
        if name == "practice_code":
            cols[name] = pa.array([practice] * len(rows), type=pa.string())
            continue
        arr = pa.array([r.get(name) or None for r in rows], type=pa.string())
        if kind == pa.int64():  # "3" or "3.0"
            arr = pc.cast(pc.cast(arr, pa.float64()), kind)
        cols[name] = pc.cast(arr, kind)
    return ibis.memtable(pa.table(cols))


def folder_sources(folder: Path, measure_names: dict[str, str], index_date: dt.date) -> Sources:
    """Sources from one practice folder of a run (register.csv, frailty.csv,
    measure_flags.csv, register_changes.csv): no hospital data, so rules from
    emergency_discharge list nobody."""
    code = folder.name
    register = _csv(folder / "register.csv", {**_REGISTER, **_PEOPLE}, code)
    frailty = _csv(folder / "frailty.csv", _PEOPLE, code)
    frail_only = frailty.anti_join(register, "patient_id")  # a register row says more
    people = ibis.union(register.select(*_PEOPLE), frail_only.select(*_PEOPLE))
    changes = _csv(folder / "register_changes.csv", {**_ENTERED, "change": "string"}, code)
    entered = None
    if (folder / "register_changes.csv").exists():
        entered = changes.filter(changes.change == "entered").select(*_ENTERED)
    flags = _csv(folder / "measure_flags.csv", _FLAGS, code)
    return Sources(
        index_date, people, register.select(*_REGISTER), flags, entered,
        measure_names=measure_names,
    )  # fmt: skip


def build_worklist(
    folder: Path,
    measure_names: dict[str, str],
    rules: WorklistRules | None = None,
    index_date: dt.date | None = None,
) -> list[dict[str, str]]:
    """One practice's worklist from its own folder's files, with the shipped rules by
    default (the run itself builds worklists from the engine: `write_worklists`)."""
    rules = rules or load_rules()
    src = folder_sources(folder, measure_names, index_date or dt.date.today())
    return worklist_rows(worklist_table(src, rules).to_pyarrow(), src, rules).get(folder.name, [])


def reidentify(worklist: Path, numbers: Path, key: str, out: Path) -> tuple[int, int]:
    """The practice's route back to its patients: its own list of NHS numbers, pseudonymised
    with the run's key, matched to the worklist; writes the worklist with an NHS number column.

    Why here and not in the run: the run never holds a practice's NHS numbers in its outputs;
    the practice (or its data processor, who holds the key) joins them locally, to a file it
    chooses outside the run folder. Returns (patients matched, patients not matched); a
    patient listed by several rules counts once.
    """
    from careis.data.pseudonym import pseudonym
    from careis.errors import DataError

    rows = _read(worklist)
    with numbers.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        column = next(
            (
                c
                for c in reader.fieldnames or []
                if c.strip().lower().replace(" ", "_") == "nhs_number"
            ),
            None,
        )
        if column is None:
            raise DataError(
                f"{numbers}: no 'nhs_number' column; export your list with a column of that name"
            )
        by_pseudonym = {pseudonym(r[column], key): r[column].strip() for r in reader if r[column]}
    fields = ["NHS number", *(list(rows[0]) if rows else COLUMNS)]  # the file's own columns
    out_rows = []
    for r in rows:
        number = by_pseudonym.get(r["Patient (pseudonym)"], "")
        out_rows.append({"NHS number": number or "not in your list", **r})
    write_rows(out_rows, fields, out)
    patients = {r["Patient (pseudonym)"] for r in rows}
    matched = len(patients & set(by_pseudonym))
    return matched, len(patients) - matched
