"""The risk stage of a run: score every adult, draw the registers, hand cohorts to measures.

Why a module of its own: `careis run` needs one call that gives it, for either risk method,
the register (for measures and the practices' files), the scored table (for the risk tiers),
the eFI cohort, and with the model method the model, its card and the refresh (frailty
lists, entry/exit). The pipeline only sequences; this is where the two methods meet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from ibis.expr.types import Table

from careis.codelists import CodelistLibrary
from careis.engine import Engine
from careis.facts.patient import patient_facts
from careis.layout import RunLayout
from careis.risk import points
from careis.risk.register import register as draw_register
from careis.risk.register import tiers as draw_tiers
from careis.risk.scoring import Refresh
from careis.risk.settings import RiskConfig

# Named patient sets the risk stage hands to the measures: the case-finding register, the
# electronic Frailty Index of patients 65+ (`category`: fit / mild / moderate / severe) and every
# adult's risk tier within their practice (`category`: very_high = the register / high / moderate
# / low; see careis.risk.register.tiers).
COHORTS = ("register", "efi", "risk_tier")


@dataclass
class RiskOutputs:
    """What the 'model' risk method produced: the model used, its card, the refresh."""

    model: Any
    card: Path
    refresh: Refresh
    summary: list[dict[str, Any]]
    coverage: dict[str, int]
    #: Cohorts already scored here, for the measures engine: 'efi' (patient_id, practice_code,
    #: efi_score, efi_category; 65+). The register and risk tiers come from the refresh.
    cohorts: dict[str, Any] = field(default_factory=dict)


@dataclass
class RiskStage:
    """The risk stage's results, for either method."""

    register: Table  # patient_id, practice_code (cached in the engine)
    register_rows: pa.Table  # the register with its columns, ordered by practice and rank
    scored: Table  # every scored adult (ranked again for the risk tiers)
    model: RiskOutputs | None  # with `method: model`


@dataclass(frozen=True)
class RiskRun:
    """What the stage needs to know about the run beyond the risk settings."""

    index_date: dt.date
    model_path: Path | None
    data_label: str
    synthetic: bool
    layout: RunLayout


def run_risk(
    engine: Engine,
    tables: dict[str, Any],
    library: CodelistLibrary,
    settings: RiskConfig,
    run: RiskRun,
) -> RiskStage:
    """Score, then draw the registers, with the configured method."""
    if settings.method == "model":
        out = model_risk(engine, tables, library, settings, run)
        register = engine.cache(
            engine.from_arrow(out.refresh.register.select(["patient_id", "practice_code"]))
        )
        return RiskStage(register, out.refresh.register, out.refresh.scored, out)
    facts = patient_facts(tables, run.index_date, library, lookback_days=settings.lookback_days)
    scored = engine.cache(points.score(facts))  # cached: the register and the tiers rank it
    register = engine.cache(
        draw_register(scored, percent=settings.register_percent, min_age=settings.min_age)
    )
    rows = engine.to_arrow(register.order_by(["practice_code", "register_rank"]))
    return RiskStage(register, rows, scored, None)


def _previous_index(index_date: dt.date, refresh_months: int) -> dt.date | None:
    """The previous refresh's date, `refresh_months` before the index date (0: none)."""
    if not refresh_months:
        return None
    months = index_date.year * 12 + index_date.month - 1 - refresh_months
    return dt.date(months // 12, months % 12 + 1, 1)


def _model(
    engine: Engine,
    tables: dict[str, Any],
    library: CodelistLibrary,
    settings: RiskConfig,
    run: RiskRun,
) -> Any:
    """The admission model the run names, or one trained on this data and saved in the run."""
    from careis.risk.model import load as load_model
    from careis.risk.training import train_and_validate, year_before

    if run.model_path is not None:
        model = load_model(run.model_path)
        model.check_schema()
        return model
    trained = train_and_validate(
        engine,
        tables,
        library,
        train_index=year_before(run.index_date),
        validate_index=run.index_date,
        holdout_share=settings.holdout_share,
        kinds=[settings.model_kind],
        lookback_days=settings.lookback_days,
        data_label=run.data_label,
    )
    model = trained.models[settings.model_kind]
    model.save(run.layout.risk / "model.json")
    return model


def model_risk(
    engine: Engine,
    tables: dict[str, Any],
    library: CodelistLibrary,
    settings: RiskConfig,
    run: RiskRun,
) -> RiskOutputs:
    """Load (or train on this data) the admission model, score, draw registers and frailty lists.

    Why train in the run when no model is given: the demo and a first look need no separate
    step. The run's model is trained with its index date a year before the register's, so its
    outcome year ends before the register is drawn (nothing from the future is used); it is
    written to risk/model.json with its card, so the next run can name it in `risk.model`.
    """
    from careis.risk import outputs as risk_outputs
    from careis.risk.card import write_card
    from careis.risk.scoring import efi_cohort
    from careis.risk.scoring import refresh as draw_refresh
    from careis.risk.training import coverage

    model = _model(engine, tables, library, settings, run)
    _, card = write_card(model, run.layout.risk, synthetic=run.synthetic)
    ref = draw_refresh(
        engine,
        tables,
        library,
        model,
        run.index_date,
        percent=settings.register_percent,
        min_age=settings.min_age,
        lookback_days=settings.lookback_days,
        previous_index=_previous_index(run.index_date, settings.refresh_months),
    )
    summary = risk_outputs.practice_summary(ref.sizes, ref.register, ref.efi_distribution)
    cohorts = {"efi": efi_cohort(ref.scored)}
    return RiskOutputs(model, card, ref, summary, coverage(engine, tables, run.index_date), cohorts)


def efi_cohort_for_measures(
    tables: dict[str, Any],
    index_date: dt.date,
    library: CodelistLibrary,
    risk_out: RiskOutputs | None,
) -> Table:
    """The 'efi' cohort for measures: patient_id, practice_code, category (eFI category, 65+).

    The model method has already scored the eFI (reuse it); the points method has not, so the
    eFI is computed here: it is a count of coded deficits, cheap next to the measures.
    """
    if risk_out is not None and "efi" in risk_out.cohorts:
        t = risk_out.cohorts["efi"]
    else:
        from careis.risk.efi import efi

        t = efi(tables, index_date, library)
    return t.select("patient_id", "practice_code", category=t.efi_category)


def cohorts(
    engine: Engine,
    stage: RiskStage,
    tables: dict[str, Any],
    library: CodelistLibrary,
    settings: RiskConfig,
    index_date: dt.date,
) -> dict[str, Table]:
    """The COHORTS for the measures engine, each materialised once (several measures read it)."""
    efi = efi_cohort_for_measures(tables, index_date, library, stage.model)
    tiers = draw_tiers(stage.scored, percent=settings.register_percent, min_age=settings.min_age)
    return {"register": stage.register, "efi": engine.cache(efi), "risk_tier": engine.cache(tiers)}


def write_registers(stage: RiskStage, layout: RunLayout, suppression: Any) -> None:
    """Registers (and with the model, frailty lists and entry/exit) only in each practice's own
    folder; with the model, the per-practice counts (suppressed) in risk/practice_summary.csv."""
    from careis.risk import outputs as risk_outputs

    if stage.model is None:
        risk_outputs.write_points_registers(layout.root, stage.register_rows)
        return
    ref = stage.model.refresh
    risk_outputs.write_practice_files(
        layout.root, ref.practices, ref.register, ref.frailty, ref.changes
    )
    risk_outputs.write_summary(layout.root, stage.model.summary, suppression)
