"""Every hook a plugin can implement, grouped by when the kernel calls it.

Rules (see ``docs/plugins/hooks.md``, which a test keeps in step with this file):

* the kernel calls hooks with keyword arguments only; an implementation may accept any subset of them;
* ``register_*`` hooks run once per process while the app is built and return plain values
  (a single item, a list, or ``None``); the kernel checks names for clashes;
* per-request, per-tenant and lifecycle hooks may return a value or an awaitable;
* a hook is only called for a tenant that has the plugin enabled (``subset_hook_caller``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pluggy

hookspec = pluggy.HookspecMarker("atendai")

# --- Publishing hooks -------------------------------------------------------------------------


@hookspec(historic=True)
def atendai_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Add hook specifications of a plugin's own (e.g. the inbox's ``register_channels``)."""


# --- Registration: called once while the app is built -----------------------------------------


@hookspec
def register_routes(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.Routes` (or a list of API handlers): ``/api/v1/<plugin>`` and ``/app/<plugin>``."""


@hookspec
def register_migrations(kernel: Any) -> Any:
    """Return the plugin's :class:`kernel.sdk.MigrationSpec` (its Alembic branch and version folder)."""


@hookspec
def register_permissions(kernel: Any) -> Any:
    """Return the :class:`kernel.sdk.Permission` items the plugin declares (``<plugin>.<noun>.<verb>``)."""


@hookspec
def register_nav(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.NavItem` entries for the sidebar."""


@hookspec
def register_events(kernel: Any) -> Any:
    """Return the :class:`kernel.sdk.EventType` items the plugin emits (the catalog webhooks offer)."""


@hookspec
def register_subscriptions(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.Subscription` items: handlers for events of any plugin."""


@hookspec
def register_jobs(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.JobSpec` items: background tasks and cron jobs, named ``<plugin>.<name>``."""


@hookspec
def register_llm_tools(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.LLMTool` items the AI agents may call."""


@hookspec
def register_settings(kernel: Any) -> Any:
    """Return the plugin's per-tenant :class:`kernel.sdk.SettingsSpec`."""


@hookspec
def register_features(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.Feature` flags and quotas a plan can grant."""


@hookspec
def register_dashboard_metrics(kernel: Any) -> Any:
    """Return metric providers for the dashboard."""


@hookspec
def register_onboarding_steps(kernel: Any) -> Any:
    """Return :class:`kernel.sdk.OnboardingStep` items for the home page's first-steps checklist."""


@hookspec
def register_cli(cli: Any) -> None:
    """Add subcommands to the ``atendai`` command (a ``click.Group``)."""


# --- Per request and per tenant ---------------------------------------------------------------


@hookspec
def render_slot(kernel: Any, slot: str, request: Any, context: dict[str, Any]) -> Any:
    """Return :class:`kernel.sdk.Fragment` items (or HTML strings) for the named page slot."""


@hookspec
def on_plugin_enabled(kernel: Any, tenant_id: UUID, session: Any) -> Any:
    """The plugin was enabled for ``tenant_id``: seed what it needs, in the caller's transaction."""


@hookspec
def on_plugin_disabled(kernel: Any, tenant_id: UUID, session: Any) -> Any:
    """The plugin was disabled for ``tenant_id``: stop its work there (data is kept)."""


@hookspec
def seed_demo(kernel: Any, tenant_id: UUID, session: Any) -> Any:
    """Add sample data to a demo tenant (``atendai demo``, the isolation harness); must be idempotent."""


# --- Lifecycle ---------------------------------------------------------------------------------


@hookspec
def startup(kernel: Any) -> Any:
    """The app is starting: open clients and pools. Raise to stop start-up."""


@hookspec
def shutdown(kernel: Any) -> Any:
    """The app is stopping: close what ``startup`` opened."""
