"""Render the commissioner's HTML report (Jinja), one self-contained file.

Why Jinja with filters for numbers and money: figures must read the way finance writes them
(£1,234.56, 12.3%, thousands separators) and be identical on every re-run, so formatting is
done here, once, not in the template.
"""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

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


def environment() -> Environment:
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
    return env


def render(template: str, context: dict[str, Any]) -> str:
    env = environment()
    css = (
        Path(str(resources.files("careis.report").joinpath("templates"))) / "report.css"
    ).read_text("utf-8")
    # Our own stylesheet, not user text: marked safe, or autoescape turns its quotes into
    # &#34; and the font-family rule (and with it the page font) is lost.
    return env.get_template(template).render(css=Markup(css), **context)
