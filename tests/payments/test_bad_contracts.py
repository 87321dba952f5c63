"""Bad contracts are refused with one clear line naming the file, line and problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from pay_support import contract, head, lists, results

from careis.errors import ConfigError
from careis.payments.calculate import evaluate

ENGAGE = """\
components:
  - id: engagement
    type: engagement
    basis: per_registered_patient
    rate: "1.00"
"""


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        contract(tmp_path, text)
    msg = str(info.value)
    assert "\n" not in msg and "contract.yaml" in msg
    return msg


def test_unknown_measure_names_the_line(tmp_path: Path) -> None:
    text = (
        head()
        + ENGAGE
        + "  - id: plans\n    type: concordance\n    measure: care_plans\n    rate: '45'\n"
    )
    loaded = contract(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        evaluate(loaded, results(lists({"A": 10})), ["A"], {})
    msg = str(info.value)
    assert "line 13" in msg and "unknown measure 'care_plans'" in msg and "care_plan," in msg


def test_overlapping_periods(tmp_path: Path) -> None:
    text = (
        head()
        + "baseline_period: {start: 2023-04-01, end: 2024-04-30}\n"
        + "performance_period: {start: 2024-04-01, end: 2025-03-31}\n"
        + ENGAGE
    )
    assert "baseline_period and performance_period overlap" in refused(tmp_path, text)


def test_alliance_shares_must_sum_to_100(tmp_path: Path) -> None:
    text = (
        head("alliance")
        + "alliance:\n  members:\n"
        + "    - {party: {code: A, kind: practice}, share_percent: 60}\n"
        + "    - {party: {code: B, kind: practice}, share_percent: 30}\n"
        + ENGAGE
    )
    msg = refused(tmp_path, text)
    assert "line 6" in msg and "alliance shares sum to 90%, not 100%" in msg


def test_practice_in_two_federations_of_the_same_contract(tmp_path: Path) -> None:
    text = (
        head()
        + ENGAGE
        + "groups:\n  - {code: F1, level: federation, practices: [A, B]}\n"
        + "  - {code: F2, level: federation, practices: [B, C]}\n"
    )
    assert "practice B is in two federations of this contract (F1 and F2)" in refused(
        tmp_path, text
    )


def test_negative_rate(tmp_path: Path) -> None:
    msg = refused(tmp_path, head() + ENGAGE.replace('"1.00"', '"-1.00"'))
    assert "line 10: field 'components[0].rate': Input should be greater than or equal to 0" in msg


def test_instalments_must_sum_to_100(tmp_path: Path) -> None:
    text = (
        head()
        + "schedule:\n  instalments:\n    - {date: 2024-04-01, percent: 50}\n    - {date: 2024-10-01, percent: 40}\n"
        + ENGAGE
    )
    assert "instalment percentages sum to 90%, not 100%" in refused(tmp_path, text)


@pytest.mark.parametrize(
    ("model", "extra", "problem"),
    [
        ("prime_contractor", "", "needs a 'holder'"),
        ("alliance", "", "needs an 'alliance' agreement"),
        (
            "enhanced_service",
            "holder: {party: {code: F, kind: federation}}\n",
            "has no holder or subcontractors",
        ),
        (
            "prime_contractor",
            "holder: {party: {code: F, kind: federation}}\nservices: []\n",
            "",
        ),
        (
            "aco_full",
            "holder: {party: {code: ACO, kind: other_provider}}\nservices: [core_general_practice]\n"
            "core_contracts: [{practice: A, type: gms}]\n",
            "practice A's GMS contract must be suspended",
        ),
        (
            "aco_partial",
            "holder: {party: {code: ACO, kind: other_provider}}\nservices: [core_general_practice]\n",
            "only a fully integrated ACO (aco_full) includes 'core_general_practice'",
        ),
        (
            "aco_virtual",
            "alliance:\n  members:\n    - {party: {code: A, kind: practice}, share_percent: 50}\n"
            "    - {party: {code: B, kind: practice}, share_percent: 50}\n"
            "core_contracts: [{practice: A, type: pms, status: suspended}]\n",
            "only a fully integrated ACO suspends core contracts",
        ),
    ],
)
def test_model_rules(tmp_path: Path, model: str, extra: str, problem: str) -> None:
    text = head(model) + extra + ENGAGE
    if not problem:  # a well-formed prime contractor loads
        assert contract(tmp_path, text).contract.model == model
        return
    assert problem in refused(tmp_path, text)


def test_prime_contractor_cannot_deliver_itself(tmp_path: Path) -> None:
    text = (
        head("prime_contractor")
        + "holder: {party: {code: F, kind: federation}}\n"
        + ENGAGE
        + "  - {id: own, type: capitation, rate: '1.00', payee: holder}\n"
    )
    assert "use model prime_provider" in refused(tmp_path, text)


def test_contract_models_share_the_register_vocabulary() -> None:
    """One schema: every scheme model and core contract type is a common.ContractType."""
    from typing import get_args

    from careis.contracts.common import ContractType
    from careis.contracts.schema import ContractModel, CoreContract

    values = {t.value for t in ContractType}
    assert set(get_args(ContractModel)) <= values
    assert set(get_args(CoreContract.model_fields["type"].annotation)) <= values


def test_contract_periods_must_match_the_run(tmp_path: Path) -> None:
    from careis.periods import financial_year

    text = head() + "performance_period: {start: 2024-04-01, end: 2025-03-31}\n" + ENGAGE
    loaded = contract(tmp_path, text)
    loaded.check_periods(financial_year(2023), financial_year(2024))  # matches: no error
    with pytest.raises(ConfigError) as info:
        loaded.check_periods(financial_year(2022), financial_year(2023))
    msg = str(info.value)
    assert "line 6" in msg and "performance_period is 2024-04-01 to 2025-03-31" in msg


def test_commissioner_kind_is_a_party_kind() -> None:
    from typing import get_args

    from careis.contracts.common import PartyKind
    from careis.contracts.schema import Organisation

    kinds = set(get_args(Organisation.model_fields["kind"].annotation))
    assert kinds <= {k.value for k in PartyKind}


def test_a_practice_cannot_commission(tmp_path: Path) -> None:
    text = head().replace("{code: S1, name: Sub-ICB One}", "{code: S1, kind: practice}") + ENGAGE
    assert "commissioner.kind" in refused(tmp_path, text)
