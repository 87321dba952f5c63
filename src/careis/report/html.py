"""Render the commissioner's HTML report (Jinja), one self-contained file.

Why Jinja with filters for numbers and money: figures must read the way finance writes them
(£1,234.56, 12.3%, thousands separators) and be identical on every re-run, so formatting is
done here, once, not in the template.
"""

from __future__ import annotations

import re
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from careis.money import format_gbp


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{round(float(value)):,}"


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.{digits}f}"


def _signed(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{float(value):+.{digits}f}"


def _gbp(value: Any) -> str:
    if value is None:
        return "–"
    return format_gbp(value if isinstance(value, Decimal) else Decimal(str(value)))


def stylesheet() -> Markup:
    """The vendored NHS.UK frontend CSS followed by careis's own, for inlining in a page.

    Our own files, not user text: marked safe, or autoescape turns their quotes into &#34; and
    the font-family rule (and with it the page font) is lost (issue 18's Times New Roman bug).
    """
    package = resources.files("careis.report")
    nhsuk = package.joinpath("static", "nhsuk-frontend.min.css").read_text("utf-8")
    own = package.joinpath("templates", "careis.css").read_text("utf-8")
    return Markup(nhsuk + "\n" + own)


def environment() -> Environment:
    """The one Jinja environment of every careis HTML output: base layout, filters, stylesheet."""
    templates = Path(str(resources.files("careis.report").joinpath("templates")))
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(num=_num, fmt=_fmt, signed=_signed, gbp=_gbp)
    env.globals["css"] = stylesheet()
    return env


_TABLE_OR_HEADING = re.compile(r"<h[1-4][^>]*>(.*?)</h[1-4]>|<table\b[^>]*>|</table>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def scrollable_tables(html: str) -> str:
    """Wrap every table in a labelled scroll region that a keyboard can reach.

    Why in one place, after rendering: a wide table must scroll inside its own box on a phone
    rather than make the whole page wider than the screen, and WCAG asks that such a region
    can be focused (tabindex) and is named (aria-label: the heading it sits under).
    """
    out: list[str] = []
    last = 0
    heading = "Table"
    used: dict[str, int] = {}
    for m in _TABLE_OR_HEADING.finditer(html):
        out.append(html[last : m.start()])
        token = m.group(0)
        if m.group(1) is not None:
            heading = " ".join(_TAGS.sub("", m.group(1)).split()) or heading
            out.append(token)
        elif token.startswith("</"):
            out.append(token + "</div>")
        else:
            used[heading] = used.get(heading, 0) + 1  # landmarks need unique names
            n = used[heading]
            label = escape(f"Table: {heading}" + (f" ({n})" if n > 1 else ""))
            out.append(
                f'<div class="careis-scroll" role="region" aria-label="{label}" tabindex="0">'
            )
            out.append(token)
        last = m.end()
    out.append(html[last:])
    return "".join(out)


def render(template: str, context: dict[str, Any]) -> str:
    return scrollable_tables(environment().get_template(template).render(**context))
