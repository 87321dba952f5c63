"""Loading code lists from a user folder: overrides, and malformed files as one-line errors.

Why: commissioners replace the starter lists with their own; a bad user file must stop the
run with a message naming the file and line, never crash or silently drop codes.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careis.codelists import CodelistLibrary, read_codelist_csv
from careis.codelists.sctid import verhoeff_digit
from careis.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_user_folder_overrides_a_shipped_list(tmp_path: Path) -> None:
    _write(tmp_path / "diabetes.csv", "code,term\n44054006,Diabetes mellitus type 2\n")
    library = CodelistLibrary(tmp_path)
    mine = library.get("diabetes")
    assert mine.codes == ("44054006",)
    assert mine.system == "snomed"
    assert mine.source.startswith("user list")
    # Lists the user did not provide still come from the shipped data.
    assert "84114007" in library.get("heart_failure")
    assert len(CodelistLibrary().get("diabetes")) > 1


def test_user_folder_adds_new_lists_and_names_them(tmp_path: Path) -> None:
    _write(tmp_path / "my_extra_flag.csv", "code,term,notes\n160689007,Housebound,local\n")
    library = CodelistLibrary(tmp_path)
    assert "my_extra_flag" in library.names()
    assert library.get("my_extra_flag").codes == ("160689007",)


def test_malformed_row_raises_config_error_naming_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "copd.csv",
        "code,term\n13645005,Chronic obstructive lung disease\n185086009,Chronic, obstructive\n",
    )
    with pytest.raises(ConfigError) as caught:
        CodelistLibrary(tmp_path).get("copd")
    message = str(caught.value)
    assert str(path) in message
    assert "line 3" in message
    assert "\n" not in message


def test_invalid_code_for_the_system_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "acsc_acute.csv", "code,term\nJ10,Influenza\nJ1O.X9,typo\n")
    with pytest.raises(ConfigError) as caught:
        CodelistLibrary(tmp_path).get("acsc_acute")
    assert str(path) in str(caught.value)
    assert "line 3" in str(caught.value)


def test_blank_code_and_missing_code_column_are_errors(tmp_path: Path) -> None:
    _write(tmp_path / "af.csv", "code,term\n,Atrial fibrillation\n")
    with pytest.raises(ConfigError, match="line 2"):
        CodelistLibrary(tmp_path).get("af")
    _write(tmp_path / "chd.csv", "snomed,term\n22298006,Myocardial infarction\n")
    with pytest.raises(ConfigError, match="no 'code' column"):
        CodelistLibrary(tmp_path).get("chd")


def test_unknown_list_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no code list called"):
        CodelistLibrary().get("diabetus")


_payloads = st.text(alphabet="0123456789", min_size=5, max_size=16).filter(lambda s: s[0] != "0")
_terms = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip() == s and s != "")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_payloads, _terms, min_size=1, max_size=20))
def test_round_trip_preserves_codes_terms_and_order(tmp_path_factory, entries) -> None:  # type: ignore[no-untyped-def]
    """Any list written with proper CSV quoting (commas, quotes in terms) loads back intact."""
    rows = {p + "0" + verhoeff_digit(p + "0"): t for p, t in entries.items()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code", "term"])
    writer.writerows(rows.items())
    path = tmp_path_factory.mktemp("lists") / "prop.csv"
    _write(path, buffer.getvalue())
    loaded = read_codelist_csv(path, "prop", "snomed")
    assert loaded.codes == tuple(rows)
    assert loaded.terms == rows


def test_a_code_with_a_broken_check_digit_is_refused(tmp_path: Path) -> None:
    """A spreadsheet that zeroed the tail of a long id yields a pattern-valid but dead code."""
    folder = tmp_path / "lists"
    folder.mkdir()
    good = "44054006"
    bad = "1034241000000100"  # last digits zeroed: fails the Verhoeff check
    (folder / "diabetes.csv").write_text(f"code,term\n{good},Type 2 diabetes\n{bad},Corrupted\n")
    with pytest.raises(ConfigError) as info:
        CodelistLibrary(folder).get("diabetes")
    msg = str(info.value)
    assert "diabetes.csv, line 3" in msg
    assert "check digit" in msg
