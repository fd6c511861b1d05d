"""Phones: one canonical E.164 per person, from typed numbers, WhatsApp JIDs and Cloud API wa_ids."""

from __future__ import annotations

import pytest

from plugins.inbox.phones import (
    brazil_variants,
    canonical_phone,
    format_phone,
    normalize_phone,
    phone_from_whatsapp_id,
)

MOBILE = "+5511988887777"
MOBILE_WITHOUT_NINE = "+551188887777"
LANDLINE = "+551133334444"

# -- normalize_phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "(11) 98888-7777",
        "11 98888-7777",
        "11988887777",
        "+55 11 98888 7777",
        "+55 (11) 98888-7777",
        "+5511988887777",
        "5511988887777",
        "55 11 98888-7777",
        "  +55.11.98888.7777  ",
        "tel:+55-11-98888-7777",
        "\uff15\uff15\uff11\uff11\uff19\uff18\uff18\uff18\uff18\uff17\uff17\uff17\uff17",  # full-width digits
    ],
)
def test_a_brazilian_mobile_in_any_usual_spelling_is_one_e164(text: str) -> None:
    assert normalize_phone(text) == MOBILE


@pytest.mark.parametrize("text", ["(11) 3333-4444", "1133334444", "+55 11 3333-4444", "551133334444"])
def test_a_brazilian_landline_keeps_its_ten_digits(text: str) -> None:
    assert normalize_phone(text) == LANDLINE


@pytest.mark.parametrize("text", ["(11) 8888-7777", "551188887777", "+55 11 8888-7777", "1188887777"])
def test_a_brazilian_mobile_typed_without_its_ninth_digit_gets_it_back(text: str) -> None:
    assert normalize_phone(text) == MOBILE


def test_area_code_55_is_not_mistaken_for_the_country_code() -> None:
    # 11 digits starting with 55 are a national number of Santa Maria (RS); 13 digits are +55 55 ...
    assert normalize_phone("55999998888") == "+5555999998888"
    assert normalize_phone("5555999998888") == "+5555999998888"
    assert normalize_phone("555599998888") == "+5555999998888"


def test_the_country_code_rule_applies_whatever_the_region() -> None:
    assert normalize_phone("5511988887777", region="US") == MOBILE


def test_other_regions_read_national_numbers_their_own_way() -> None:
    assert normalize_phone("(650) 555-1234", region="US") == "+16505551234"
    assert normalize_phone("650 555 1234", region="us") == "+16505551234"
    # Argentina: a mobile dialled nationally as 011 15 ... is +54 9 11 ... internationally.
    assert normalize_phone("011 15-2345-6789", region="AR") == "+5491123456789"
    assert normalize_phone("55 1234 5678", region="MX") == "+525512345678"


def test_an_international_number_ignores_the_region() -> None:
    assert normalize_phone("+1 650 555 1234") == "+16505551234"
    assert normalize_phone("+54 9 11 2345-6789") == "+5491123456789"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"


def test_a_mexican_mobile_with_the_old_one_after_the_country_code_loses_it() -> None:
    assert normalize_phone("+52 1 55 1234 5678") == "+525512345678"
    assert normalize_phone("+52 55 1234 5678") == "+525512345678"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "+",
        "+55",
        "123",
        "oi, tudo bem?",
        "garbage",
        "+999 123 4567",  # no such country code
        "+55 20 98888-7777",  # no area code 20 in Brazil
        "+55 11 98888-77777",  # a digit too many
        "0000000000",
        "5511988887777" * 20,
    ],
)
def test_what_is_not_a_valid_number_is_none(text: str) -> None:
    assert normalize_phone(text) is None


def test_an_unknown_region_reads_no_national_number() -> None:
    assert normalize_phone("11 98888-7777", region="XX") is None
    assert normalize_phone("+55 11 98888-7777", region="XX") == MOBILE


# -- canonical_phone -------------------------------------------------------------------------------


def test_a_brazilian_mobile_without_the_nine_is_canonical_with_it() -> None:
    assert canonical_phone(MOBILE_WITHOUT_NINE) == MOBILE


@pytest.mark.parametrize("start", ["6", "7", "8", "9"])
def test_every_old_mobile_start_gets_the_nine(start: str) -> None:
    assert canonical_phone(f"+5521{start}1234567") == f"+55219{start}1234567"


@pytest.mark.parametrize("start", ["2", "3", "4", "5"])
def test_a_landline_is_never_given_a_nine(start: str) -> None:
    assert canonical_phone(f"+5521{start}1234567") == f"+5521{start}1234567"


@pytest.mark.parametrize(
    "e164",
    [MOBILE, LANDLINE, "+16505551234", "+5491123456789", "+525512345678", "+442079460958", "not a phone", ""],
)
def test_canonical_numbers_and_non_numbers_come_back_unchanged(e164: str) -> None:
    assert canonical_phone(e164) == e164


@pytest.mark.parametrize("e164", [MOBILE_WITHOUT_NINE, MOBILE, LANDLINE, "+5215512345678", "+16505551234", "x"])
def test_canonical_phone_is_idempotent(e164: str) -> None:
    once = canonical_phone(e164)

    assert canonical_phone(once) == once


def test_no_nine_is_added_where_it_makes_no_valid_number() -> None:
    # Area code 20 does not exist: the nine would make it no more valid, so nothing changes.
    assert canonical_phone("+552088887777") == "+552088887777"


def test_canonical_phone_takes_the_old_one_out_of_a_mexican_mobile() -> None:
    assert canonical_phone("+5215512345678") == "+525512345678"


# -- brazil_variants -------------------------------------------------------------------------------


def test_a_brazilian_mobile_has_both_spellings_canonical_first() -> None:
    assert brazil_variants(MOBILE) == (MOBILE, MOBILE_WITHOUT_NINE)
    assert brazil_variants(MOBILE_WITHOUT_NINE) == (MOBILE, MOBILE_WITHOUT_NINE)


def test_a_mobile_issued_with_the_nine_has_no_old_spelling() -> None:
    # Without the nine, +55 11 2345-6789 is a landline: somebody else's number.
    assert brazil_variants("+5511923456789") == ("+5511923456789",)


@pytest.mark.parametrize("e164", [LANDLINE, "+16505551234", "+5491123456789", "+525512345678", "+552088887777", "?"])
def test_anything_but_a_brazilian_mobile_has_one_spelling(e164: str) -> None:
    assert brazil_variants(e164) == (e164,)


def test_each_variant_is_canonical_to_the_first() -> None:
    variants = brazil_variants("+5547991234567")

    assert variants == ("+5547991234567", "+554791234567")
    assert {canonical_phone(variant) for variant in variants} == {variants[0]}


# -- phone_from_whatsapp_id ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "jid",
    [
        "5511988887777@s.whatsapp.net",
        "551188887777@s.whatsapp.net",
        "5511988887777:12@s.whatsapp.net",
        "551188887777:3@s.whatsapp.net",
        "5511988887777@c.us",
        "5511988887777@S.WhatsApp.Net",
        " 5511988887777@s.whatsapp.net\n",
        "5511988887777",
        "551188887777",
    ],
)
def test_a_brazilian_whatsapp_id_in_any_form_is_the_canonical_mobile(jid: str) -> None:
    assert phone_from_whatsapp_id(jid) == MOBILE


def test_a_brazilian_landline_on_whatsapp_business_keeps_its_ten_digits() -> None:
    assert phone_from_whatsapp_id("551133334444@s.whatsapp.net") == LANDLINE


def test_a_cloud_api_wa_id_of_another_country_is_read_as_international() -> None:
    assert phone_from_whatsapp_id("16505551234") == "+16505551234"
    assert phone_from_whatsapp_id("442079460958") == "+442079460958"


def test_an_argentine_mobile_keeps_the_nine_after_54() -> None:
    assert phone_from_whatsapp_id("5491123456789@s.whatsapp.net") == "+5491123456789"
    assert phone_from_whatsapp_id("5491123456789") == "+5491123456789"


def test_a_mexican_mobile_id_with_the_old_one_is_the_current_number() -> None:
    assert phone_from_whatsapp_id("5215512345678@s.whatsapp.net") == "+525512345678"
    assert phone_from_whatsapp_id("5215512345678") == "+525512345678"
    assert phone_from_whatsapp_id("525512345678") == "+525512345678"


@pytest.mark.parametrize(
    "jid",
    [
        "120363025246125486@g.us",  # group
        "5511988887777-1612345678@g.us",  # group, old style: creator and creation time
        "5511988887777@g.us",
        "123456789012345@lid",  # LID: not a phone number
        "5511988887777@lid",  # even when it looks like one
        "5511988887777:4@lid",
        "status@broadcast",
        "1612345678@broadcast",
        "120363025246125486@newsletter",
        "5511988887777@example.com",
        "0@c.us",  # WhatsApp's own announcements
        "@s.whatsapp.net",
        "abc@s.whatsapp.net",
        "55119888877771234@s.whatsapp.net",  # more digits than E.164 allows
        "5520988887777@s.whatsapp.net",  # no area code 20
        "",
    ],
)
def test_ids_that_are_not_a_phone_number_are_none(jid: str) -> None:
    assert phone_from_whatsapp_id(jid) is None


def test_a_leading_plus_on_a_wa_id_is_tolerated() -> None:
    assert phone_from_whatsapp_id("+5511988887777") == MOBILE


# -- format_phone ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        (MOBILE, "+55 11 98888-7777"),
        (LANDLINE, "+55 11 3333-4444"),
        ("+16505551234", "+1 650-555-1234"),
        ("+5491123456789", "+54 9 11 2345-6789"),
        ("+525512345678", "+52 55 1234 5678"),
    ],
)
def test_a_number_is_shown_in_international_format(e164: str, shown: str) -> None:
    assert format_phone(e164) == shown


@pytest.mark.parametrize("value", ["", "not a phone", "5511988887777"])
def test_what_is_not_e164_is_shown_as_it_came(value: str) -> None:
    assert format_phone(value) == value
