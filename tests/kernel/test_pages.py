"""The shell's pages over HTTP: login form, redirects, session cookies, logout."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")
BASE = "http://atendai.test"


@pytest.fixture
async def browser(atendai_app):
    transport = httpx.ASGITransport(app=atendai_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def test_a_page_without_a_session_sends_the_person_to_login_and_back(browser):
    response = await browser.get("/app/example/")
    assert response.status_code == 303
    assert response.headers["location"] == "/api/v1/auth/resume?next=/app/example"
    resumed = await browser.get(response.headers["location"])
    assert resumed.status_code == 303
    assert resumed.headers["location"] == "/auth/login?next=/app/example"
    form = await browser.get("/auth/login?next=/app/example", headers={"Accept-Language": "pt-BR"})
    assert form.status_code == 200 and 'name="next" value="/app/example"' in form.text and "Entrar" in form.text


async def test_logging_in_with_the_form_sets_the_session_and_opens_the_home(browser, make_tenant):
    tenant = await make_tenant()
    posted = await browser.post(
        "/auth/login",
        data={"email": tenant.email, "password": tenant.password, "next": "/app/example/"},
        headers={"Origin": BASE},
    )
    assert posted.status_code == 303 and posted.headers["location"] == "/app/example/"
    assert "atendai_access" in browser.cookies
    home = await browser.get("/app/")
    assert home.status_code == 200 and "Olá" in home.text and 'href="/app/example/"' in home.text
    notes = await browser.get("/app/example/")
    assert notes.status_code == 200 and "Opening hours" in notes.text
    out = await browser.post("/auth/logout", headers={"Origin": BASE})
    assert out.status_code == 303 and "atendai_access" not in browser.cookies
    assert (await browser.get("/app/")).status_code == 303


async def test_a_wrong_password_shows_a_translated_error_and_keeps_the_email(browser, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await browser.post(
        "/auth/login",
        data={"email": tenant.email, "password": "wrong password"},
        headers={"Origin": BASE, "Accept-Language": "es"},
    )
    assert response.status_code == 401
    assert "Correo electrónico o contraseña no válidos" in response.text
    assert f'value="{tenant.email}"' in response.text


async def test_a_login_form_posted_from_another_site_is_refused(browser, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await browser.post(
        "/auth/login",
        data={"email": tenant.email, "password": tenant.password},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "atendai_access" not in browser.cookies


async def test_next_never_leads_off_site(browser, make_tenant):
    tenant = await make_tenant(seed=False)
    posted = await browser.post(
        "/auth/login",
        data={"email": tenant.email, "password": tenant.password, "next": "//evil.example/x"},
        headers={"Origin": BASE},
    )
    assert posted.headers["location"] == "/app/"
