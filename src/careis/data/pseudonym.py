"""NHS numbers in, pseudonyms out: validation, masking and keyed hashing as Ibis expressions.

Why here and why in the engine: a source may identify patients by NHS number. careis must
check every number (10 digits with a modulus 11 check digit), replace it with a pseudonym
before anything else sees the data, and never write the number anywhere, quarantine
included. Doing all three as Ibis expressions keeps the numbers inside the engine (no Python
loop over tens of millions of rows, no copy in pandas) and gives the same answer on DuckDB
and on Spark.

The pseudonym is `sha256(key + ":" + number)`, first 16 hex characters (64 bits: collisions
are negligible at national scale). The key is a secret held by the data controller; the same
key must be used for every extract, or the same patient gets different pseudonyms. Without
the key a pseudonym cannot be turned back into an NHS number by hashing all 10-digit
numbers, which a plain hash would allow.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from careis.errors import ConfigError

ENV_KEY = "CAREIS_PSEUDONYM_KEY"
PSEUDONYM_LENGTH = 16
# The layouts the NHS uses on paper and screen (same as the nhs-number package accepts):
# 9434765919, 943 476 5919, 943-476-5919, with any surrounding white space.
NHS_NUMBER_FORMAT = (
    "^[ \t\r\n]*([0-9]{10}|[0-9]{3} [0-9]{3} [0-9]{4}|[0-9]{3}-[0-9]{3}-[0-9]{4})[ \t\r\n]*$"
)
MASK_KEEP = 3  # characters of a number left visible in quarantine (e.g. 943*******)
# A key is only as strong as it is hard to guess: anyone with the key can hash every valid
# 10-digit number (about 10^9) and reverse every pseudonym. 32 characters of a random secret
# (e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`, 43 characters) put it
# beyond guessing; a short or repetitive key (a word, "aaaa...") does not.
MIN_KEY_LENGTH = 32
MIN_KEY_DISTINCT = 10


def resolve_key(explicit: str | None) -> str | None:
    """The pseudonym key: the explicit one, else the environment variable, else None."""
    if explicit:
        return explicit
    return os.environ.get(ENV_KEY) or None


def require_key(explicit: str | None, files: Sequence[str]) -> str:
    """The key, or a ConfigError naming the files that carry NHS numbers and what to set."""
    key = resolve_key(explicit)
    if key:
        check_key_strength(key, files)
        return key
    raise ConfigError(
        "the data carry NHS numbers (column nhs_number) but no pseudonym key is set, so they "
        "cannot be pseudonymised.",
        file=", ".join(files),
        fix=f"set the environment variable {ENV_KEY} (or LoadOptions.pseudonym_key) to a secret "
        "kept by the data controller; use the same key for every extract.",
    )


def check_key_strength(key: str, files: Sequence[str]) -> None:
    """Refuse a key that could be guessed (too short, or too few different characters)."""
    if len(key) >= MIN_KEY_LENGTH and len(set(key)) >= MIN_KEY_DISTINCT:
        return
    raise ConfigError(
        f"the pseudonym key is too weak ({len(key)} characters, {len(set(key))} different): "
        f"it needs at least {MIN_KEY_LENGTH} characters and {MIN_KEY_DISTINCT} different ones, "
        "or anyone could reverse the pseudonyms by trying keys.",
        file=", ".join(files),
        fix=f"set {ENV_KEY} to a random secret, e.g. the output of "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`, kept by the data '
        "controller and used for every extract.",
    )


def count_nhs_like(values: ir.Column) -> ir.IntegerScalar:
    """How many values are well-formed NHS numbers with a valid check digit.

    Why: an extract that puts NHS numbers in `patient_id` would pass them straight into the
    registers and flag files; only the `nhs_number` column is pseudonymised."""
    text = values if values.type().is_string() else values.cast("string")
    return digits_are_valid(normalise_nhs_number(text)).cast("int64").sum().fill_null(0)


def normalise_nhs_number(value: ir.StringValue) -> ir.StringValue:
    """The 10 digits of a well-formed number (spaces/hyphens removed); null if malformed."""
    # No Ibis strip(): on Spark it also strips the letters v and f (an escaping bug).
    return ibis.ifelse(
        value.re_search(NHS_NUMBER_FORMAT), value.re_replace("[^0-9]", ""), ibis.null("string")
    )


def nhs_number_is_valid(value: ir.StringValue) -> ir.BooleanValue:
    """True when `value` is a well-formed NHS number with the right check digit."""
    return digits_are_valid(normalise_nhs_number(value))


def digits_are_valid(digits: ir.StringValue) -> ir.BooleanValue:
    """The modulus 11 check on normalised digits (from `normalise_nhs_number`).

    The check digit is 11 - (sum of the first nine digits weighted 10..2) mod 11, with 11
    meaning 0; a result of 10 can never match a digit, so such numbers are invalid. Null
    gives false. (The nhs-number package also rejects numbers in the Scottish CHI range
    whose first six digits are not a date; careis checks the modulus 11 rule only.)
    """
    weighted = sum(
        (digits.substr(i, 1).cast("int64") * (10 - i) for i in range(9)),
        start=ibis.literal(0, "int64"),
    )
    check = (11 - weighted % 11) % 11
    return (digits.notnull() & (check == digits.substr(9, 1).cast("int64"))).fill_null(False)


def mask_nhs_number(value: ir.StringValue) -> ir.StringValue:
    """Keep the first three characters, star the rest: safe to show in quarantine."""
    keep = value.substr(0, MASK_KEEP)
    rest = (value.length() - MASK_KEEP).clip(lower=0)
    return keep + ibis.literal("*").repeat(rest)


def pseudonymise(number: ir.StringValue, key: str) -> ir.StringValue:
    """The pseudonym of a normalised (10-digit) NHS number, computed in the engine."""
    return (ibis.literal(key + ":") + number).hexdigest("sha256").substr(0, PSEUDONYM_LENGTH)


def pseudonym(nhs_number: str, key: str) -> str:
    """The same pseudonym in Python, for one number (tests, look-ups by a practice)."""
    digits = "".join(ch for ch in nhs_number.strip() if ch.isdigit())
    return hashlib.sha256(f"{key}:{digits}".encode()).hexdigest()[:PSEUDONYM_LENGTH]
