"""Fuzz every kind of file a user writes by hand: run config, contract, measures, worklist
rules, the commissioning workbench and each file it names (care model, route, business case, conflicts
register, contract register), and clinical code lists.

Each starts from the shipped example, which loads, and is broken two ways: structurally (one
value anywhere in the tree replaced by a value of another type, or deleted) and byte by byte.
Property: the loader accepts it, or refuses it with a careis error of one line that names a
file: the one broken, or for the workbench, the file it refers to. Anything else (a KeyError,
a TypeError, a RecursionError) is a traceback and fails the test.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from careis.codelists import read_codelist_csv
from careis.commissioning.business_case import load_business_case
from careis.commissioning.conflicts import load_conflicts
from careis.commissioning.model import load_care_model
from careis.commissioning.register import load_register
from careis.commissioning.report import load_workbench
from careis.commissioning.route import load_request
from careis.config import load_run_config
from careis.contracts.schema import load_contract
from careis.measures.definitions import load_measure_file
from careis.risk.worklist_rules import load_rules, shipped_rules

from .support import assert_one_line, attempt, fuzz_settings, outcome

EXAMPLES = Path(__file__).parents[2] / "src" / "careis" / "examples"
CODELISTS = Path(__file__).parents[2] / "src" / "careis" / "codelists" / "data"

Loader = Callable[[Path], object]
KINDS: dict[str, tuple[str, Loader]] = {
    "run config": ("demo.yaml", load_run_config),
    "contract (accountable care)": ("contracts/aco_full.yaml", load_contract),
    "contract (enhanced service)": ("contracts/enhanced_service.yaml", load_contract),
    "contract (alliance)": ("contracts/alliance.yaml", load_contract),
    "measures": ("measures/scheme.yaml", load_measure_file),
    "care model": ("commissioning/model-full-integration.yaml", load_care_model),
    "route request": ("commissioning/route-icp.yaml", load_request),
    "business case": ("commissioning/business_case.yaml", load_business_case),
    "conflicts register": ("commissioning/conflicts.yaml", load_conflicts),
    "workbench": ("commissioning/workbench.yaml", load_workbench),
    "worklist rules": ("worklist_rules.yaml", load_rules),
}
ODD: list[Any] = [
    None, 0, -1, 10**30, 1.5, float("nan"), float("inf"), "", " ", "x", "../../x", "/etc/passwd",
    "=1+1", [], {}, [1, "a"], {"a": 1}, True, "2024-02-30", "9999-12-31", "1e400", "£1,000",
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(ODD), st.text(max_size=8), st.integers(), st.lists(st.integers(), max_size=2)
)


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the shipped examples: a broken file sits beside the files it names."""
    root = tmp_path_factory.mktemp("examples")
    shutil.copytree(EXAMPLES, root, dirs_exist_ok=True)
    shutil.copy(shipped_rules(), root / "worklist_rules.yaml")  # shipped beside careis.risk
    _without_a_run(root / "commissioning" / "business_case.yaml")
    return root


def _without_a_run(path: Path) -> None:
    """State the figures the shipped business case takes from a run, so the workbench loads
    on its own (a run costs a minute; the fuzz is about the files)."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    for i, activity in enumerate(case["activities"].values()):
        activity["baseline"] = 1000 * (i + 1)
    for cost in case["costs"]:
        if cost.pop("from_payments", None) is not None:
            cost["amount"] = 50000
    case["monte_carlo"]["runs"] = 100  # the least allowed
    path.write_text(yaml.safe_dump(case, sort_keys=False), encoding="utf-8")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position in a YAML tree (mapping keys and list indexes)."""
    if prefix:
        yield prefix
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _edit(tree: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    for key in path[:-1]:
        tree = tree[key]
    if delete:
        del tree[path[-1]]
    else:
        tree[path[-1]] = value


def _broken(examples: Path, rel: str, text: str) -> Path:
    """Write the broken copy beside the original (same folder: relative paths still work)."""
    path = (examples / rel).with_name("broken_" + Path(rel).name)
    path.write_text(text, encoding="utf-8")
    return path


def _check(loader: Loader, path: Path, examples: Path) -> None:
    """Loaded, or refused in one line naming the broken file or a file it refers to."""
    error = attempt(lambda: loader(path))
    if error is not None:
        assert_one_line(error)
        names = {path.name} | {p.name for p in examples.rglob("*") if p.is_file()}
        assert any(name in str(error) for name in names) or str(examples) in str(error), str(error)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_shipped_example_loads(examples: Path, kind: str) -> None:
    rel, loader = KINDS[kind]
    assert outcome(lambda: loader(examples / rel)) == "ok"


@pytest.mark.parametrize("kind", sorted(KINDS))
@fuzz_settings(12)
@given(data=st.data())
def test_one_value_of_the_wrong_type_is_one_line(
    examples: Path, kind: str, data: st.DataObject
) -> None:
    rel, loader = KINDS[kind]
    tree = yaml.safe_load((examples / rel).read_text(encoding="utf-8"))
    path = data.draw(st.sampled_from(list(_paths(tree))), label="where")
    _edit(tree, path, data.draw(VALUES, label="value"), data.draw(st.booleans(), label="delete"))
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    _check(loader, _broken(examples, rel, text), examples)


EDITS = st.lists(
    st.tuples(
        st.integers(0, 5_000),
        st.text(max_size=4)
        | st.sampled_from([":", "- ", "\n", "  ", "&a", "*a", "[", "{", "'", "#"]),
    ),
    min_size=1,
    max_size=3,
)


def _splice(text: str, edits: list[tuple[int, str]]) -> str:
    for pos, chunk in edits:
        at = pos % (len(text) + 1)
        text = text[:at] + chunk + text[at + len(chunk) :]
    return text


@pytest.mark.parametrize("kind", sorted(KINDS))
@fuzz_settings(6)
@given(edits=EDITS)
def test_corrupted_text_is_one_line(
    examples: Path, kind: str, edits: list[tuple[int, str]]
) -> None:
    rel, loader = KINDS[kind]
    text = _splice((examples / rel).read_text(encoding="utf-8"), edits)
    _check(loader, _broken(examples, rel, text), examples)


@fuzz_settings(25)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 3_000),
            st.binary(min_size=1, max_size=4)
            | st.sampled_from([b",", b'"', b"\n", b"\xe9", b"\x00"]),
        ),
        min_size=1,
        max_size=3,
    ),
    which=st.sampled_from(["code list", "contract register"]),
)
def test_corrupted_csv_code_list_or_register_is_one_line(
    examples: Path, tmp_path: Path, edits: list[tuple[int, bytes]], which: str
) -> None:
    source = (
        CODELISTS / "copd.csv"
        if which == "code list"
        else examples / "commissioning" / "register.csv"
    )
    data = bytearray(source.read_bytes())
    for pos, chunk in edits:
        at = pos % (len(data) + 1)
        data[at : at + len(chunk)] = chunk
    path = tmp_path / f"broken_{source.name}"
    path.write_bytes(bytes(data))
    if which == "code list":
        outcome(lambda: read_codelist_csv(path, "copd", "snomed"), path.name)
    else:
        outcome(lambda: load_register(path), path.name)
