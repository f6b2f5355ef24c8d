"""One rule for what looks like a CPR number, and one function that removes it from any text.

Raw CPR numbers may exist only in the ``landing`` schema and the delivery folders (domain brief,
section 8). Everything else that the platform writes — staging rows, file names in ``audit``,
rejection reasons, gate results, Data Docs, XCom values, log lines, alerts — passes through
:func:`redact` (or :func:`redact_value` for nested structures) first. The loader applies the same
rule in SQL (:data:`CPR_LIKE_SQL`) to free-text fields, so both places agree on what is "CPR-like".

The rule is deliberately broader than a valid CPR number: ten digits, optionally with a hyphen
after the sixth, whose first six digits are shaped like a date (day 01-31, month 01-12), not
part of a longer run of digits. It does not check that the date exists (31 February is caught
too) nor the modulus-11 control digit (not used since 2007): a false positive costs a masked
number in a free-text field, a false negative leaks a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

#: The marker that replaces a CPR-like value.
CPR_MARKER = "<cpr>"

_DAY = "(?:0[1-9]|[12][0-9]|3[01])"
_MONTH = "(?:0[1-9]|1[0-2])"
#: The pattern, valid both as a Python ``re`` and a PostgreSQL ARE (lookbehind needs PG >= 9.6).
CPR_LIKE_PATTERN = f"(?<![0-9]){_DAY}{_MONTH}[0-9]{{2}}-?[0-9]{{4}}(?![0-9])"
CPR_LIKE = re.compile(CPR_LIKE_PATTERN)
#: The same pattern for a PostgreSQL ``regexp_replace(text, CPR_LIKE_SQL, marker, 'g')``.
CPR_LIKE_SQL = CPR_LIKE_PATTERN


def count_cpr_like(text: str) -> int:
    """How many CPR-like values ``text`` holds."""
    return len(CPR_LIKE.findall(text))


def redact(text: object) -> str:
    """``text`` as a string with every CPR-like value replaced by :data:`CPR_MARKER`."""
    return CPR_LIKE.sub(CPR_MARKER, str(text))


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, tuples, strings, numbers) with every string
    redacted; dictionary keys too. Numbers are kept: a CPR number delivered as an integer is
    caught by :func:`redact` on its text, so integers of ten digits are redacted as text."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        text = str(value)
        return redact(text) if CPR_LIKE.search(text) else value
    if isinstance(value, Mapping):
        return {redact(k) if isinstance(k, str) else k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [redact_value(v) for v in value]
        return items if not isinstance(value, tuple) else tuple(items)
    return redact(value)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (and exception text) of every record.

    Installed on the handlers of the root logger by :func:`install_log_redaction`, so a CPR
    number that reaches a log call by accident (a file name, an exception from a driver that
    quotes a value) is masked before any handler writes it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the caller's bug; do not lose the record
            message = str(record.msg)
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add :class:`RedactingFilter` to ``logger`` (default the root logger) and its handlers, once."""
    target = logger or logging.getLogger()
    for holder in (target, *target.handlers):
        if not any(isinstance(f, RedactingFilter) for f in holder.filters):
            holder.addFilter(RedactingFilter())
