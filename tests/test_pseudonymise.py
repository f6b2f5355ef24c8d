import pytest

from helhed.pseudonymise import Pseudonymiser, is_valid_cpr, normalise_cpr


def test_same_cpr_same_key_same_pseudonym_across_formats():
    p = Pseudonymiser("a-secret-key-of-some-length")
    assert p.pseudonymise_cpr("010180-1234") == p.pseudonymise_cpr("0101801234")
    assert len(p.pseudonymise_cpr("0101801234")) == 64


def test_other_key_gives_other_pseudonym():
    a = Pseudonymiser("a-secret-key-of-some-length").pseudonymise_cpr("0101801234")
    b = Pseudonymiser("another-secret-key-entirely").pseudonymise_cpr("0101801234")
    assert a != b


def test_short_key_is_refused():
    with pytest.raises(ValueError, match="HELHED_PSEUDONYM_KEY"):
        Pseudonymiser("short")


@pytest.mark.parametrize("value,valid", [
    ("0101801234", True), ("010180-1234", True), ("2902004234", True), ("2902011234", False), ("2902974234", False), ("2902964234", True), ("2902961234", True),
    ("3202801234", False), ("0113801234", False), ("01018012345", False), ("01018O1234", False), ("", False),
])
def test_cpr_validity(value, valid):
    assert is_valid_cpr(value) is valid


def test_normalise_strips_dash_and_spaces():
    assert normalise_cpr(" 010180-1234 ") == "0101801234"
