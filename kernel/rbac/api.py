"""Roles API: ``/api/v1/roles`` and the permission catalogue, grouped by plugin."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.auth.models import User
from kernel.errors import Conflict, NotFound, ValidationFailed
from kernel.i18n.catalogs import translator
from kernel.rbac.guard import PERMISSION
from kernel.rbac.models import Role
from kernel.rbac.permissions import SYSTEM_ROLES, role_permissions

__all__ = ["RolesController", "seed_system_roles"]

KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{1,48}$")


class RoleOut(msgspec.Struct):
    id: UUID
    key: str
    name: str
    description: str
    is_system: bool
    permissions: list[str]
    users: int
    created_at: datetime


class RoleIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    name: str
    permissions: list[str]
    description: str = ""


class RolePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    description: str | None = None
    permissions: list[str] | None = None


class PermissionOut(msgspec.Struct):
    name: str
    description: str
    default_roles: list[str]


class PermissionGroupOut(msgspec.Struct):
    plugin: str
    permissions: list[PermissionOut]


async def seed_system_roles(session: AsyncSession) -> dict[str, Role]:
    """Create the four system roles of the current tenant if missing (provisioning calls this)."""
    existing = {role.key: role for role in (await session.execute(select(Role))).scalars()}
    for system in SYSTEM_ROLES:
        if system.key not in existing:
            role = Role(
                key=system.key, name=system.name, description=system.description, is_system=True, permissions=None
            )
            session.add(role)
            existing[system.key] = role
    await session.flush()
    return existing


def _t(text: str) -> str:
    current = translator()
    return current.gettext(text) if current else text


def _out(role: Role, users: int, declared: dict[str, Any]) -> RoleOut:
    granted = role_permissions(role.key, role.is_system, role.permissions, declared)
    return RoleOut(
        id=role.id,
        key=role.key,
        name=_t(role.name) if role.is_system else role.name,
        description=_t(role.description) if role.is_system else role.description,
        is_system=role.is_system,
        permissions=sorted(granted),
        users=users,
        created_at=role.created_at,
    )


def _check_permissions(names: list[str], declared: dict[str, Any]) -> list[str]:
    unknown = sorted(name for name in set(names) if name not in declared or name.startswith("platform."))
    if unknown:
        raise ValidationFailed(
            "Unknown permissions: %(permissions)s",
            errors=[{"field": "permissions", "message": "unknown", "values": unknown}],
            permissions=", ".join(unknown),
        )
    return sorted(set(names))


class RolesController(Controller):
    path = "/api/v1/roles"
    tags = ["roles"]

    @get("/permissions", opt={PERMISSION: "kernel.role.read"}, summary="Every permission, grouped by plugin")
    async def permissions(self, request: Request[Any, Any, Any]) -> list[PermissionGroupOut]:
        registry = request.app.state.kernel.registry
        groups: dict[str, list[PermissionOut]] = {}
        for name, (owner, perm) in sorted(registry.permissions.items()):
            if name.startswith("platform."):
                continue
            groups.setdefault(owner, []).append(PermissionOut(name, _t(perm.description), list(perm.default_roles)))
        return [PermissionGroupOut(plugin, perms) for plugin, perms in groups.items()]

    @get("/", opt={PERMISSION: "kernel.role.read"}, summary="List roles with their permissions")
    async def list_roles(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> list[RoleOut]:
        declared = request.app.state.kernel.registry.declared_permissions
        counts = dict(
            (await db_session.execute(select(User.role_id, func.count(User.id)).group_by(User.role_id))).tuples().all()
        )
        roles = (await db_session.execute(select(Role).order_by(Role.is_system.desc(), Role.name))).scalars()
        return [_out(role, counts.get(role.id, 0), declared) for role in roles]

    @post("/", opt={PERMISSION: "kernel.role.write"}, summary="Create a custom role from permissions")
    async def create_role(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[RoleIn]
    ) -> RoleOut:
        declared = request.app.state.kernel.registry.declared_permissions
        key = data.key.strip().lower()
        if not KEY_RE.match(key):
            raise ValidationFailed(
                "The key must be lowercase letters, digits, - or _.", errors=[{"field": "key", "message": "invalid"}]
            )
        if not data.name.strip():
            raise ValidationFailed("The role needs a name.", errors=[{"field": "name", "message": "required"}])
        if (await db_session.execute(select(Role.id).where(Role.key == key))).first():
            raise Conflict("A role %(role)s already exists.", role=key)
        role = Role(
            key=key,
            name=data.name.strip(),
            description=data.description,
            is_system=False,
            permissions=_check_permissions(data.permissions, declared),
        )
        db_session.add(role)
        await db_session.flush()
        await _audit_role(db_session, request, "role.created", role, None)
        return _out(role, 0, declared)

    @patch("/{role_id:uuid}", opt={PERMISSION: "kernel.role.write"}, summary="Change a custom role")
    async def update_role(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        role_id: FromPath[UUID],
        data: JSONBody[RolePatch],
    ) -> RoleOut:
        declared = request.app.state.kernel.registry.declared_permissions
        role = await _get(db_session, role_id)
        if role.is_system:
            raise Conflict("System roles cannot be changed; create a custom role instead.")
        before = _snapshot(role)
        if data.name is not None:
            if not data.name.strip():
                raise ValidationFailed("The role needs a name.", errors=[{"field": "name", "message": "required"}])
            role.name = data.name.strip()
        if data.description is not None:
            role.description = data.description
        if data.permissions is not None:
            role.permissions = _check_permissions(data.permissions, declared)
        await db_session.flush()
        await _audit_role(db_session, request, "role.updated", role, before)
        users = (await db_session.execute(select(func.count(User.id)).where(User.role_id == role.id))).scalar_one()
        return _out(role, users, declared)

    @delete("/{role_id:uuid}", opt={PERMISSION: "kernel.role.write"}, summary="Delete a custom role nobody holds")
    async def delete_role(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], role_id: FromPath[UUID]
    ) -> None:
        role = await _get(db_session, role_id)
        if role.is_system:
            raise Conflict("System roles cannot be deleted.")
        holders = (await db_session.execute(select(func.count(User.id)).where(User.role_id == role.id))).scalar_one()
        if holders:
            raise Conflict("Users still have this role (%(count)d); give them another one first.", count=holders)
        before = _snapshot(role)
        await db_session.delete(role)
        await db_session.flush()
        await _audit_role(db_session, request, "role.deleted", role, before, deleted=True)


async def _get(session: AsyncSession, role_id: UUID) -> Role:
    role = (await session.execute(select(Role).where(Role.id == role_id))).scalar_one_or_none()
    if role is None:
        raise NotFound("Role not found.")
    return role


def _snapshot(role: Role) -> dict[str, Any]:
    return {"key": role.key, "name": role.name, "description": role.description, "permissions": role.permissions}


async def _audit_role(
    session: AsyncSession,
    request: Request[Any, Any, Any],
    action: str,
    role: Role,
    before: dict[str, Any] | None,
    deleted: bool = False,
) -> None:
    from kernel.auth.services import _audit
    from kernel.auth.users import _who

    await _audit(
        session,
        action,
        "role",
        role.id,
        before=before,
        after=None if deleted else _snapshot(role),
        **_who(request.scope["user"]),
    )
