"""Hand-built registers and care models for the commissioning workbench tests."""

from __future__ import annotations

from pathlib import Path

import pytest

HEADER = (
    "id,type,name,provider_code,provider_name,provider_kind,services,funding_stream,"
    "annual_value,lifetime_value,start,end,notice_months,termination,variation,parent\n"
)

# A locality: two GMS practices, one PMS, one APMS ending 31 March 2026, a LES for proactive
# care, a national DES, a community NHS Standard Contract with 6 months' notice, a
# subcontract under it, and an acute contract outside the model's scope.
LOCALITY = HEADER + (
    "GMS-1,gms,Core GMS,P1,Practice One,practice,primary_care,core,900000,,2004-04-01,,,,,\n"
    "GMS-2,gms,Core GMS,P2,Practice Two,practice,primary_care,core,700000,,2004-04-01,,,,,\n"
    "PMS-3,pms,Core PMS,P3,Practice Three,practice,primary_care,core,650000,,2006-04-01,,,,,\n"
    "APMS-4,apms,APMS,P4,Practice Four,practice,primary_care,core,500000,2500000,2021-04-01,"
    "2026-03-31,6,,,\n"
    "LES-1,les,Proactive care LES,P1,Practice One,practice,proactive_care,local_priority,"
    "20000,,2023-04-01,2026-03-31,3,,,\n"
    "DES-1,des,Network DES,P1,Practice One,practice,primary_care,enhanced,50000,,2019-07-01,"
    "2026-03-31,,,,\n"
    "COM-1,nhs_standard,Community nursing,RMC,Bolton FT,trust,community,other,8000000,"
    "40000000,2022-04-01,2027-03-31,6,,,\n"
    "SUB-1,subcontract,Podiatry,X1,Feet Ltd,other_provider,community,other,100000,,2022-04-01,"
    "2027-03-31,3,,,COM-1\n"
    "ACU-1,nhs_standard,Acute services,RMC,Bolton FT,trust,acute,other,90000000,,2022-04-01,"
    "2027-03-31,12,,,\n"
)


def model_yaml(level: str, lead: bool = True, start: str = "2026-04-01") -> str:
    lead_block = "lead_provider: {code: ICP1, name: Bolton ICP, kind: other_provider}\n"
    return (
        f"name: Test model ({level})\n"
        "commissioner: {code: '00T', name: Bolton, kind: sub_icb}\n"
        f"integration_level: {level}\n"
        "services: [primary_care, community, proactive_care]\n"
        "population: {description: Registered patients of Bolton, registered_patients: 300000}\n"
        + (lead_block if lead else "")
        + "decision_date: 2025-07-01\n"
        f"intended_start: {start}\n"
        "term_years: 10\n"
    )


@pytest.fixture
def locality(tmp_path: Path) -> Path:
    path = tmp_path / "register.csv"
    path.write_text(LOCALITY)
    return path


@pytest.fixture
def write(tmp_path: Path):  # type: ignore[no-untyped-def]
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


RESULTS_HEADER = (
    "measure_id,period,period_start,period_end,level,org_code,numerator,denominator,value,unit\n"
)
SUMMARY_HEADER = "provider,pcn,federation,engagement,care_plans,admissions_reduction,total\n"


def fake_run(folder: Path, results: str, summary: str) -> Path:
    """The two files of a careis run the workbench reads: measures/results.csv and
    payments/summary.csv (rows given without their headers)."""
    (folder / "measures").mkdir(parents=True)
    (folder / "payments").mkdir()
    (folder / "measures" / "results.csv").write_text(RESULTS_HEADER + results)
    (folder / "payments" / "summary.csv").write_text(SUMMARY_HEADER + summary)
    return folder
