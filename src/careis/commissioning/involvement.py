"""The statutory involvement duty and local authority scrutiny: does the model trigger them?

Why record it: an ICB must involve the public in proposals that would change how services are
delivered or the range of services (s14Z45 NHS Act 2006), and must consult the local authority
on any substantial development or variation (reg 23 of the 2013 scrutiny regulations).
"Substantial" is undefined, so careis does not decide it; it flags when a change is *likely* to
be substantial and records each reason, so the commissioner's judgement is written down beside
the facts it rested on.
"""

from __future__ import annotations

from dataclasses import dataclass

from careis.commissioning.mapping import Action, Mapping
from careis.errors import MissingFactError

# A change affecting at least this many patients is flagged as likely substantial (a judgement
# aid, not law: the regulations give no number).
LIKELY_SUBSTANTIAL_PATIENTS = 10_000
NO_INVOLVEMENT = "neither how services are delivered nor their range changes"
NOT_SUBSTANTIAL = "no service withdrawn, no site change, no GP list transfer, no large change"


@dataclass(frozen=True)
class Assessment:
    involvement_duty: bool
    involvement_reasons: tuple[str, ...]
    likely_substantial: bool
    substantial_reasons: tuple[str, ...]
    actions: tuple[str, ...]
    notes: str


def assess(mapping: Mapping, source: str = "<care model>") -> Assessment:
    """Assess the involvement duty and scrutiny for the mapped model, with reasons."""
    change = mapping.model.service_change
    if change is None:
        raise MissingFactError(
            "the involvement assessment needs 'service_change' (changes_how_delivered, "
            "changes_range): will patients receive services differently, or a different range?",
            file=source,
            fix="add a 'service_change:' block to the care model.",
        )
    involve: list[str] = []
    if change.changes_how_delivered:
        involve.append("the model changes how services are delivered at the point of receipt")
    if change.changes_range:
        involve.append("the model changes the range of services available")
    moves = [r for r in mapping.rows if r.action == Action.SUSPEND or r.moves_into_model]
    suspended = [r.contract_id for r in mapping.rows if r.action == Action.SUSPEND]
    if moves and not involve:
        involve.append(
            f"{len(moves)} contract(s) move to a different provider or contract "
            "(suspension, or ending with its services in the new contract); check whether patients will notice the change"
        )
    substantial: list[str] = []
    if change.services_withdrawn:
        substantial.append(f"services withdrawn: {', '.join(change.services_withdrawn)}")
    if change.sites_closed_or_moved:
        substantial.append(f"{change.sites_closed_or_moved} site(s) closed or moved")
    if suspended:
        substantial.append(
            f"core GP contracts suspended ({', '.join(suspended)}): patients transfer to the "
            "integrated provider's list"
        )
    affected = change.patients_affected
    if change.changes_range and affected is not None and affected >= LIKELY_SUBSTANTIAL_PATIENTS:
        substantial.append(
            f"the range of services changes for {affected:,} patients "
            f"(>= {LIKELY_SUBSTANTIAL_PATIENTS:,})"
        )
    actions: list[str] = []
    if involve:
        actions.append(
            "Involve the public (s14Z45 NHS Act 2006; 'Working in partnership with people and "
            "communities', NHS England 2022) in developing the proposal and before deciding; "
            "record how, proportionately."
        )
    if substantial:
        actions.append(
            "Consult the local authority's health scrutiny function on a substantial "
            "development or variation (reg 23, 2013 scrutiny regulations; s244)."
        )
        actions.append(
            "Check whether it is a notifiable reconfiguration (Schedule 10A NHS Act 2006, from "
            "31 January 2024): if so notify the Secretary of State, who may call it in."
        )
    return Assessment(
        involvement_duty=bool(involve),
        involvement_reasons=tuple(involve) or (NO_INVOLVEMENT,),
        likely_substantial=bool(substantial),
        substantial_reasons=tuple(substantial) or (NOT_SUBSTANTIAL,),
        actions=tuple(actions),
        notes=change.notes,
    )
