import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.phones import format_phone, normalize_phone, try_normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+8613800138000", "+8613800138000"),
        ("8613800138000", "+8613800138000"),  # international without plus, as PBXes send it
        ("008613800138000", "+8613800138000"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("+447700900123", "+447700900123"),
    ],
)
def test_caller_ids_normalize_to_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw, "US") == expected


def test_national_number_uses_the_region() -> None:
    assert normalize_phone("02161234567", "CN") == "+862161234567"


@pytest.mark.parametrize("raw", ["", "<unknown>", "anonymous", "abc", "12"])
def test_unparseable_numbers_get_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_phone(raw)


def test_format_for_display() -> None:
    assert format_phone("+8613800138000") == "+86 138 0013 8000"


@given(st.text(max_size=40))
def test_normalizing_never_crashes(raw: str) -> None:
    result = try_normalize_phone(raw)
    assert result is None or result.startswith("+")
