"""Rebuild the reference data shipped inside the package from ../shared/data/reference.

Run from the repository root: `python tools/build_reference.py [SHARED_DATA_DIR]`.
Output: src/careis/data/reference/{practices.csv.gz, admission_methods.csv, population_uk_2023.csv}.
Why shipped: `careis generate` must work on a fresh machine with no network and no shared folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

BANDS = ["0-4", "5-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]


def main(shared: Path) -> None:
    ref = shared / "reference"
    out = Path("src/careis/data/reference")
    out.mkdir(parents=True, exist_ok=True)
    mapping = pd.read_csv(ref / "qof" / "QOF_MANUAL_MAPPINGS.csv", dtype=str)
    practices = mapping.rename(
        columns={
            "PRACTICE_CODE": "practice_code",
            "PRACTICE_NAME": "practice_name",
            "PCN_ODS_CODE": "pcn_code",
            "PCN_NAME": "pcn_name",
            "CCG_ODS_CODE": "sub_icb_code",
            "CCG_NAME": "sub_icb_name",
            "STP_ODS_CODE": "icb_code",
            "STP_NAME": "icb_name",
            "REGION_ODS_CODE": "region_code",
            "REGION_NAME": "region_name",
        }
    )[
        [
            "practice_code", "practice_name", "pcn_code", "pcn_name", "sub_icb_code",
            "sub_icb_name", "icb_code", "icb_name", "region_code", "region_name",
        ]
    ]  # fmt: skip
    sizes = pd.read_csv(ref / "ods" / "Patient_List_Size_2016_01-03.csv")
    keep = {"Practice Code": "practice_code"}
    for band in BANDS:
        keep[f"Male {band}"] = f"m_{band}"
        keep[f"Female {band}"] = f"f_{band}"
    sizes = sizes[list(keep)].rename(columns=keep)
    merged = practices.merge(sizes, on="practice_code", how="left")
    for col in merged.columns:
        if col.startswith(("m_", "f_")):
            merged[col] = merged[col].astype("Int64")
    merged = merged.sort_values("practice_code")
    merged.to_csv(out / "practices.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    methods = pd.read_csv(ref / "hes" / "admission_method_codes.csv", dtype=str)
    methods.to_csv(out / "admission_methods.csv", index=False)
    pop = pd.read_csv(ref / "nhsr" / "ons_uk_population_2023.csv")
    pop = pop[pop["Name"] == "ENGLAND"] if (pop["Name"] == "ENGLAND").any() else pop[pop["Name"] == "UNITED KINGDOM"]
    pop[["sex", "Name", "age", "count"]].rename(columns={"Name": "geography"}).to_csv(
        out / "population_2023.csv", index=False
    )
    print(f"{len(merged)} practices ({merged['m_0-4'].notna().sum()} with list sizes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data"))
