"""eFI on hand-made patients whose scores are worked out by hand, and the exact boundaries.

Index date 2024-04-01. Patients (all registered since 2010):

| patient | age | coded deficits (distinct lists) | distinct medicines in 12 months | deficits | score | category |
| --- | --- | --- | --- | --- | --- | --- |
| P1 | 70 | 5 (one recorded twice; a 6th only after the index date) | 0 | 5 | 5/36 | mild |
| P2 | 80 | 4 | 5 (6 codes: two dm+d ids of one medicine) | 4 + 1 = 5 | 5/36 | mild |
| P3 | 75 | 4 | 4 (5 codes; one medicine issued 13 months ago) | 4 | 4/36 | fit |
| P4 | 90 | 13 | 0 | 13 | 13/36 | severe |
| P5 | 66 | 9 | 0 | 9 | 9/36 | moderate |
| P6 | 60 | 9 | 0 | (under 65: not scored) | | |
| P7 | 68 | none | 0 | 0 | 0 | fit |
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import ibis
import pytest

from builders import D, Dataset
from careis.codelists import CodelistLibrary
from careis.risk import efi

INDEX = D(2024, 4, 1)
LIB = CodelistLibrary()


def _unique_codes() -> dict[str, str]:
    """One code per eFI list that belongs to no other eFI list (so it marks one deficit)."""
    counts: Counter[str] = Counter()
    for name in efi.CODED_DEFICITS:
        counts.update(set(LIB.get(name).codes))
    out = {}
    for name in efi.CODED_DEFICITS:
        out[name] = next(c for c in LIB.get(name).codes if counts[c] == 1)
    return out


CODE = _unique_codes()
DEF = list(efi.CODED_DEFICITS)


def _medicine_codes() -> tuple[list[str], tuple[str, str]]:
    """Codes of distinct medicines (by term) and one pair of codes sharing a term."""
    cl = LIB.get("medicines")
    by_term: dict[str, list[str]] = {}
    for code in cl.codes:
        by_term.setdefault(cl.terms[code].lower(), []).append(code)
    singles = [codes[0] for codes in by_term.values()]
    pair = next(codes for codes in by_term.values() if len(codes) >= 2)
    return [c for c in singles if c not in pair], (pair[0], pair[1])


MEDS, PAIR = _medicine_codes()


def build() -> Dataset:
    ds = Dataset()
    ds.org("A00001", "practice")
    ds.patient("P1", "A00001", born=D(1953, 6, 1))
    for name in DEF[:5]:
        ds.event("P1", D(2020, 1, 1), CODE[name])
    ds.event("P1", D(2023, 1, 1), CODE[DEF[0]])  # same deficit again
    ds.event("P1", D(2024, 4, 2), CODE[DEF[5]])  # after the index date: not counted
    ds.patient("P2", "A00001", born=D(1943, 6, 1))
    for name in DEF[:4]:
        ds.event("P2", D(2019, 1, 1), CODE[name])
    for code in [*MEDS[:4], *PAIR]:
        ds.event("P2", D(2024, 1, 15), code, system="dmd")
    ds.patient("P3", "A00001", born=D(1948, 6, 1))
    for name in DEF[10:14]:
        ds.event("P3", D(2019, 1, 1), CODE[name])
    for code in MEDS[:4]:
        ds.event("P3", D(2024, 3, 1), code, system="dmd")
    ds.event("P3", D(2023, 3, 1), MEDS[5], system="dmd")  # 13 months before: outside
    ds.patient("P4", "A00001", born=D(1933, 6, 1))
    for name in DEF[:13]:
        ds.event("P4", D(2018, 1, 1), CODE[name])
    ds.patient("P5", "A00001", born=D(1957, 6, 1))
    for name in DEF[20:29]:
        ds.event("P5", D(2018, 1, 1), CODE[name])
    ds.patient("P6", "A00001", born=D(1963, 6, 1))
    for name in DEF[20:29]:
        ds.event("P6", D(2018, 1, 1), CODE[name])
    ds.patient("P7", "A00001", born=D(1955, 6, 1))
    return ds


EXPECTED = {
    "P1": (5, "mild"),
    "P2": (5, "mild"),
    "P3": (4, "fit"),
    "P4": (13, "severe"),
    "P5": (9, "moderate"),
    "P7": (0, "fit"),
}


def test_hand_computed_efi(engine) -> None:  # type: ignore[no-untyped-def]
    tables = build().tables(engine)
    rows = engine.to_arrow(efi.efi(tables, INDEX, LIB)).to_pylist()
    got = {r["patient_id"]: r for r in rows}
    assert set(got) == set(EXPECTED)  # P6 is under 65
    for pid, (deficits, category) in EXPECTED.items():
        assert got[pid]["efi_deficits"] == deficits, pid
        assert got[pid]["efi_score"] == pytest.approx(deficits / 36), pid
        assert got[pid]["efi_category"] == category, pid
    assert got["P2"]["n_medicines"] == 5 and got["P2"]["polypharmacy"] == 1
    assert got["P3"]["n_medicines"] == 4 and got["P3"]["polypharmacy"] == 0


def test_category_boundaries_exact(engine) -> None:  # type: ignore[no-untyped-def]
    """0.12 x 36 = 4.32, 0.24 x 36 = 8.64, 0.36 x 36 = 12.96: the published cut-offs."""
    expected = ["fit"] * 5 + ["mild"] * 4 + ["moderate"] * 4 + ["severe"] * 24
    assert [efi.category_of(n) for n in range(37)] == expected
    t = ibis.memtable({"n": list(range(37))}, schema={"n": "int64"})
    got = engine.to_arrow(t.mutate(c=efi.category_expr(t.n)).order_by("n")).column("c")
    assert got.to_pylist() == expected
    # score at each boundary count, against the published cut-offs
    assert 4 / 36 <= 0.12 < 5 / 36
    assert 8 / 36 <= 0.24 < 9 / 36
    assert 12 / 36 <= 0.36 < 13 / 36


def test_distribution_counts_reconcile(engine) -> None:  # type: ignore[no-untyped-def]
    tables = build().tables(engine)
    dist = engine.to_arrow(efi.distribution(efi.efi(tables, INDEX, LIB))).to_pylist()
    by_cat = {r["efi_category"]: r["patients"] for r in dist}
    assert by_cat == {"fit": 2, "mild": 2, "moderate": 1, "severe": 1}


def test_user_list_replaces_deficit(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A user's own efi list is used: replacing one of P1's deficits with an unrelated code
    drops P1 to 4 deficits (fit)."""
    (tmp_path / f"{DEF[0]}.csv").write_text("code,term\n44054006,Diabetes type 2\n")
    lib = CodelistLibrary(tmp_path)
    tables = build().tables(engine)
    rows = engine.to_arrow(efi.efi(tables, INDEX, lib)).to_pylist()
    p1 = next(r for r in rows if r["patient_id"] == "P1")
    assert (p1["efi_deficits"], p1["efi_category"]) == (4, "fit")


def test_index_date_moves_window(engine) -> None:  # type: ignore[no-untyped-def]
    """A day later, P1's post-index code counts (6 deficits)."""
    tables = build().tables(engine)
    rows = engine.to_arrow(efi.efi(tables, INDEX + dt.timedelta(days=1), LIB)).to_pylist()
    p1 = next(r for r in rows if r["patient_id"] == "P1")
    assert p1["efi_deficits"] == 6


def test_model_features_count_the_same_deficits(engine) -> None:  # type: ignore[no-untyped-def]
    """The model's one-pass feature build and the eFI cohort agree patient by patient."""
    from careis.risk.features import build_features

    tables = build().tables(engine)
    rows = engine.to_arrow(build_features(tables, INDEX, LIB)).to_pylist()
    got = {r["patient_id"]: (r["efi_deficits"], r["efi_category"]) for r in rows}
    assert {k: v for k, v in got.items() if k in EXPECTED} == EXPECTED
    assert got["P6"] == (9, "moderate")  # under 65: not in the frailty cohort, still a predictor
    p2 = next(r for r in rows if r["patient_id"] == "P2")
    assert (p2["n_medicines"], p2["polypharmacy"]) == (5, 1)


def test_shipped_efi_measure_uses_the_efi_cohort(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`medication_review_efi_frail` counts the moderate/severe eFI patients (P4 severe, P5
    moderate; P6 is under 65 with the same deficits) and those with a medication review in the
    12 months to the year end (P5 only; P4's review is 13 months before): 1 of 2 = 50%."""

    import yaml

    from careis.measures.compile import evaluate
    from careis.measures.definitions import load_measures, shipped_library
    from careis.periods import financial_year
    from careis.risk.stage import efi_cohort_for_measures

    ds = build()
    review = LIB.get("medication_review").codes[0]
    ds.event("P5", D(2024, 11, 1), review)
    ds.event("P4", D(2024, 3, 1), review)  # 13 months before 2025-03-31: outside
    ds.event("P6", D(2024, 11, 1), review)  # under 65: not in the population
    tables = ds.tables(engine)
    library = yaml.safe_load((shipped_library() / "scheme.yaml").read_text(encoding="utf-8"))
    chosen = [m for m in library["measures"] if m["id"] == "medication_review_efi_frail"]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"measures": chosen}), encoding="utf-8")
    cohort = efi_cohort_for_measures(tables, INDEX, LIB, None)
    ev = evaluate(
        engine,
        tables,
        load_measures([tmp_path / "m.yaml"]),
        periods={"baseline": financial_year(2023), "performance": financial_year(2024)},
        index_date=INDEX,
        library=LIB,
        cohorts={"efi": cohort},
        check_data=False,
    )
    row = next(
        r for r in ev.results.to_pylist() if r["level"] == "practice" and r["org_code"] == "A00001"
    )
    assert (row["numerator"], row["denominator"]) == (1, 2)
    assert row["value"] == pytest.approx(50.0)
