"""Settings of the risk stage: which score, which model, the register's size."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RiskConfig(BaseModel):
    """The `risk:` block of a run config (owned here: the risk stage is what reads it)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["points", "model"] = Field(
        default="points",
        description="Risk score: 'points' (transparent first score) or 'model' (the "
        "unplanned-admission model; see docs/risk.md).",
    )
    model: Path | None = Field(
        default=None,
        description="With method 'model': a model.json from `careis risk train`, relative to "
        "this file. If not given, the run trains one on its own data (index date a year before "
        "the register's) and writes it to risk/model.json.",
    )
    model_kind: Literal["logistic", "lightgbm"] = Field(
        default="lightgbm",
        description="With method 'model' and no model file: which model family the run trains.",
    )
    holdout_share: float = Field(
        default=0.2,
        ge=0,
        lt=1,
        description="With a model trained in the run: share of practices held out for validation.",
    )
    refresh_months: int = Field(
        default=3,
        ge=0,
        le=24,
        description="With method 'model': the previous refresh was this many months before the "
        "index date; each practice gets who entered and left the register since (0: none).",
    )
    register_percent: float = Field(
        default=2.0, gt=0, le=100, description="Register size: top N% of adults."
    )
    min_age: int = Field(
        default=18, ge=0, le=120, description="Adults: age on the index date at least this."
    )
    index_date: dt.date | None = Field(
        default=None,
        description="Date the register is drawn up (default: first day of the performance period).",
    )
    lookback_days: int = Field(
        default=365, ge=1, description="Window for prior admissions and A&E (days)."
    )
