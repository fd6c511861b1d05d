"""``create_app(settings)``: the only place the Litestar application is built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

import webui
from kernel import __version__
from kernel.audit.api import AuditController, PlatformAuditController
from kernel.auth.api import ApiTokensController, AuthController, UsersController
from kernel.auth.middleware import auth_middleware
from kernel.cache import build_store
from kernel.config import Settings, load_settings
from kernel.db.capabilities import detect_capabilities
from kernel.errors import EXCEPTION_HANDLERS
from kernel.events.api import EventCatalogController
from kernel.http import AllowList
from kernel.i18n.catalogs import KERNEL_DOMAIN, Catalogs
from kernel.llm import STATE_KEY as LLM_STATE_KEY
from kernel.llm import LlmGateway
from kernel.llm.credentials import StoredCredentials
from kernel.logs import configure_logging
from kernel.mail import build_mailer
from kernel.metrics import build_prometheus_config, metrics_endpoint
from kernel.plugins.manager import PluginLoadError
from kernel.plugins.routing import plugin_routers, plugin_static_routers
from kernel.rbac.api import RolesController
from kernel.rbac.guard import permission_guard
from kernel.realtime import build_channels_plugin, realtime_socket
from kernel.runtime import Kernel, build_kernel
from kernel.runtime_services import start_background, stop_background
from kernel.secrets import secret_box
from kernel.web.context import RequestContextMiddleware
from kernel.web.health import healthz, readyz, welcome
from kernel.web.routes import kernel_routes
from kernel.web.security import SecurityHeadersMiddleware
from kernel.web.templates import build_template_config, set_request_translator

__all__ = ["create_app"]

KERNEL_LOCALE_DIR = Path(__file__).parent / "locale"
FAVICON = "<link rel='icon' type='image/svg+xml' href='/static/img/favicon.svg'>"


def create_app(settings: Settings | None = None, *, kernel: Kernel | None = None) -> Litestar:
    """Build the app: plugins loaded and checked, database opened (and migrated when configured)."""
    settings = settings or (kernel.settings if kernel else load_settings())
    configure_logging(settings.log_level, settings.log_json)
    kernel = kernel or build_kernel(settings)
    secret_box(settings)  # refuses to start in production without ATENDAI_SECRETS_KEYS
    AllowList.from_settings(settings)  # a malformed ATENDAI_HTTP_ALLOW stops start-up, naming the variable
    kernel.connect()
    if settings.should_auto_migrate:
        kernel.ensure_migrated()

    catalogs = _load_catalogs(kernel)
    kernel.state["catalogs"] = catalogs  # for code without a request: mail, pushed notifications
    kernel.state.setdefault("mailer", build_mailer(settings))
    kernel.state.setdefault(LLM_STATE_KEY, LlmGateway(kernel, credentials=StoredCredentials(kernel)))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        kernel.state["capabilities"] = await detect_capabilities(kernel.db.engine)
        for _plugin, result in kernel.plugins.call_each("startup", kernel=kernel):
            if hasattr(result, "__await__"):
                await result
        await start_background(kernel, worker=settings.runs_worker_in_process, publish=_event_pusher(kernel))
        try:
            yield
        finally:
            await stop_background(kernel)
            for _plugin, result in kernel.plugins.call_each("shutdown", kernel=kernel, reverse=True):
                if hasattr(result, "__await__"):
                    await result

    async def before_request(request: Request[Any, Any, Any]) -> None:
        set_request_translator(request)

    app = Litestar(
        route_handlers=[
            welcome,
            *kernel_routes(),
            healthz,
            readyz,
            metrics_endpoint,
            EventCatalogController,
            AuthController,
            UsersController,
            RolesController,
            ApiTokensController,
            AuditController,
            PlatformAuditController,
            realtime_socket,
            create_static_files_router(path="/static", directories=[webui.STATIC_DIR], include_in_schema=False),
            *plugin_static_routers(kernel.plugins),
            *plugin_routers(kernel.registry),
        ],
        plugins=[SQLAlchemyPlugin(config=kernel.db.config), build_channels_plugin(settings, kernel=kernel)],
        middleware=[
            RequestContextMiddleware,
            DefineMiddleware(SecurityHeadersMiddleware, hsts=settings.base_url.startswith("https://")),
            build_prometheus_config().middleware,
            auth_middleware(),
        ],
        guards=[permission_guard],
        before_request=before_request,
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=build_template_config(kernel),
        openapi_config=OpenAPIConfig(
            title="Atendai API",
            version=__version__,
            path="/schema",
            # Served from our own static files: the reference works offline and loads nothing from a CDN.
            render_plugins=[
                ScalarRenderPlugin(
                    favicon=FAVICON,
                    js_url="/static/vendor/scalar/standalone.js",
                    css_url="/static/css/apidocs.css",
                    # No web fonts, no "agent" chat, no telemetry: the page talks only to this server.
                    options={
                        "withDefaultFonts": False,
                        "darkMode": True,
                        "agent": {"disabled": True},
                        "telemetry": False,
                    },
                ),
                SwaggerRenderPlugin(
                    favicon=FAVICON,
                    js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
                    css_url="/static/vendor/swagger-ui/swagger-ui.css",
                    standalone_preset_js_url="/static/vendor/swagger-ui/swagger-ui-standalone-preset.js",
                ),
            ],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT access token or atd_ API token",
                        description="POST /api/v1/auth/login returns an access token; API tokens start with atd_.",
                    )
                }
            ),
            security=[{"BearerToken": []}],
        ),
        lifespan=[lifespan],
        state=State({"kernel": kernel, "catalogs": catalogs, "auth_store": build_store(settings.redis_url, "auth")}),
        debug=False,
        logging_config=None,  # kernel.logs configured logging already; Litestar's default would replace it
    )
    return app


def _event_pusher(kernel: Kernel) -> Any:
    """Tell the tenant's open pages that an event happened: its id and type only (they fetch the rest).

    Every member may listen to ``events``, so payloads, which may hold what some roles must not see,
    stay out of it.
    """
    from kernel.realtime import publish

    def push(tenant_id: Any, event: Any) -> None:
        publish(
            kernel,
            tenant_id,
            "events",
            {
                "id": str(event.id),
                "name": event.name,
                "version": event.version,
                "occurred_at": event.occurred_at.isoformat(),
            },
        )

    return push


def _load_catalogs(kernel: Kernel) -> Catalogs:
    catalogs = Catalogs()
    catalogs.add_domain(KERNEL_DOMAIN, KERNEL_LOCALE_DIR)
    for name, loaded in kernel.plugins.plugins.items():
        if loaded.path and (loaded.path / "locale").is_dir():
            catalogs.add_domain(name, loaded.path / "locale")
    return catalogs


def app_factory() -> Litestar:
    """Entry for ASGI servers: ``uvicorn --factory kernel.app:app_factory``."""
    try:
        return create_app()
    except PluginLoadError as exc:
        raise SystemExit(f"atendai: {exc}") from exc
