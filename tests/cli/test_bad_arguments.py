"""Every command, given a bad argument, says so in one line and exits non-zero: no traceback.

The commands are read from the built command tree, so a command added later (a new group
mounted in `careis.cli._add_subapps`, a new option) is covered without editing this file. For
each command: an unknown option; every input path missing; every typed option (a number, a
choice, an input file) given a value it cannot take. And every `--help` names values as a user
would (FILE, N, TEXT), never as Python types.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperArgument, TyperOption

from careis.cli import app, main

ROOT = typer.main.get_command(app)
# Arguments that name an output, not an input: "bad" is a folder that must not be written into.
OUTPUT_ARGUMENTS = {("examples", "copy"): {"dest"}}
PYTHON_TYPES = ("<bool>", "<str>", "<int>", "<float>", "<path>", "<file>", "<dir>", "<list[")


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


ALL = list(_commands(ROOT))
LEAVES = [(path, cmd) for path, cmd in ALL if not hasattr(cmd, "commands")]
GROUPS = [path for path, cmd in ALL if hasattr(cmd, "commands")]


def _ids(path: tuple[str, ...]) -> str:
    return " ".join(path) or "careis"


def _typed_options() -> Iterator[tuple[tuple[str, ...], TyperOption]]:
    """Options whose values the parser checks: numbers, choices and input files."""
    for path, cmd in LEAVES:
        for p in cmd.params:
            if not isinstance(p, TyperOption) or p.is_flag:
                continue
            desc = p.type_descriptor
            annotation = getattr(desc.annotation, "__args__", (desc.annotation,))[0]
            exists = desc.is_path and getattr(desc.parameter_info, "exists", False)
            if desc.is_choice or annotation in (int, float) or exists:
                yield path, p


TYPED = list(_typed_options())


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, captured.out, captured.err


def one_line_error(code: int, out: str, err: str) -> str:
    assert code != 0, out
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_the_tree_is_what_the_readme_shows() -> None:
    """The enumeration is not empty by accident: the groups and commands the README uses."""
    names = {_ids(path) for path, _ in ALL}
    assert {"run", "demo", "pay run", "pay diff", "measures run", "measures list", "spc",
            "contracts compare", "risk train", "commission report", "examples copy"} <= names  # fmt: skip
    assert "measure" not in names  # the old name of `measures run`: no confusing alias
    assert len(LEAVES) >= 25 and len(TYPED) >= 15


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[_ids(p) for p, _ in LEAVES])
def test_unknown_option(path: tuple[str, ...], command: Any, capsys: Any) -> None:
    line = one_line_error(*run([*path, "--no-such-option"], capsys))
    assert "--no-such-option" in line and f"careis {_ids(path)} --help" in line


@pytest.mark.parametrize("path", GROUPS, ids=[_ids(p) for p in GROUPS])
def test_unknown_sub_command(path: tuple[str, ...], capsys: Any) -> None:
    line = one_line_error(*run([*path, "no-such-command"], capsys))
    assert "no-such-command" in line


def _bad_arguments(path: tuple[str, ...], command: Any, tmp_path: Path) -> list[str]:
    """Missing files for every argument and required option (a full folder for outputs)."""
    full = tmp_path / "full"
    full.mkdir(exist_ok=True)
    (full / "keep.txt").write_text("the user's own file\n")
    args: list[str] = []
    for p in command.params:
        if isinstance(p, TyperArgument):
            if p.name in OUTPUT_ARGUMENTS.get(path, set()):
                args.append(str(full))
            elif p.type_descriptor.is_choice:
                args.append("no-such-choice")
            else:
                args.append(str(tmp_path / f"missing-{p.name}"))
        elif isinstance(p, TyperOption) and p.required:
            if "date" in (p.name or ""):
                value = "2024-04-01"
            elif p.name == "year":
                value = "2024"  # a valid number: the missing file is what is under test
            else:
                value = str(tmp_path / f"missing-{p.name}")
            args += [p.opts[0], value]
    return args


WITH_ARGUMENTS = [
    (path, cmd) for path, cmd in LEAVES if any(isinstance(p, TyperArgument) for p in cmd.params)
]


@pytest.mark.parametrize(("path", "command"), WITH_ARGUMENTS, ids=[_ids(p) for p, _ in WITH_ARGUMENTS])  # fmt: skip
def test_missing_input(path: tuple[str, ...], command: Any, tmp_path: Path, capsys: Any) -> None:
    line = one_line_error(*run([*path, *_bad_arguments(path, command, tmp_path)], capsys))
    assert "missing-" in line or "no-such-choice" in line or "not empty" in line, line
    assert (tmp_path / "full" / "keep.txt").read_text() == "the user's own file\n"


@pytest.mark.parametrize(("path", "option"), TYPED, ids=[f"{_ids(p)} {o.opts[0]}" for p, o in TYPED])  # fmt: skip
def test_bad_option_value(
    path: tuple[str, ...], option: TyperOption, tmp_path: Path, capsys: Any
) -> None:
    # first on the line, so it is the first value the parser checks
    value = str(tmp_path / "missing-file") if option.type_descriptor.is_path else "not-a-value"
    line = one_line_error(*run([*path, option.opts[0], value], capsys))
    assert option.opts[0] in line or f"'{option.name}'" in line, line


@pytest.mark.parametrize(("path", "command"), ALL, ids=[_ids(p) for p, _ in ALL])
def test_help_names_values_plainly(
    path: tuple[str, ...], command: Any, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # one row per option: a type cannot hide in a wrap
    code, out, err = run([*path, "--help"], capsys)
    assert code == 0, err
    assert "Usage: careis" in out
    assert not [t for t in PYTHON_TYPES if t in out], out
