"""The Markdown service specification cannot be hijacked by text in the contract (issue 15 item 9).

A contract's names and descriptions are written by people outside the team and the `.md` file
is rendered by whatever the provider opens it with: HTML in a name must not become markup, a
`|` must not break the payment table, and a description must not start a heading or a list.
References: CommonMark 0.31 (backslash escapes of ASCII punctuation, section 2.4; list items
and ATX headings at line start) and GitHub Flavored Markdown tables (`\\|` in a cell).
"""

from __future__ import annotations

import pytest

from careis.commissioning.spec import md_code, md_escape


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
        ("Pay | per patient", "Pay \\| per patient"),
        ("# Not a heading", "\\# Not a heading"),
        ("- not a list", "\\- not a list"),
        ("1. not a list", "1\\. not a list"),
        ("[click](http://evil)", "\\[click\\](http://evil)"),
        ("line one\n# line two", "line one # line two"),  # mid-line: no heading
        ("Frailty care planning", "Frailty care planning"),
        ("12.50", "12.50"),
        ("care_plans", "care_plans"),  # ids stay readable: intraword _ is not emphasis
    ],
)
def test_markdown_escaping(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


def test_code_span_cannot_be_closed() -> None:
    assert "`" not in md_code("contract`<b>x</b>.yaml")
