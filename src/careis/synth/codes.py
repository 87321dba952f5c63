"""The code lists the generator writes from, flattened into arrays for vectorised lookup.

Why flatten: events are generated as integer (list, position) pairs by the million and only
turned into strings once, by one Arrow `take` over a single array of every code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from careis.codelists import CodelistLibrary
from careis.errors import ConfigError

from . import params as P

CARE_LISTS = (
    "care_plan",
    "care_plan_review",
    "medication_review",
    "named_gp",
    "care_home",
    "housebound",
    "hba1c",
    "frailty_moderate",
    "frailty_severe",
)
MEDICINES = "medicines"
REQUIRED_LISTS: tuple[str, ...] = (*P.CONDITIONS, *P.EFI_DEFICITS, MEDICINES, *CARE_LISTS)


@dataclass(frozen=True)
class CodeBook:
    """Every code the generator may write: list name -> (offset, length) in `codes`."""

    names: tuple[str, ...]
    offset: NDArray[np.int64]
    length: NDArray[np.int64]
    codes: pa.Array  # all codes, list after list
    systems: pa.Array  # code system of each list (indexed by list id)
    sources: dict[str, str]
    index: dict[str, int]
    code_lists: dict[str, tuple[str, ...]]

    def id(self, name: str) -> int:
        return self.index[name]

    def size(self, name: str) -> int:
        return int(self.length[self.index[name]])

    def members(self, name: str, other: str) -> NDArray[np.bool_]:
        """For each code of list `name`, whether it is also in list `other`."""
        theirs = set(self.code_lists[other])
        return np.array([c in theirs for c in self.code_lists[name]], dtype=bool)


def load_codebook(library: CodelistLibrary | None) -> CodeBook:
    """Load every list the generator needs; all missing lists are named in one error."""
    library = library or CodelistLibrary()
    available = set(library.names())
    missing = [n for n in REQUIRED_LISTS if n not in available]
    if missing:
        raise ConfigError(
            f"the synthetic generator needs code lists that were not found: {', '.join(missing)}.",
            fix="add code,term CSVs with these names to your code list folder.",
        )
    names = REQUIRED_LISTS
    lists = [library.get(n, system="dmd") if n == MEDICINES else library.get(n) for n in names]
    lengths = np.array([len(cl) for cl in lists], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    all_codes = [c for cl in lists for c in cl.codes]
    return CodeBook(
        names=names,
        offset=offsets,
        length=lengths,
        codes=pa.array(all_codes, pa.string()),
        systems=pa.array([cl.system for cl in lists], pa.string()),
        sources={cl.name: cl.source or cl.path for cl in lists},
        index={n: i for i, n in enumerate(names)},
        code_lists={cl.name: cl.codes for cl in lists},
    )
