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
from datetime import date

CPR_PATTERN = re.compile(r"^\d{6}-?\d{4}$")


def normalise_cpr(value: str) -> str:
    """Strip spaces and the optional dash: ``010180-1234`` -> ``0101801234``."""
    return value.strip().replace("-", "")


def cpr_birth_date(value: str) -> date | None:
    """The birth date a CPR number encodes, or None when it is not a real date.

    The century follows from the 7th digit (CPR-kontoret's rule): 0-3 → 1900s; 4 and 9 → 2000s
    for years 00-36, else 1900s; 5-8 → 2000s for years 00-57, else 1800s.
    """
    digits = normalise_cpr(value)
    day, month, yy, seventh = int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:
        century = 2000 if yy <= 57 else 1800
    try:
        return date(century + yy, month, day)
    except ValueError:
        return None


def is_valid_cpr(value: str) -> bool:
    """True for a well-formed CPR: 10 digits (optional dash) that encode a real birth date.

    The modulus-11 check is not applied: CPR numbers issued since 2007 need not satisfy it.
    """
    return bool(CPR_PATTERN.match(value.strip())) and cpr_birth_date(value) is not None


def key_fingerprint(key: str) -> str:
    """A short public name for a key (to record rotations) that reveals nothing about it."""
    return hmac.new(key.encode("utf-8"), b"helhed key fingerprint", hashlib.sha256).hexdigest()[:16]


def _check_key(key: str) -> bytes:
    if not key or len(key) < 16:
        raise ValueError("A pseudonym key must be a secret of at least 16 characters (HELHED_PSEUDONYM_KEY).")
    return key.encode("utf-8")


class Pseudonymiser:
    """Turns CPR numbers into keyed pseudonyms with a chain of secret keys.

    The first key pseudonymises the CPR number; each later key (one per rotation, see
    ``helhed.keys``) is applied to the result of the one before. Rotating therefore needs no
    raw CPR: the warehouse's existing pseudonyms are re-keyed with the new key alone.
    """

    def __init__(self, key: str, rotation_keys: tuple[str, ...] = ()) -> None:
        self._keys = [_check_key(key), *(_check_key(k) for k in rotation_keys)]
        self.fingerprints = [key_fingerprint(k) for k in (key, *rotation_keys)]
        # One keyed HMAC per key, copied per message: the key is padded and hashed once, not per
        # pseudonym (the loader makes one per distinct CPR of a file).
        self._keyed = [hmac.new(k, digestmod=hashlib.sha256) for k in self._keys]

    @classmethod
    def from_secrets(cls, secrets: dict[str, str]) -> Pseudonymiser:
        rotations = tuple(k for k in secrets.get("HELHED_PSEUDONYM_ROTATION_KEYS", "").split(",") if k.strip())
        return cls(secrets["HELHED_PSEUDONYM_KEY"], rotations)

    def digest_text(self, text: str) -> str:
        """The keyed HMAC chain of any text, as a pseudonym is of a CPR number (no normalising).

        The loader identifies a delivered file by the digest of its raw name, which may hold a
        CPR number: a plain hash of it could be reversed by hashing every CPR number, this
        cannot without the key. A key rotation re-keys stored digests like pseudonyms."""
        value = text
        for keyed in self._keyed:
            mac = keyed.copy()
            mac.update(value.encode("utf-8"))
            value = mac.hexdigest()
        return value

    def pseudonymise_cpr(self, cpr: str) -> str:
        value = normalise_cpr(cpr)
        for keyed in self._keyed:   # = hmac.new(key, value, sha256).hexdigest(), key by key
            mac = keyed.copy()
            mac.update(value.encode("ascii"))
            value = mac.hexdigest()
        return value


def rekey(pseudonym: str, key: bytes | str) -> str:
    """Apply one more key to an existing pseudonym (a rotation step)."""
    key_bytes = key if isinstance(key, bytes) else _check_key(key)
    return hmac.new(key_bytes, pseudonym.encode("ascii"), hashlib.sha256).hexdigest()
