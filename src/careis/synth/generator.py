"""Run the generator: plan the practices, simulate each one, stream the tables, write the truth.

Why this shape: everything random that is shared between practices (engagement, deprivation
centres, federations, providers, PCN moves, identifier keys) is decided once from the seed
before any practice runs; each practice then depends only on that plan and its own child
seed. That is what makes the output identical whatever the batching or number of workers.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import careis
from careis.codelists import CodelistLibrary
from careis.errors import CareisError, ConfigError
from careis.periods import financial_year

from . import ids, refdata
from . import params as P
from .codes import load_codebook
from .config import SynthConfig
from .model import YEAR, calibration, england_weights
from .orgs import memberships_table, organisations_table, plan_practices
from .practice import Context, PracticeOutput, simulate
from .writer import DatasetWriter

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationSummary:
    """What a run wrote: where, how many rows, and the headline realised rates."""

    out_dir: Path
    practices: int
    patients: int
    row_counts: dict[str, int]
    files: list[Path]
    rates: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def _first_day(config: SynthConfig) -> int:
    return ids.day(dt.date(config.first_year, 4, 1))


def expected_patients(config: SynthConfig) -> int:
    """The practices' scaled list sizes: the progress bar's total.

    This is the list the simulation starts from, before its burn-in years, so it is within
    about 1% of the patients registered on the first written day; newcomers and births add
    roughly 6% a year on top.
    """
    table = refdata.select(config)
    plan = plan_practices(config, table, _first_day(config))
    return int(plan.list_size.sum())


def _seasonal(d0: int, d1: int, amplitude: float, peak: dt.date) -> np.ndarray:
    days = np.arange(d0, d1 + 1)
    weight = 1.0 + amplitude * np.cos(2 * np.pi * (days - ids.day(peak)) / YEAR)
    return np.concatenate([[0.0], np.cumsum(weight)])


def _mobility() -> np.ndarray:
    """Relative chance of moving away by single age, mean 1 over England's population."""
    shape = P.curve(P.MOBILITY_KNOTS)
    w = england_weights().sum(axis=0)
    return shape / float((shape * w).sum() / w.sum())


def build_context(config: SynthConfig, codelists: CodelistLibrary | None = None) -> Context:
    """Everything shared by the practices of one run."""
    book = load_codebook(codelists)
    table = refdata.select(config)
    burn = P.BURN_IN_YEARS
    fy = np.array(
        [ids.day(dt.date(config.first_year + k, 4, 1)) for k in range(-burn, config.years + 1)],
        dtype=np.int64,
    )
    plan = plan_practices(config, table, int(fy[burn]))
    rates = config.rates
    calib = calibration(
        rates.emergency_per_1000, rates.ae_per_1000, rates.elective_per_1000, rates.mortality_scale
    )
    d0 = int(fy[0]) - 5
    d1 = int(fy[-1]) + 5
    key = int(np.random.SeedSequence([config.seed, 99]).generate_state(1, dtype=np.uint64)[0])
    base_k = (
        None if config.baseline_year is None else config.baseline_year - config.first_year + burn
    )
    return Context(
        config=config,
        plan=plan,
        calib=calib,
        book=book,
        fy=fy,
        perf_k=config.performance_year - config.first_year + burn,
        base_k=base_k,
        burn_in=burn,
        season_d0=d0,
        season_em=_seasonal(d0, d1, P.SEASON_EMERGENCY, dt.date(2000, 1, 15)),
        season_ae=_seasonal(d0, d1, P.SEASON_AE, dt.date(2000, 6, 15)),
        mobility=_mobility(),
        id_key=key,
    )


# ------------------------------------------------------------------ workers
_WORKER_CONTEXT: Context | None = None


def _init_worker(ctx: Context) -> None:
    global _WORKER_CONTEXT  # noqa: PLW0603 - one context per worker process
    _WORKER_CONTEXT = ctx


def _work(p: int) -> PracticeOutput:
    assert _WORKER_CONTEXT is not None
    return simulate(_WORKER_CONTEXT, p)


def _results(ctx: Context, workers: int) -> Iterator[PracticeOutput]:
    """Practice outputs in practice order, from this process or a pool of processes.

    Why processes: numpy releases the GIL only inside large operations, and a practice is
    many small ones. Results come back in practice order, so files do not depend on timing.
    """
    n = len(ctx.plan)
    if workers <= 1 or n <= 1:
        for p in range(n):
            yield simulate(ctx, p)
        return
    # fork where available: spawn would re-run a user's script that lacks a __main__ guard
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    mp = multiprocessing.get_context(method)
    with ProcessPoolExecutor(
        max_workers=min(workers, n), mp_context=mp, initializer=_init_worker, initargs=(ctx,)
    ) as pool:
        try:
            yield from pool.map(_work, range(n))
        except BrokenProcessPool as exc:
            raise CareisError(
                "a worker process of the synthetic generator stopped unexpectedly.",
                fix="run again with workers: 1 (or free some memory).",
            ) from exc


# ------------------------------------------------------------------ main entry
def generate(
    config: SynthConfig,
    out_dir: Path,
    *,
    progress: Progress | None = None,
    codelists: CodelistLibrary | None = None,
) -> GenerationSummary:
    """Generate the synthetic population of `config` into `out_dir` (Parquet + truth + JSON)."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    _check_writable(out_dir)
    ctx = build_context(config, codelists)
    plan = ctx.plan
    total = int(plan.list_size.sum())
    writer = DatasetWriter(out_dir)
    try:
        writer.write_whole("organisations.parquet", organisations_table(plan), "organisations")
        members, moves = memberships_table(plan, ctx.first_day)
        writer.write_whole("memberships.parquet", members, "memberships")
        sums: dict[str, np.ndarray] = {}
        totals: dict[str, float] = {}
        done = 0
        for p, result in enumerate(_results(ctx, config.workers)):
            writer.add(result.tables)
            for key, value in result.practice_year.items():
                sums[key] = sums[key] + value if key in sums else value.copy()
            for key, number in result.totals.items():
                totals[key] = totals.get(key, 0.0) + number
            done += int(plan.list_size[p])
            if progress is not None:
                progress(done, total)
        sums = {key: value[:, ctx.burn_in :] for key, value in sums.items()}
        truth = _truth_table(ctx, sums)
        writer.write_whole("truth/practices.parquet", truth)
        rows = writer.rows()
        rows["organisations"] = organisations_table(plan).num_rows
        rows["memberships"] = members.num_rows
        rates = _realised(ctx, sums, totals)
        info = _generation_info(ctx, rows, rates, moves)
        writer.write_text("generation.json", json.dumps(info, indent=2, sort_keys=False) + "\n")
        files = writer.commit()
    except OSError as exc:
        writer.abort()
        raise CareisError(
            f"could not write the synthetic data ({exc.strerror or exc}).",
            file=out_dir,
            fix="check the folder is writable and the disk has space.",
        ) from exc
    except BaseException:
        writer.abort()
        raise
    return GenerationSummary(
        out_dir=out_dir,
        practices=len(plan),
        patients=int(totals.get("patients", 0)),
        row_counts=rows,
        files=files,
        rates=rates,
        seconds=time.perf_counter() - started,
    )


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".careis-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write to the output folder ({exc.strerror or exc}).",
            file=out_dir,
            fix="choose a folder you can write to.",
        ) from None


# ------------------------------------------------------------------ truth and summary
def _per_1000(count: np.ndarray, days: np.ndarray) -> np.ndarray:
    years = days / YEAR
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(years > 0, count / years * 1000.0, np.nan)


def _truth_table(ctx: Context, sums: dict[str, np.ndarray]) -> pa.Table:
    """Per practice: engagement, what the scheme did and expected vs realised admission rates."""
    cfg = ctx.config
    iv = cfg.intervention
    plan = ctx.plan
    k_perf = ctx.perf_k - ctx.burn_in  # the sums hold the written years only
    k_base = None if ctx.base_k is None else ctx.base_k - ctx.burn_in
    enabled = iv.enabled
    engagement = plan.engagement
    days = sums["person_days"]
    cols: dict[str, Any] = {
        "practice_code": plan.codes,
        "practice_name": plan.names,
        "pcn_code": plan.pcn,
        "pcn_code_after_move": [n or c for n, c in zip(plan.new_pcn, plan.pcn, strict=True)],
        "federation_code": [plan.federation_of_pcn.get(c) if c else None for c in plan.pcn],
        "sub_icb_code": plan.sub_icb,
        "icb_code": plan.icb,
        "list_size_start": plan.list_size,
        "imd_decile_centre": np.round(plan.imd_centre, 3),
        "engagement": np.round(engagement, 6),
        "scheme_enabled": np.full(len(plan), enabled),
        "register_share": np.full(len(plan), iv.register_share),
        "target_coverage": np.full(len(plan), iv.target_coverage),
        "frail_coverage": np.full(len(plan), iv.frail_coverage),
        "care_plan_effect": np.full(len(plan), iv.care_plan_effect if enabled else 0.0),
        "practice_wide_effect": np.full(len(plan), iv.practice_wide_effect if enabled else 0.0),
        "practice_wide_multiplier": np.round(
            1.0 - (iv.practice_wide_effect * engagement if enabled else np.zeros(len(plan))), 6
        ),
        "care_plans_scheme_performance": sums["care_plans_scheme"][:, k_perf].astype(np.int64),
        "care_plans_background_performance": sums["care_plans_background"][:, k_perf].astype(
            np.int64
        ),
    }
    emergency = sums["emergency"]
    # expected counts: the model's intensity of first emergency admissions, grossed up by the
    # average share of readmissions, so they compare directly with the realised counts
    expected = sums["expected_emergency"] / P.EMERGENCY_PRIMARY_SHARE
    no_scheme = sums["expected_emergency_no_scheme"] / P.EMERGENCY_PRIMARY_SHARE
    for label, k in (("baseline", k_base), ("performance", k_perf)):
        if k is None:
            cols[f"person_years_{label}"] = np.full(len(plan), np.nan)
            for name in (
                "emergency",
                "expected_emergency",
                "rate_per_1000",
                "expected_rate_per_1000",
            ):
                cols[f"{name}_{label}"] = np.full(len(plan), np.nan)
            continue
        cols[f"person_years_{label}"] = np.round(days[:, k] / YEAR, 3)
        cols[f"emergency_{label}"] = emergency[:, k].astype(np.int64)
        cols[f"expected_emergency_{label}"] = np.round(expected[:, k], 3)
        cols[f"rate_per_1000_{label}"] = np.round(_per_1000(emergency[:, k], days[:, k]), 3)
        cols[f"expected_rate_per_1000_{label}"] = np.round(_per_1000(expected[:, k], days[:, k]), 3)
    cols["expected_emergency_performance_no_scheme"] = np.round(no_scheme[:, k_perf], 3)
    cols["expected_rate_per_1000_performance_no_scheme"] = np.round(
        _per_1000(no_scheme[:, k_perf], days[:, k_perf]), 3
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        base = np.asarray(cols["rate_per_1000_baseline"], dtype=np.float64)
        perf = np.asarray(cols["rate_per_1000_performance"], dtype=np.float64)
        cols["rate_change_percent"] = np.round((perf / base - 1.0) * 100.0, 3)
        eb = np.asarray(cols["expected_rate_per_1000_baseline"], dtype=np.float64)
        ep = np.asarray(cols["expected_rate_per_1000_performance"], dtype=np.float64)
        cols["expected_rate_change_percent"] = np.round((ep / eb - 1.0) * 100.0, 3)
    for k in range(cfg.years):
        label = financial_year(cfg.first_year + k).label or str(k)
        tag = label.replace("/", "_")
        cols[f"person_years_{tag}"] = np.round(days[:, k] / YEAR, 3)
        cols[f"emergency_{tag}"] = emergency[:, k].astype(np.int64)
        cols[f"expected_emergency_{tag}"] = np.round(expected[:, k], 3)
    return pa.table(cols)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 3) if whole else None


def _realised(
    ctx: Context, sums: dict[str, np.ndarray], totals: dict[str, float]
) -> dict[str, Any]:
    cfg = ctx.config
    per_year: dict[str, dict[str, float | None]] = {}
    for k in range(cfg.years):
        label = financial_year(cfg.first_year + k).label or str(k)
        years = float(sums["person_days"][:, k].sum()) / YEAR
        entry: dict[str, float | None] = {"person_years": round(years, 1)}
        for name in ("emergency", "ae", "elective", "maternity", "deaths"):
            count = float(sums[name][:, k].sum())
            entry[f"{name}_per_1000"] = round(count / years * 1000.0, 3) if years else None
        per_year[label] = entry
    prevalence = {
        name: _pct(totals.get(f"prev_{name}", 0.0), totals.get(f"prev_{name}_denominator", 0.0))
        for name in P.CONDITIONS
    }
    old = totals.get("age65_ref", 0.0)
    return {
        "per_year": per_year,
        "reference_day": ids.date_of(ctx.ref_day).isoformat(),
        "registered_on_reference_day": int(totals.get("registered_ref", 0.0)),
        "prevalence_percent": prevalence,
        "efi_65_percent": {
            label: _pct(totals.get(f"efi_{label}_65", 0.0), old)
            for label in ("fit", "mild", "moderate", "severe")
        },
        "polypharmacy_65_percent": _pct(totals.get("polypharmacy_65", 0.0), old),
        "care_home_65_percent": _pct(totals.get("care_home_65", 0.0), old),
        "care_home_85_percent": _pct(totals.get("care_home_85", 0.0), totals.get("age85_ref", 0.0)),
        "hba1c_latest_le58_percent": _pct(
            totals.get("hba1c_le58", 0.0), totals.get("hba1c_tested", 0.0)
        ),
    }


def _generation_info(
    ctx: Context, rows: dict[str, int], rates: dict[str, Any], moves: list[dict[str, str]]
) -> dict[str, Any]:
    cfg = ctx.config
    plan = ctx.plan
    feds: dict[str, dict[str, Any]] = {}
    for pcn, fed in sorted(plan.federation_of_pcn.items()):
        feds.setdefault(fed, {"name": plan.federation_names[fed], "pcns": []})["pcns"].append(pcn)
    years = [financial_year(cfg.first_year + k).label for k in range(cfg.years)]
    return {
        "generator": "careis.synth",
        "careis_version": careis.__version__,
        "seed": cfg.seed,
        "config": cfg.model_dump(mode="json"),
        "financial_years": years,
        "first_day": ids.date_of(ctx.first_day).isoformat(),
        "last_day": ids.date_of(ctx.end).isoformat(),
        "baseline_year": None
        if cfg.baseline_year is None
        else financial_year(cfg.baseline_year).label,
        "performance_year": financial_year(cfg.performance_year).label,
        "practices": {
            "count": len(plan),
            "list_size_start": int(plan.list_size.sum()),
            "list_size_source": "NHS Digital registered list by sex and age band, Jan-Mar 2016, "
            "x scale",
            "imputed_list_size": plan.imputed,
            "imputation": "practices without a 2016 list get the selection's median age/sex "
            "profile and median list size",
        },
        "federations": {"automatic": plan.federations_auto, "groups": feds},
        "pcn_moves": moves,
        "providers": dict(zip(plan.provider_codes, plan.provider_names, strict=True)),
        "codelists": dict(sorted(ctx.book.sources.items())),
        "row_counts": dict(sorted(rows.items())),
        "realised": rates,
        "notes": [
            "Synthetic data: no real patient is represented. Rates and prevalences are "
            "calibrated to English averages (see careis.synth.params for sources).",
            "Events dated before a patient's first registration start are diagnosis history "
            "carried from a previous practice.",
            "Admissions and A&E attendances are generated only while the patient is "
            "registered with a selected practice.",
            "discharge_date is null for spells still open on the last generated day.",
            f"The simulation starts {P.BURN_IN_YEARS} years before first_day (a burn-in); "
            "patients who died or left before first_day are not written, and records dated "
            "before it are history.",
            "rates.trend is the yearly change in age-specific emergency admission and A&E "
            "rates; crude rates also move with the population's ageing (about +0.5-1% a "
            "year for an English age mix).",
            "truth/practices.parquet is for checking a scheme's measures; it is never read by "
            "the pipeline. Its expected_* counts are the model's Poisson means (readmissions "
            "included at their average share); emergency_* are the realised counts.",
        ],
    }
