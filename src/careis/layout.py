"""Where every output of a run lives: one `RunLayout`, used by the writers and the readers.

Why one place: the same path was spelled in the writers, in `careis contracts compare`'s
reader, in `careis pay diff` and in the evidence strings of statement lines; a file moved in
one place and not the others breaks a reader silently. And every path built from an input
(a practice or provider code) goes through `practice_dir` / `provider_dir`, which refuse a
code that could leave the run folder (`../x`, `/etc`, `a/b`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from careis.errors import DataError

#: A code that may become one folder name: letters, digits, '_' and '-', not starting with a
#: separator-like character. ODS codes (e.g. P82001, 00T, RMC) all match.
SAFE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: The same rule as a pattern for schemas (pydantic fields, table columns), so a code that
#: could not become a folder is refused where it is read, with its file and line.
SAFE_CODE_PATTERN = "^" + SAFE_CODE.pattern + "$"

# Paths relative to the run folder. Readers (compare, diff, business case) and the evidence
# strings on statement lines use these names, never their own spelling.
MANIFEST = "manifest.json"
RUN_LOG = "run_log.json"
REPORT = "report.html"
WORKBOOK = "results.xlsx"
QUARANTINE = "quarantine"
RESULTS = "measures/results.csv"
PUBLISHED = "measures/published.csv"
MONTHLY = "measures/monthly.csv"
STATEMENTS = "payments/statements.csv"
STATEMENTS_INDEX = "payments/statements.html"
PAYMENT_SUMMARY = "payments/summary.csv"
PAYMENT_FILE = "payments/payment_file.csv"
LEDGER = "payments/ledger.csv"
LEDGER_SUMMARY = "payments/ledger_summary.csv"
MEMBERSHIPS = "payments/memberships.csv"
COMPARE_SCENARIOS = "compare/scenarios.csv"
COMPARE_RANGES = "compare/ranges.csv"
RISK = "risk"
PRACTICE_SUMMARY = "risk/practice_summary.csv"


def safe_segment(code: str, *, what: str = "code") -> str:
    """`code` if it can be used as one folder name inside the run folder, else a DataError."""
    if not SAFE_CODE.fullmatch(code):
        raise DataError(
            f"the {what} {code!r} cannot be used as a folder name (only letters, digits, '_' "
            "and '-', at most 64 characters).",
            fix=f"give the {what} as an ODS-style code such as P82001.",
        )
    return code


@dataclass(frozen=True)
class RunLayout:
    """The output folder of one run and the path of every file in it."""

    root: Path

    def file(self, relative: str) -> Path:
        """The path of one of the fixed outputs above (e.g. `layout.file(RESULTS)`)."""
        return self.root / relative

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def run_log(self) -> Path:
        return self.root / RUN_LOG

    @property
    def report(self) -> Path:
        return self.root / REPORT

    @property
    def workbook(self) -> Path:
        return self.root / WORKBOOK

    @property
    def quarantine(self) -> Path:
        return self.root / QUARANTINE

    @property
    def risk(self) -> Path:
        return self.root / RISK

    def practice_dir(self, code: str) -> Path:
        """`practices/<code>/`: the only place patient-level data about a practice goes."""
        return self.root / "practices" / safe_segment(code, what="practice code")

    def provider_dir(self, code: str) -> Path:
        """`payments/providers/<code>/`: a holder, subcontractor or member that is not a practice."""
        return self.root / "payments" / "providers" / safe_segment(code, what="provider code")

    def contains(self, path: Path) -> bool:
        """Whether `path` (resolved, links followed) is inside the run folder."""
        return path.resolve().is_relative_to(self.root.resolve())
