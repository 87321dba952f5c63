"""YAML that would exhaust the machine is refused with one line, quickly.

Why these cases: the "billion laughs" entity-expansion attack (OWASP, "XML External Entity
Prevention" / YAML alias bombs, as in PyYAML issue #164) and deep nesting that ends PyYAML's
recursive composer in RecursionError. A contract or config is written by someone outside the
team; a hostile or broken one must stop the run with a careis error, never hang or traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from careis.errors import ConfigError
from careis.yamlio import MAX_DEPTH, MAX_VALUES, load_yaml, parse_yaml


def _laughs(levels: int) -> str:
    """Each level is a list of nine aliases of the one before: 9**levels values."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_without_expanding() -> None:
    text = _laughs(9)  # 9**9 = 387,420,489 values from under 1 KB
    assert len(text) < 1_000
    with pytest.raises(ConfigError) as err:
        parse_yaml(text, "bomb.yaml")
    message = str(err.value)
    assert "bomb.yaml" in message
    assert str(MAX_VALUES) in message.replace(",", "") or "values" in message


def test_a_few_shared_aliases_are_still_fine() -> None:
    data, _ = parse_yaml(_laughs(3), "ok.yaml")  # 9**3 = 729 values: a real file may reuse anchors
    assert len(data["a3"]) == 9
    assert data["a3"][0][0][0] == ["lol"]


def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    depth = MAX_DEPTH + 20
    path = tmp_path / "deep.yaml"
    path.write_text("x: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml(path)
    assert "deep.yaml" in str(err.value)
    assert "deep" in str(err.value)


def test_very_deep_nesting_beyond_python_recursion_is_refused(tmp_path: Path) -> None:
    depth = sys.getrecursionlimit() * 2
    path = tmp_path / "deeper.yaml"
    path.write_text("[" * depth + "]" * depth + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_yaml(path)


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(ConfigError) as err:
        parse_yaml("a: &a [*a]\n", "loop.yaml")
    assert "loop.yaml" in str(err.value)


@pytest.mark.slow
def test_cli_says_one_line_for_a_bomb_measure_file(tmp_path: Path) -> None:
    measure = tmp_path / "measure.yaml"
    measure.write_text(_laughs(9), encoding="utf-8")
    exe = Path(sys.executable).with_name("careis")
    proc = subprocess.run(
        [str(exe), "measures", "check", str(measure)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "measure.yaml" in proc.stderr + proc.stdout
