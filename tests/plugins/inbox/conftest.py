"""Helpers of the inbox tests: an organization with its web chat channel, and more people in it."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest_asyncio
from sqlalchemy import select, text

from kernel.auth.models import User
from kernel.auth.passwords import hash_password
from kernel.db.session import set_session_scope
from kernel.rbac.models import Role
from kernel.sdk import tenant_session
from plugins.inbox.contacts import Identity
from plugins.inbox.demo import ensure_webchat
from plugins.inbox.services import Inbound, InboxService

API = "/api/v1/inbox"


@dataclass(frozen=True)
class Person:
    user_id: UUID
    headers: dict[str, str]


async def add_person(kernel: Any, client: Any, tenant_id: UUID, role: str = "operator", name: str = "Carla") -> Person:
    """Another person of the organization with ``role``, logged in through the API."""
    email = f"{role}-{secrets.token_hex(3)}@example.com"
    password = "a long enough password 1"
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        role_row = (await session.execute(select(Role).where(Role.key == role))).scalar_one()
        user = User(
            tenant_id=tenant_id,
            role_id=role_row.id,
            email=email,
            name=name,
            password_hash=hash_password(password),
            is_platform_admin=False,
            is_active=True,
            token_version=0,
        )
        session.add(user)
        await session.commit()
        user_id = user.id
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return Person(user_id, {"Authorization": f"Bearer {response.json()['access_token']}"})


async def webchat_of(tenant_id: UUID) -> UUID:
    async with tenant_session(tenant_id) as session:
        channel = await ensure_webchat(session)
        await session.commit()
        return channel.id


async def receive(tenant_id: UUID, channel_id: UUID, visitor: str, body: str, message_id: str | None = None, **extra):
    """One inbound message through the service, in its own transaction (as a channel delivers it)."""
    async with tenant_session(tenant_id) as session:
        message, created = await InboxService(session).receive(
            Inbound(
                channel_id=channel_id,
                identity=Identity("webchat", visitor, extra.pop("name", "")),
                provider_message_id=message_id or secrets.token_hex(8),
                body=body,
                **extra,
            )
        )
        await session.commit()
        return message, created


async def set_inbox_settings(tenant_id: UUID, **values: Any) -> None:
    """Store inbox settings for the organization (as the Modules page does)."""
    async with tenant_session(tenant_id) as session:
        await session.execute(
            text(
                "UPDATE tenant_plugins SET settings = settings || CAST(:values AS jsonb) "
                "WHERE plugin = 'inbox' AND tenant_id = :tenant"
            ),
            {"values": json.dumps(values), "tenant": tenant_id},
        )
        await session.commit()


@pytest_asyncio.fixture(loop_scope="session")
async def tenant(make_tenant):
    """An organization whose business hours never close (tests of out-of-hours set their own)."""
    handle = await make_tenant(seed=False)
    await set_inbox_settings(handle.tenant_id, business_hours={"always_open": True})
    return handle
