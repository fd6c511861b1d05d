"""No route lets one tenant read or write another's data; and the harness itself catches a leak."""

from __future__ import annotations

import pytest
from litestar import get
from sqlalchemy import select

from kernel.app import create_app
from kernel.db.session import ALL_TENANTS
from kernel.plugins.manager import PluginManager
from kernel.plugins.registry import collect_registrations
from kernel.runtime import Kernel
from kernel.sdk import PluginManifest, Routes, hookimpl
from kernel.testing.isolation import check_tenant_isolation

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_no_route_crosses_tenants(atendai_app, atendai_client, atendai_kernel, two_tenants):
    tenant_a, tenant_b = two_tenants
    report = await check_tenant_isolation(atendai_app, atendai_client, atendai_kernel.db.urls.owner, tenant_a, tenant_b)
    assert report.violations == []
    assert "GET /api/v1/example/notes/{note_id:uuid}" in report.probed_routes
    assert "DELETE /api/v1/example/notes/{note_id:uuid}" in report.probed_routes
    assert report.requests >= 12


class LeakyPlugin:
    """A deliberately wrong plugin: its route skips the ORM tenant filter and queries in the platform scope."""

    @hookimpl
    def register_routes(self, kernel):
        from atendai_example.models import Note

        from kernel.db.session import set_session_scope

        @get("/all-notes", opt={"permission": "example.note.read"})
        async def all_notes() -> list[str]:
            async with kernel.db.session() as session:
                await set_session_scope(session, platform=True)
                rows = await session.execute(select(Note.id).execution_options(**{ALL_TENANTS: True}))
                return [str(note_id) for note_id in rows.scalars()]

        return Routes(api=[all_notes])


async def test_the_harness_catches_a_route_that_leaks(atendai_kernel, two_tenants):
    import httpx
    from asgi_lifespan import LifespanManager

    manager = PluginManager(strict=True)
    for _name, loaded in atendai_kernel.plugins.plugins.items():
        manager.register_object(loaded.manifest, loaded.obj, loaded.path)
    manager.register_object(PluginManifest(name="leaky", version="0"), LeakyPlugin())
    kernel = Kernel(settings=atendai_kernel.settings, plugins=manager, database=atendai_kernel.database)
    kernel.registry = collect_registrations(manager, kernel)
    app = create_app(kernel.settings, kernel=kernel)
    tenant_a, tenant_b = two_tenants

    # The leaky plugin must be enabled for tenant A for its route to answer at all.
    from kernel.db.scope import tenant_scope
    from kernel.db.session import set_session_scope
    from kernel.tenancy.services import enable_plugin

    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_a.tenant_id)
        with tenant_scope(tenant_a.tenant_id):
            await enable_plugin(kernel, session, tenant_a.tenant_id, "leaky")
        await session.commit()

    transport = httpx.ASGITransport(app=app)
    async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        report = await check_tenant_isolation(app, client, kernel.db.urls.owner, tenant_a, tenant_b)
    assert any("/api/v1/leaky/all-notes" in v and "showed tenant B" in v for v in report.violations), report.violations
