"""Phone numbers as channel identities: one canonical E.164 string per person, however a channel spells it.

WhatsApp gateways, Meta's Cloud API and people typing into a form write the same number differently:
``(11) 98888-7777``, ``5511988887777``, ``551188887777@s.whatsapp.net``. Contacts are stored and matched by
the canonical form these functions return, so a customer who writes on WhatsApp and was registered by hand
is one contact, not two.

Two national quirks make "canonical" more than E.164:

- Brazil put a ninth digit in front of every mobile number (2012 to 2016): ``11 8888-7777`` became
  ``11 98888-7777``. WhatsApp accounts older than that still have ids without it. A Brazilian number whose
  8-digit subscriber part starts with 6, 7, 8 or 9 (landlines start with 2 to 5) is such a mobile, and gets
  its nine back. :func:`brazil_variants` gives both spellings, to find rows or chats kept the old way.
- Mexico dropped the ``1`` its mobiles carried after the country code (2019), but WhatsApp ids often keep
  it (``5215512345678``); it is taken out.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

__all__ = [
    "DEFAULT_REGION",
    "brazil_variants",
    "canonical_phone",
    "format_phone",
    "normalize_phone",
    "phone_from_whatsapp_id",
]

DEFAULT_REGION = "BR"
"""Numbers written without ``+`` and a country code are read as Brazilian unless the caller says otherwise."""

_BRAZIL, _MEXICO = 55, 52
_OLD_MOBILE_STARTS = "6789"
"""The first digit of a Brazilian mobile's 8-digit subscriber number before the ninth digit was added."""

# What people put between digits: spaces, brackets, dots, dashes and slashes.
_FORMATTING = re.compile(r"[\s().\-/]+")
_BRAZIL_INTERNATIONAL = re.compile(r"55[0-9]{10,11}")
# The user part of a JID or a Cloud API wa_id: a country code and a number, at most 15 digits (E.164).
_WHATSAPP_USER = re.compile(r"\+?([0-9]{6,15})")
_PHONE_SERVERS = frozenset({"s.whatsapp.net", "c.us", "hosted"})
"""JID servers whose user part is a phone number; ``g.us``, ``lid``, ``broadcast``, ``newsletter`` are not."""


def normalize_phone(text: str, region: str = DEFAULT_REGION) -> str | None:
    """``text`` as canonical E.164 (``+5511988887777``), or ``None`` when it is not a valid phone number.

    Spaces, brackets, dots and dashes are ignored. A number without ``+`` is read as a national number of
    ``region``, except 12 or 13 digits starting with 55: that is how WhatsApp and spreadsheet exports write
    Brazilian numbers with their country code, and no Brazilian national number is that long. A Brazilian
    mobile missing its ninth digit gets it back, as :func:`canonical_phone` does.
    """
    text = text.strip()
    digits = _FORMATTING.sub("", text)
    if _BRAZIL_INTERNATIONAL.fullmatch(digits):
        text = f"+{digits}"
    return _valid_e164(text, region.upper())


def canonical_phone(e164: str) -> str:
    """The one spelling a number is stored and matched by: a Brazilian mobile with its ninth digit.

    ``+551188887777`` becomes ``+5511988887777``, and a Mexican mobile loses the ``1`` after ``+52``, when the
    result is a valid number. Every other value, numbers or not, comes back unchanged, so applying the
    function twice gives what applying it once did.
    """
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    repaired = _repaired(number)
    return _format(repaired) if repaired is not number else e164


def brazil_variants(e164: str) -> tuple[str, ...]:
    """Both spellings of a Brazilian mobile, canonical (with the ninth digit) first; ``(e164,)`` for any other.

    Contacts saved and WhatsApp accounts created before the ninth digit have the 8-digit form, so lookups
    try every variant. A mobile whose digits after the nine start with 1 to 5 was issued with the nine: without
    it, it would be somebody's landline, so it has one spelling only.
    """
    canonical = canonical_phone(e164)
    try:
        number = phonenumbers.parse(canonical, None)
    except NumberParseException:
        return (e164,)
    national = str(number.national_number)
    if number.country_code != _BRAZIL or not _has_ninth_digit(national) or not phonenumbers.is_valid_number(number):
        return (e164,)
    return (canonical, f"+{_BRAZIL}{national[:2]}{national[3:]}")


def phone_from_whatsapp_id(jid: str) -> str | None:
    """The canonical E.164 number behind a WhatsApp id, or ``None`` when the id is not a phone number.

    Reads Evolution/Baileys JIDs (``5511988887777@s.whatsapp.net``, ``...:12@s.whatsapp.net`` from a linked
    device, the older ``...@c.us``) and Meta Cloud API ``wa_id`` values (``16505551234``). Groups (``@g.us``),
    broadcast lists and status (``@broadcast``), channels (``@newsletter``) and LIDs (``@lid``, opaque ids
    WhatsApp uses to hide a number) are not: a LID is resolved to a number by the gateway, never read as one.
    """
    user, at, server = jid.strip().partition("@")
    if at and server.lower() not in _PHONE_SERVERS:
        return None
    # Baileys writes "user_agent:device@server"; the number is the user alone.
    user = user.split(":", 1)[0].split("_", 1)[0]
    match = _WHATSAPP_USER.fullmatch(user)
    if match is None:
        return None
    return _valid_e164(f"+{match.group(1)}", None)


def format_phone(e164: str) -> str:
    """``e164`` as people read it across borders (``+55 11 98888-7777``); unchanged when it is not a number."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


# -- repairs ---------------------------------------------------------------------------------------


def _valid_e164(text: str, region: str | None) -> str | None:
    """The repaired E.164 of ``text`` read in ``region``, when it is a valid number."""
    try:
        number = _repaired(phonenumbers.parse(text, region))
    except NumberParseException:
        return None
    return _format(number) if phonenumbers.is_valid_number(number) else None


def _repaired(number: PhoneNumber) -> PhoneNumber:
    """``number`` with a Brazilian mobile's ninth digit put back or a Mexican mobile's old 1 taken out.

    The repair is kept only when it gives a valid number: anything else is returned as it came, the same object.
    """
    national = str(number.national_number)
    if number.country_code == _BRAZIL and _lacks_ninth_digit(national):
        candidate = f"{national[:2]}9{national[2:]}"
    elif number.country_code == _MEXICO and len(national) == 11 and national.startswith("1"):
        candidate = national[1:]
    else:
        return number
    repaired = PhoneNumber(country_code=number.country_code, national_number=int(candidate))
    return repaired if phonenumbers.is_valid_number(repaired) else number


def _lacks_ninth_digit(national: str) -> bool:
    """An area code and eight digits that start like a mobile's did before the ninth digit."""
    return len(national) == 10 and national[2] in _OLD_MOBILE_STARTS


def _has_ninth_digit(national: str) -> bool:
    """An area code, the nine, and eight digits that could have been a mobile before the nine was added."""
    return len(national) == 11 and national[2] == "9" and national[3] in _OLD_MOBILE_STARTS


def _format(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
