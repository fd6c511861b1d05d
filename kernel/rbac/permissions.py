"""The kernel's permissions, the seeded roles, and how a user's permissions are worked out.

System roles (admin, supervisor, operator, analyst) take their permissions from what every loaded
plugin declares (``Permission.default_roles``), so a newly installed plugin's permissions reach them
without a data migration; admin has them all. Custom roles list theirs explicitly. A user's effective
permissions are their role's, limited to the kernel's and those of the plugins the organization has
enabled. Platform administrators hold every ``platform.*`` permission and no tenant one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kernel.i18n.catalogs import N_
from kernel.sdk import Permission

__all__ = [
    "KERNEL",
    "KERNEL_PERMISSIONS",
    "PLATFORM_PERMISSIONS",
    "SYSTEM_ROLES",
    "SystemRole",
    "check_within_reach",
    "effective_permissions",
    "role_permissions",
]

KERNEL = "kernel"

KERNEL_PERMISSIONS = (
    Permission("kernel.user.read", N_("See the organization's users"), ("admin", "supervisor")),
    Permission("kernel.user.write", N_("Invite, change and deactivate users"), ("admin",)),
    Permission("kernel.role.read", N_("See roles and permissions"), ("admin", "supervisor")),
    Permission("kernel.role.write", N_("Create and change custom roles"), ("admin",)),
    Permission("kernel.api_token.write", N_("Create and revoke API tokens"), ("admin",)),
    Permission("kernel.audit.read", N_("Read the audit trail"), ("admin", "supervisor", "analyst")),
    Permission("kernel.organization.write", N_("Change the company profile"), ("admin",)),
    Permission("kernel.plugin.manage", N_("Enable and disable modules"), ("admin",)),
)

PLATFORM_PERMISSIONS = (
    Permission("platform.tenant.manage", N_("Create, suspend and impersonate organizations"), ()),
    Permission("platform.plan.manage", N_("Manage plans"), ()),
    Permission("platform.audit.read", N_("Read the platform audit trail"), ()),
)


@dataclass(frozen=True)
class SystemRole:
    key: str
    name: str
    description: str


SYSTEM_ROLES = (
    SystemRole("admin", N_("Administrator"), N_("Everything in the organization, including users and billing.")),
    SystemRole("supervisor", N_("Supervisor"), N_("Runs the team: conversations, queues, reports.")),
    SystemRole("operator", N_("Operator"), N_("Serves customers in the conversations assigned to them.")),
    SystemRole("analyst", N_("Analyst"), N_("Reads dashboards and reports.")),
)


def role_permissions(
    key: str, is_system: bool, custom: Iterable[str] | None, declared: dict[str, Permission]
) -> frozenset[str]:
    """The permissions a role grants, among those currently ``declared`` (name -> Permission)."""
    if not is_system:
        return frozenset(name for name in custom or () if name in declared)
    if key == "admin":
        return frozenset(name for name in declared if not name.startswith("platform."))
    return frozenset(name for name, perm in declared.items() if key in perm.default_roles)


def effective_permissions(granted: frozenset[str], owners: dict[str, str], enabled: frozenset[str]) -> frozenset[str]:
    """``granted`` limited to the kernel's permissions and those of the enabled plugins."""
    return frozenset(name for name in granted if owners.get(name) == KERNEL or owners.get(name) in enabled)


def check_within_reach(actor: object, permissions: Iterable[str]) -> None:
    """Nobody hands out more than they hold: a role assigned, created or changed by ``actor`` must not
    grant a permission ``actor`` lacks (administrators hold them all). Otherwise anyone who may manage
    users or roles could make themselves an administrator.
    """
    from kernel.errors import Forbidden

    if getattr(actor, "role", None) == "admin":
        return
    held = getattr(actor, "permissions", frozenset())
    beyond = sorted(set(permissions) - set(held))
    if beyond:
        raise Forbidden(
            "You cannot give permissions you do not have: %(permissions)s",
            errors=[{"field": "permissions", "message": "not grantable", "values": beyond}],
            permissions=", ".join(beyond),
        )
