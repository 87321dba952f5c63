"""The run config: one YAML file that says which data, which periods, which scheme, which outputs.

Why one file: a payment must be re-derivable later. The config (with the hashes of the inputs
it names) is written into the run's manifest, so `careis run` on the same config and the same
inputs gives the same statements.

Path rule: `data.path` and `output.dir` are workspace locations and resolve against the
current working directory; every other relative path (contract, code lists, measures) travels
with the config and resolves against the config file's folder.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from careis.engine import EngineConfig
from careis.errors import ConfigError, DataError
from careis.facts.population import DataSpan
from careis.measures.suppression import SuppressionConfig
from careis.periods import Period, parse_financial_year
from careis.risk.settings import RiskConfig
from careis.synth import SynthConfig
from careis.yamlio import load_yaml, model_from_data


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _period(value: Any) -> Any:
    """Accept '2024/25' (a financial year) or {start, end} for a period."""
    if isinstance(value, str | int):
        try:
            return parse_financial_year(str(value))
        except ValueError as exc:
            raise ValueError(str(exc)) from exc
    return value


class PeriodsConfig(_Model):
    baseline: Period = Field(description="Baseline period, e.g. '2023/24' or {start:, end:}.")
    performance: Period = Field(description="Performance period, e.g. '2024/25' or {start:, end:}.")

    _coerce = field_validator("baseline", "performance", mode="before")(_period)

    @model_validator(mode="after")
    def _not_overlapping(self) -> Self:
        if self.baseline.overlaps(self.performance):
            raise ValueError(
                f"baseline ({self.baseline.name}) and performance ({self.performance.name}) periods overlap"
            )
        return self


class DataConfig(_Model):
    path: Path = Field(
        description="Folder of canonical tables (Parquet/CSV), relative to the working directory."
    )
    generate: SynthConfig | None = Field(
        default=None,
        description="If set and `path` holds no data yet, generate a synthetic population there first.",
    )
    extract_date: dt.date | None = Field(
        default=None,
        description="Date the data were extracted; later dates are impossible (default: today).",
    )
    history_before_registration: Literal["keep", "quarantine"] = Field(
        default="keep",
        description="Events dated before a patient's first registration: keep (history) or quarantine.",
    )


class CompareConfig(_Model):
    """Contract models laid side by side in the report (see docs/payments.md)."""

    contracts: list[Path] = Field(
        min_length=1,
        description="Other contract YAMLs (relative to this file) paid from the same results.",
    )
    scenarios: list[float] = Field(
        default_factory=lambda: [-10.0, -5.0, 0.0, 5.0, 10.0],
        description="Emergency admissions vs observed, %.",
    )
    draws: int = Field(default=100, ge=1, le=100_000, description="Monte-Carlo draws.")
    seed: int = Field(default=1, description="Random seed (same seed, same range).")
    sd_common: float = Field(default=5.0, ge=0, description="Sd of the area-wide shift, %.")
    sd_practice: float = Field(default=5.0, ge=0, description="Sd of each practice's shift, %.")


class OutputConfig(_Model):
    dir: Path = Field(
        default=Path("out/run"), description="Output folder, relative to the working directory."
    )
    report: bool = Field(default=True, description="Write the HTML report.")
    documents: bool = Field(
        default=True,
        description="Write each paid provider's statement as a document (statement.html and "
        "statement.pdf in its folder) and payments/statements.html, an index of them.",
    )


class CodelistsConfig(_Model):
    path: Path | None = Field(
        default=None, description="Folder of your own code,term CSVs (searched first)."
    )


class MeasuresConfig(_Model):
    files: list[Path] = Field(
        default_factory=list,
        description="Measure YAML files or folders, relative to this config file "
        "(default: careis' shipped scheme library; see docs/measures.md).",
    )


class WorklistConfig(_Model):
    rules: Path | None = Field(
        default=None,
        description="The worklist rules YAML, relative to this config file (default: careis' "
        "shipped rules, src/careis/risk/worklist_rules.yaml; see docs/risk.md).",
    )


class RunConfig(_Model):
    """Everything `careis run` needs."""

    name: str = Field(description="Name of the scheme / run, shown on the report.")
    description: str = Field(
        default="", description="A sentence or two for the report's front page."
    )
    data: DataConfig
    engine: EngineConfig = Field(default_factory=EngineConfig)
    periods: PeriodsConfig
    risk: RiskConfig = Field(default_factory=RiskConfig)
    contract: Path = Field(description="The scheme's contract YAML, relative to this config file.")
    codelists: CodelistsConfig = Field(default_factory=CodelistsConfig)
    suppression: SuppressionConfig = Field(default_factory=SuppressionConfig)
    compare: CompareConfig | None = Field(
        default=None, description="Compare other contract models in the report (optional)."
    )
    measures: MeasuresConfig = Field(default_factory=MeasuresConfig)
    worklist: WorklistConfig = Field(default_factory=WorklistConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    # Set by `load_run_config`: the folder config-relative paths resolve against.
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path | None = Field(default=None, exclude=True)

    @property
    def index_date(self) -> dt.date:
        return self.risk.index_date or self.periods.performance.start

    def resolve(self, path: Path) -> Path:
        """A config-relative path made absolute."""
        return path if path.is_absolute() else (self.base_dir / path)

    def check_periods_covered(self, span: DataSpan) -> None:
        """Refuse a period the data do not cover: every measure would be empty or partial."""
        lo = span.first_registration
        if lo is None:
            raise DataError(
                "the registrations table is empty after validation.", file=self.data.path
            )
        for key in ("baseline", "performance"):
            period: Period = getattr(self.periods, key)
            if period.start < lo:
                raise ConfigError(
                    f"the {key} period starts {period.start}, before the data begin ({lo}).",
                    file=self.source,
                    where=f"periods.{key}",
                    fix="choose a later period or supply earlier data.",
                )
        last = span.last_admission
        if last is not None and self.periods.performance.end > last + dt.timedelta(days=31):
            raise ConfigError(
                f"the performance period ends {self.periods.performance.end} but the last "
                f"admission in the data is {last}; the period is not covered by the data.",
                file=self.source,
                where="periods.performance",
                fix="choose an earlier period or supply later data.",
            )

    @property
    def contract_path(self) -> Path:
        return self.resolve(self.contract)

    @property
    def model_path(self) -> Path | None:
        return self.resolve(self.risk.model) if self.risk.model else None

    @property
    def measure_paths(self) -> list[Path]:
        """The measure files to load: the config's, or the shipped library."""
        if self.measures.files:
            return [self.resolve(p) for p in self.measures.files]
        from careis.measures.definitions import shipped_library

        return [shipped_library()]

    @property
    def worklist_rules_path(self) -> Path:
        """The worklist rules file: the config's, or the shipped one."""
        if self.worklist.rules is not None:
            return self.resolve(self.worklist.rules)
        from careis.risk.worklist_rules import shipped_rules

        return shipped_rules()

    @property
    def codelists_path(self) -> Path | None:
        return self.resolve(self.codelists.path) if self.codelists.path else None


def load_run_config(path: str | Path, *, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read and validate a run config; errors name the file, line and field.

    `overrides` are applied on top of the file with dotted keys, e.g. {"output.dir": "out/x"}.
    """
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            "a run config must be a mapping of settings (name:, data:, periods:, contract:...).",
            file=path,
        )
    for dotted, value in (overrides or {}).items():
        node = data
        keys = dotted.split(".")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    config = model_from_data(RunConfig, data, lines, path)
    config.base_dir = path.parent.resolve()
    config.source = path
    return config
