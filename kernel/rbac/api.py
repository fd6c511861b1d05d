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
from kernel.rbac.permissions import SYSTEM_ROLES, check_within_reach, role_permissions

__all__ = ["RolesController", "create_role", "delete_role", "role_user_counts", "seed_system_roles", "update_role"]

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


async def role_user_counts(session: AsyncSession) -> dict[UUID, int]:
    """How many users hold each role of the organization."""
    rows = await session.execute(select(User.role_id, func.count(User.id)).group_by(User.role_id))
    return {role_id: count for role_id, count in rows.tuples() if role_id is not None}


async def create_role(
    session: AsyncSession,
    actor: Any,
    declared: dict[str, Any],
    *,
    key: str,
    name: str,
    permissions: list[str],
    description: str = "",
) -> Role:
    """A custom role of the actor's organization from declared permissions (audited)."""
    key = key.strip().lower()
    if not KEY_RE.match(key):
        raise ValidationFailed(
            "The key must be lowercase letters, digits, - or _.", errors=[{"field": "key", "message": "invalid"}]
        )
    if not name.strip():
        raise ValidationFailed("The role needs a name.", errors=[{"field": "name", "message": "required"}])
    if (await session.execute(select(Role.id).where(Role.key == key))).first():
        raise Conflict("A role %(role)s already exists.", role=key)
    check_within_reach(actor, permissions)
    role = Role(
        key=key,
        name=name.strip(),
        description=description,
        is_system=False,
        permissions=_check_permissions(permissions, declared),
    )
    session.add(role)
    await session.flush()
    await _audit_role(session, actor, "role.created", role, None)
    return role


async def update_role(
    session: AsyncSession,
    actor: Any,
    declared: dict[str, Any],
    role_id: UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    permissions: list[str] | None = None,
) -> Role:
    """Change a custom role (system roles cannot be changed); audited."""
    role = await _get(session, role_id)
    if role.is_system:
        raise Conflict("System roles cannot be changed; create a custom role instead.")
    before = _snapshot(role)
    if name is not None:
        if not name.strip():
            raise ValidationFailed("The role needs a name.", errors=[{"field": "name", "message": "required"}])
        role.name = name.strip()
    if description is not None:
        role.description = description
    if permissions is not None:
        check_within_reach(actor, permissions)
        role.permissions = _check_permissions(permissions, declared)
    await session.flush()
    await _audit_role(session, actor, "role.updated", role, before)
    return role


async def delete_role(session: AsyncSession, actor: Any, role_id: UUID) -> Role:
    """Delete a custom role nobody holds; audited."""
    role = await _get(session, role_id)
    if role.is_system:
        raise Conflict("System roles cannot be deleted.")
    holders = (await session.execute(select(func.count(User.id)).where(User.role_id == role.id))).scalar_one()
    if holders:
        raise Conflict("Users still have this role (%(count)d); give them another one first.", count=holders)
    before = _snapshot(role)
    await session.delete(role)
    await session.flush()
    await _audit_role(session, actor, "role.deleted", role, before, deleted=True)
    return role


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
        counts = await role_user_counts(db_session)
        roles = (await db_session.execute(select(Role).order_by(Role.is_system.desc(), Role.name))).scalars()
        return [_out(role, counts.get(role.id, 0), declared) for role in roles]

    @post("/", opt={PERMISSION: "kernel.role.write"}, summary="Create a custom role from permissions")
    async def create_role(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[RoleIn]
    ) -> RoleOut:
        declared = request.app.state.kernel.registry.declared_permissions
        role = await create_role(
            db_session,
            request.scope["user"],
            declared,
            key=data.key,
            name=data.name,
            permissions=data.permissions,
            description=data.description,
        )
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
        role = await update_role(
            db_session,
            request.scope["user"],
            declared,
            role_id,
            name=data.name,
            description=data.description,
            permissions=data.permissions,
        )
        users = (await db_session.execute(select(func.count(User.id)).where(User.role_id == role.id))).scalar_one()
        return _out(role, users, declared)

    @delete("/{role_id:uuid}", opt={PERMISSION: "kernel.role.write"}, summary="Delete a custom role nobody holds")
    async def delete_role(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], role_id: FromPath[UUID]
    ) -> None:
        await delete_role(db_session, request.scope["user"], role_id)


async def _get(session: AsyncSession, role_id: UUID) -> Role:
    role = (await session.execute(select(Role).where(Role.id == role_id))).scalar_one_or_none()
    if role is None:
        raise NotFound("Role not found.")
    return role


def _snapshot(role: Role) -> dict[str, Any]:
    return {"key": role.key, "name": role.name, "description": role.description, "permissions": role.permissions}


async def _audit_role(
    session: AsyncSession,
    actor: Any,
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
        **_who(actor),
    )
