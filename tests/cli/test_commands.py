"""The command tree's own promises: --version, the examples a pip user needs, the two `pay`
forms, `measures run`, the tables behind `orgs` and `schema`, and `python -m careis`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import pytest

from careis import __version__
from careis.cli import main, stages
from careis.data.reference import organisations
from careis.data.schema import TABLES
from careis.engine import Backend
from careis.examples import copy_examples, list_examples

REPO_EXAMPLES = Path(__file__).parents[2] / "src" / "careis" / "examples"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, captured.out, captured.err


def test_version_option_and_command(capsys: Any) -> None:
    assert run(["--version"], capsys)[:2] == (0, f"{__version__}\n")
    assert run(["version"], capsys)[:2] == (0, f"{__version__}\n")


def test_python_dash_m_careis_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "careis", "--version"], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout) == (0, f"{__version__}\n"), done.stderr


def test_examples_list_is_every_shipped_file(capsys: Any) -> None:
    on_disk = sorted(
        p.relative_to(REPO_EXAMPLES).as_posix()
        for p in REPO_EXAMPLES.rglob("*")
        if p.is_file() and p.name != "__init__.py" and "__pycache__" not in p.parts
    )
    assert list_examples() == on_disk
    assert {"demo.yaml", "contracts/alliance.yaml", "spc/ae_rrk_type1.csv"} <= set(on_disk)
    code, out, _ = run(["examples", "list"], capsys)
    assert code == 0 and out.splitlines() == on_disk


def test_examples_copy_writes_byte_identical_files(tmp_path: Path, capsys: Any) -> None:
    dest = tmp_path / "examples"
    code, out, _ = run(["examples", "copy", str(dest)], capsys)
    assert code == 0 and f"Copied {len(list_examples())} example files" in out
    for name in list_examples():
        assert (dest / name).read_bytes() == (REPO_EXAMPLES / name).read_bytes(), name
    assert not (dest / "__init__.py").exists()


def test_examples_copy_refuses_a_folder_in_use_unless_forced(tmp_path: Path, capsys: Any) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "demo.yaml").write_text("my own edits\n")
    (dest / "notes.txt").write_text("keep\n")
    code, _, err = run(["examples", "copy", str(dest)], capsys)
    assert code == 2 and err.count("\n") == 1 and "not empty" in err and "--force" in err
    assert (dest / "demo.yaml").read_text() == "my own edits\n"
    assert run(["examples", "copy", str(dest), "--force"], capsys)[0] == 0
    assert (dest / "demo.yaml").read_bytes() == (REPO_EXAMPLES / "demo.yaml").read_bytes()
    assert (dest / "notes.txt").read_text() == "keep\n"  # --force overwrites examples only
    with pytest.raises(Exception, match="not a folder"):
        copy_examples(dest / "notes.txt")


def test_pay_config_is_pay_run_config(tmp_path: Path, capsys: Any) -> None:
    """`careis pay CONFIG` reaches the same command as `careis pay run CONFIG`."""
    missing = str(tmp_path / "nope.yaml")
    for args in (["pay", missing], ["pay", "run", missing], ["pay", "--contract", missing]):
        code, _, err = run(args, capsys)
        assert code == 2 and "careis pay run --help" in err, (args, err)
    code, out, _ = run(["pay", "--help"], capsys)
    assert code == 0 and "diff" in out and "careis pay CONFIG" in out


def test_engine_choices_are_the_engines() -> None:
    assert get_args(stages.Backend) == get_args(Backend)


def test_schema_table_choice_and_output(capsys: Any) -> None:
    code, out, _ = run(["schema", "patients"], capsys)
    assert code == 0 and "patients" in out and "birth_month" in out and "registrations" not in out
    code, _, err = run(["schema", "patient"], capsys)
    assert code == 2 and all(name in err for name in TABLES)


def test_orgs_table_for_bolton_and_greater_manchester(capsys: Any) -> None:
    # README: NHS Bolton (sub-ICB 00T) has 49 practices; it lies in Greater Manchester ICB QOP.
    bolton = organisations("sub_icb", "00T")
    assert list(bolton.columns) == ["code", "name", "practices", "list_size"]
    assert bolton[["code", "practices"]].values.tolist() == [["00T", 49]]
    assert bolton["list_size"].iloc[0] > 0
    gm = organisations("sub_icb", "QOP")
    assert "00T" in set(gm["code"]) and gm["practices"].sum() > 49
    icb = organisations("icb", "QOP")
    assert icb["practices"].tolist() == [gm["practices"].sum()]
    with pytest.raises(Exception, match="unknown level"):
        organisations("ccg")  # type: ignore[arg-type]
    code, out, _ = run(["orgs", "--within", "00T"], capsys)
    assert code == 0 and "00T" in out and "49" in out
