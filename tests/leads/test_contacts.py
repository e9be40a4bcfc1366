import pytest
from django.core.exceptions import ValidationError

from leads.contacts import format_phone, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),  # Russian trunk prefix 8
        ("9161234567", "+79161234567"),  # no country code: read as Russian
        ("+7(495)123-45-67", "+74951234567"),  # Moscow landline
        ("0079161234567", "+79161234567"),  # international 00 prefix
        ("+44 20 7946 0958", "+442079460958"),  # London
        ("+1 (212) 555-0143", "+12125550143"),  # New York
        ("+375 29 123-45-67", "+375291234567"),  # Minsk mobile
        ("  +7 916 123 45 67  ", "+79161234567"),
        ("", ""),
    ],
)
def test_it_normalises_phones_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12345", "+7 916 123", "not a phone", "+999 123456789", "8" * 41, "+7 (000) 000-00-00"]
)
def test_it_rejects_invalid_phones(raw):
    with pytest.raises(ValidationError):
        normalize_phone(raw)


def test_it_formats_stored_phones_for_people():
    assert format_phone("+79161234567") == "+7 916 123-45-67"
    assert format_phone("") == ""


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ivan.Petrov@Example.RU", "ivan.petrov@example.ru"),
        ("  anna@firma.ru ", "anna@firma.ru"),
        ("info@xn--80aswg.xn--p1ai", "info@xn--80aswg.xn--p1ai"),
        ("", ""),
    ],
)
def test_it_normalises_emails(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["ivan@", "@example.ru", "ivan petrov@example.ru", "a" * 250 + "@x.ru", "ivan@example"]
)
def test_it_rejects_invalid_emails(raw):
    with pytest.raises(ValidationError):
        normalize_email(raw)
