"""Two practices whose measure values are worked out by hand (see each test for the sums).

Practice X00001 and Y00001, both in PCN P1, federation F1, sub-ICB S1, ICB I1; everyone
registered since 2010. Each practice has five women aged 32-33 ("young", ESP band 30-34) and
five aged 82-83 ("old", band 80-84) through 2023/24 and 2024/25, plus the indicator patients.
"""

from __future__ import annotations

from pathlib import Path

from builders import D, Dataset

DM = "44054006"  # type 2 diabetes
HBA1C = "999791000000106"
EXCEPTION = "160734000"  # stands in for an "HbA1c not appropriate" PCA code
CARE_PLAN = "734163000"


def build() -> Dataset:
    ds = Dataset()
    for code, name in (("F1", "federation"), ("P1", "pcn"), ("S1", "sub_icb"), ("I1", "icb")):
        ds.org(code, name)
    for practice in ("X00001", "Y00001"):
        ds.org(practice, "practice")
        for gtype, group in (("pcn", "P1"), ("federation", "F1"), ("sub_icb", "S1"), ("icb", "I1")):
            ds.member(practice, gtype, group, D(2019, 7, 1))
        for i in range(1, 6):
            ds.patient(f"{practice}-y{i}", practice, born=D(1992, 1, 1))
            ds.patient(f"{practice}-o{i}", practice, born=D(1942, 1, 1))

    x = "X00001"
    # ---- hospital activity, X: young 1 emergency; old 5 (one a readmission after a baseline stay)
    ds.admission(f"{x}-y1", D(2024, 6, 1), los=2, dx="J44.1")  # chronic ACSC
    ds.admission(f"{x}-o1", D(2024, 5, 1), los=3, dx="S72.0")
    ds.admission(f"{x}-o1", D(2024, 5, 14), los=5, dx="J44.1")  # 10 days after discharge
    ds.admission(f"{x}-o2", D(2024, 8, 1), los=0, dx="J18.8")  # acute ACSC (4-character code)
    ds.admission(f"{x}-o2", D(2024, 9, 20), los=1, dx="J18.9")  # 50 days after: not a readmission
    ds.admission(f"{x}-o3", D(2024, 3, 25), los=2, dx="S72.0")  # baseline year
    ds.admission(f"{x}-o3", D(2024, 4, 5), los=1, dx="S72.0")  # 9 days after: a readmission
    ds.admission(f"{x}-o4", D(2024, 7, 1), method="11", los=4)  # elective: never counted
    ds.ae(f"{x}-y2", D(2024, 7, 1))
    ds.ae(f"{x}-y2", D(2024, 7, 2), dept="3")
    ds.ae(f"{x}-o5", D(2025, 1, 1))
    y = "Y00001"
    # ---- Y: young 2, old 2 emergency admissions in 2024/25
    for pid, day in (
        ("y1", D(2024, 5, 1)),
        ("y2", D(2024, 6, 1)),
        ("o1", D(2024, 7, 1)),
        ("o2", D(2024, 8, 1)),
    ):
        ds.admission(f"{y}-{pid}", day, los=1, dx="R07.4")

    # ---- diabetes indicator patients at X (year end 31 March 2025; window 1 Apr 2024 on)
    ds.patient("d1", x, born=D(1970, 1, 1))
    ds.event("d1", D(2015, 1, 1), DM)
    ds.event("d1", D(2024, 6, 1), HBA1C, value=70.0)
    ds.event("d1", D(2025, 1, 10), HBA1C, value=50.0)  # latest <= 58: achieved
    ds.patient("d2", x, born=D(1970, 1, 1))
    ds.event("d2", D(2015, 1, 1), DM)
    ds.event("d2", D(2024, 2, 1), HBA1C, value=50.0)  # before the window
    ds.event("d2", D(2024, 9, 1), EXCEPTION)  # excepted
    ds.patient("d3", x, born=D(1970, 1, 1))
    ds.event("d3", D(2015, 1, 1), DM)
    ds.event("d3", D(2025, 2, 1), HBA1C, value=55.0)
    ds.event("d3", D(2025, 2, 1), HBA1C, value=60.0)  # same day: the higher reading counts
    ds.patient("d4", x, born=D(1970, 1, 1))
    ds.event("d4", D(2015, 1, 1), DM)
    ds.event("d4", D(2024, 10, 1), EXCEPTION)
    ds.event("d4", D(2024, 11, 1), HBA1C, value=40.0)  # achieved, so the exception is ignored
    ds.patient("d5", x, born=D(1970, 1, 1), sex="M")  # not diabetic; a man
    ds.event("d5", D(2024, 11, 1), HBA1C, value=40.0)
    ds.patient("d6", x, born=D(2014, 1, 1))  # diabetic but aged 11
    ds.event("d6", D(2020, 1, 1), DM)
    ds.patient("d7", x, born=D(1970, 1, 1), died=D(2025, 1, 1))  # died before the year end
    ds.event("d7", D(2015, 1, 1), DM)
    ds.patient("d8", x, born=D(1970, 1, 1), end=D(2024, 12, 31))  # left before the year end
    ds.event("d8", D(2015, 1, 1), DM)
    return ds


def write_lists(folder: Path) -> Path:
    """The code lists the measures above name, one small CSV each."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dm.csv").write_text(f"code,term\n{DM},Type 2 diabetes\n")
    (folder / "a1c.csv").write_text(f"code,term\n{HBA1C},HbA1c\n")
    (folder / "a1c_pca.csv").write_text(f"code,term\n{EXCEPTION},HbA1c not appropriate\n")
    (folder / "care_plan.csv").write_text(f"code,term\n{CARE_PLAN},Care plan\n")
    return folder
