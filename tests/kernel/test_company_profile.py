"""The company profile: its rules, the opening hours in time zones, the logo, the API and the page."""

from __future__ import annotations

import io
import json
import secrets
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select

from kernel.audit.models import AuditEntry
from kernel.db.session import set_session_scope
from kernel.storage import current_storage
from kernel.tenancy import profile
from kernel.tenancy.models import Organization
from kernel.tenancy.profile_views import timezone_groups

EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true", "Accept-Language": "en"}
WEEKDAYS = {day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def org_with(hours: dict, timezone: str = "America/Sao_Paulo", **fields: object) -> SimpleNamespace:
    values = {
        "name": "Padaria Pão Quente",
        "timezone": timezone,
        "business_hours": hours,
        "about": "",
        "website": None,
        "contact_email": None,
        "contact_phone": None,
        "refund_policy": "",
        "privacy_policy": "",
    }
    values.update(fields)
    return SimpleNamespace(**values)


def png(width: int = 64, height: int = 64, mode: str = "RGBA", color: object = (200, 30, 90, 255)) -> bytes:
    output = io.BytesIO()
    Image.new(mode, (width, height), color).save(output, format="PNG")
    return output.getvalue()


async def create_member(kernel, tenant, role: str = "operator") -> tuple[str, str]:
    """Another person of ``tenant``'s organization with ``role``; returns their email and password."""
    from kernel.auth.actor import Actor
    from kernel.auth.passwords import hash_password
    from kernel.auth.users import invite_user

    email = f"{role}-{secrets.token_hex(4)}@example.com"
    password = "a long password 1"
    seeder = Actor(
        kind="user",
        user_id=None,
        tenant_id=tenant.tenant_id,
        email="seed",
        name="seed",
        is_platform_admin=False,
        enabled_plugins=frozenset(),
        role="admin",
    )
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        user, _ = await invite_user(session, seeder, email=email, name=role, role_key=role, language=None)
        user.password_hash = hash_password(password)
        await session.commit()
    return email, password


async def add_member(kernel, client, tenant, role: str) -> dict[str, str]:
    """API headers of another person of ``tenant``'s organization with ``role``."""
    email, password = await create_member(kernel, tenant, role)
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", **EN}


async def load_org(kernel, tenant_id) -> Organization:
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        org = await session.get(Organization, tenant_id)
        assert org is not None
        return org


async def audit_entries(kernel, tenant_id, action: str) -> list[AuditEntry]:
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        rows = await session.execute(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


# -- Opening hours, time zones ------------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_an_organization_with_no_hours_counts_as_always_open():
    org = org_with({})
    moment = at("2026-06-07T03:00:00+00:00")
    assert profile.is_open(org, moment) is True
    assert profile.next_opening(org, moment) == moment


def test_opening_hours_follow_sao_paulo_all_year_without_daylight_saving():
    org = org_with({"mon": [["09:00", "18:00"]]})
    # Brazil keeps UTC-3 in January (its old summer time) and in July alike.
    assert profile.is_open(org, at("2026-01-05T12:00:00+00:00")) is True  # Monday 09:00 in São Paulo
    assert profile.is_open(org, at("2026-01-05T11:59:00+00:00")) is False  # 08:59
    assert profile.is_open(org, at("2026-07-06T20:59:00+00:00")) is True  # Monday 17:59
    assert profile.is_open(org, at("2026-07-06T21:00:00+00:00")) is False  # 18:00: closing is exclusive


def test_the_weekday_is_the_one_of_the_organizations_time_zone():
    org = org_with({"mon": [["09:00", "10:00"]]}, timezone="Asia/Tokyo")
    # Sunday 23:30 UTC is Monday 08:30 in Tokyo; Monday 00:00 UTC is Monday 09:00 there.
    assert profile.is_open(org, at("2026-06-07T23:30:00+00:00")) is False
    assert profile.is_open(org, at("2026-06-08T00:00:00+00:00")) is True


def test_hours_keep_the_wall_clock_across_a_daylight_saving_change():
    org = org_with({"mon": [["09:00", "17:00"]]}, timezone="America/New_York")
    # 13:00 UTC is 08:00 in New York on 2 March 2026 (EST) and 09:00 on 9 March (EDT).
    assert profile.is_open(org, at("2026-03-02T13:00:00+00:00")) is False
    assert profile.is_open(org, at("2026-03-09T13:00:00+00:00")) is True
    opening = profile.next_opening(org, at("2026-03-02T22:30:00+00:00"))
    assert opening is not None
    assert opening.astimezone(UTC) == at("2026-03-09T13:00:00+00:00")
    assert (opening.hour, opening.minute, opening.weekday()) == (9, 0, 0)


def zone_label(groups: list[tuple[str, list[tuple[str, str]]]], name: str) -> str:
    return next(label for _, options in groups for zone, label in options if zone == name)


def test_the_time_zone_options_show_the_offset_of_the_moment_across_a_daylight_saving_change():
    # New York leaves EST at 07:00 UTC on 8 March 2026; the list a minute later is not the cached one.
    before = timezone_groups("America/Sao_Paulo", at("2026-03-08T06:59:00+00:00"))
    after = timezone_groups("America/Sao_Paulo", at("2026-03-08T07:00:00+00:00"))
    assert zone_label(before, "America/New_York") == "New York (UTC\u221205:00)"
    assert zone_label(after, "America/New_York") == "New York (UTC\u221204:00)"
    assert zone_label(after, "America/Sao_Paulo").endswith("(UTC\u221203:00)")
    assert after[0][0] == "Brazil"


def test_the_time_zone_options_keep_an_alias_the_organization_uses_and_leave_out_non_places():
    groups = timezone_groups("Brazil/East", at("2026-06-01T12:00:00+00:00"))
    assert groups[-1][1] == [("UTC", "UTC"), ("Brazil/East", "Brazil/East (UTC\u221203:00)")]
    listed = {zone for _, options in timezone_groups("localtime") for zone, _ in options}
    assert "localtime" not in listed and "Factory" not in listed
    assert sum(1 for _, options in groups for _ in options) > 400


def test_an_interval_that_runs_past_midnight_is_two_intervals_touching_at_midnight():
    org = org_with({"fri": [["22:00", "24:00"]], "sat": [["00:00", "02:00"]]})
    assert profile.is_open(org, at("2026-06-05T21:59:00-03:00")) is False  # Friday
    assert profile.is_open(org, at("2026-06-05T23:59:00-03:00")) is True
    assert profile.is_open(org, at("2026-06-06T01:30:00-03:00")) is True  # Saturday
    assert profile.is_open(org, at("2026-06-06T02:00:00-03:00")) is False


def test_next_opening_is_later_the_same_day_or_on_the_next_open_day():
    org = org_with(WEEKDAYS)
    zone = ZoneInfo("America/Sao_Paulo")
    lunch = profile.next_opening(org, at("2026-06-05T12:30:00-03:00"))  # Friday lunch
    assert lunch == datetime(2026, 6, 5, 13, 0, tzinfo=zone)
    weekend = profile.next_opening(org, at("2026-06-06T10:00:00-03:00"))  # Saturday
    assert weekend == datetime(2026, 6, 8, 9, 0, tzinfo=zone)
    assert weekend.tzinfo is not None and weekend.utcoffset() == timedelta(hours=-3)
    open_now = at("2026-06-08T10:00:00-03:00")
    assert profile.next_opening(org, open_now) == open_now


def test_next_opening_can_be_a_week_later_on_the_same_weekday():
    org = org_with({"mon": [["09:00", "12:00"]]})
    opening = profile.next_opening(org, at("2026-06-08T15:00:00-03:00"))  # Monday afternoon
    assert opening == datetime(2026, 6, 15, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


def test_an_organization_closed_every_day_never_opens():
    org = org_with({day: [] for day in profile.DAYS})
    assert profile.is_open(org, at("2026-06-08T12:00:00+00:00")) is False
    assert profile.next_opening(org, at("2026-06-08T12:00:00+00:00")) is None


def test_opening_hours_need_an_aware_moment():
    with pytest.raises(ValueError):
        profile.is_open(org_with(WEEKDAYS), datetime(2026, 6, 8, 12, 0))


def test_hours_in_words_group_days_with_the_same_hours():
    org = org_with({**WEEKDAYS, "sat": [["09:00", "13:00"]], "sun": []})
    assert profile.hours_in_words(org) == (
        "Monday to Friday: 09:00-12:00, 13:00-18:00; Saturday: 09:00-13:00; Sunday: closed"
    )
    assert profile.hours_in_words(org_with({})) == "not set"
    assert profile.hours_in_words(org, language="pt-BR").startswith("Segunda-feira to Sexta-feira")


def test_the_agent_context_tells_what_a_customer_may_ask():
    org = org_with(
        {**WEEKDAYS, "sat": [], "sun": []},
        about="Pães artesanais desde 1998.",
        website="https://paoquente.com.br",
        contact_email="contato@paoquente.com.br",
        contact_phone="+5511987654321",
        refund_policy="Trocas em até 7 dias.",
    )
    text = profile.agent_context(org)
    assert text.splitlines()[0] == "Company: Padaria Pão Quente"
    assert "About: Pães artesanais desde 1998." in text
    assert (
        "Business hours (America/Sao_Paulo): Monday to Friday: 09:00-12:00, 13:00-18:00; Saturday and Sunday: closed"
        in text
    )
    assert "Website: https://paoquente.com.br" in text
    assert "Phone: +55 11 98765-4321" in text
    assert "Refund policy:\nTrocas em até 7 dias." in text
    assert "Privacy policy" not in text  # empty fields are left out


# -- The logo image ----------------------------------------------------------------------------------


def test_a_logo_is_fitted_within_512_pixels_and_saved_as_png_keeping_its_shape():
    result = profile.prepare_logo(png(1600, 800), "logo.png", "image/png")
    with Image.open(io.BytesIO(result)) as image:
        assert image.format == "PNG" and image.size == (512, 256) and image.mode == "RGBA"


def test_a_photo_loses_its_metadata_and_stands_upright():
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90°
    output = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(output, format="JPEG", exif=exif.tobytes())
    result = profile.prepare_logo(output.getvalue(), "photo.jpg", "image/jpeg")
    with Image.open(io.BytesIO(result)) as image:
        assert image.size == (200, 300)
        assert image.getexif() == {} and "exif" not in image.info and image.mode == "RGB"


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg",
            "SVG",
        ),
        (b"%PDF-1.7 not an image at all", "logo.png", "not an image"),
        (png()[:40], "broken.png", "not an image"),
        (b"", "empty.png", "Choose an image"),
    ],
)
def test_files_that_are_not_safe_images_are_refused_with_a_reason(data, filename, reason):
    with pytest.raises(profile.ProfileInvalid) as refused:
        profile.prepare_logo(data, filename, None)
    assert refused.value.errors == [{"field": "logo", "message": "invalid"}]
    assert reason in refused.value.detail


def test_an_image_larger_than_2_mb_is_refused():
    with pytest.raises(profile.ProfileInvalid) as refused:
        profile.prepare_logo(b"\x89PNG" + b"0" * profile.LOGO_MAX_BYTES, "big.png", "image/png")
    assert "at most" in refused.value.detail


def test_an_image_that_would_unpack_into_too_many_pixels_is_refused_before_decoding():
    bomb = png(5000, 5000, mode="1", color=0)  # a few kilobytes that decode to 25 million pixels
    assert len(bomb) < 100_000
    with pytest.raises(profile.ProfileInvalid) as refused:
        profile.prepare_logo(bomb, "bomb.png", "image/png")
    assert "too large" in refused.value.detail


def test_only_png_jpeg_webp_and_gif_are_accepted():
    output = io.BytesIO()
    Image.new("RGB", (40, 40)).save(output, format="BMP")
    with pytest.raises(profile.ProfileInvalid):
        profile.prepare_logo(output.getvalue(), "logo.bmp", "image/bmp")
    for fmt in ("JPEG", "WEBP", "GIF"):
        output = io.BytesIO()
        Image.new("RGB", (40, 40), (1, 2, 3)).save(output, format=fmt)
        with Image.open(io.BytesIO(profile.prepare_logo(output.getvalue()))) as image:
            assert image.format == "PNG"


# -- API: reading and changing ------------------------------------------------------------------------


async def test_any_member_reads_the_profile_but_only_admins_change_it(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False, language="en", name="Padaria Pão Quente")
    operator = await add_member(atendai_kernel, atendai_client, tenant, "operator")
    read = await atendai_client.get("/api/v1/organization", headers=operator)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["id"] == str(tenant.tenant_id) and body["name"] == "Padaria Pão Quente"
    assert body["timezone"] == "America/Sao_Paulo" and body["business_hours"] == {} and body["open_now"] is True
    assert body["logo_url"] is None and body["theme"] == {}
    refused = await atendai_client.patch("/api/v1/organization", json={"name": "Hacked"}, headers=operator)
    assert refused.status_code == 403
    for method in ("PUT", "DELETE"):
        files = {"logo": ("logo.png", png(), "image/png")} if method == "PUT" else None
        response = await atendai_client.request(method, "/api/v1/organization/logo", files=files, headers=operator)
        assert response.status_code == 403, (method, response.text)
    assert (await load_org(atendai_kernel, tenant.tenant_id)).name == "Padaria Pão Quente"


async def test_a_partial_change_saves_normalised_values_and_audits_only_what_changed(
    atendai_client, atendai_kernel, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    changed = await atendai_client.patch(
        "/api/v1/organization",
        json={
            "name": "  Pão   Quente  ",
            "brand_primary": "#0A7",
            "website": "paoquente.com.br",
            "contact_email": " Contato@PaoQuente.com.br ",
            "contact_phone": "(11) 98765-4321",
            "business_hours": {"mon": [["13:00", "18:00"], ["9:00", "12:00"]], "sat": [["09:00", "00:00"]]},
            "about": "Pães\r\nartesanais",
        },
        headers={**tenant.headers, **EN},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["name"] == "Pão Quente"
    assert body["brand_primary"] == "#00aa77" and body["brand_accent"] is None
    assert body["theme"]["--accent"] == "#00aa77" and body["theme"]["--accent-2"] == "#db2777"
    assert body["website"] == "https://paoquente.com.br"
    assert body["contact_email"] == "contato@paoquente.com.br"
    assert body["contact_phone"] == "+5511987654321"
    assert body["business_hours"]["mon"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert body["business_hours"]["sat"] == [["09:00", "24:00"]]  # closing at 00:00 is midnight
    assert body["business_hours"]["sun"] == [] and set(body["business_hours"]) == set(profile.DAYS)
    assert body["about"] == "Pães\nartesanais"

    again = await atendai_client.patch(
        "/api/v1/organization", json={"brand_primary": None, "language": "es"}, headers=tenant.headers
    )
    assert again.status_code == 200 and again.json()["brand_primary"] is None and again.json()["language"] == "es"
    assert again.json()["website"] == "https://paoquente.com.br"  # fields left out keep their value

    entries = await audit_entries(atendai_kernel, tenant.tenant_id, "organization.updated")
    assert len(entries) == 2
    first, second = entries
    assert set(first.changes) == {
        "name",
        "brand_primary",
        "website",
        "contact_email",
        "contact_phone",
        "business_hours",
        "about",
    }
    assert first.changes["contact_phone"] == {"before": None, "after": "+5511987654321"}
    assert first.actor_id == tenant.admin_user_id and first.target_id == str(tenant.tenant_id)
    assert second.changes == {
        "brand_primary": {"before": "#00aa77", "after": None},
        "language": {"before": "en", "after": "es"},
    }


async def test_saving_the_same_values_records_nothing(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    current = (await atendai_client.get("/api/v1/organization", headers=tenant.headers)).json()
    same = await atendai_client.patch(
        "/api/v1/organization", json={"name": current["name"], "timezone": current["timezone"]}, headers=tenant.headers
    )
    assert same.status_code == 200
    assert await audit_entries(atendai_kernel, tenant.tenant_id, "organization.updated") == []


async def test_every_invalid_field_is_named_and_nothing_is_saved(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.patch(
        "/api/v1/organization",
        json={
            "name": " ",
            "brand_primary": "purple",
            "brand_accent": "#12345",
            "timezone": "Mars/Olympus_Mons",
            "language": "fr",
            "website": "javascript:alert(1)",
            "contact_email": "not an email",
            "contact_phone": "12345",
            "about": "x" * (profile.TEXT_MAX_LENGTH + 1),
        },
        headers={**tenant.headers, **EN},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("/validation-failed")
    assert {e["field"] for e in problem["errors"]} == {
        "name",
        "brand_primary",
        "brand_accent",
        "timezone",
        "language",
        "website",
        "contact_email",
        "contact_phone",
        "about",
    }
    assert "Some fields need attention" in problem["detail"]
    org = await load_org(atendai_kernel, tenant.tenant_id)
    assert org.brand_accent is None and org.language == "en" and org.about == ""


async def test_one_invalid_field_gets_its_own_clear_message(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    phone = await atendai_client.patch(
        "/api/v1/organization", json={"contact_phone": "99"}, headers={**tenant.headers, **EN}
    )
    assert phone.status_code == 422
    assert phone.json()["errors"] == [{"field": "contact_phone", "message": "invalid"}]
    assert "area code" in phone.json()["detail"]
    foreign = await atendai_client.patch(
        "/api/v1/organization", json={"contact_phone": "+1 650 253 0000"}, headers=tenant.headers
    )
    assert foreign.status_code == 200 and foreign.json()["contact_phone"] == "+16502530000"
    long_text = await atendai_client.patch(
        "/api/v1/organization", json={"refund_policy": "a\r\n" * 2500}, headers=tenant.headers
    )
    assert long_text.status_code == 200, "line breaks count as one character, as the form shows"


@pytest.mark.parametrize(
    ("hours", "field", "words"),
    [
        ({"monday": [["09:00", "18:00"]]}, "business_hours", "Unknown weekday monday"),
        ({"mon": [["18:00", "09:00"]]}, "business_hours.mon", "close after it opens"),
        ({"tue": [["09:00", "13:00"], ["12:00", "18:00"]]}, "business_hours.tue", "must not overlap"),
        (
            {"wed": [["08:00", "09:00"], ["10:00", "11:00"], ["12:00", "13:00"], ["14:00", "15:00"]]},
            "business_hours.wed",
            "at most 3 intervals",
        ),
        ({"thu": [["9h", "18h"]]}, "business_hours.thu", "times like 09:00"),
        ({"fri": [["24:00", "24:00"]]}, "business_hours.fri", "times like 09:00"),
        ({"sat": [["09:00", "12:60"]]}, "business_hours.sat", "times like 09:00"),
    ],
)
async def test_business_hours_are_refused_when_they_make_no_sense(atendai_client, make_tenant, hours, field, words):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.patch(
        "/api/v1/organization", json={"business_hours": hours}, headers={**tenant.headers, **EN}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert words in response.json()["detail"]


async def test_unknown_fields_and_wrong_types_are_refused_by_the_schema(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    unknown = await atendai_client.patch("/api/v1/organization", json={"slug": "mine"}, headers=tenant.headers)
    assert unknown.status_code == 400
    wrong = await atendai_client.patch(
        "/api/v1/organization", json={"business_hours": "always"}, headers=tenant.headers
    )
    assert wrong.status_code == 400


async def test_the_profile_says_whether_the_organization_is_open_now(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    closed = {day: [] for day in profile.DAYS}
    body = (
        await atendai_client.patch("/api/v1/organization", json={"business_hours": closed}, headers=tenant.headers)
    ).json()
    assert body["open_now"] is False and body["next_opening"] is None
    always = {day: [["00:00", "24:00"]] for day in profile.DAYS}
    body = (
        await atendai_client.patch("/api/v1/organization", json={"business_hours": always}, headers=tenant.headers)
    ).json()
    assert body["open_now"] is True and body["next_opening"] is not None


async def test_a_platform_administrator_has_no_company_profile(atendai_client, atendai_kernel):
    from kernel.tenancy.services import create_platform_admin

    email = f"root-{secrets.token_hex(4)}@example.com"
    async with atendai_kernel.db.session() as session:
        await create_platform_admin(session, email=email, password="a long password 1")
        await session.commit()
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": "a long password 1"})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await atendai_client.get("/api/v1/organization", headers=headers)).status_code == 404


# -- API: the logo -------------------------------------------------------------------------------------


async def test_uploading_a_logo_stores_a_png_served_publicly_and_replacing_it_deletes_the_old_file(
    atendai_client, atendai_kernel, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    first = await atendai_client.put(
        "/api/v1/organization/logo", files={"logo": ("logo.png", png(900, 300), "image/png")}, headers=tenant.headers
    )
    assert first.status_code == 200, first.text
    logo_url = first.json()["logo_url"]
    assert logo_url.startswith(f"/media/public/{tenant.tenant_id}/logo-") and logo_url.endswith(".png")
    served = await atendai_client.get(logo_url)
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.size == (512, 171)

    second = await atendai_client.put(
        "/api/v1/organization/logo",
        files={"logo": ("other.jpg", png(100, 100, color=(0, 0, 255, 255)), "image/jpeg")},
        headers=tenant.headers,
    )
    assert second.status_code == 200 and second.json()["logo_url"] != logo_url
    assert (await atendai_client.get(logo_url)).status_code == 404, "the replaced file is deleted"
    storage = current_storage(atendai_kernel)
    with pytest.raises(FileNotFoundError):
        await storage.get(logo_url.removeprefix("/media/"))

    entries = await audit_entries(atendai_kernel, tenant.tenant_id, "organization.logo_changed")
    assert [e.changes["logo_path"]["after"] for e in entries] == [
        logo_url.removeprefix("/media/"),
        second.json()["logo_url"].removeprefix("/media/"),
    ]


async def test_removing_the_logo_deletes_the_file_and_is_audited(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    uploaded = await atendai_client.put(
        "/api/v1/organization/logo", files={"logo": ("logo.png", png(), "image/png")}, headers=tenant.headers
    )
    logo_url = uploaded.json()["logo_url"]
    removed = await atendai_client.delete("/api/v1/organization/logo", headers=tenant.headers)
    assert removed.status_code == 204
    assert (await atendai_client.get("/api/v1/organization", headers=tenant.headers)).json()["logo_url"] is None
    assert (await atendai_client.get(logo_url)).status_code == 404
    [entry] = await audit_entries(atendai_kernel, tenant.tenant_id, "organization.logo_removed")
    assert entry.changes == {"logo_path": {"before": logo_url.removeprefix("/media/"), "after": None}}
    assert (await atendai_client.delete("/api/v1/organization/logo", headers=tenant.headers)).status_code == 204


async def test_an_svg_logo_is_refused_with_a_translated_reason(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = await atendai_client.put(
        "/api/v1/organization/logo",
        files={"logo": ("logo.svg", svg, "image/svg+xml")},
        headers={**tenant.headers, "Accept-Language": "pt-BR"},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "logo", "message": "invalid"}]
    assert refused.json()["title"] == "Entrada inválida"  # the request's language
    assert (await atendai_client.get("/api/v1/organization", headers=tenant.headers)).json()["logo_url"] is None


async def test_a_logo_upload_far_over_the_limit_is_refused_before_it_is_read(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    huge = b"\x89PNG" + b"0" * (4 * 1024 * 1024)
    refused = await atendai_client.put(
        "/api/v1/organization/logo", files={"logo": ("huge.png", huge, "image/png")}, headers=tenant.headers
    )
    assert refused.status_code == 413
    missing = await atendai_client.put(
        "/api/v1/organization/logo", files={"image": ("logo.png", png(), "image/png")}, headers=tenant.headers
    )
    assert missing.status_code == 400


# -- Tenant isolation -----------------------------------------------------------------------------------


async def test_one_organization_never_reads_or_changes_another_through_the_profile(
    atendai_client, atendai_kernel, two_tenants
):
    tenant_a, tenant_b = two_tenants
    await atendai_client.patch(
        "/api/v1/organization",
        json={"about": "B's secret recipe", "contact_phone": "11 3333-4444"},
        headers=tenant_b.headers,
    )
    b_logo = await atendai_client.put(
        "/api/v1/organization/logo", files={"logo": ("b.png", png(), "image/png")}, headers=tenant_b.headers
    )
    seen = await atendai_client.get("/api/v1/organization", headers=tenant_a.headers)
    assert seen.json()["id"] == str(tenant_a.tenant_id)
    assert str(tenant_b.tenant_id) not in seen.text and "secret recipe" not in seen.text

    changed = await atendai_client.patch(
        "/api/v1/organization", json={"about": "A's text", "name": "A"}, headers=tenant_a.headers
    )
    assert changed.status_code == 200
    await atendai_client.put(
        "/api/v1/organization/logo",
        files={"logo": ("a.png", png(color=(1, 1, 1, 255)), "image/png")},
        headers=tenant_a.headers,
    )
    await atendai_client.delete("/api/v1/organization/logo", headers=tenant_a.headers)

    b = await load_org(atendai_kernel, tenant_b.tenant_id)
    assert b.about == "B's secret recipe" and b.name != "A"
    assert b.logo_path == b_logo.json()["logo_url"].removeprefix("/media/")
    assert (await atendai_client.get(b_logo.json()["logo_url"])).status_code == 200
    assert await audit_entries(atendai_kernel, tenant_b.tenant_id, "organization.logo_removed") == []


async def test_the_isolation_harness_finds_nothing_crossing_through_the_profile_routes(
    atendai_app, atendai_client, atendai_kernel, two_tenants
):
    from kernel.testing.isolation import check_tenant_isolation

    tenant_a, tenant_b = two_tenants
    report = await check_tenant_isolation(atendai_app, atendai_client, atendai_kernel.db.urls.owner, tenant_a, tenant_b)
    ours = [v for v in report.violations if "/organization" in v or "/company" in v or "/media/" in v]
    assert ours == []


# -- The page ------------------------------------------------------------------------------------------


async def test_the_page_shows_every_section_with_the_current_values(atendai_client, page_client, make_tenant):
    tenant = await make_tenant(seed=False, name="Padaria Pão Quente")
    await atendai_client.patch(
        "/api/v1/organization",
        json={"contact_phone": "11987654321", "brand_primary": "#0ea5e9", "business_hours": WEEKDAYS},
        headers=tenant.headers,
    )
    async with page_client(tenant) as client:
        response = await client.get("/app/-/company", headers=EN)
    assert response.status_code == 200
    html = response.text
    for section in ("identity", "brand", "region", "contact", "hours", "policies"):
        assert f'id="company-{section}"' in html
    assert 'value="Padaria Pão Quente"' in html
    assert 'value="+55 11 98765-4321"' in html
    assert '<option value="America/Sao_Paulo" selected>' in html
    assert html.index("America/Sao_Paulo") < html.index("Africa/Abidjan"), "Brazil's zones come first"
    assert '<option value="pt-BR" selected>' in html
    assert 'style="--accent: #0ea5e9' in html, "the saved colours apply to the shell"
    assert "/static/js/company.js" in html and 'hx-encoding="multipart/form-data"' in html
    assert 'data-testid="open-now"' in html
    assert "<script>" not in html.replace('<script src="', "")


async def test_an_operator_cannot_open_the_company_page(atendai_kernel, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    email, password = await create_member(atendai_kernel, tenant, "operator")
    async with page_client(email=email, password=password) as client:
        page = await client.get("/app/-/company", headers=EN)
        assert page.status_code == 403
        post = await client.post("/app/-/company/contact", data={"website": "x.com"}, headers=HTMX)
        assert post.status_code == 403
        home = await client.get("/app/", headers=EN)
    assert 'href="/app/-/company"' not in home.text, "the menu does not offer it either"


async def test_an_invalid_phone_shows_an_inline_error_and_keeps_what_was_typed(
    atendai_kernel, page_client, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        response = await client.post(
            "/app/-/company/contact",
            data={"website": "paoquente.com.br", "contact_email": "oi@paoquente.com.br", "contact_phone": "12 34"},
            headers=HTMX,
        )
    assert response.status_code == 422
    html = response.text
    assert 'id="company-contact"' in html and 'value="12 34"' in html and 'value="paoquente.com.br"' in html
    assert 'id="f-contact_phone-error"' in html and "area code" in html
    assert 'aria-invalid="true"' in html
    org = await load_org(atendai_kernel, tenant.tenant_id)
    assert org.website is None and org.contact_phone is None, "nothing is saved while a field is wrong"


async def test_saving_a_section_redraws_it_with_a_toast(atendai_kernel, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        response = await client.post(
            "/app/-/company/brand", data={"brand_primary": "#f59e0b", "brand_accent": ""}, headers=HTMX
        )
    assert response.status_code == 200
    assert 'id="company-brand"' in response.text and 'data-primary="#f59e0b"' in response.text
    assert json.loads(response.headers["hx-trigger"])["toast"] == {"kind": "success", "message": "Saved."}
    assert (await load_org(atendai_kernel, tenant.tenant_id)).brand_primary == "#f59e0b"


async def test_several_wrong_fields_each_get_their_own_message_on_the_page(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        response = await client.post(
            "/app/-/company/contact",
            data={"website": "ftp://files", "contact_email": "nobody", "contact_phone": "1"},
            headers=HTMX,
        )
    assert response.status_code == 422
    html = response.text
    assert "Enter a web address like" in html and "Enter an email address like" in html and "area code" in html


async def test_business_hours_saved_on_the_page_come_back_in_the_editor(atendai_kernel, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    hours = {**WEEKDAYS, "sat": [["09:00", "00:00"]], "sun": []}
    async with page_client(tenant) as client:
        saved = await client.post("/app/-/company/hours", data={"business_hours": json.dumps(hours)}, headers=HTMX)
        assert saved.status_code == 200, saved.text
        assert 'id="company-hours"' in saved.text and 'id="open-now"' in saved.text
        page = await client.get("/app/-/company", headers=EN)
    org = await load_org(atendai_kernel, tenant.tenant_id)
    assert org.business_hours["sat"] == [["09:00", "24:00"]] and org.business_hours["mon"] == WEEKDAYS["mon"]
    assert "&#34;sat&#34;: [[&#34;09:00&#34;, &#34;24:00&#34;]]" in page.text
    async with page_client(tenant) as client:
        cleared = await client.post("/app/-/company/hours", data={"business_hours": "{}"}, headers=HTMX)
    assert cleared.status_code == 200 and "always open" in cleared.text
    assert (await load_org(atendai_kernel, tenant.tenant_id)).business_hours == {}


async def test_wrong_hours_on_the_page_are_shown_under_their_day(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    hours = {"mon": [["18:00", "09:00"]]}
    async with page_client(tenant) as client:
        response = await client.post("/app/-/company/hours", data={"business_hours": json.dumps(hours)}, headers=HTMX)
        garbage = await client.post("/app/-/company/hours", data={"business_hours": "{not json"}, headers=HTMX)
        odd = await client.post("/app/-/company/hours", data={"business_hours": '{"mon": 5}'}, headers=HTMX)
    assert odd.status_code == 422 and "list of [opening, closing] times" in odd.text
    assert response.status_code == 422 and "close after it opens" in response.text
    assert "&#34;18:00&#34;" in response.text, "the typed hours are kept"
    assert garbage.status_code == 422 and "Business hours map each weekday" in garbage.text


async def test_changing_the_name_reloads_the_page_so_the_menu_shows_it(atendai_kernel, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        response = await client.post("/app/-/company/name", data={"name": "Pão Quente"}, headers=HTMX)
        assert response.status_code == 200 and response.headers["hx-redirect"] == "/app/-/company"
        page = await client.get("/app/-/company", headers=EN)
    assert '<span class="brand-name">Pão Quente</span>' in page.text
    assert "Saved." in page.text, "the message arrives with the page"


async def test_changing_the_organizations_language_reloads_the_page(atendai_kernel, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        same_language = await client.post(
            "/app/-/company/region", data={"timezone": "America/Manaus", "language": "en"}, headers=HTMX
        )
        assert same_language.status_code == 200 and 'hx-swap-oob="true"' in same_language.text
        assert "America/Manaus" in same_language.text
        other_language = await client.post(
            "/app/-/company/region", data={"timezone": "America/Manaus", "language": "es"}, headers=HTMX
        )
        assert other_language.headers.get("hx-redirect") == "/app/-/company"
    org = await load_org(atendai_kernel, tenant.tenant_id)
    assert (org.timezone, org.language) == ("America/Manaus", "es")


async def test_uploading_and_removing_the_logo_on_the_page_updates_the_menu(atendai_client, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        uploaded = await client.post(
            "/app/-/company/logo", files={"logo": ("logo.png", png(), "image/png")}, headers=HTMX
        )
        assert uploaded.status_code == 200 and uploaded.headers["hx-redirect"] == "/app/-/company"
        page = await client.get("/app/-/company", headers=EN)
        logo_url = (await atendai_client.get("/api/v1/organization", headers=tenant.headers)).json()["logo_url"]
        assert f'<img src="{logo_url}" alt="">' in page.text, "the sidebar shows the logo"
        refused = await client.post(
            "/app/-/company/logo", files={"logo": ("logo.svg", b"<svg/>", "image/svg+xml")}, headers=HTMX
        )
        assert refused.status_code == 422 and 'id="f-logo-error"' in refused.text and "SVG" in refused.text
        nothing = await client.post("/app/-/company/logo", data={}, headers=HTMX)
        assert nothing.status_code == 422 and "Choose an image file" in nothing.text
        removed = await client.delete("/app/-/company/logo", headers=HTMX)
        assert removed.status_code == 200 and removed.headers["hx-redirect"] == "/app/-/company"
        page = await client.get("/app/-/company", headers=EN)
    assert '<span class="brand-mark" aria-hidden="true">A</span>' in page.text
    assert (await atendai_client.get(logo_url)).status_code == 404


async def test_what_an_organization_typed_is_shown_as_text_never_as_markup(atendai_client, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await atendai_client.patch(
        "/api/v1/organization",
        json={"name": '<script>alert("name")</script>', "about": "</textarea><img src=x onerror=alert(1)>"},
        headers=tenant.headers,
    )
    async with page_client(tenant) as client:
        html = (await client.get("/app/-/company", headers=EN)).text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in html
    assert "&lt;/textarea&gt;&lt;img src=x onerror=alert(1)&gt;" in html
