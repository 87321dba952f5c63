"""Validation of canonical tables, entirely as Ibis expressions (DuckDB and Spark alike).

Why data-driven: the checks come from the `Column`/`TableSpec` declarations in
`careis.data.schema` (types, nullability, allowed codes, patterns, ranges, keys), plus a few
small tables below for the rules a column declaration cannot express (which dates must be in
order, which tables refer to which). A new column or code list in the schema is validated
without touching this module.

How: every row gets `_c`, the index of the first check it fails (null = accepted). Checks run
in stages and each stage only looks at rows that passed the earlier ones, so a row carries
exactly one reason, the first in this fixed order:

 1. identifier: an `nhs_number` that is malformed or fails its modulus 11 check
 2. unreadable values (a non-null value that does not cast to the column's type), in column order
 3. missing required values, in column order
 4. codes: not in the allowed list, not matching the pattern, outside minimum/maximum
 5. impossible dates: before `schema.EARLIEST_DATE` or after the extract date
    (memberships may be dated in the future: a planned PCN move is normal)
 6. dates out of order within the row (end before start, discharge before admission,
    death before birth month)
 7. references: the practice, group or patient is unknown, of the wrong kind, or was itself
    rejected (the reason then names the file and row that rejected it)
 8. dates against the patient: before the birth month or after death (on the day of death
    is fine); for registrations the start date, for admissions both dates
 9. duplicate keys (`TableSpec.key`): the first occurrence in file order is kept
10. overlapping registrations: a registration that starts while an earlier-starting one of
    the same patient is still running is rejected (the earlier one is kept)
11. events outside registration: an event dated when the patient was registered nowhere.
    Events dated before the patient's first registration are kept by default (history
    carried over from earlier practices is normal in GP records);
    `LoadOptions.history_before_registration="quarantine"` rejects them too. A patient with
    no accepted registration at all has all their events rejected. Admissions and A&E are
    hospital data and need not fall within a registration.

Because later stages compare against rows that survived earlier ones, a bad row never
blocks a good one: a duplicate is only a duplicate of an *accepted* row, and an overlap is
only with a registration that passed every earlier check.

Values are read leniently where the meaning is unambiguous, strictly otherwise:
- text is trimmed and an empty value is null;
- dates: `YYYY-MM-DD` (ISO 8601), the compact `YYYYMMDD`, and an ISO date-time whose
  time is dropped (`2024-03-31T10:15:00`). Forms such as `31/03/2024` are rejected: day/month
  order differs between UK and US extracts and a silent swap would corrupt the data;
- `birth_month` given as a full date is truncated to the first of its month (careis keeps
  no day of birth);
- whole numbers must be written as digits (`3`, not `3.0` or `three`); numbers may use a
  decimal point and exponent; NaN (the text `NaN`/`nan`, or a floating NaN in Parquet,
  including a float column standing for whole numbers, as pandas writes them) is read as null;
- codes are matched exactly (no case folding): `f` is not a sex code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from careis.data import pseudonym
from careis.data.schema import (
    EARLIEST_DATE,
    EMERGENCY_ADMISSION_METHODS,
    PATTERNS,
    Column,
    TableSpec,
)
from careis.engine.csv_source import MALFORMED_LABELS
from careis.errors import DataError

FAR_FUTURE = date(9999, 12, 31)  # stands for "still open" in interval comparisons
MAX_SHOWN = 60  # characters of a bad value quoted in a reason

# --------------------------------------------------------------------------- rules as data
# Pairs (earlier, later) that must be in order within one row.
DATE_ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "patients": (("birth_month", "death_date"),),
    "memberships": (("valid_from", "valid_to"),),
    "registrations": (("start_date", "end_date"),),
    "admissions": (("admission_date", "discharge_date"),),
}
# Date columns that may lie after the extract date.
FUTURE_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {("memberships", "valid_from"), ("memberships", "valid_to")}
)
# Date columns that must fall between the patient's birth month and death.
PATIENT_DATES: dict[str, tuple[str, ...]] = {
    "registrations": ("start_date",),
    "events": ("event_date",),
    "admissions": ("admission_date", "discharge_date"),
    "ae_attendances": ("arrival_date",),
}
# Columns truncated to the first of their month on load.
MONTH_PRECISION: frozenset[tuple[str, str]] = frozenset({("patients", "birth_month")})
# Human descriptions of the schema's named patterns (for reasons).
PATTERN_HELP: dict[str, str] = {
    "ods_practice": "an ODS practice code (a capital letter and 5 digits, e.g. A81001)",
    "icd10": "an ICD-10 code (e.g. J44.1 or J441)",
    "snomed": "a SNOMED CT identifier (6 to 18 digits)",
}
TYPE_HELP: dict[str, str] = {
    "date": "is not a date (use YYYY-MM-DD)",
    "int64": "is not a whole number",
    "float64": "is not a number",
    "boolean": "is not true or false",
    "string": "is not text",
}


@dataclass(frozen=True)
class Reference:
    """A column that must name an accepted row of a parent table."""

    column: str
    parent: Literal["organisations", "patients"]
    org_type: str | None = None  # the organisation must be of this type ...
    org_type_column: str | None = None  # ... or of the type named in this column of the row


REFERENCES: dict[str, tuple[Reference, ...]] = {
    "memberships": (
        Reference("practice_code", "organisations", org_type="practice"),
        Reference("group_code", "organisations", org_type_column="group_type"),
    ),
    "registrations": (
        Reference("practice_code", "organisations", org_type="practice"),
        Reference("patient_id", "patients"),
    ),
    "events": (Reference("patient_id", "patients"),),
    "admissions": (Reference("patient_id", "patients"),),
    "ae_attendances": (Reference("patient_id", "patients"),),
}
PARENT_KEYS: dict[str, str] = {"organisations": "org_code", "patients": "patient_id"}
# What a child table needs to know about its parent's accepted rows.
PARENT_CARRY: dict[str, tuple[str, ...]] = {
    "organisations": ("org_type",),
    "patients": ("birth_month", "death_date", "first_registration", "last_registration_end"),
}


def derived_columns(spec: TableSpec, t: ir.Table) -> dict[str, ir.Value]:
    """Columns careis adds on load (declared in `TableSpec.derived`)."""
    out: dict[str, ir.Value] = {}
    for col in spec.derived:
        if (spec.name, col.name) == ("admissions", "is_emergency"):
            out[col.name] = t.admission_method.isin(EMERGENCY_ADMISSION_METHODS).fill_null(False)
        else:  # pragma: no cover - a schema change without a rule here is a bug
            raise NotImplementedError(f"no rule derives {spec.name}.{col.name}")
    return out


# --------------------------------------------------------------------------- column matching
@dataclass(frozen=True)
class ColumnMatch:
    """How a file's columns map onto a canonical table."""

    found: dict[str, str]  # canonical name -> the name in the file
    nhs_column: str | None = None  # the file's nhs_number column, standing in for patient_id
    ignored: tuple[str, ...] = ()  # columns careis does not use
    missing_optional: tuple[str, ...] = ()  # nullable columns absent from the file (all null)


def _norm(name: str) -> str:
    return name.strip().lower()


def match_columns(names: Sequence[str], spec: TableSpec, file: str) -> ColumnMatch:
    """Match a file's column names to the table's (case-insensitive, trimmed).

    Raises DataError, one line, when a required column is missing: the message names the
    file, the missing column(s) and the full expected header.
    """
    wanted = set(spec.column_names)
    patient_bearing = "patient_id" in wanted
    by_norm: dict[str, str] = {}
    ignored: list[str] = []
    for name in names:
        if name in ("_row", "_file", "_malformed"):
            continue  # added by the reader
        norm = _norm(name)
        if norm in by_norm:
            raise DataError(
                f"columns '{by_norm[norm]}' and '{name}' both mean {norm}.",
                file=file,
                fix="rename or remove one of them (column names are not case-sensitive).",
            )
        by_norm[norm] = name
    found = {n: by_norm[n] for n in spec.column_names if n in by_norm}
    nhs_column = None
    if patient_bearing and "patient_id" not in found and "nhs_number" in by_norm:
        nhs_column = by_norm["nhs_number"]
    used = set(found.values()) | ({nhs_column} if nhs_column else set())
    ignored = [name for name in by_norm.values() if name not in used]
    missing = [
        c.name
        for c in spec.columns
        if not c.nullable and c.name not in found and not (c.name == "patient_id" and nhs_column)
    ]
    if missing:
        optional = [c.name for c in spec.columns if c.nullable]
        notes = []
        if optional:
            notes.append(f"{', '.join(optional)} may be left out")
        if patient_bearing:
            notes.append("patient_id may be given as nhs_number")
        notes.append("names are not case-sensitive")
        raise DataError(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}.",
            file=file,
            fix=f"use the header {','.join(spec.column_names)} ({'; '.join(notes)}).",
        )
    missing_optional = tuple(c.name for c in spec.columns if c.nullable and c.name not in found)
    return ColumnMatch(found, nhs_column, tuple(ignored), missing_optional)


# --------------------------------------------------------------------------- typing
_EDGE_SPACE = "^[ \t\r\n]+|[ \t\r\n]+$"


def trim_whitespace(value: ir.StringValue) -> ir.StringValue:
    """Remove leading and trailing spaces, tabs and line breaks.

    Not Ibis's `strip()`: on Spark it compiles to TRIM(' \\t\\n\\r\\v\\f' FROM x), and
    Spark reads `\\v` and `\\f` as the letters v and f, so 'federation' became 'ederation'.
    """
    return value.re_replace(_EDGE_SPACE, "")


def _clean(value: ir.StringValue, trim: bool = True) -> ir.StringValue:
    """Text with empty -> null; trimmed too when `trim` (text files, where stray spaces are
    common; typed Parquet strings are taken as written, which saves a pass over every
    string of a large table)."""
    return (trim_whitespace(value) if trim else value).nullif("")


_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_COMPACT_DATE = r"^[0-9]{8}$"
_ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
_INTEGER = r"^[+-]?[0-9]{1,18}$"
_NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def _parse(text: ir.StringValue, target: str) -> ir.Value:
    """Cast cleaned text to `target`, null where the text is not an accepted form."""
    if target == "date":
        iso = ibis.cases(
            (text.re_search(_ISO_DATE), text),
            (
                text.re_search(_COMPACT_DATE),
                text.substr(0, 4) + "-" + text.substr(4, 2) + "-" + text.substr(6, 2),
            ),
            (text.re_search(_ISO_DATETIME), text.substr(0, 10)),
            else_=ibis.null("string"),
        )
        return iso.try_cast("date")
    if target == "int64":
        return ibis.ifelse(text.re_search(_INTEGER), text, ibis.null("string")).try_cast("int64")
    if target == "float64":
        value = ibis.ifelse(text.re_search(_NUMBER), text, ibis.null("string")).try_cast("float64")
        # 1e400 parses as infinity: out of range, not a value (it would poison every sum).
        return ibis.ifelse(value.isinf(), ibis.null("float64"), value)
    if target == "boolean":
        low = text.lower()
        return ibis.cases(
            (low.isin(_TRUE), True), (low.isin(_FALSE), False), else_=ibis.null("boolean")
        )
    raise ValueError(f"no parser for {target}")  # pragma: no cover


_Converted = tuple[ir.Value, ir.BooleanValue | None]


def _date_from_typed(raw: ir.Column) -> _Converted | None:
    src = raw.type()
    if src.is_date():
        return raw, None
    if src.is_timestamp():
        return raw.cast("date"), None
    return None


INT64_MAX = 2**63 - 1


def _int_from_typed(raw: ir.Column) -> _Converted | None:
    """Integers and booleans as they are; a float or decimal only where it is whole."""
    src = raw.type()
    if isinstance(src, dt.UInt64):  # beyond 2**63 - 1 it does not fit: that row's error
        fits = raw <= ibis.literal(INT64_MAX, "uint64")
        typed = ibis.ifelse(fits, raw.cast("int64"), ibis.null("int64"))
        return typed, raw.notnull() & typed.isnull()
    if src.is_integer() or src.is_boolean():
        return raw.cast("int64"), None
    if src.is_floating():
        return _whole_from_float(raw)
    if src.is_decimal():
        typed = ibis.ifelse(raw.floor() == raw, raw.cast("int64"), ibis.null("int64"))
        return typed, raw.notnull() & typed.isnull()
    return None


def _whole_from_float(raw: ir.Column) -> _Converted:
    """A float column holding whole numbers (pandas turns an integer column with gaps into
    floats with NaN): NaN is null, as it is in a float column, and a fraction, an infinity or
    a value beyond int64 is that row's error.

    NaN and out-of-range values are set to null *before* anything casts them: DuckDB does not
    promise to skip a CAST in a CASE branch that is not taken, and CAST(NaN AS BIGINT) fails
    the whole query."""
    number = ibis.ifelse(is_nan(raw), ibis.null("float64"), raw.cast("float64"))
    in_range = ibis.ifelse(number.abs() < 9e18, number, ibis.null("float64"))
    whole = ibis.ifelse(in_range.floor() == in_range, in_range, ibis.null("float64"))
    typed = whole.cast("int64")
    return typed, number.notnull() & typed.isnull()


def is_nan(raw: ir.FloatingValue) -> ir.BooleanValue:
    """True for NaN, robust to DuckDB 2.0's statistics: Parquet written by pyarrow leaves NaN
    out of a column's min/max, and DuckDB then folds `isnan(x)` (and `x = 'nan'`, `abs(x) <
    9e18`) to a constant for the whole file. A CASE hides the statistics from the optimiser."""
    return ibis.ifelse(raw.isnull(), ibis.null("float64"), raw.cast("float64")).isnan()


def _float_from_typed(raw: ir.Column) -> _Converted | None:
    src = raw.type()
    if src.is_floating():
        return ibis.ifelse(is_nan(raw), ibis.null("float64"), raw.cast("float64")), None
    if src.is_numeric():
        return raw.cast("float64"), None
    return None


def _bool_from_typed(raw: ir.Column) -> _Converted | None:
    src = raw.type()
    if src.is_boolean():
        return raw, None
    if src.is_integer():
        typed = ibis.cases((raw == 1, True), (raw == 0, False), else_=ibis.null("boolean"))
        return typed, raw.notnull() & typed.isnull()
    return None


#: target type -> how a Parquet column that already has a type is used (None: read as text).
_FROM_TYPED = {
    "date": _date_from_typed,
    "int64": _int_from_typed,
    "float64": _float_from_typed,
    "boolean": _bool_from_typed,
}


def convert(
    raw: ir.Column, target: str, *, trim: bool = True
) -> tuple[ir.Value, ir.BooleanValue | None]:
    """(typed value, "a non-null value failed to convert") for one raw column.

    Text (every CSV column, and string Parquet columns) is parsed strictly; Parquet columns
    that already have a fitting type are used as they are. The failure flag is None when a
    conversion cannot fail.
    """
    src = raw.type()
    if target == "string":
        if src.is_string():
            return _clean(raw, trim), None
        return raw.cast("string"), None
    if src.is_string():
        text = _clean(raw)
        if target in ("int64", "float64"):  # pandas writes a gap as NaN: it means null
            text = ibis.ifelse(text.lower() == "nan", ibis.null("string"), text)
        typed = _parse(text, target)
        return typed, text.notnull() & typed.isnull()
    typed_as = _FROM_TYPED.get(target)
    converted = typed_as(raw) if typed_as is not None else None
    if converted is not None:
        return converted
    # Anything else (e.g. a date stored as the integer 20240331): read it as text.
    text = raw.cast("string")
    typed = _parse(text, target)
    return typed, raw.notnull() & typed.isnull()


def raw_text(raw: ir.Column) -> ir.StringValue:
    """A raw value as text, for quarantine and reasons."""
    return raw if raw.type().is_string() else raw.cast("string")


@dataclass(frozen=True)
class Prepared:
    """A source read for validation: raw and typed columns side by side.

    `table` has `_file`, `_row`, `_raw_<col>` (the file's own value, for quarantine),
    `<col>` (typed and cleaned; null when absent from the file), and `_bad_<col>` (a
    non-null value failed to convert) for each column that can fail.
    """

    spec: TableSpec
    table: ir.Table
    file: str  # display name of the source
    match: ColumnMatch
    multi_file: bool  # several Parquet parts: rows are identified by (_file, _row)


def prepare(
    raw: ir.Table,
    spec: TableSpec,
    match: ColumnMatch,
    *,
    file: str,
    file_column: ir.StringValue | None,
    multi_file: bool,
    text_source: bool,
    pseudonym_key: str | None,
) -> Prepared:
    """Rename, keep the raw values, add typed columns (data-driven from the schema)."""
    cols: dict[str, Any] = {
        "_file": file_column if file_column is not None else ibis.literal(file, "string"),
        "_row": raw["_row"].cast("int64"),
    }
    if "_malformed" in raw.columns:
        cols["_malformed"] = raw["_malformed"]
    for name, source in match.found.items():
        cols[f"_raw_{name}"] = raw[source]
    if match.nhs_column:
        nhs = raw[match.nhs_column]
        text = nhs if nhs.type().is_string() else nhs.cast("string").lpad(10, "0")
        cols["_raw_nhs_number"] = text
    staged = raw.select(**cols)
    if match.nhs_column:
        staged = staged.mutate(_nhs_digits=pseudonym.normalise_nhs_number(staged._raw_nhs_number))
    typed: dict[str, Any] = {}
    for col in spec.columns:
        if col.name == "patient_id" and match.nhs_column:
            if pseudonym_key is None:  # load_dataset checks first; this guards direct callers
                pseudonym_key = pseudonym.require_key(None, [file])
            valid = pseudonym.digits_are_valid(staged._nhs_digits)
            typed["patient_id"] = ibis.ifelse(
                valid,
                pseudonym.pseudonymise(staged._nhs_digits, pseudonym_key),
                ibis.null("string"),
            )
            typed["_bad_nhs_number"] = _clean(staged._raw_nhs_number).notnull() & ~valid
            continue
        if col.name not in match.found:
            typed[col.name] = ibis.null(col.dtype)
            continue
        value, bad = convert(staged[f"_raw_{col.name}"], col.dtype, trim=text_source)
        if (spec.name, col.name) in MONTH_PRECISION:
            value = ibis.date(value.year(), value.month(), 1)
        typed[col.name] = value.cast(col.dtype)
        if bad is not None:
            typed[f"_bad_{col.name}"] = bad
    return Prepared(spec, staged.mutate(**typed), file, match, multi_file)


# --------------------------------------------------------------------------- checks
# Called with the stage's table; `...` because the rules bind their parameters as defaults.
Cond = Callable[..., ir.BooleanValue]
Text = Callable[..., ir.StringValue]


@dataclass(frozen=True)
class Check:
    """One rule: `failed(t)` is true for rows that break it; `reason(t)` says how.

    `label` is the value-free name used to count reasons in the summary
    (e.g. "birth_month is not a date"). Both callables take the table at the stage where
    they are applied, so they can use columns added by joins and windows.
    """

    label: str
    failed: Cond
    reason: Text


def _lit(text: str) -> ir.StringValue:
    return ibis.literal(text, "string")


def _show(value: ir.Value) -> ir.StringValue:
    """A value as text for a reason (long values cut short)."""
    text = value if value.type().is_string() else value.cast("string")
    return text.substr(0, MAX_SHOWN)


def _quoted(value: ir.Value) -> ir.StringValue:
    return _lit("'") + _show(value) + _lit("'")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _pattern_help(pattern: str) -> str:
    for name, regex in PATTERNS.items():
        if regex == pattern:
            return PATTERN_HELP.get(name, f"in the {name} format")
    return f"in the format {pattern}"


def row_checks(prep: Prepared, extract_date: date) -> list[Check]:
    """Stages 1-6: everything that can be decided from the row alone."""
    spec, table = prep.spec, prep.table
    checks: list[Check] = []
    if "_malformed" in table.columns:  # a CSV row the reader could not use
        checks.extend(_malformed_checks())
    if prep.match.nhs_column:
        checks.append(
            Check(
                "nhs_number is not a valid NHS number",
                lambda t: t._bad_nhs_number,
                lambda t: (
                    _lit("nhs_number: '")
                    + pseudonym.mask_nhs_number(t._raw_nhs_number)
                    + _lit(
                        "' is not a valid NHS number (10 digits ending in a modulus 11 check digit)"
                    )
                ),
            )
        )
    for col in spec.columns:
        bad = f"_bad_{col.name}"
        if bad in table.columns:
            checks.append(
                Check(
                    f"{col.name} {TYPE_HELP[col.dtype].split(' (')[0]}",
                    lambda t, bad=bad: t[bad],
                    lambda t, c=col: (
                        _lit(f"{c.name}: ")
                        + _quoted(raw_text(t[f"_raw_{c.name}"]))
                        + _lit(f" {TYPE_HELP[c.dtype]}")
                    ),
                )
            )
    for col in spec.columns:
        if col.nullable:
            continue
        name = "nhs_number" if col.name == "patient_id" and prep.match.nhs_column else col.name
        checks.append(
            Check(
                f"{name} is empty",
                lambda t, c=col: t[c.name].isnull(),
                lambda t, name=name: _lit(f"{name} is empty (required)"),
            )
        )
    for col in spec.columns:
        checks.extend(_code_checks(col))
    for col in spec.columns:
        if col.dtype == "date":
            checks.extend(_date_checks(spec, col, extract_date))
    if spec.name == "patients":
        checks.append(_implausible_age(extract_date))
    for earlier, later in DATE_ORDER.get(spec.name, ()):
        checks.append(
            Check(
                f"{later} is before {earlier}",
                lambda t, a=earlier, b=later: t[b] < t[a],
                lambda t, a=earlier, b=later: (
                    _lit(f"{b} ") + _show(t[b]) + _lit(f" is before {a} ") + _show(t[a])
                ),
            )
        )
    return checks


#: No living person has been verified older than 117 (Gerontology Research Group tables); a
#: living patient older than this is a typing error in the birth date, not a patient to count.
MAX_LIVING_AGE_YEARS = 117


def _malformed_checks() -> list[Check]:
    """One check per kind of unusable CSV row (wrong field count, not UTF-8, a value too
    long), each counted under its own label; a last one catches any other reason."""
    checks = [
        Check(
            label,
            lambda t, p=prefix: t._malformed.startswith(p),
            lambda t: t._malformed,
        )
        for prefix, label in MALFORMED_LABELS
    ]
    checks.append(
        Check("row cannot be read", lambda t: t._malformed.notnull(), lambda t: t._malformed)
    )
    return checks


def _implausible_age(extract_date: date) -> Check:
    born_by = date(extract_date.year - MAX_LIVING_AGE_YEARS, extract_date.month, 1)
    return Check(
        f"living patient older than {MAX_LIVING_AGE_YEARS}",
        lambda t: t.death_date.isnull() & (t.birth_month < born_by),
        lambda t: (
            _lit("birth_month: ")
            + _show(t.birth_month)
            + _lit(
                f" makes a living patient older than {MAX_LIVING_AGE_YEARS} on the extract date "
                "(a typing error? give death_date if the patient has died)"
            )
        ),
    )


def _code_checks(col: Column) -> list[Check]:
    out: list[Check] = []
    if col.allowed is not None:
        allowed = col.allowed
        out.append(
            Check(
                f"{col.name} is not an allowed code",
                lambda t, c=col.name: t[c].notnull() & ~t[c].isin(allowed),
                lambda t, c=col.name: (
                    _lit(f"{c}: ") + _quoted(t[c]) + _lit(f" is not one of {', '.join(allowed)}")
                ),
            )
        )
    if col.pattern is not None:
        pattern, help_text = col.pattern, _pattern_help(col.pattern)
        out.append(
            Check(
                f"{col.name} is not {help_text.split(' (')[0]}",
                lambda t, c=col.name: t[c].notnull() & ~t[c].re_search(pattern),
                lambda t, c=col.name: _lit(f"{c}: ") + _quoted(t[c]) + _lit(f" is not {help_text}"),
            )
        )
    if col.minimum is not None or col.maximum is not None:
        lo, hi = col.minimum, col.maximum
        if lo is not None and hi is not None:
            span = f"outside {_number(lo)} to {_number(hi)}"
        elif lo is not None:
            span = f"below the minimum {_number(lo)}"
        else:
            span = f"above the maximum {_number(hi)}"  # type: ignore[arg-type]

        def out_of_range(t: ir.Table, c: str = col.name) -> ir.BooleanValue:
            cond = ibis.literal(False)
            if lo is not None:
                cond = cond | (t[c] < lo)
            if hi is not None:
                cond = cond | (t[c] > hi)
            return cond

        out.append(
            Check(
                f"{col.name} is {span}",
                out_of_range,
                lambda t, c=col.name: _lit(f"{c}: ") + _show(t[c]) + _lit(f" is {span}"),
            )
        )
    return out


def _date_checks(spec: TableSpec, col: Column, extract_date: date) -> list[Check]:
    earliest = date.fromisoformat(EARLIEST_DATE)
    out = [
        Check(
            f"{col.name} is before {EARLIEST_DATE}",
            lambda t, c=col.name: t[c] < earliest,
            lambda t, c=col.name: (
                _lit(f"{c}: ") + _show(t[c]) + _lit(f" is before {EARLIEST_DATE} (a typing error?)")
            ),
        )
    ]
    if (spec.name, col.name) not in FUTURE_ALLOWED:
        out.append(
            Check(
                f"{col.name} is after the extract date",
                lambda t, c=col.name: t[c] > extract_date,
                lambda t, c=col.name: (
                    _lit(f"{c}: ")
                    + _show(t[c])
                    + _lit(f" is after the extract date {extract_date.isoformat()}")
                ),
            )
        )
    return out


# --------------------------------------------------------------------------- parents
@dataclass(frozen=True)
class Lookup:
    """What children see of a parent table (see `build_lookup`)."""

    table: ir.Table
    file: str | None  # the parent's single source file; None: `_rej_file` names the part


def build_lookup(
    parent: str,
    accepted: ir.Table,
    quarantine: ir.Table,
    extra: Mapping[str, ir.Value] | None = None,
    *,
    parent_file: str | None = None,
) -> Lookup:
    """One row per key a child may name: accepted keys with what children need, plus keys
    that only occur in rejected rows (with the first row that rejected them).

    Columns: the key, the PARENT_CARRY columns, `_rej_row` (null = accepted) and, when the
    parent came from several files (`parent_file` None), `_rej_file`. The lookup is joined
    to every child row, so it is kept as narrow as possible. `extra` supplies carry columns
    not stored in the parent (e.g. a patient's first registration), as expressions over
    `accepted`.
    """
    key = PARENT_KEYS[parent]
    carry = PARENT_CARRY[parent]
    extra = dict(extra or {})
    acc_cols: dict[str, Any] = {key: accepted[key]}
    for name in carry:
        acc_cols[name] = extra[name] if name in extra else accepted[name]
    acc_cols["_rej_row"] = ibis.null("int64")
    if parent_file is None:
        acc_cols["_rej_file"] = ibis.null("string")
    acc = accepted.select(**acc_cols)
    rej = quarantine.select(
        _k=trim_whitespace(quarantine[key]).nullif(""), _f=quarantine._file, _r=quarantine._row
    )
    rej = rej.filter(rej._k.notnull())
    first = ibis.window(group_by=rej._k, order_by=[rej._f, rej._r])
    rej = rej.mutate(_n=ibis.row_number().over(first))
    rej = rej.filter(rej._n == 0)
    rej = rej.anti_join(accepted, rej._k == accepted[key])
    types = acc.schema()
    rej_cols: dict[str, Any] = {key: rej._k}
    for name in carry:
        rej_cols[name] = ibis.null(types[name])
    rej_cols["_rej_row"] = rej._r.cast("int64")
    if parent_file is None:
        rej_cols["_rej_file"] = rej._f
    return Lookup(acc.union(rej.select(**rej_cols)), parent_file)


def _join_reference(t: ir.Table, ref: Reference, lookup: ir.Table, prefix: str) -> ir.Table:
    key = PARENT_KEYS[ref.parent]
    lk = lookup.select(**{f"{prefix}{c}": lookup[c] for c in lookup.columns})
    return t.left_join(lk, t[ref.column] == lk[f"{prefix}{key}"])


def reference_stage(
    t: ir.Table, spec: TableSpec, lookups: Mapping[str, Lookup]
) -> tuple[ir.Table, list[Check], str | None]:
    """Stages 7-8: join each referenced parent and check it. Returns the joined table, the
    checks, and the prefix of the patient lookup's columns (None if no patient reference)."""
    checks: list[Check] = []
    patient_prefix = None
    for i, ref in enumerate(REFERENCES.get(spec.name, ())):
        prefix = f"_p{i}_"
        lookup = lookups[ref.parent]
        t = _join_reference(t, ref, lookup.table, prefix)
        key = PARENT_KEYS[ref.parent]
        col = ref.column
        checks.append(
            Check(
                f"{col} is not in {ref.parent}",
                lambda t, p=prefix, k=key, c=col: t[c].notnull() & t[f"{p}{k}"].isnull(),
                lambda t, c=col, parent=ref.parent: (
                    _lit(f"{c} ") + _show(t[c]) + _lit(f" is not in {parent}")
                ),
            )
        )
        checks.append(
            Check(
                f"{col} was rejected in {ref.parent}",
                lambda t, p=prefix: t[f"{p}_rej_row"].notnull(),
                lambda t, p=prefix, c=col, f=lookup.file: (
                    _lit(f"{c} ")
                    + _show(t[c])
                    + _lit(" was rejected in ")
                    + (_lit(f) if f is not None else t[f"{p}_rej_file"])
                    + _lit(" row ")
                    + t[f"{p}_rej_row"].cast("string")
                ),
            )
        )
        if ref.org_type or ref.org_type_column:

            def wanted(t: ir.Table, r: Reference = ref) -> ir.StringValue:
                return _lit(r.org_type) if r.org_type else t[r.org_type_column]

            checks.append(
                Check(
                    f"{col} is the wrong kind of organisation",
                    lambda t, p=prefix, w=wanted: t[f"{p}org_type"] != w(t),
                    lambda t, p=prefix, c=col, w=wanted: (
                        _lit(f"{c} ")
                        + _show(t[c])
                        + _lit(" is a ")
                        + t[f"{p}org_type"]
                        + _lit(" in organisations, not a ")
                        + w(t)
                    ),
                )
            )
        if ref.parent == "patients":
            patient_prefix = prefix
    if patient_prefix is not None:
        p = patient_prefix
        for col in PATIENT_DATES.get(spec.name, ()):
            checks.append(
                Check(
                    f"{col} is before the patient's birth month",
                    lambda t, c=col: t[c] < t[f"{p}birth_month"],
                    lambda t, c=col: (
                        _lit(f"{c} ")
                        + _show(t[c])
                        + _lit(" is before the patient's birth month ")
                        + _show(t[f"{p}birth_month"])
                    ),
                )
            )
            checks.append(
                Check(
                    f"{col} is after the patient's death",
                    lambda t, c=col: t[c] > t[f"{p}death_date"],
                    lambda t, c=col: (
                        _lit(f"{c} ")
                        + _show(t[c])
                        + _lit(" is after the patient's death on ")
                        + _show(t[f"{p}death_date"])
                    ),
                )
            )
    return t, checks, patient_prefix


def duplicate_check(spec: TableSpec, multi_file: bool) -> Check:
    """Stage 9: a later row with the key of an accepted earlier row."""
    key = spec.key

    def reason(t: ir.Table) -> ir.StringValue:
        if len(key) == 1:
            text = _lit(f"duplicate {key[0]} ") + _show(t[key[0]])
        else:
            text = _lit("duplicate key ")
            for i, k in enumerate(key):
                text = text + _lit(("" if i == 0 else ", ") + f"{k}=") + _show(t[k])
        text = text + _lit(" (first seen at row ") + t._dup_row.cast("string")
        if multi_file:
            text = text + ibis.ifelse(t._dup_file != t._file, _lit(" of ") + t._dup_file, _lit(""))
        return text + _lit(")")

    return Check(f"duplicate {'+'.join(key)}", lambda t: t._dup_n > 0, reason)


def overlap_check() -> Check:
    """Stage 10 (registrations): starts while an earlier-starting registration still runs."""
    return Check(
        "registration overlaps an earlier one",
        lambda t: t._prev_end.notnull() & (t.start_date <= t._prev_end),
        lambda t: (
            _lit("registration from ")
            + _show(t.start_date)
            + _lit(" overlaps an earlier registration of patient ")
            + _show(t.patient_id)
            + ibis.ifelse(
                t._prev_end == FAR_FUTURE,
                _lit(" that is still open"),
                _lit(" that runs to ") + _show(t._prev_end),
            )
        ),
    )


def coverage_checks(date_column: str, patient_prefix: str, history: str) -> list[Check]:
    """Stage 11 (events): the event must fall within an accepted registration.

    Uses the patient's first registration start and last registration end (from the patient
    lookup) and the gaps between consecutive registrations (joined as `_gap_after`,
    `_gap_before`): an event is outside registration when it is before the first, after the
    last, or strictly inside a gap.
    """
    first = f"{patient_prefix}first_registration"
    last = f"{patient_prefix}last_registration_end"
    checks = [
        Check(
            "patient has no accepted registration",
            lambda t: t[first].isnull(),
            lambda t: (
                _lit("patient_id ") + _show(t.patient_id) + _lit(" has no accepted registration")
            ),
        )
    ]
    if history == "quarantine":
        checks.append(
            Check(
                f"{date_column} is before the patient's first registration",
                lambda t: t[date_column] < t[first],
                lambda t: (
                    _lit(f"{date_column} ")
                    + _show(t[date_column])
                    + _lit(" is before the patient's first registration (from ")
                    + _show(t[first])
                    + _lit(")")
                ),
            )
        )
    checks.append(
        Check(
            f"{date_column} is after the patient's last registration",
            lambda t: t[date_column] > t[last],
            lambda t: (
                _lit(f"{date_column} ")
                + _show(t[date_column])
                + _lit(" is after the patient's last registration ended on ")
                + _show(t[last])
            ),
        )
    )
    checks.append(
        Check(
            f"{date_column} is between registrations",
            lambda t: t._gap_after.notnull(),
            lambda t: (
                _lit(f"{date_column} ")
                + _show(t[date_column])
                + _lit(" falls between two registrations of patient ")
                + _show(t.patient_id)
                + _lit(" (one ended ")
                + _show(t._gap_after)
                + _lit(", the next started ")
                + _show(t._gap_before)
                + _lit(")")
            ),
        )
    )
    return checks


def registration_gaps(registrations: ir.Table) -> ir.Table:
    """Consecutive pairs of a patient's accepted registrations: (_gap_pid, _gap_after = the
    earlier one's end, _gap_before = the later one's start). Accepted registrations never
    overlap, so a date strictly between the two is a day the patient was registered nowhere.
    Back-to-back registrations (the next starts the day after the last ends) leave no gap
    and are left out, which keeps this table small: it is joined to every event."""
    r = registrations
    w = ibis.window(group_by=r.patient_id, order_by=r.start_date)
    t = r.mutate(_prev_end=r.end_date.lag().over(w))
    t = t.filter(t._prev_end.notnull() & (t.start_date > t._prev_end + ibis.interval(days=1)))
    return t.select(_gap_pid=t.patient_id, _gap_after=t._prev_end, _gap_before=t.start_date)


#: The group within which a table's rows are compared with each other beyond the key: a
#: registration only overlaps another of the same patient.
OVERLAP_GROUP: dict[str, str] = {"registrations": "patient_id"}


def with_earlier_rows(t: ir.Table, spec: TableSpec) -> ir.Table:
    """Stages 9-10's window columns: `_dup_n` (the row's place among the still accepted rows
    of its key, in file order), `_dup_row` and `_dup_file` (the first of them), and for
    registrations `_prev_end` (the latest end, open = FAR_FUTURE, of the patient's earlier
    registrations that are not duplicates). Null for a row alone in its group, which both
    checks read as "no earlier row".

    Why not windows over every row: a window sorts all of its input, every column carried,
    and nearly every key occurs once (1.7M patients, 1.8M registrations, 2.7M hospital rows in
    an ICB), so the sorts cost more than the rest of those tables' validation. One grouped
    count finds the few groups with more than one accepted row (by the key, or for
    registrations by patient, which holds every key of that patient); the windows run on
    their rows only and are joined back by the row's position (`_file`, `_row`: unique).
    """
    group = OVERLAP_GROUP.get(spec.name)
    by = [group] if group else list(spec.key)
    acc = t.filter(t._c.isnull())
    counts = acc.group_by(by).aggregate(_shared_n=acc.count())
    shared = counts.filter(counts._shared_n > 1)
    shared = shared.select(**{f"_shared_{k}": shared[k] for k in by})
    rows = acc.semi_join(shared, [acc[k] == shared[f"_shared_{k}"] for k in by])
    first = ibis.window(group_by=[rows[k] for k in spec.key], order_by=[rows._file, rows._row])
    rows = rows.mutate(
        _dup_n=ibis.row_number().over(first),
        _dup_row=rows._row.first().over(first),
        _dup_file=rows._file.first().over(first),
    )
    carried = ["_dup_n", "_dup_row", "_dup_file"]
    if group:
        kept = rows.filter(rows._dup_n == 0)  # the rows stage 10 sees
        earlier = ibis.window(
            group_by=kept[group], order_by=[kept.start_date, kept._file, kept._row], rows=(None, -1)
        )
        prev = kept.select(
            _kept_file=kept._file,
            _kept_row=kept._row,
            _prev_end=kept.end_date.fill_null(FAR_FUTURE).max().over(earlier),
        )
        rows = rows.left_join(prev, [rows._file == prev._kept_file, rows._row == prev._kept_row])
        carried.append("_prev_end")
    found = rows.select(*carried, _shared_file=rows._file, _shared_row=rows._row)
    joined = t.left_join(found, [t._file == found._shared_file, t._row == found._shared_row])
    return joined.drop("_shared_file", "_shared_row")


# --------------------------------------------------------------------------- the run
@dataclass
class Checked:
    """A table with `_c` (index into `checks` of the first failure; null = accepted)."""

    table: ir.Table
    checks: list[Check] = field(default_factory=list)

    def stage(self, checks: Sequence[Check]) -> None:
        """Apply `checks` to the rows that passed every earlier stage."""
        if not checks:
            return
        t = self.table
        start = len(self.checks)
        branches = [(ch.failed(t), ibis.literal(start + i, "int32")) for i, ch in enumerate(checks)]
        first = ibis.cases(*branches, else_=ibis.null("int32"))
        self.table = t.mutate(_c=ibis.ifelse(t._c.isnull(), first, t._c))
        self.checks.extend(checks)

    def output(self, prep: Prepared) -> ir.Table:
        """What the engine materialises once per table: the typed columns (and derived ones),
        the row's position, `_c`, `_reason` (null when accepted) and, only where a value
        could not be read, that value verbatim (`_q_<col>`; null otherwise).

        One materialisation serves both the accepted rows (a filter on `_c`) and the
        quarantine (the few rows with `_c` set), so a large source is decoded and joined once.
        """
        t = self.table
        cols: dict[str, Any] = {c.name: t[c.name] for c in prep.spec.columns}
        cols.update(derived_columns(prep.spec, t))
        if prep.multi_file:
            cols["_file"] = t._file
        cols["_row"] = t._row
        cols["_c"] = t._c
        reasons = [(t._c == i, ch.reason(t)) for i, ch in enumerate(self.checks)]
        none = ibis.null("string")
        # Guarded by `_c IS NULL` so accepted rows (nearly all) skip the chain of WHENs.
        cols["_reason"] = (
            ibis.ifelse(t._c.isnull(), none, ibis.cases(*reasons, else_=none)) if reasons else none
        )
        for col in prep.spec.columns:
            bad = f"_bad_{col.name}"
            if bad in t.columns and col.name in prep.match.found:
                cols[f"_q_{col.name}"] = ibis.ifelse(
                    t[bad], raw_text(t[f"_raw_{col.name}"]), ibis.null("string")
                )
        if prep.match.nhs_column:
            cols["_q_nhs_number"] = ibis.ifelse(
                t._c.notnull(), pseudonym.mask_nhs_number(t._raw_nhs_number), ibis.null("string")
            )
        return t.select(**cols)

    def label(self, c: ir.IntegerValue) -> ir.StringValue:
        """The value-free label of check number `c`."""
        labels = [(c == i, _lit(ch.label)) for i, ch in enumerate(self.checks)]
        return ibis.cases(*labels, else_=ibis.null("string")) if labels else ibis.null("string")


@dataclass(frozen=True)
class Context:
    """What validating one table needs from the run and from tables already loaded."""

    extract_date: date
    history_before_registration: Literal["keep", "quarantine"] = "keep"
    lookups: Mapping[str, Lookup] = field(default_factory=dict)  # parent name -> lookup
    gaps: ir.Table | None = None  # `registration_gaps` of the accepted registrations (events)
    gaps_empty: bool = False  # no patient has a gap between registrations
    # Stages 9-10 through `with_earlier_rows` (windows over the rows sharing a key only).
    # It reads the checked table three times; DuckDB computes a repeated sub-plan once (a
    # materialised CTE), Spark recomputes it each time, and with its deeper plans the
    # cross-engine run went out of the tests' 3 GB heap: the engine says which to use.
    window_shared_rows_only: bool = False


def check_table(prep: Prepared, ctx: Context) -> Checked:
    """Run every stage for one table (lazily: nothing executes until the result is used)."""
    spec = prep.spec
    checked = Checked(prep.table.mutate(_c=ibis.null("int32")))
    checked.stage(row_checks(prep, ctx.extract_date))
    patient_prefix = None
    if spec.name in REFERENCES:
        joined, checks, patient_prefix = reference_stage(checked.table, spec, ctx.lookups)
        checked.table = joined
        checked.stage(checks)
    if spec.key and ctx.window_shared_rows_only:
        checked.table = with_earlier_rows(checked.table, spec)
        checked.stage([duplicate_check(spec, prep.multi_file)])
        if spec.name in OVERLAP_GROUP:
            checked.stage([overlap_check()])
    elif spec.key:  # windows over every row (Spark: see Context.window_shared_rows_only)
        t = checked.table
        ok = t._c.isnull()
        w = ibis.window(group_by=[*(t[k] for k in spec.key), ok], order_by=[t._file, t._row])
        checked.table = t.mutate(
            _dup_n=ibis.row_number().over(w),
            _dup_row=t._row.first().over(w),
            _dup_file=t._file.first().over(w),
        )
        checked.stage([duplicate_check(spec, prep.multi_file)])
        if spec.name in OVERLAP_GROUP:
            t = checked.table
            ok = t._c.isnull()
            earlier = ibis.window(
                group_by=[t.patient_id, ok],
                order_by=[t.start_date, t._file, t._row],
                rows=(None, -1),
            )
            checked.table = t.mutate(_prev_end=t.end_date.fill_null(FAR_FUTURE).max().over(earlier))
            checked.stage([overlap_check()])
    if spec.name == "events":
        if ctx.gaps is None or patient_prefix is None:
            raise ValueError("events need the registration gaps and the patient lookup")
        t, g = checked.table, ctx.gaps
        if ctx.gaps_empty:  # nothing to join: skip a pass over every event
            checked.table = t.mutate(_gap_after=ibis.null("date"), _gap_before=ibis.null("date"))
        else:
            checked.table = t.left_join(
                g,
                [
                    t.patient_id == g._gap_pid,
                    t.event_date > g._gap_after,
                    t.event_date < g._gap_before,
                ],
            )
        checked.stage(
            coverage_checks("event_date", patient_prefix, ctx.history_before_registration)
        )
    return checked
