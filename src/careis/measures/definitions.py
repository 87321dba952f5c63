"""Measure definitions: what a user writes in YAML, validated before anything is computed.

Why a typed layer between YAML and Ibis: a commissioner must be able to read (and add) the
rules the scheme pays on without reading Python, and every mistake must be caught before a
run starts, naming the file, the line and the field. The models here are the whole language;
`careis.measures.compile` turns them into engine expressions.

A measures file is a mapping with one key, `measures:`, holding a list. Each measure has an
`id`, a `name`, a `kind` and kind-specific fields:

- `count`: patients in a population on a date (list size, adults);
- `indicator`: QOF-style business rules: a population (the denominator), optional
  exclusions (personalised care adjustments: codes with look-back windows), a numerator
  (all conditions must hold), optional lower/upper thresholds. Achievement is
  numerator / (denominator - exclusions);
- `rate`: events (admissions, A&E attendances) with filters, per 1,000 person-years; crude,
  or directly / indirectly age-sex standardised; with exact Poisson confidence limits;
- `change`: another measure in the performance period against the baseline (relative % or
  absolute difference).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from careis.errors import ConfigError
from careis.yamlio import Loc, line_of, load_yaml, model_from_data

ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExplicitPeriod(_Model):
    """A period given by dates instead of a name from the run config."""

    name: str = Field(pattern=ID_PATTERN, description="Key of this period in the results.")
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(
                f"period '{self.name}' ends ({self.end}) before it starts ({self.start})"
            )
        return self


def _period_kind(value: Any) -> str:
    return "named" if isinstance(value, str) else "dates"


# A tagged union so a bad explicit period reports its own field, not "should be 'baseline'".
PeriodRef = Annotated[
    Annotated[Literal["baseline", "performance"], Tag("named")]
    | Annotated[ExplicitPeriod, Tag("dates")],
    Discriminator(_period_kind),
]


def _performance_only() -> list[PeriodRef]:
    return ["performance"]


class AgeRange(_Model):
    min: int | None = Field(default=None, ge=0, le=130, description="Youngest age (inclusive).")
    max: int | None = Field(default=None, ge=0, le=130, description="Oldest age (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.max < self.min:
            raise ValueError(f"age max ({self.max}) is below age min ({self.min})")
        return self


class CodeCondition(_Model):
    """A code from a code list recorded in a window (and optionally a value or count test).

    `within_days` counts back from the window's end (the measure's date); `in_period: true`
    means inside the measure's period instead; neither means ever (on or before the date).
    `last_value` tests the most recent recorded value in the window (e.g. HbA1c <= 58).
    """

    codes: str = Field(description="Name of a code list (shipped or in your code list folder).")
    within_days: int | None = Field(default=None, ge=1, description="Look-back window in days.")
    in_period: bool = Field(default=False, description="Only events inside the measure's period.")
    min_count: int = Field(default=1, ge=1, description="At least this many matching events.")
    last_value: ValueTest | None = Field(
        default=None, description="Test on the latest recorded value, e.g. {op: '<=', value: 58}."
    )

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        if self.in_period and self.within_days is not None:
            raise ValueError("give either 'in_period: true' or 'within_days', not both")
        return self


class ValueTest(_Model):
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float


CodeCondition.model_rebuild()


class Population(_Model):
    """Who is counted: registered (and alive) on `as_of`, then narrowed.

    `as_of`: 'start' or 'end' of the measure's period, or 'index' (the run's index date, when
    the register is drawn up). `cohort`: a named patient set supplied by an earlier stage
    (e.g. `register`, the case-finding register). `has`: code conditions every patient must
    meet (e.g. on the diabetes register).
    """

    # not `on:` - YAML 1.1 reads a bare `on` key as the boolean true
    as_of: Literal["start", "end", "index"] = Field(default="end")
    age: AgeRange | None = None
    sex: list[Literal["F", "M", "U"]] | None = None
    cohort: str | None = Field(default=None, pattern=ID_PATTERN)
    cohort_values: list[str] | None = Field(
        default=None,
        description="Keep cohort members whose `category` is one of these (e.g. eFI 'severe').",
    )
    has: list[CodeCondition] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values_need_cohort(self) -> Self:
        if self.cohort_values is not None and self.cohort is None:
            raise ValueError("'cohort_values' needs a 'cohort'")
        return self


class Thresholds(_Model):
    """QOF-style payment thresholds in % achievement."""

    lower: float = Field(ge=0, le=100)
    upper: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.lower > self.upper:
            raise ValueError(
                f"lower threshold ({self.lower}) is above the upper threshold ({self.upper})"
            )
        return self


class _Base(_Model):
    id: str = Field(pattern=ID_PATTERN, description="Identifier contracts and reports use.")
    name: str = Field(min_length=1)
    description: str = ""
    unit: str | None = Field(default=None, description="Unit shown with values (defaulted).")
    higher_is_better: bool | None = None
    periods: list[PeriodRef] = Field(
        default_factory=_performance_only,
        min_length=1,
        description="Periods the measure is computed for: baseline, performance, or {name, start, end}.",
    )


class CountMeasure(_Base):
    kind: Literal["count"]
    population: Population = Field(default_factory=Population)


class IndicatorMeasure(_Base):
    kind: Literal["indicator"]
    population: Population = Field(description="The denominator before exclusions.")
    exclusions: list[CodeCondition] = Field(
        default_factory=list,
        description="Personalised care adjustments: patients meeting any are excluded (unless in the numerator).",
    )
    numerator: list[CodeCondition | CohortCondition] = Field(
        min_length=1, description="Conditions a patient must all meet to count as achieved."
    )
    thresholds: Thresholds | None = None
    patient_flags: bool = Field(
        default=True,
        description="Write each practice's denominator patients with their flags to its own folder.",
    )


class CohortCondition(_Model):
    """In the numerator when the patient is a member of a named cohort (e.g. the register)."""

    cohort: str = Field(pattern=ID_PATTERN)


IndicatorMeasure.model_rebuild()


class EventFilter(_Model):
    """Which hospital events count."""

    source: Literal["admissions", "ae_attendances"] = "admissions"
    emergency: bool | None = Field(
        default=None, description="Admissions: only emergency (true) or only non-emergency (false)."
    )
    diagnosis: str | None = Field(
        default=None,
        description="ICD-10 code list the primary diagnosis must fall in (3- or 4-character codes).",
    )
    min_length_of_stay: int | None = Field(default=None, ge=0, description="Days, inclusive.")
    max_length_of_stay: int | None = Field(default=None, ge=0, description="Days, inclusive.")
    readmission_within_days: int | None = Field(
        default=None,
        ge=1,
        description="Only admissions starting within this many days of the patient's previous discharge.",
    )
    department_types: list[str] | None = Field(
        default=None, description="A&E: ECDS department types to count (e.g. ['01'])."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.source == "ae_attendances":
            bad = [
                f
                for f in (
                    "emergency",
                    "diagnosis",
                    "min_length_of_stay",
                    "max_length_of_stay",
                    "readmission_within_days",
                )
                if getattr(self, f) is not None
            ]
            if bad:
                raise ValueError(f"'{bad[0]}' applies to admissions, not A&E attendances")
        elif self.department_types is not None:
            raise ValueError("'department_types' applies to A&E attendances only")
        if (
            self.min_length_of_stay is not None
            and self.max_length_of_stay is not None
            and self.min_length_of_stay > self.max_length_of_stay
        ):
            raise ValueError("min_length_of_stay is above max_length_of_stay")
        return self


class RateMeasure(_Base):
    kind: Literal["rate"]
    events: EventFilter = Field(default_factory=EventFilter)
    count: Literal["events", "bed_days"] = Field(
        default="events", description="Count events, or bed-days (discharge - admission, min 0)."
    )
    age: AgeRange | None = Field(default=None, description="Only patients of these ages.")
    per: int = Field(default=1000, ge=1, description="Rate per this many person-years.")
    standardise: Literal["none", "direct", "indirect"] = Field(
        default="none",
        description="direct: to the 2013 European Standard Population (age 5-year bands x sex); "
        "indirect: observed / expected from the run's whole population (a ratio x 100).",
    )


class ChangeMeasure(_Base):
    kind: Literal["change"]
    of: str = Field(pattern=ID_PATTERN, description="The measure compared.")
    baseline: str = Field(default="baseline", description="Period key compared against.")
    performance: str = Field(default="performance", description="Period key compared.")
    compare: Literal["relative", "absolute"] = Field(
        default="relative", description="relative: % change; absolute: difference in units."
    )
    periods: list[PeriodRef] = Field(default_factory=_performance_only, min_length=1)


Measure = Annotated[
    CountMeasure | IndicatorMeasure | RateMeasure | ChangeMeasure, Field(discriminator="kind")
]


class MeasureFile(_Model):
    measures: list[Measure] = Field(min_length=1)


DEFAULT_UNITS = {
    "count": "patients",
    "indicator": "%",
    "rate": "per 1,000 person-years",
    "change": "% change",
}


def unit_of(m: Any) -> str:
    if m.unit:
        return str(m.unit)
    if m.kind == "rate":
        if m.standardise == "indirect":
            return "standardised ratio (100 = expected)"
        per = f"{m.per:,}"
        what = "bed-days" if m.count == "bed_days" else ""
        return f"{what + ' ' if what else ''}per {per} person-years" + (
            " (age-sex standardised)" if m.standardise == "direct" else ""
        )
    if m.kind == "change" and m.compare == "absolute":
        return "difference"
    return DEFAULT_UNITS[m.kind]


class MeasureSet:
    """The measures of a run, loaded from one or more YAML files and checked as a whole.

    Cross-measure checks (unique ids, change measures that name a known measure and no
    circular references, code lists that exist, cohorts the caller supplies) need every file
    at once, so they live here rather than in the pydantic models.
    """

    def __init__(self, measures: Sequence[Any], origins: dict[str, tuple[Path, int | None]]):
        self.measures = list(measures)
        self.origins = origins
        self.by_id = {m.id: m for m in self.measures}

    def error(self, measure_id: str, problem: str, fix: str | None = None) -> ConfigError:
        path, line = self.origins.get(measure_id, (None, None))
        return ConfigError(problem, file=path, where=f"line {line}" if line else None, fix=fix)

    def tables_needed(self, measure_id: str) -> set[str]:
        """The input tables whose rows a measure counts (patients and registrations always).

        Why: a measure computed from an empty table is not zero, it is unknown; the payments
        stage uses this to refuse paying £0 "for no care plans" when no events were supplied."""
        m = self.by_id[measure_id]
        if m.kind == "change":
            return self.tables_needed(m.of) if m.of in self.by_id else {"patients"}
        tables = {"patients", "registrations"}
        if _conditions(m):
            tables.add("events")
        if m.kind == "rate":
            tables.add(m.events.source)
        return tables

    def codelists(self) -> list[str]:
        """Every code list named by any measure (sorted, for a deterministic union)."""
        names: set[str] = set()
        for m in self.measures:
            for cond in _conditions(m):
                names.add(cond.codes)
            if m.kind == "rate" and m.events.diagnosis:
                names.add(m.events.diagnosis)
        return sorted(names)

    def cohorts(self) -> list[str]:
        names: set[str] = set()
        for m in self.measures:
            pop = getattr(m, "population", None)
            if pop is not None and pop.cohort:
                names.add(pop.cohort)
            for c in getattr(m, "numerator", []):
                if isinstance(c, CohortCondition):
                    names.add(c.cohort)
        return sorted(names)

    def check(
        self,
        *,
        codelist_names: Iterable[str] | None = None,
        cohorts: Iterable[str] | None = None,
    ) -> None:
        """Refuse a set that cannot be computed, naming the measure's file and line."""
        for m in self.measures:
            if m.kind == "change":
                self._check_change(m)
        if codelist_names is not None:
            known = set(codelist_names)
            for m in self.measures:
                used = [c.codes for c in _conditions(m)]
                if m.kind == "rate" and m.events.diagnosis:
                    used.append(m.events.diagnosis)
                for name in used:
                    if name not in known:
                        import difflib

                        guess = difflib.get_close_matches(name, sorted(known), n=1)
                        raise self.error(
                            m.id,
                            f"measure '{m.id}' uses code list '{name}', which does not exist.",
                            fix=(f"did you mean '{guess[0]}'? " if guess else "")
                            + "add a code,term CSV of that name to your code list folder.",
                        )
        if cohorts is not None:
            have = set(cohorts)
            for name in self.cohorts():
                if name not in have:
                    user = next(
                        m.id
                        for m in self.measures
                        if name
                        in {getattr(getattr(m, "population", None), "cohort", None)}
                        | {
                            c.cohort
                            for c in getattr(m, "numerator", [])
                            if isinstance(c, CohortCondition)
                        }
                    )
                    raise self.error(
                        user,
                        f"measure '{user}' uses cohort '{name}', which this run does not supply.",
                        fix=f"use one of: {', '.join(sorted(have)) or '(none)'}.",
                    )

    def _check_change(self, m: Any) -> None:
        """A change measure compares the two periods of a count, indicator or rate."""
        if m.of not in self.by_id:
            raise self.error(
                m.id,
                f"measure '{m.id}' compares '{m.of}', which is not defined.",
                fix=f"define '{m.of}' or use one of: {', '.join(sorted(self.by_id))}.",
            )
        target = self.by_id[m.of]
        if target.kind == "change":
            chain = [m.id]
            cur = target
            while cur.kind == "change" and cur.id not in chain:
                chain.append(cur.id)
                if cur.of not in self.by_id:
                    break
                cur = self.by_id[cur.of]
            if cur.id in chain:
                raise self.error(
                    m.id,
                    f"circular reference between measures: {' -> '.join([*chain, cur.id])}.",
                    fix="a change measure must compare a count, indicator or rate.",
                )
            raise self.error(
                m.id,
                f"measure '{m.id}' compares '{m.of}', itself a change measure.",
                fix="compare a count, indicator or rate.",
            )
        keys = {_period_key(p) for p in target.periods}
        for side in (m.baseline, m.performance):
            if side not in keys:
                raise self.error(
                    m.id,
                    f"measure '{m.id}' compares period '{side}' of '{m.of}', which is computed "
                    f"only for {', '.join(sorted(keys))}.",
                    fix=f"add '{side}' to the periods of '{m.of}'.",
                )

    def order(self) -> list[Any]:
        """Measures in the order they can be computed (changes after what they compare)."""
        return [m for m in self.measures if m.kind != "change"] + [
            m for m in self.measures if m.kind == "change"
        ]


def _period_key(p: Any) -> str:
    return p if isinstance(p, str) else p.name


def period_keys(m: Any) -> list[str]:
    return [_period_key(p) for p in m.periods]


def _conditions(m: Any) -> list[CodeCondition]:
    out: list[CodeCondition] = []
    pop = getattr(m, "population", None)
    if pop is not None:
        out.extend(pop.has)
    out.extend(getattr(m, "exclusions", []))
    out.extend(c for c in getattr(m, "numerator", []) if isinstance(c, CodeCondition))
    return out


def _measure_lines(lines: dict[Loc, int], count: int) -> list[int | None]:
    return [line_of(lines, ("measures", i)) for i in range(count)]


def load_measure_file(path: str | Path) -> tuple[list[Any], dict[str, tuple[Path, int | None]]]:
    path = Path(path)
    data, lines = load_yaml(path)
    parsed = model_from_data(MeasureFile, data, lines, path)
    starts = _measure_lines(lines, len(parsed.measures))
    origins = {m.id: (path, starts[i]) for i, m in enumerate(parsed.measures)}
    return list(parsed.measures), origins


def measure_files(paths: Sequence[str | Path]) -> list[Path]:
    """Expand folders into their *.yaml files (sorted), keeping the order given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted([*p.glob("*.yaml"), *p.glob("*.yml")]))
        elif p.exists():
            out.append(p)
        else:
            raise ConfigError("the measures file or folder does not exist.", file=p)
    if not out:
        raise ConfigError("no measure YAML files found.", file=", ".join(map(str, paths)))
    return out


def load_measures(paths: Sequence[str | Path]) -> MeasureSet:
    """Load every measure file (or folder of files); ids must be unique across all of them."""
    measures: list[Any] = []
    origins: dict[str, tuple[Path, int | None]] = {}
    for path in measure_files(paths):
        found, where = load_measure_file(path)
        for m in found:
            if m.id in origins:
                first, line = origins[m.id]
                raise ConfigError(
                    f"measure id '{m.id}' is defined twice (first in {first}, line {line}).",
                    file=path,
                    where=f"line {where[m.id][1]}" if where[m.id][1] else None,
                    fix="give each measure a unique id.",
                )
            origins[m.id] = where[m.id]
            measures.append(m)
    return MeasureSet(measures, origins)


def shipped_library() -> Path:
    """The folder of measures shipped with careis (the scheme's library)."""
    from importlib import resources

    return Path(str(resources.files("careis.examples"))) / "measures"
