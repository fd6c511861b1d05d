"""Where a model call's key, base URL and organization come from, when its config does not say.

Order: what the :class:`ModelConfig` carries (an agent's own key), then the organization's stored
secrets (``llm.<provider>.api_key``, ``llm.<provider>.base_url``, ``llm.openai.organization``), then the
platform's defaults (the same names, stored without a tenant). Keys stay wrapped in
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
    kernel: Any

    async def __call__(self, tenant_id: UUID, model: ModelConfig) -> Credentials:
        if model.provider == "offline":
            return Credentials()
        api_key, base_url, organization = model.api_key, model.base_url, model.organization
        tenant_given_url = False
        async with self.kernel.db.session() as session:
            for scope in (tenant_id, None):
                if scope is None:
                    await set_session_scope(session, platform=True)
                else:
                    await set_session_scope(session, tenant_id=scope)
                if api_key is None:
                    api_key = await load_secret(session, secret_name(model.provider, "api_key"), tenant_id=scope)
                if base_url is None:
                    stored_url = await load_secret(session, secret_name(model.provider, "base_url"), tenant_id=scope)
                    if stored_url is not None:
                        base_url = stored_url.reveal()
                        tenant_given_url = scope is not None
                if organization is None and model.provider == "openai":
                    stored_org = await load_secret(session, secret_name("openai", "organization"), tenant_id=scope)
                    organization = stored_org.reveal() if stored_org is not None else None
        if base_url and (tenant_given_url or model.base_url):
            await check_url(base_url, allow=AllowList.from_settings(self.kernel.settings))
        return Credentials(api_key=api_key, base_url=base_url, organization=organization)
