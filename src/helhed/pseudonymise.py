"""Keyed pseudonyms for CPR numbers.

A CPR number is replaced by HMAC-SHA256(key, cpr) as 64 hex characters. The key is a secret
(environment variable ``HELHED_PSEUDONYM_KEY`` or an Airflow connection), so the pseudonym
cannot be reversed by hashing all ~3.6 million valid CPR numbers, which a plain hash could.
The same key gives the same pseudonym in every source, which is what lets the warehouse join
a citizen across departments without ever holding the CPR number outside ``landing``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

CPR_PATTERN = re.compile(r"^\d{6}-?\d{4}$")


def normalise_cpr(value: str) -> str:
    """Strip spaces and the optional dash: ``010180-1234`` -> ``0101801234``."""
    return value.strip().replace("-", "")


def is_valid_cpr(value: str) -> bool:
    """True for a well-formed CPR: 10 digits whose first six are a real day-month-year.

    The modulus-11 check is not applied: CPR numbers issued since 2007 need not satisfy it.
    """
    if not CPR_PATTERN.match(value.strip()):
        return False
    digits = normalise_cpr(value)
    day, month = int(digits[0:2]), int(digits[2:4])
    if not 1 <= month <= 12:
        return False
    days_in_month = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return 1 <= day <= days_in_month


class Pseudonymiser:
    """Turns CPR numbers into keyed pseudonyms with one secret key."""

    def __init__(self, key: str) -> None:
        if not key or len(key) < 16:
            raise ValueError("The pseudonym key must be a secret of at least 16 characters (HELHED_PSEUDONYM_KEY).")
        self._key = key.encode("utf-8")

    def pseudonymise_cpr(self, cpr: str) -> str:
        return hmac.new(self._key, normalise_cpr(cpr).encode("ascii"), hashlib.sha256).hexdigest()
