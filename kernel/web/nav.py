"""The kernel's own entries of the sidebar, and the sections every entry is grouped in.

Plugins add theirs with ``register_nav``; the shell shows an entry when its plugin is enabled for the
organization (the kernel's always are) and the person holds its permission. Platform administrators,
who belong to no organization, see only the platform section.
"""

from __future__ import annotations

from kernel.i18n.catalogs import N_
from kernel.sdk import NavItem

__all__ = ["KERNEL_NAV", "KERNEL_PAGES", "PLATFORM_PAGES", "SECTIONS", "section_label"]

KERNEL_PAGES = "/app/-"
"""Prefix of the kernel's own pages (``-`` can never be a plugin's name)."""
PLATFORM_PAGES = f"{KERNEL_PAGES}/platform"

SECTIONS: dict[str, tuple[int, str]] = {
    "main": (0, ""),
    "service": (10, N_("Customer service")),
    "sales": (20, N_("Sales")),
    "insights": (30, N_("Insights")),
    "settings": (80, N_("Settings")),
    "platform": (90, N_("Platform")),
}
"""Known sections: their order and label. A plugin may name another section; it comes after these."""

KERNEL_NAV = (
    NavItem("kernel.home", N_("Home"), "/app/", icon="house", section="main", order=0),
    NavItem(
        "kernel.company",
        N_("Company profile"),
        f"{KERNEL_PAGES}/company",
        icon="building-2",
        section="settings",
        order=10,
        permission="kernel.organization.write",
    ),
    NavItem(
        "kernel.users",
        N_("Users"),
        f"{KERNEL_PAGES}/users",
        icon="users",
        section="settings",
        order=20,
        permission="kernel.user.read",
    ),
    NavItem(
        "kernel.roles",
        N_("Roles"),
        f"{KERNEL_PAGES}/roles",
        icon="shield",
        section="settings",
        order=30,
        permission="kernel.role.read",
    ),
    NavItem(
        "kernel.modules",
        N_("Modules"),
        f"{KERNEL_PAGES}/modules",
        icon="puzzle",
        section="settings",
        order=40,
        permission="kernel.plugin.manage",
    ),
    NavItem(
        "kernel.ai",
        N_("Artificial intelligence"),
        f"{KERNEL_PAGES}/ai",
        icon="sparkles",
        section="settings",
        order=50,
        permission="kernel.organization.write",
    ),
    NavItem(
        "kernel.api_tokens",
        N_("API tokens"),
        f"{KERNEL_PAGES}/api-tokens",
        icon="key-round",
        section="settings",
        order=60,
        permission="kernel.api_token.write",
    ),
    NavItem(
        "kernel.audit",
        N_("Audit log"),
        f"{KERNEL_PAGES}/audit",
        icon="scroll-text",
        section="settings",
        order=70,
        permission="kernel.audit.read",
    ),
    NavItem(
        "platform.overview",
        N_("Overview"),
        f"{PLATFORM_PAGES}/",
        icon="layout-dashboard",
        section="platform",
        order=10,
        permission="platform.tenant.manage",
    ),
    NavItem(
        "platform.tenants",
        N_("Organizations"),
        f"{PLATFORM_PAGES}/tenants",
        icon="store",
        section="platform",
        order=20,
        permission="platform.tenant.manage",
    ),
    NavItem(
        "platform.plans",
        N_("Plans"),
        f"{PLATFORM_PAGES}/plans",
        icon="layers",
        section="platform",
        order=30,
        permission="platform.plan.manage",
    ),
    NavItem(
        "platform.plugins",
        N_("Plugin catalog"),
        f"{PLATFORM_PAGES}/plugins",
        icon="plug",
        section="platform",
        order=40,
        permission="platform.tenant.manage",
    ),
    NavItem(
        "platform.defaults",
        N_("Global defaults"),
        f"{PLATFORM_PAGES}/defaults",
        icon="settings",
        section="platform",
        order=50,
        permission="platform.tenant.manage",
    ),
    NavItem(
        "platform.audit",
        N_("Platform audit"),
        f"{PLATFORM_PAGES}/audit",
        icon="scroll-text",
        section="platform",
        order=60,
        permission="platform.audit.read",
    ),
)


def section_label(section: str) -> str:
    """The msgid of a section's label (a plugin's own section shows its name capitalised)."""
    known = SECTIONS.get(section)
    return known[1] if known else section.replace("-", " ").replace("_", " ").capitalize()
