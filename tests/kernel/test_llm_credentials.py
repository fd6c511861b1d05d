"""Model credentials come from the call, else the organization's stored secrets, else the platform's."""

from __future__ import annotations

import pytest

from kernel.db.session import set_session_scope
from kernel.http import UnsafeURL
from kernel.llm.credentials import StoredCredentials
from kernel.llm.providers.base import ModelConfig
from kernel.secrets import put_secret

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def store(kernel, name, value, tenant_id=None):
    async with kernel.db.session() as session:
        if tenant_id:
            await set_session_scope(session, tenant_id=tenant_id)
        else:
            await set_session_scope(session, platform=True)
        await put_secret(session, name, value, tenant_id=tenant_id)
        await session.commit()


async def test_the_organizations_key_wins_over_the_platform_default(atendai_kernel, two_tenants):
    tenant_a, tenant_b = two_tenants
    await store(atendai_kernel, "llm.gemini.api_key", "platform-default-key")
    await store(atendai_kernel, "llm.gemini.api_key", "tenant-a-key", tenant_a.tenant_id)
    resolve = StoredCredentials(atendai_kernel)
    own = await resolve(tenant_a.tenant_id, ModelConfig(provider="gemini", model="gemini-2.5-flash"))
    default = await resolve(tenant_b.tenant_id, ModelConfig(provider="gemini", model="gemini-2.5-flash"))
    explicit = await resolve(tenant_a.tenant_id, ModelConfig(provider="gemini", model="m", api_key="agent-key"))
    assert own.api_key.reveal() == "tenant-a-key"
    assert default.api_key.reveal() == "platform-default-key"
    assert explicit.api_key == "agent-key"
    assert "tenant-a-key" not in repr(own)


async def test_a_tenants_model_server_on_a_private_address_is_refused(atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    await store(atendai_kernel, "llm.openai.api_key", "sk-test-123456789", tenant.tenant_id)
    await store(atendai_kernel, "llm.openai.base_url", "http://169.254.169.254/v1", tenant.tenant_id)
    with pytest.raises(UnsafeURL):
        await StoredCredentials(atendai_kernel)(tenant.tenant_id, ModelConfig(provider="openai", model="gpt-4o-mini"))


@pytest.fixture
async def platform_openai(atendai_kernel):
    """The platform's OpenAI key and organization (no base URL: the vendor's), removed afterwards."""
    from kernel.secrets import delete_secret

    await store(atendai_kernel, "llm.openai.api_key", "sk-platform-secret-key-0042")
    await store(atendai_kernel, "llm.openai.organization", "org-platform")
    yield
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        for name in ("llm.openai.api_key", "llm.openai.organization", "llm.openai.base_url"):
            await delete_secret(session, name, tenant_id=None)
        await session.commit()


async def test_the_platform_key_never_goes_to_a_server_the_organization_chose(
    atendai_kernel, make_tenant, platform_openai
):
    tenant = await make_tenant(seed=False)
    resolve = StoredCredentials(atendai_kernel)
    trial = await resolve(tenant.tenant_id, ModelConfig(provider="openai", model="m", base_url="https://8.8.8.8/v1"))
    assert (trial.api_key, trial.organization, trial.base_url) == (None, None, "https://8.8.8.8/v1")
    await store(atendai_kernel, "llm.openai.base_url", "https://8.8.8.8/v1", tenant.tenant_id)
    stored = await resolve(tenant.tenant_id, ModelConfig(provider="openai", model="m"))
    assert (stored.api_key, stored.organization) == (None, None)


async def test_the_organization_s_own_key_goes_to_its_own_server(atendai_kernel, make_tenant, platform_openai):
    tenant = await make_tenant(seed=False)
    await store(atendai_kernel, "llm.openai.api_key", "sk-tenant-own-key-77", tenant.tenant_id)
    resolved = await StoredCredentials(atendai_kernel)(
        tenant.tenant_id, ModelConfig(provider="openai", model="m", base_url="https://8.8.8.8/v1")
    )
    assert resolved.api_key.reveal() == "sk-tenant-own-key-77" and resolved.organization is None


async def test_the_platform_key_goes_to_the_vendor_and_to_the_platform_s_own_server(
    atendai_kernel, make_tenant, platform_openai
):
    tenant = await make_tenant(seed=False)
    resolve = StoredCredentials(atendai_kernel)
    vendor = await resolve(tenant.tenant_id, ModelConfig(provider="openai", model="m"))
    assert (vendor.api_key.reveal(), vendor.organization, vendor.base_url) == (
        "sk-platform-secret-key-0042",
        "org-platform",
        None,
    )
    await store(atendai_kernel, "llm.openai.base_url", "https://proxy.operator.example/v1")
    proxied = await resolve(tenant.tenant_id, ModelConfig(provider="openai", model="m"))
    assert (proxied.api_key.reveal(), proxied.base_url) == (
        "sk-platform-secret-key-0042",
        "https://proxy.operator.example/v1",
    )
