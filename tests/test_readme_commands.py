"""Every `careis ...` command in README.md's code blocks exists and parses; the cheap ones run.

Why: the README's tour is the first thing a new user types. A command or sub-command renamed
in the code, an option removed, or a placeholder typed as if it were syntax (`[--out DIR]`)
should fail here, not in front of a commissioner.

How, generically (so it survives a restructured CLI): the click command tree is built from
`careis.cli.app` with `typer.main.get_command`; each README command is walked down the tree
(every word that names a sub-command descends), and what is left is parsed by that command
exactly as click parses it (unknown options, missing or extra arguments fail). Then the
cheap commands run for real in a fresh folder where examples/ is available, as after
`careis examples copy` (the README's own copy command is run first if it has one); the
expensive ones, and any whose file arguments are placeholders, run with `--help` instead.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer

from careis.cli import app, main

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
# Command paths cheap enough to run for real (well under a second each).
CHEAP = {"", "version", "schema", "orgs", "spc", "measures list", "measures check"}
COPY = "examples copy"  # after `pip install careis`, this puts examples/ in the working folder
# Words standing for the user's own input (ODS codes such as QOP or 00T are real values).
PLACEHOLDER = re.compile(r"^(FILE|DIR|CONFIG|RUN|PATH|FOLDER|[A-Z]+_[A-Z0-9_]+)$")


def readme_commands() -> list[str]:
    """Each line of a fenced code block that starts with `careis ` (comments removed)."""
    commands, inside = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            inside = not inside
            continue
        text = line.strip().removeprefix("$ ")
        if inside and text.startswith("careis "):
            commands.append(" ".join(shlex.split(text, comments=True)))
    return commands


@dataclass(frozen=True)
class Resolved:
    path: list[str]  # the sub-commands walked, e.g. ["risk", "train"]
    chain: list[Any]  # the click commands from the root down to the one that runs
    args: list[str]  # what is left for that command to parse


def resolve(words: list[str]) -> Resolved:
    """Walk `words` (after `careis`) down the command tree; fail on an unknown sub-command.

    A group is anything with `.commands` (typer vendors click, so no click import here).
    """
    chain: list[Any] = [typer.main.get_command(app)]
    path: list[str] = []
    rest = list(words)
    while hasattr(chain[-1], "commands") and rest and not rest[0].startswith("-"):
        sub = chain[-1].commands.get(rest[0])
        default = getattr(sys.modules.get(type(chain[-1]).__module__), "DEFAULT", None)
        if sub is None and default in chain[-1].commands:  # `careis pay CONFIG` = `pay run`
            rest.insert(0, default)
            sub = chain[-1].commands[default]
        if sub is None:
            where = " ".join(["careis", *path])
            known = ", ".join(sorted(chain[-1].commands))
            pytest.fail(f"`{where}` has no sub-command '{rest[0]}' (it has: {known})")
        path.append(rest.pop(0))
        chain.append(sub)
    return Resolved(path, chain, rest)


def parse(resolved: Resolved) -> None:
    """Parse the arguments as click would, without running the command."""
    names = ["careis", *resolved.path]
    ctx = None
    for name, group in zip(names[:-1], resolved.chain[:-1], strict=True):
        ctx = group.make_context(name, [], parent=ctx, resilient_parsing=True)
    problem = None
    try:
        resolved.chain[-1].make_context(names[-1], list(resolved.args), parent=ctx)
    except Exception as exc:
        kinds = {c.__name__ for c in type(exc).__mro__}
        if "UsageError" not in kinds and "Exit" not in kinds:  # Exit: --help / --version
            raise
        problem = exc if "UsageError" in kinds else None
    if problem is not None and "does not exist" in str(problem):
        problem = None  # an earlier README command writes it (data/bolton, out/demo...)
    if problem is not None:
        pytest.fail(f"`{' '.join(names)}` does not accept these arguments: {problem}")


def is_placeholder(word: str, cwd: Path) -> bool:
    """An argument standing for the user's own file or folder (FILE, my-scheme.yaml, ...)."""
    if PLACEHOLDER.match(word):
        return True
    looks_like_path = "/" in word or Path(word).suffix in (".yaml", ".csv", ".json", ".parquet")
    return looks_like_path and not (cwd / word).exists()


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    code = (
        info.value.code
        if isinstance(info.value.code, int)
        else (0 if info.value.code is None else 1)
    )
    return code, out.out + out.err


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh working folder holding examples/, as a user who installed careis has it."""
    folder = tmp_path_factory.mktemp("readme-user")
    copy = [c for c in readme_commands() if c.startswith(f"careis {COPY} ")]
    if copy:
        cwd = Path.cwd()
        os.chdir(folder)
        try:
            with pytest.raises(SystemExit) as info:
                main(shlex.split(copy[0])[1:])
            assert info.value.code in (0, None), copy[0]
        finally:
            os.chdir(cwd)
    else:
        (folder / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return folder


def test_the_readme_has_a_tour() -> None:
    assert len(readme_commands()) >= 15


@pytest.mark.parametrize("line", [pytest.param(c, id=c) for c in readme_commands()])
def test_readme_command_exists_and_runs(
    line: str,
    user_folder: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = shlex.split(line)[1:]
    resolved = resolve(words)
    parse(resolved)
    path = " ".join(resolved.path)
    if path == COPY:
        return  # run once, by the user_folder fixture
    monkeypatch.chdir(user_folder)
    monkeypatch.setenv("COLUMNS", "200")
    real = path in CHEAP and not any(is_placeholder(w, user_folder) for w in resolved.args)
    args = words if real else [*resolved.path, "--help"]
    code, out = run(args, capsys)
    assert code == 0, f"careis {' '.join(args)} exited {code}:\n{out}"
    if not real:
        assert "Usage:" in out
