"""The payment component kinds, one module each, and the one registry that names them.

Each kind (a contract component's `type`) owns three things that must agree: how it pays
(`pay`: statement lines from the measure results), its rule in words (`rule_text`: the report's
"rule" column) and its requirement in the service specification (`requirement_text`). Adding a
kind means adding a module here and a line to `KINDS`; nothing else spells a kind out.
"""

from __future__ import annotations

from typing import Any

from careis.measures.results import MeasureInfo
from careis.payments.components import (
    aspiration,
    capitation,
    concordance,
    engagement,
    gain_share,
    performance,
    withhold,
)
from careis.payments.components.base import STAGES, Context, Kind, NoData, Stage

__all__ = [
    "KINDS",
    "STAGES",
    "Context",
    "Kind",
    "NoData",
    "Stage",
    "kind_of",
    "requirement_text",
    "rule_text",
]

#: Component `type` -> its kind.
KINDS: dict[str, Kind] = {
    "engagement": engagement.KIND,
    "capitation": capitation.KIND,
    "concordance": concordance.KIND,
    "performance": performance.KIND,
    "gain_share": gain_share.KIND,
    "withhold": withhold.KIND,
    "aspiration": aspiration.KIND,
}


def kind_of(component: Any) -> Kind:
    """The kind of a contract component (by its `type`)."""
    return KINDS[component.type]


def rule_text(component: Any) -> str:
    """The component's rule in words, for the report (the contract YAML says the same in fields)."""
    kind = KINDS.get(component.type)
    return kind.rule(component) if kind is not None else ""


def requirement_text(component: Any, catalogue: dict[str, MeasureInfo]) -> str:
    """The component's requirement in the service specification, in the words of the contract
    and of its measure (`catalogue`: measure id -> its name, unit and definition)."""
    measure = getattr(component, "measure", None)
    info = catalogue.get(measure) if measure else None
    return KINDS[component.type].requirement(component, info)
