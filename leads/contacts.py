"""Normalising how people can be reached, so the same person is found again.

Phones become E.164 (+79161234567) with the `phonenumbers` library: numbers
without a country code are read as Russian, a leading 8 is the Russian trunk
prefix. Emails are trimmed, checked and lower-cased (mail providers treat the
local part case-insensitively in practice, and duplicates by case are the
common failure).
"""

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

DEFAULT_REGION = "RU"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of `raw`, or ValidationError. Empty input gives ''."""
    value = (raw or "").strip()
    if not value:
        return ""
    if len(value) > 40:
        raise ValidationError(_("The phone number is too long."), code="phone_too_long")
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            _("Enter a valid phone number, e.g. +7 916 123-45-67."), code="phone_invalid"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(_("Enter a valid phone number, e.g. +7 916 123-45-67."), code="phone_invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Human form of a stored E.164 number (+7 916 123-45-67)."""
    if not e164:
        return ""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def normalize_email(raw: str) -> str:
    """Trimmed, validated, lower-cased email, or ValidationError. Empty gives ''."""
    value = (raw or "").strip()
    if not value:
        return ""
    if len(value) > 254:
        raise ValidationError(_("The email address is too long."), code="email_too_long")
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError(_("Enter a valid email address."), code="email_invalid") from None
    return value.lower()
