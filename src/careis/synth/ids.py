"""Identifiers and dates as vectorised arrays, ready for Arrow.

Why a bijective scramble: patient pseudonyms must be unique and repeatable, and must not
reveal the practice or the order patients were generated in. Mixing a structured 64-bit
counter (domain, practice number, local index) through the SplitMix64 finaliser, which is a
bijection on 64-bit integers, guarantees uniqueness without a lookup table, and XOR with a key
derived from the seed makes different seeds give different identifiers.

Dates are held as int32 days since 1970-01-01 throughout the generator: that is Arrow's
`date32` layout, so columns go to Parquet without conversion.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

_EPOCH = dt.date(1970, 1, 1)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

DOMAIN_PATIENT = 0
DOMAIN_SPELL = 1
DOMAIN_ATTENDANCE = 2


def day(value: dt.date) -> int:
    """Days since 1970-01-01 (Arrow date32)."""
    return (value - _EPOCH).days


def date_of(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(days))


def practice_number(code: str) -> int:
    """A practice ODS code (letter + 5 digits) as a number below 2**22."""
    return (ord(code[0]) - 65) * 100_000 + int(code[1:])


def mix64(values: NDArray[np.uint64], key: int) -> NDArray[np.uint64]:
    """SplitMix64 finaliser of `values ^ key`: a keyed bijection on uint64."""
    x = values ^ np.uint64(key & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        x = x ^ (x >> np.uint64(31))
    return x


def scrambled_ids(domain: int, practice: int, local: NDArray[np.int64], key: int) -> pa.Array:
    """16-hex-character identifiers for `local` indices within one practice and domain."""
    counter = (
        (np.uint64(domain) << np.uint64(60))
        | (np.uint64(practice) << np.uint64(36))
        | local.astype(np.uint64)
    )
    return hex16(mix64(counter, key))


def hex16(values: NDArray[np.uint64]) -> pa.Array:
    """uint64 values as 16 lower-case hex characters each, built straight into Arrow buffers."""
    n = len(values)
    raw = values.astype(">u8").view(np.uint8).reshape(n, 8)
    text = np.empty((n, 16), dtype=np.uint8)
    text[:, 0::2] = _HEX[raw >> 4]
    text[:, 1::2] = _HEX[raw & 15]
    offsets = np.arange(0, 16 * (n + 1), 16, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())]
    )


def month_start(days: NDArray[np.int32]) -> NDArray[np.int32]:
    """First day of the month of each date (birth_month keeps the month only)."""
    months = days.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int32)


def date_array(days: NDArray[np.int32], mask: NDArray[np.bool_] | None = None) -> pa.Array:
    """int32 days as an Arrow date32 array (`mask` True = null)."""
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=mask)
