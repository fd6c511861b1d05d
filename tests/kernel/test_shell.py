"""The shell around every page: navigation, theme, languages, sessions, errors, headers, the styleguide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel.web.listing import Listing
from kernel.web.styleguide import BASE_TOKENS, token_pairs
from kernel.web.theme import brand_theme, contrast_ratio, normalize_hex, text_variant

ROOT = Path(__file__).resolve().parents[2]


# -- theme ---------------------------------------------------------------------------------------------


def test_contrast_ratio_matches_the_wcag_formula():
    assert round(contrast_ratio("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast_ratio("#777777", "#ffffff"), 2) == 4.48
    assert contrast_ratio("#123456", "#123456") == 1.0


def test_hex_colours_are_normalised_and_anything_else_is_refused():
    assert normalize_hex(" #ABC ") == "#aabbcc"
    assert normalize_hex("#7C3AED") == "#7c3aed"
    for bad in ("7c3aed", "#12345", "red", "#ggg", "javascript:alert(1)"):
        with pytest.raises(ValueError):
            normalize_hex(bad)


@pytest.mark.parametrize("primary", ["#000080", "#fef08a", "#22c55e", "#ffffff", "#111111", "#7c3aed"])
def test_any_brand_colour_yields_readable_text_and_fills(primary):
    theme = brand_theme(primary, "#0b1e3f")
    assert contrast_ratio(theme["--accent-text"], "#181524") >= 4.5
    assert contrast_ratio(theme["--on-accent"], theme["--accent"]) >= 4.5
    # Primary buttons: a gradient only when one text colour reads on both ends, else the primary alone.
    fills = ("--accent", "--accent-2") if theme["--brand-fill"].startswith("linear-gradient") else ("--accent",)
    assert min(contrast_ratio(theme["--on-brand"], theme[fill]) for fill in fills) >= 4.5
    assert contrast_ratio(theme["--accent-2-text"], "#181524") >= 4.5
    assert theme["--accent"] == normalize_hex(primary)


def test_a_dark_navy_is_lightened_only_as_much_as_needed_to_read():
    variant = text_variant("#000080")
    assert contrast_ratio(variant, "#181524") >= 4.5
    assert contrast_ratio(text_variant("#c4b5fd"), "#181524") >= 4.5
    assert text_variant("#c4b5fd") == "#c4b5fd"  # already readable: unchanged


def test_buttons_keep_the_gradient_only_when_its_text_reads_on_both_ends():
    assert brand_theme("#7c3aed", "#db2777")["--brand-fill"].startswith("linear-gradient")
    pale_and_dark = brand_theme("#fef08a", "#0b1e3f")
    assert pale_and_dark["--brand-fill"] == "var(--accent)"
    assert contrast_ratio(pale_and_dark["--on-brand"], "#fef08a") >= 4.5


def test_the_default_theme_has_no_overrides():
    assert brand_theme(None, None) == {}


def test_every_default_token_pair_passes_aa():
    assert [pair for pair in token_pairs(None) if not pair["passes"]] == []


def test_the_styleguide_tokens_mirror_the_stylesheet():
    css = (ROOT / "webui" / "static" / "css" / "shell.css").read_text()
    declared = dict(re.findall(r"(--[a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\s*;", css.split("}")[0]))
    assert {name: declared[name] for name in BASE_TOKENS} == BASE_TOKENS


# -- listing --------------------------------------------------------------------------------------------


def test_page_numbers_show_the_ends_and_the_neighbourhood():
    listing = Listing(path="/x", sort="name", direction="asc", page=6, per_page=10, total=200)
    assert listing.page_numbers() == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert Listing(path="/x", sort="name", direction="asc", total=0).page_numbers() == [1]


def test_sort_links_flip_the_direction_and_keep_the_filters():
    listing = Listing(path="/x", sort="name", direction="asc", page=3, q="ana", filters={"role": "admin"})
    assert listing.sort_url("name") == "/x?q=ana&role=admin&sort=name&dir=desc&page=1&per_page=25"
    assert "sort=email&dir=asc" in listing.sort_url("email")
    assert listing.sort_state("name") == "ascending" and listing.sort_state("email") == "none"


# -- pages ----------------------------------------------------------------------------------------------


async def add_member(client, admin, role: str) -> tuple[str, str]:
    """Invite a user with ``role`` into ``admin``'s organization and accept the invitation: (email, password)."""
    from uuid import uuid4

    from kernel.testing.mail import link_token, mails_to

    address, password = f"{role}-{uuid4().hex[:6]}@example.com", "a long password 1"
    invited = await client.post("/api/v1/users/", json={"email": address, "role": role}, headers=admin.headers)
    assert invited.status_code == 201, invited.text
    token = link_token(mails_to(client._transport.app.state.kernel.settings, address)[-1])
    accepted = await client.post("/api/v1/auth/invitations/accept", json={"token": token, "password": password})
    assert accepted.status_code == 200, accepted.text
    return address, password


async def test_the_sidebar_shows_only_what_the_role_may_open(page_client, make_tenant, atendai_client):
    tenant = await make_tenant()
    async with page_client(tenant) as admin:
        html = (await admin.get("/app/")).text
    for entry in ("kernel.users", "kernel.modules", "kernel.audit", "example.notes", "kernel.company"):
        assert f'data-nav="{entry}"' in html
    assert 'data-nav="platform.tenants"' not in html
    email, password = await add_member(atendai_client, tenant, "operator")
    async with page_client(email=email, password=password) as client:
        html = (await client.get("/app/")).text
    assert 'data-nav="example.notes"' in html
    for hidden in ("kernel.users", "kernel.modules", "kernel.audit", "kernel.company", "kernel.api_tokens"):
        assert f'data-nav="{hidden}"' not in html


async def test_the_current_page_is_marked_in_the_sidebar(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        html = (await client.get("/app/-/audit")).text
    current = re.findall(r'<a href="([^"]+)" data-nav="[^"]+" aria-current="page"', html)
    assert current == ["/app/-/audit"]


async def test_brand_colours_reach_the_shell(page_client, make_tenant, atendai_kernel):
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization

    tenant = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        org = await session.get(Organization, tenant.tenant_id)
        org.brand_primary, org.brand_accent = "#0ea5e9", "#f97316"
        await session.commit()
    async with page_client(tenant) as client:
        html = (await client.get("/app/")).text
    style = re.search(r'<html lang="[^"]+" style="([^"]+)"', html).group(1)
    assert "--accent: #0ea5e9" in style and "--accent-2: #f97316" in style and "--on-brand:" in style


async def test_a_page_without_a_session_resumes_it_from_the_refresh_cookie(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        client.cookies.delete("atendai_access")
        away = await client.get("/app/-/audit?action=user.*")
        assert away.status_code == 303
        assert away.headers["location"] == "/api/v1/auth/resume?next=/app/-/audit%3Faction%3Duser.%2A"
        resumed = await client.get(away.headers["location"])
        assert resumed.status_code == 303 and resumed.headers["location"] == "/app/-/audit?action=user.*"
        assert client.cookies.get("atendai_access")
        assert (await client.get(resumed.headers["location"])).status_code == 200


async def test_an_htmx_request_without_a_session_is_told_where_to_go(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        client.cookies.delete("atendai_access")
        answer = await client.get(
            "/app/-/notifications/panel",
            headers={"HX-Request": "true", "HX-Current-URL": "http://atendai.test/app/-/audit"},
        )
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == "/api/v1/auth/resume?next=/app/-/audit"


async def test_resume_without_a_refresh_cookie_goes_to_login_and_never_off_site(page_client):
    async with page_client() as client:
        answer = await client.get("/api/v1/auth/resume?next=//evil.example/x")
    assert answer.status_code == 303 and answer.headers["location"] == "/auth/login?next=/app/"


async def test_the_language_switch_works_before_and_after_logging_in(page_client, make_tenant, atendai_kernel):
    from kernel.auth.models import User
    from kernel.db.session import set_session_scope

    async with page_client() as client:
        switched = await client.post("/auth/language", data={"language": "es", "next": "/auth/login"})
        assert switched.status_code == 303 and switched.headers["location"] == "/auth/login"
        assert "Iniciar sesión" in (await client.get("/auth/login")).text
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        await client.post("/auth/language", data={"language": "en", "next": "/app/"})
        assert 'lang="en"' in (await client.get("/app/")).text
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        assert (await session.get(User, tenant.admin_user_id)).language == "en"


async def test_the_language_switch_refuses_other_sites_and_unknown_languages(page_client):
    async with page_client() as client:
        foreign = await client.post(
            "/auth/language", data={"language": "es", "next": "/auth/login"}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 303 and "atendai_lang" not in foreign.cookies
        unknown = await client.post("/auth/language", data={"language": "fr", "next": "/auth/login"})
        assert "atendai_lang" not in unknown.cookies


async def test_a_missing_page_is_a_page_not_json(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        answer = await client.get("/app/-/no-such-page", headers={"Accept-Language": "en"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "This page does not exist" in answer.text and 'href="/app/"' in answer.text


async def test_a_kernel_error_on_a_page_is_drawn_and_on_htmx_is_a_problem(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        page = await client.get(f"/app/-/notifications/{tenant.tenant_id}", headers={"Accept-Language": "en"})
        assert page.status_code == 404 and "text/html" in page.headers["content-type"]
        assert "Notification not found." in page.text
        htmx = await client.get(f"/app/-/notifications/{tenant.tenant_id}", headers={"HX-Request": "true"})
        assert htmx.status_code == 404 and htmx.headers["content-type"].startswith("application/problem+json")


async def test_pages_carry_a_content_security_policy_without_inline_scripts(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        answer = await client.get("/app/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-eval'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["x-frame-options"] == "DENY"
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", answer.text) == []
    assert re.findall(r"\son(click|submit|load|error|input|change)=", answer.text) == []


async def test_no_template_has_inline_scripts_or_handlers():
    offenders = []
    for template in (ROOT / "webui" / "templates").rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(
            r"\son(click|submit|load|input|change)=", text
        ):
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


async def test_a_flash_message_shows_once(page_client, make_tenant):
    from kernel.web.shell import flash

    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        cookie = flash("Saved the profile.")
        client.cookies.set(cookie.key, cookie.value, domain="atendai.test", path="/")
        first = await client.get("/app/")
        assert "Saved the profile." in first.text
        assert not client.cookies.get("atendai_flash")
        assert "Saved the profile." not in (await client.get("/app/")).text


async def test_the_styleguide_shows_every_component(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        html = (await client.get("/app/-/styleguide", headers={"Accept-Language": "en"})).text
    for marker in (
        "data-kanban",
        "data-chart=",
        'class="table responsive"',
        'class="empty-state"',
        "hx-confirm=",
        'class="switch"',
    ):
        assert marker in html
    assert "Below AA" not in html


async def test_the_board_demo_refuses_a_move_into_the_locked_column(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        ok = await client.post("/app/-/styleguide/move", json={"card": "c1", "to": "doing", "index": 0})
        refused = await client.post("/app/-/styleguide/move", json={"card": "c1", "to": "locked", "index": 0})
    assert ok.status_code == 204
    assert refused.status_code == 409 and refused.json()["detail"]


async def test_the_home_page_of_a_platform_admin_is_the_platform_panel(page_client, atendai_kernel):
    from uuid import uuid4

    from kernel.tenancy.services import create_platform_admin

    email, password = f"root-{uuid4().hex[:6]}@platform.example", "a long platform password"
    async with atendai_kernel.db.session() as session:
        await create_platform_admin(session, email=email, password=password)
        await session.commit()
    async with page_client(email=email, password=password) as client:
        home = await client.get("/app/")
    assert home.status_code == 303 and home.headers["location"] == "/app/-/platform/"
