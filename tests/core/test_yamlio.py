"""YAML errors name the file, the line and the field, in one line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from careis.errors import ConfigError
from careis.yamlio import load_model, parse_yaml


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    rate: Decimal = Field(ge=0)


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    items: list[Item]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    return path


def test_typo_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\nitems:\n  - name: a\n    rate: 1\n  - name: b\n    rat: 2\n")
    with pytest.raises(ConfigError) as info:
        load_model(Doc, path)
    assert str(info.value) == f"{path}, line 6: unknown field 'rat'. Fix: did you mean 'rate'?"


def test_negative_rate_names_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "title: x\nitems:\n  - name: a\n    rate: -5\n")
    with pytest.raises(ConfigError) as info:
        load_model(Doc, path)
    msg = str(info.value)
    assert msg.startswith(
        f"{path}, line 4: field 'items[0].rate': Input should be greater than or equal to 0"
    )
    assert "(got -5)" in msg


def test_missing_field(tmp_path: Path) -> None:
    path = write(tmp_path, "items: []\n")
    with pytest.raises(ConfigError, match=r"line 1: required field 'title' is missing"):
        load_model(Doc, path)


def test_bad_yaml_syntax_and_duplicate_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 2: not valid YAML"):
        parse_yaml("a: [1,\n", "x.yaml")
    with pytest.raises(ConfigError, match="duplicate key 'a'"):
        parse_yaml("a: 1\na: 2\n", "x.yaml")


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_model(Doc, tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_model(Doc, write(tmp_path, "# only a comment\n"))
