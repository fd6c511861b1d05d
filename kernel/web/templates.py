"""Jinja templates: the shell's layout plus each plugin's ``templates/<plugin>/`` folder."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

import webui
from kernel.i18n.catalogs import (
    KERNEL_DOMAIN,
    Catalogs,
    Translator,
    negotiate_language,
    use_translator,
)
from kernel.i18n.formatting import install_jinja_i18n

LANGUAGE_COOKIE = "atendai_lang"
"""The language someone picked on a page before (or without) logging in."""

__all__ = ["build_template_config", "page", "set_request_translator"]


def build_template_config(kernel: Any) -> TemplateConfig[JinjaTemplateEngine]:
    directories = [webui.TEMPLATES_DIR]
    for loaded in kernel.plugins.plugins.values():
        if loaded.path and (loaded.path / "templates").is_dir():
            directories.append(loaded.path / "templates")
    env = Environment(loader=FileSystemLoader(directories), autoescape=select_autoescape(["html"]), enable_async=False)
    install_jinja_i18n(env)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def set_request_translator(request: Request[Any, Any, Any]) -> None:
    """Pick the request's language (user, then organization, then browser), time zone and catalogs."""
    kernel = request.app.state.kernel
    catalogs: Catalogs = request.app.state.catalogs
    actor = request.scope.get("user")
    language = negotiate_language(
        [
            getattr(actor, "language", None),
            request.cookies.get(LANGUAGE_COOKIE),
            getattr(actor, "tenant_language", None),
        ],
        request.headers.get("accept-language"),
        kernel.settings.default_language,
    )
    plugin = request.route_handler.opt.get("plugin")
    domains = (plugin, KERNEL_DOMAIN) if plugin else (KERNEL_DOMAIN,)
    timezone = getattr(actor, "tenant_timezone", None) or kernel.settings.default_timezone
    use_translator(Translator(catalogs=catalogs, language=language, domains=domains, timezone=timezone))


def page(request: Request[Any, Any, Any], template: str, **context: Any) -> Template:
    """Render a page inside the shell (see :func:`kernel.web.shell.page`)."""
    from kernel.web.shell import page as shell_page

    return shell_page(request, template, **context)
