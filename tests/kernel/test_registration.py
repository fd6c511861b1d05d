"""Self-service registration: the wizard's steps, the API, and the platform's switch and plan."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import select

from kernel.tenancy.registration import suggest_slug

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "correct horse battery"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:8]}"


def step_two(slug: str, **overrides: str) -> dict[str, str]:
    data = {
        "step": "2",
        "organization_name": "Padaria Pão Quente",
        "slug": slug,
        "name": "Ana Souza",
        "email": f"{slug}@padaria.example",
        "password": PASSWORD,
        "password_confirmation": PASSWORD,
        "timezone": "America/Recife",
        "language": "pt-BR",
    }
    data.update(overrides)
    return data


@pytest.fixture
async def platform_setting(atendai_kernel):
    """Set platform settings for one test and put them back afterwards."""
    from kernel.tenancy.platform_settings import get_platform_settings, set_platform_setting

    saved: dict[str, object] = {}

    async def put(key: str, value: object) -> None:
        async with atendai_kernel.db.session() as session:
            if key not in saved:
                saved[key] = (await get_platform_settings(session, [key])).get(key)
            await set_platform_setting(session, key, value)
            await session.commit()

    yield put
    async with atendai_kernel.db.session() as session:
        for key, value in saved.items():
            await set_platform_setting(session, key, value)
        await session.commit()


def test_the_address_is_suggested_from_the_name():
    assert suggest_slug("Padaria Pão Quente") == "padaria-pao-quente"
    assert suggest_slug("  Ótica & Cia. Ltda!  ") == "otica-cia-ltda"
    assert len(suggest_slug("x" * 80)) == 40


async def test_the_wizard_takes_a_new_customer_to_the_welcome_step(page_client, atendai_kernel):
    from kernel.auth.models import User
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization

    slug = unique("padaria")
    async with page_client() as client:
        first = await client.get("/auth/register")
        assert first.status_code == 200 and 'name="organization_name"' in first.text
        second = await client.post(
            "/auth/register", data={"step": "1", "organization_name": "Padaria Pão Quente", "slug": slug}
        )
        assert second.status_code == 200 and 'name="password"' in second.text and f'value="{slug}"' in second.text
        done = await client.post("/auth/register", data=step_two(slug))
        assert done.status_code == 303 and done.headers["location"] == "/app/-/welcome"
        assert client.cookies.get("atendai_access") and client.cookies.get("atendai_flash")
        home = await client.get("/app/")
        assert home.status_code == 200 and "Padaria Pão Quente" in home.text
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        org = (await session.execute(select(Organization).where(Organization.slug == slug))).scalar_one()
        admin = (await session.execute(select(User).where(User.tenant_id == org.id))).scalar_one()
    assert (org.name, org.timezone, org.language) == ("Padaria Pão Quente", "America/Recife", "pt-BR")
    assert (admin.name, admin.email) == ("Ana Souza", f"{slug}@padaria.example")


async def test_step_one_without_an_address_suggests_one(page_client):
    async with page_client() as client:
        answer = await client.post(
            "/auth/register", data={"step": "1", "organization_name": "Ótica Bela Vista " + uuid4().hex[:4]}
        )
    assert answer.status_code == 200 and 'value="otica-bela-vista-' in answer.text


async def test_a_taken_address_is_refused_on_its_field_and_the_name_is_kept(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client() as client:
        answer = await client.post(
            "/auth/register",
            data={"step": "1", "organization_name": "Minha Loja", "slug": tenant.slug},
            headers={"Accept-Language": "en"},
        )
    assert answer.status_code == 422
    assert f"The address {tenant.slug} is already taken." in answer.text
    assert 'value="Minha Loja"' in answer.text and 'aria-invalid="true"' in answer.text


async def test_reserved_and_malformed_addresses_are_refused(page_client):
    async with page_client() as client:
        for slug in ("admin", "-bad-", "UPPER CASE", "a" * 41):
            answer = await client.post("/auth/register", data={"step": "1", "organization_name": "X", "slug": slug})
            assert answer.status_code == 422, slug


async def test_account_errors_show_on_each_field_without_losing_what_was_typed(page_client):
    slug = unique("loja")
    async with page_client() as client:
        answer = await client.post(
            "/auth/register",
            data=step_two(slug, name="", email="not-an-email", password="short", password_confirmation="other"),
            headers={"Accept-Language": "en"},
        )
    assert answer.status_code == 422
    for message in ("Tell us your name.", "The email address is not valid.", "at least 10 characters", "not the same"):
        assert message in answer.text
    assert 'value="not-an-email"' in answer.text and f'value="{slug}"' in answer.text
    assert 'value="short"' not in answer.text  # passwords are never sent back


async def test_an_email_that_already_has_an_account_is_refused(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client() as client:
        answer = await client.post(
            "/auth/register", data=step_two(unique("dup"), email=tenant.email), headers={"Accept-Language": "en"}
        )
    assert answer.status_code == 409 and "A user with this email already exists." in answer.text


async def test_going_back_keeps_the_first_step(page_client):
    slug = unique("voltar")
    async with page_client() as client:
        answer = await client.post("/auth/register", data={**step_two(slug), "back": "1"})
    assert answer.status_code == 200 and 'name="organization_name"' in answer.text and f'value="{slug}"' in answer.text


async def test_a_form_from_another_site_creates_nothing(page_client, atendai_kernel):
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization

    slug = unique("csrf")
    async with page_client() as client:
        answer = await client.post("/auth/register", data=step_two(slug), headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        assert (await session.execute(select(Organization).where(Organization.slug == slug))).first() is None


async def test_a_filled_honeypot_creates_nothing(page_client):
    async with page_client() as client:
        answer = await client.post("/auth/register", data={**step_two(unique("bot")), "website": "http://spam.example"})
    assert answer.status_code == 422 and "atendai_access" not in client.cookies


async def test_the_slug_check_answers_live(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client() as client:
        taken = await client.get(f"/auth/register/slug?slug={tenant.slug}")
        free = await client.get(f"/auth/register/slug?slug={unique('livre')}")
        bad = await client.get("/auth/register/slug?slug=-x-")
    assert 'data-status="taken"' in taken.text
    assert 'data-status="available"' in free.text
    assert 'data-status="invalid"' in bad.text


async def test_the_api_registers_and_logs_in(atendai_client):
    slug = unique("api")
    answer = await atendai_client.post(
        "/api/v1/auth/register",
        json={
            "organization_name": "Oficina do Zé",
            "slug": slug,
            "name": "José",
            "email": f"{slug}@oficina.example",
            "password": PASSWORD,
            "language": "es",
        },
    )
    assert answer.status_code == 201, answer.text
    token = answer.json()["access_token"]
    me = await atendai_client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == f"{slug}@oficina.example"
    status = await atendai_client.get(f"/api/v1/auth/register/slug?slug={slug}")
    assert status.json() == {"slug": slug, "status": "taken"}


async def test_the_api_reports_every_bad_field(atendai_client):
    answer = await atendai_client.post(
        "/api/v1/auth/register",
        json={"organization_name": "", "slug": "ok-" + uuid4().hex[:6], "name": "", "email": "x", "password": "y"},
        headers={"Accept-Language": "en"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "organization_name"


async def test_a_closed_registration_says_so_and_refuses_posts(page_client, atendai_client, platform_setting):
    await platform_setting("registration.open", False)
    async with page_client() as client:
        page = await client.get("/auth/register", headers={"Accept-Language": "en"})
        assert page.status_code == 200 and "Registration is closed" in page.text
        assert "/auth/register" not in (await client.get("/auth/login")).text
        posted = await client.post("/auth/register", data=step_two(unique("closed")))
        assert posted.status_code == 403
    api = await atendai_client.post(
        "/api/v1/auth/register",
        json={
            "organization_name": "X",
            "slug": unique("closed"),
            "name": "X",
            "email": "x@x.example",
            "password": PASSWORD,
        },
    )
    assert api.status_code == 403 and api.json()["type"].endswith("/registration-closed")


async def test_new_organizations_get_the_registration_plan(atendai_client, atendai_kernel, platform_setting):
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization, Plan

    code = unique("starter")
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        session.add(Plan(code=code, name="Starter", allowed_plugins=[], features={}, is_default=False))
        await session.commit()
    await platform_setting("registration.plan", code)
    slug = unique("plano")
    answer = await atendai_client.post(
        "/api/v1/auth/register",
        json={
            "organization_name": "Plano",
            "slug": slug,
            "name": "P",
            "email": f"{slug}@x.example",
            "password": PASSWORD,
        },
    )
    assert answer.status_code == 201
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        org = (await session.execute(select(Organization).where(Organization.slug == slug))).scalar_one()
        plan = await session.get(Plan, org.plan_id)
    assert plan.code == code


async def test_one_address_may_register_only_a_few_organizations_an_hour(atendai_kernel):
    import httpx
    import msgspec
    from asgi_lifespan import LifespanManager

    from kernel.app import create_app
    from kernel.runtime import Kernel

    strict = Kernel(
        settings=msgspec.structs.replace(atendai_kernel.settings, registration_per_hour=2),
        plugins=atendai_kernel.plugins,
        registry=atendai_kernel.registry,
        database=atendai_kernel.database,
    )
    app = create_app(strict.settings, kernel=strict)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.77", 4000))
    statuses = []
    try:
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=transport, base_url="http://atendai.test") as client,
        ):
            for _ in range(3):
                slug = unique("burst")
                answer = await client.post(
                    "/api/v1/auth/register",
                    json={
                        "organization_name": "B",
                        "slug": slug,
                        "name": "B",
                        "email": f"{slug}@x.example",
                        "password": PASSWORD,
                    },
                )
                statuses.append(answer.status_code)
    finally:
        atendai_kernel.connect()  # the strict kernel made itself the process's current one
    assert statuses == [201, 201, 429]


async def test_registration_is_audited_as_the_new_administrator(atendai_client, atendai_kernel):
    from kernel.audit.models import AuditEntry
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization

    slug = unique("audit")
    answer = await atendai_client.post(
        "/api/v1/auth/register",
        json={"organization_name": "A", "slug": slug, "name": "A", "email": f"{slug}@x.example", "password": PASSWORD},
    )
    assert answer.status_code == 201
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        org = (await session.execute(select(Organization).where(Organization.slug == slug))).scalar_one()
        entries = (await session.execute(select(AuditEntry).where(AuditEntry.tenant_id == org.id))).scalars().all()
    registered = [e for e in entries if e.action == "organization.registered"]
    assert len(registered) == 1 and registered[0].actor_label == f"{slug}@x.example"
