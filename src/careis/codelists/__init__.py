"""Clinical code lists as data: `code,term` CSV files that users can replace with their own.

Why data, not code: the codes that define "has COPD" or "care plan agreed" change with every
SNOMED CT release and differ between local schemes. A commissioner's analyst must be able to
drop in their own list (e.g. one downloaded from OpenCodelists) without touching Python.

Shipped lists live in `careis/codelists/data/`; `index.csv` there records, for each list, its
code system, a description and where it came from. A user folder given in the run config
(`codelists: {path: my_lists/}`) is searched first, so a file `copd.csv` there replaces the
shipped `copd.csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from careis.codelists.sctid import verhoeff_ok
from careis.data.schema import CODE_SYSTEMS, PATTERNS
from careis.errors import ConfigError

_SHIPPED = "careis.codelists"
# SNOMED CT and dm+d identifiers end in a Verhoeff check digit.
CHECK_DIGIT_SYSTEMS = frozenset({"snomed", "dmd"})

#: The 35 code-list deficits of the electronic Frailty Index (Clegg 2016), in the paper's order:
#: one shipped code list each. The 36th deficit, polypharmacy, comes from medicine issues. One
#: definition for the eFI (careis.risk.efi) and the generator that plants the deficits.
EFI_DEFICIT_LISTS: tuple[str, ...] = (
    "efi_activity_limitation",
    "efi_anaemia",
    "efi_arthritis",
    "efi_atrial_fibrillation",
    "efi_cerebrovascular_disease",
    "efi_chronic_kidney_disease",
    "efi_diabetes",
    "efi_dizziness",
    "efi_dyspnoea",
    "efi_falls",
    "efi_foot_problems",
    "efi_fragility_fracture",
    "efi_hearing_impairment",
    "efi_heart_failure",
    "efi_heart_valve_disease",
    "efi_housebound",
    "efi_hypertension",
    "efi_hypotension_syncope",
    "efi_ischaemic_heart_disease",
    "efi_memory_cognitive_problems",
    "efi_mobility_transfer_problems",
    "efi_osteoporosis",
    "efi_parkinsonism_tremor",
    "efi_peptic_ulcer",
    "efi_peripheral_vascular_disease",
    "efi_requirement_for_care",
    "efi_respiratory_disease",
    "efi_skin_ulcer",
    "efi_sleep_disturbance",
    "efi_social_vulnerability",
    "efi_thyroid_disease",
    "efi_urinary_incontinence",
    "efi_urinary_system_disease",
    "efi_visual_impairment",
    "efi_weight_loss_anorexia",
)
EFI_TOTAL = 36  # denominator of the index (35 lists + polypharmacy)


@dataclass(frozen=True)
class Codelist:
    """A named set of codes in one code system."""

    name: str
    system: str
    codes: tuple[str, ...]
    terms: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    description: str = ""
    source: str = ""
    path: str = ""

    def __contains__(self, code: object) -> bool:
        return code in self._set

    @property
    def _set(self) -> frozenset[str]:
        return frozenset(self.codes)

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class IndexEntry:
    name: str
    system: str
    description: str
    source: str
    group: str


def _shipped_dir() -> Path:
    return Path(str(resources.files(_SHIPPED).joinpath("data")))


@cache
def index() -> dict[str, IndexEntry]:
    """Metadata of the shipped lists (name -> system, description, source, group)."""
    path = _shipped_dir() / "index.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        r["name"]: IndexEntry(
            r["name"], r["system"], r["description"], r["source"], r.get("group", "")
        )
        for r in rows
    }


def _utf8_text(path: Path) -> str:
    """The file's text; a byte that is not UTF-8 (a latin-1 export) is named by its line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError("cannot read the code list.", file=path) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"the code list is not UTF-8 text (byte 0x{data[exc.start]:02x}).",
            file=path,
            where=f"line {line}",
            fix="save it as UTF-8 (e.g. in Excel: CSV UTF-8; or iconv -f latin1 -t utf-8).",
        ) from None


def read_codelist_csv(
    path: Path, name: str, system: str, description: str = "", source: str = ""
) -> Codelist:
    """Read a `code,term` CSV (extra columns ignored). Malformed rows are a ConfigError.

    A malformed row (no code, or a code that is not valid for the system) stops the load with
    a message naming the file and row: a silently skipped code would silently change who is
    counted.
    """
    handle = io.StringIO(_utf8_text(path), newline="")
    with handle:
        reader = csv.DictReader(handle)
        fields = [f.strip().lower() for f in (reader.fieldnames or [])]
        if "code" not in fields:
            raise ConfigError(
                "the code list has no 'code' column.",
                file=path,
                where="header",
                fix="the first line must be 'code,term'.",
            )
        reader.fieldnames = fields
        codes: list[str] = []
        terms: dict[str, str] = {}
        import re

        pattern = re.compile(PATTERNS[system]) if system in PATTERNS else None
        for i, row in enumerate(reader, start=2):
            if None in row:  # more fields than the header
                raise ConfigError(
                    "the row has more fields than the header.",
                    file=path,
                    where=f"line {i}",
                    fix="quote terms that contain commas.",
                )
            code = (row.get("code") or "").strip()
            if not code:
                raise ConfigError(
                    "the row has no code.",
                    file=path,
                    where=f"line {i}",
                    fix="add the code or delete the row.",
                )
            if pattern is not None and not pattern.match(code):
                raise ConfigError(
                    f"'{code}' is not a valid {system} code.",
                    file=path,
                    where=f"line {i}",
                    fix=f"check the code; this list is declared as {system}.",
                )
            if system in CHECK_DIGIT_SYSTEMS and not (code.isdigit() and verhoeff_ok(code)):
                raise ConfigError(
                    f"'{code}' fails the {system} identifier check digit, so it matches no concept.",
                    file=path,
                    where=f"line {i}",
                    fix="re-copy the code from the source; spreadsheets often zero the last digits of long codes.",
                )
            if code not in terms:
                codes.append(code)
                terms[code] = (row.get("term") or "").strip()
    if not codes:
        raise ConfigError(
            "the code list is empty.", file=path, fix="add at least one 'code,term' row."
        )
    return Codelist(name, system, tuple(codes), terms, description, source, str(path))


class CodelistLibrary:
    """Finds code lists by name: a user folder first, then the shipped lists."""

    def __init__(self, user_dir: str | Path | None = None) -> None:
        self.user_dir = Path(user_dir) if user_dir else None
        if self.user_dir is not None and not self.user_dir.is_dir():
            raise ConfigError("the code list folder does not exist.", file=self.user_dir)
        self._cache: dict[str, Codelist] = {}
        self._files: dict[str, Path] = {}

    def files_read(self) -> dict[str, Path]:
        """name -> the file each list was read from so far (user or shipped): inputs of a run."""
        return dict(self._files)

    def names(self) -> list[str]:
        names = set(index())
        if self.user_dir is not None:
            names.update(p.stem for p in self.user_dir.glob("*.csv") if p.stem != "index")
        return sorted(names)

    def get(self, name: str, system: str | None = None) -> Codelist:
        if name in self._cache:
            return self._cache[name]
        meta = index().get(name)
        resolved_system = system or (meta.system if meta else "snomed")
        if resolved_system not in CODE_SYSTEMS:
            raise ConfigError(f"unknown code system '{resolved_system}' for code list '{name}'.")
        user_path = self.user_dir / f"{name}.csv" if self.user_dir else None
        if user_path is not None and user_path.exists():
            path, source = user_path, f"user list {user_path}"
        else:
            path = _shipped_dir() / f"{name}.csv"
            source = meta.source if meta else ""
            if not path.exists():
                close = [n for n in self.names() if n.startswith(name[:3])][:5]
                hint = f" Similar: {', '.join(close)}." if close else ""
                raise ConfigError(
                    f"no code list called '{name}'.{hint}",
                    fix="add a code,term CSV of that name to your code list folder, or correct the name.",
                )
        codelist = read_codelist_csv(
            path, name, resolved_system, meta.description if meta else "", source
        )
        self._cache[name] = codelist
        self._files[name] = path
        return codelist

    def codes(self, names: Iterable[str]) -> list[str]:
        out: list[str] = []
        for name in names:
            out.extend(self.get(name).codes)
        return out


def union(lists: Sequence[Codelist]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for cl in lists:
        for code in cl.codes:
            seen.setdefault(code, None)
    return tuple(seen)
