"""The demo run the golden tests read: one `careis demo` per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from careis.cli import main


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`careis demo` as a user runs it (examples/demo.yaml), data generated into a tmp folder."""
    base = tmp_path_factory.mktemp("demo")
    with pytest.raises(SystemExit) as info:
        main(["demo", "--out", str(base / "out"), "--data", str(base / "data")])
    assert info.value.code in (0, None)
    return base / "out"
