"""The one CPR-like rule (helhed.redaction): what it masks, what it leaves, and that the log filter applies it."""

from __future__ import annotations

import logging

import pytest

from helhed.redaction import CPR_MARKER, RedactingFilter, count_cpr_like, redact, redact_value


@pytest.mark.parametrize("text", ["0101801234", "010180-1234", "Husleje 3112991234 jan", "cpr:290280-4321.", "a_0101801234_b"])
def test_cpr_like_values_are_masked(text: str) -> None:
    assert CPR_MARKER in redact(text)
    assert count_cpr_like(text) == 1


@pytest.mark.parametrize("text", ["12345678901", "9913801234", "0113801234", "010180--1234", "528201003", "2025-01-31", "Beløb 1.234,50"])
def test_other_numbers_are_kept(text: str) -> None:
    assert redact(text) == text


def test_nested_values_and_keys_are_redacted() -> None:
    value = {"file": "posteringer_0101801234.csv", "rows": [("310599-1234", 7)], "0101801234": 2101801234}
    assert redact_value(value) == {"file": f"posteringer_{CPR_MARKER}.csv", "rows": [(CPR_MARKER, 7)], CPR_MARKER: CPR_MARKER}


def test_log_filter_masks_message_args_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("helhed.test_redaction")
    logger.addFilter(RedactingFilter())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("loaded %s", "landing/cpr/0101801234.csv")
            try:
                raise ValueError("bad value 010180-1234")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.filters.clear()
    text = caplog.text
    assert "0101801234" not in text and "010180-1234" not in text
    assert text.count(CPR_MARKER) >= 2   # the message, and the exception (its text and source line)
