"""Check digits of SNOMED CT and dm+d identifiers (SCTIDs).

Why: a SNOMED CT identifier (and so every dm+d VMP/AMP id) ends with a Verhoeff check digit,
and its second- and third-last digits are the partition identifier (``00``/``10`` for a
concept). A transcription slip, or a spreadsheet zeroing the tail of a 16-18 digit id, breaks
the check digit, so this catches codes that look valid to the regex but match nothing.
"""

from __future__ import annotations

# Verhoeff dihedral-group tables (multiplication and permutation); see SNOMED CT TRG, App. F.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_ok(digits: str) -> bool:
    """True when the last digit of ``digits`` is a correct Verhoeff check digit."""
    check = 0
    for i, ch in enumerate(reversed(digits)):
        check = _D[check][_P[i % 8][int(ch)]]
    return check == 0


def verhoeff_digit(payload: str) -> str:
    """The Verhoeff check digit to append to ``payload``."""
    check = 0
    for i, ch in enumerate(reversed(payload)):
        check = _D[check][_P[(i + 1) % 8][int(ch)]]
    return str(_INV[check])


def is_concept_id(code: str) -> bool:
    """True for a well-formed SNOMED CT concept identifier (digits, partition, check digit)."""
    return (
        code.isdigit()
        and 6 <= len(code) <= 18
        and code[0] != "0"
        and code[-3:-1] in ("00", "10")
        and verhoeff_ok(code)
    )
