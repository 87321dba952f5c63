"""Writing the measures stage's outputs: exact results, published (suppressed) results, the
monthly series, and each practice's patient-level flags in that practice's own folder.

Why here: the rule that patient-level flags go only to `practices/<code>/` belongs with the
measures that produce them, and `careis measures run` writes the same files as `careis run`.
"""

from __future__ import annotations

import itertools

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from careis.csvio import write_table
from careis.layout import MONTHLY, PUBLISHED, RESULTS, RunLayout
from careis.measures.compile import Evaluated

FLAG_FIELDS = ["measure_id", "period", "patient_id", "denominator", "excluded", "numerator"]


def write_measure_outputs(evaluated: Evaluated, published: pa.Table, layout: RunLayout) -> None:
    """results.csv (exact), published.csv (suppressed), monthly.csv and the flag files."""
    write_table(evaluated.results, layout.file(RESULTS))
    write_table(published, layout.file(PUBLISHED))
    write_table(evaluated.monthly, layout.file(MONTHLY))
    write_patient_flags(evaluated, layout)


def _practice_slices(codes: pa.Array) -> list[tuple[int, int]]:
    """(start, end) of each run of one practice code in a column sorted by practice."""
    changes = pc.not_equal(codes.slice(1), codes.slice(0, len(codes) - 1))
    cuts = [0, *(i + 1 for i in pc.indices_nonzero(changes).to_pylist()), len(codes)]
    return list(itertools.pairwise(cuts))


def write_patient_flags(evaluated: Evaluated, layout: RunLayout) -> None:
    """Each practice's patient-level indicator flags, only in that practice's own folder.

    One row per patient in an indicator's denominator: excluded = 1 for a personalised care
    adjustment, numerator = 1 when achieved. A practice filters numerator = 0 and excluded = 0
    to find the patients it can still act for.
    """
    flags = evaluated.patient_flags
    if flags.num_rows == 0:
        return
    # Rows arrive sorted by practice: cut at each change of code and let Arrow write each
    # slice (a Python loop over millions of cells took ~7 s at ICB scale).
    codes = flags.column("practice_code").combine_chunks()
    table = flags.select(FLAG_FIELDS)
    # Values are ids, period keys and pseudonyms (no commas or quotes): written unquoted, with
    # the header as csv.writer would write it, so the files read the same as every other CSV.
    options = pa_csv.WriteOptions(quoting_style="none", include_header=False)
    header = (",".join(FLAG_FIELDS) + "\n").encode("utf-8")
    for start, end in _practice_slices(codes):
        path = layout.practice_dir(str(codes[start].as_py())) / "measure_flags.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            handle.write(header)
            pa_csv.write_csv(table.slice(start, end - start), handle, write_options=options)
