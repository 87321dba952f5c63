"""Extra hand-made datasets shared by several test modules."""

from __future__ import annotations

from builders import D, Dataset


def two_pcn_move_dataset() -> Dataset:
    """A00001 stays in P1; A00002 moves from P1 to P2 on 1 October 2024."""
    ds = Dataset()
    for code, name in (("P1", "PCN One"), ("P2", "PCN Two"), ("S1", "Sub-ICB"), ("FED1", "Fed")):
        ds.org(
            code,
            "pcn" if code.startswith("P") else ("sub_icb" if code == "S1" else "federation"),
            name,
        )
    for code in ("A00001", "A00002"):
        ds.org(code, "practice")
        ds.member(code, "sub_icb", "S1", D(2019, 7, 1))
        ds.member(code, "federation", "FED1", D(2019, 7, 1))
        for i in range(10):
            ds.patient(f"{code}-{i}", code, born=D(1960, 1, 1))
    ds.member("A00001", "pcn", "P1", D(2019, 7, 1))
    ds.member("A00002", "pcn", "P1", D(2019, 7, 1), D(2024, 9, 30))
    ds.member("A00002", "pcn", "P2", D(2024, 10, 1))
    ds.admission("A00001-1", D(2024, 5, 1))
    ds.admission("A00001-2", D(2024, 11, 1))
    for day in (
        D(2024, 4, 2),
        D(2024, 6, 30),
        D(2024, 9, 30),
        D(2024, 10, 1),
        D(2025, 1, 5),
        D(2025, 3, 31),
    ):
        ds.admission("A00002-3", day, los=0)
    for pid in ("A00001-1", "A00002-3"):
        ds.admission(pid, D(2023, 7, 1))
    return ds
