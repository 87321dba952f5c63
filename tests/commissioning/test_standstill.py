"""The PSR standstill, dated by hand from the rule, across every kind of English bank holiday.

The rule (SI 2023/1348 reg 12, as NHS England's final statutory guidance of January 2024 and its
"reviewing decisions during the standstill period" flowchart read it): the standstill period
begins on the day after the intention-to-award notice is published; representations may be made
until midnight at the end of the 8th working day after the day the standstill begins; the
contract may be entered into from the next day. A working day (reg 2(1)) is not a Saturday,
Sunday, Christmas Day, Good Friday or bank holiday in England. If representations are made, the
authority reviews its decision, tells the provider, then waits 5 more working days (flowchart).

Bank holidays cited are GOV.UK's "UK bank holidays" list for England and Wales.
"""

from __future__ import annotations

import datetime as dt

import pytest

from careis.commissioning.decision_inputs import Representations
from careis.commissioning.route import RouteRequest, decide
from careis.commissioning.workdays import after_review, is_working_day, standstill
from careis.errors import ConfigError

D = dt.date

# GOV.UK, bank holidays in England and Wales, 2025 and 2026.
GOV_UK_ENGLAND = {
    D(2025, 1, 1), D(2025, 4, 18), D(2025, 4, 21), D(2025, 5, 5), D(2025, 5, 26),
    D(2025, 8, 25), D(2025, 12, 25), D(2025, 12, 26),
    D(2026, 1, 1), D(2026, 4, 3), D(2026, 4, 6), D(2026, 5, 4), D(2026, 5, 25),
    D(2026, 8, 31), D(2026, 12, 25), D(2026, 12, 28),
}  # fmt: skip


def test_the_calendar_matches_gov_uk() -> None:
    weekdays_off = {
        d
        for d in (D(2025, 1, 1) + dt.timedelta(days=i) for i in range(730))
        if d.weekday() < 5 and not is_working_day(d)
    }
    assert weekdays_off == GOV_UK_ENGLAND


@pytest.mark.parametrize(
    ("published", "begins", "last_day", "award_from", "why"),
    [
        # The worked example. Thu 18 Dec 2025 -> begins Fri 19. After it: Mon 22 (1),
        # Tue 23 (2), Wed 24 (3), [Thu 25 Christmas, Fri 26 Boxing Day], Mon 29 (4), Tue 30 (5),
        # Wed 31 (6), [Thu 1 Jan New Year], Fri 2 (7), Mon 5 Jan 2026 (8).
        (D(2025, 12, 18), D(2025, 12, 19), D(2026, 1, 5), D(2026, 1, 6), "Christmas/New Year"),
        # Christmas with a substitute day: Boxing Day 2026 is a Saturday, so Mon 28 Dec is the
        # bank holiday. Wed 23 Dec -> begins Thu 24. After it: [Fri 25, Mon 28], Tue 29 (1),
        # Wed 30 (2), Thu 31 (3), [Fri 1 Jan 2027], Mon 4 (4) ... Fri 8 Jan 2027 (8).
        (D(2026, 12, 23), D(2026, 12, 24), D(2027, 1, 8), D(2027, 1, 9), "substitute day"),
        # Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr. Wed 1 Apr -> begins Thu 2.
        # After it: [Fri 3, Mon 6], Tue 7 (1) ... Fri 10 (4), Mon 13 (5) ... Thu 16 Apr (8).
        (D(2026, 4, 1), D(2026, 4, 2), D(2026, 4, 16), D(2026, 4, 17), "Easter"),
        # Early May 2026: Mon 4 May. Wed 29 Apr -> begins Thu 30. After it: Fri 1 May (1),
        # [Mon 4], Tue 5 (2) ... Fri 8 (5), Mon 11 (6), Tue 12 (7), Wed 13 May (8).
        (D(2026, 4, 29), D(2026, 4, 30), D(2026, 5, 13), D(2026, 5, 14), "early May"),
        # Spring (late May) 2026: Mon 25 May. Fri 22 May -> begins Sat 23 (a calendar day).
        # After it: [Sun 24, Mon 25], Tue 26 (1) ... Fri 29 (4), Mon 1 Jun (5) ... Thu 4 Jun (8).
        (D(2026, 5, 22), D(2026, 5, 23), D(2026, 6, 4), D(2026, 6, 5), "late May"),
        # Summer 2026: Mon 31 Aug. Thu 27 Aug -> begins Fri 28. After it: [Mon 31],
        # Tue 1 Sep (1) ... Fri 4 (4), Mon 7 (5) ... Thu 10 Sep (8).
        (D(2026, 8, 27), D(2026, 8, 28), D(2026, 9, 10), D(2026, 9, 11), "August"),
        # Published on a Saturday: begins Sun 5 Jul 2026. After it: Mon 6 (1) ... Fri 10 (5),
        # Mon 13 (6), Tue 14 (7), Wed 15 Jul (8).
        (D(2026, 7, 4), D(2026, 7, 5), D(2026, 7, 15), D(2026, 7, 16), "weekend"),
        # Published on a Friday: begins Sat 11 Jul 2026. After it: Mon 13 (1) ... Wed 22 Jul (8).
        (D(2026, 7, 10), D(2026, 7, 11), D(2026, 7, 22), D(2026, 7, 23), "Friday"),
    ],
)
def test_standstill_dates(
    published: dt.date, begins: dt.date, last_day: dt.date, award_from: dt.date, why: str
) -> None:
    s = standstill(published)
    assert (s.begins, s.last_day, s.award_from) == (begins, last_day, award_from), why


def test_the_draft_reading_would_be_a_day_short() -> None:
    """The superseded draft counted the day after publication as day 1: Fri 2 Jan 2026 for the
    worked example. Representations are still open on that day under reg 12."""
    s = standstill(D(2025, 12, 18))
    assert s.last_day > D(2026, 1, 2) and s.award_from > D(2026, 1, 5)


FACTS = {
    "relevant_health_care_services": True, "mixed_procurement": False,
    "urgent_award_needed": False, "award_under_framework": False,
    "concluding_framework_agreement": False, "existing_provider": False,
    "patient_choice_service": False, "most_suitable_provider_identifiable": True,
}  # fmt: skip


def test_route_standstill_names_the_holidays_it_skips() -> None:
    d = decide(RouteRequest(service="t", decision_date=D(2025, 12, 18), facts=FACTS))
    s = d.standstill
    assert s is not None and (s.first_day, s.last_day, s.earliest_award) == (
        D(2025, 12, 19), D(2026, 1, 5), D(2026, 1, 6))  # fmt: skip
    assert [day for day, _ in s.bank_holidays] == [D(2025, 12, 25), D(2025, 12, 26), D(2026, 1, 1)]


def test_representations_then_five_working_days() -> None:
    """Representations on the last day (Mon 5 Jan 2026); the further decision is told to the
    provider on Fri 9 Jan. Five working days after it: Mon 12 (1) ... Fri 16 Jan (5); the award
    may be made from Sat 17 Jan 2026."""
    assert after_review(D(2026, 1, 9)) == (D(2026, 1, 16), D(2026, 1, 17))
    reps = Representations(received=D(2026, 1, 5), decision_communicated=D(2026, 1, 9))
    d = decide(RouteRequest(service="t", decision_date=D(2025, 12, 18), facts=FACTS,
                            representations=reps))  # fmt: skip
    assert d.standstill is not None and d.standstill.award_after_review == D(2026, 1, 17)


def test_representations_without_a_further_decision_keep_it_open() -> None:
    reps = Representations(received=D(2026, 1, 2), panel_requested=True)
    d = decide(RouteRequest(service="t", decision_date=D(2025, 12, 18), facts=FACTS,
                            representations=reps))  # fmt: skip
    s = d.standstill
    assert s is not None and s.award_after_review is None
    assert "stays open" in s.open_until and "Panel" in s.open_until


def test_representations_after_the_standstill_are_refused() -> None:
    reps = Representations(received=D(2026, 1, 6))  # the day after midnight on 5 Jan
    with pytest.raises(ConfigError, match="outside the standstill"):
        decide(RouteRequest(service="t", decision_date=D(2025, 12, 18), facts=FACTS,
                            representations=reps))  # fmt: skip
