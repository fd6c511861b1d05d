"""Where a model call's key, base URL and organization come from, when its config does not say.

Order: what the :class:`ModelConfig` carries (an agent's own key), then the organization's stored
secrets (``llm.<provider>.api_key``, ``llm.<provider>.base_url``, ``llm.openai.organization``), then the
platform's defaults (the same names, stored without a tenant), except that the platform's key never
goes to a server the organization chose (see :class:`StoredCredentials`). Keys stay wrapped in
:class:`kernel.secrets.Secret` until the provider builds its client. A base URL typed by a tenant goes
through the outgoing-HTTP check first, so a model server cannot be a door into the private network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kernel.db.session import set_session_scope
from kernel.http import AllowList, check_url
from kernel.llm.providers.base import Credentials, ModelConfig
from kernel.secrets import load_secret

__all__ = ["StoredCredentials", "secret_name"]


def secret_name(provider: str, what: str) -> str:
    return f"llm.{provider}.{what}"


@dataclass
class StoredCredentials:
    """Resolve a call's key, base URL and organization from the call, the organization, then the platform.

    Each value is the first one given. But the platform's key and OpenAI organization go only to the
    platform's own server (its stored base URL, or the vendor's): when the organization chose the
    server (a base URL of its own, stored or in the call, e.g. in "test connection"), only the
    organization's own secrets are sent, so no organization can make the platform's key travel to a
    server it picked. An organization's key may go to the platform's base URL (the operator's proxy).
    """

    kernel: Any

    async def __call__(self, tenant_id: UUID, model: ModelConfig) -> Credentials:
        if model.provider == "offline":
            return Credentials()
        provider = model.provider
        async with self.kernel.db.session() as session:
            # Read a stored value only when the call does not carry it (an unreadable one then stays unread).
            await set_session_scope(session, tenant_id=tenant_id)
            base_url = model.base_url or await _reveal(session, secret_name(provider, "base_url"), tenant_id)
            organization_chose_the_server = base_url is not None
            api_key = model.api_key or await load_secret(session, secret_name(provider, "api_key"), tenant_id=tenant_id)
            organization = model.organization
            if organization is None and provider == "openai":
                organization = await _reveal(session, secret_name("openai", "organization"), tenant_id)
            # The platform's secrets go only to the platform's own server (or the vendor's), never to one
            # the organization chose; the organization's may go to the platform's (the operator's proxy).
            if not organization_chose_the_server:
                await set_session_scope(session, platform=True)
                base_url = await _reveal(session, secret_name(provider, "base_url"), None)
                if api_key is None:
                    api_key = await load_secret(session, secret_name(provider, "api_key"), tenant_id=None)
                if organization is None and provider == "openai":
                    organization = await _reveal(session, secret_name("openai", "organization"), None)
        if organization_chose_the_server:
            await check_url(base_url, allow=AllowList.from_settings(self.kernel.settings))
        return Credentials(api_key=api_key, base_url=base_url, organization=organization)


async def _reveal(session: Any, name: str, tenant_id: UUID | None) -> str | None:
    stored = await load_secret(session, name, tenant_id=tenant_id)
    return stored.reveal() if stored is not None else None
