"""Named slots: places on a page where the organization's enabled plugins add their own fragments.

A page calls ``await render_slot(request, "dashboard.cards", contact=contact)`` and prints the result;
each plugin's ``render_slot`` hook returns :class:`kernel.sdk.Fragment` items (rendered from the
plugin's own templates, with its own translations), HTML strings it escaped itself, or ``None``.
Fragments are drawn in ``order``; one plugin's broken fragment is logged and left out, so it cannot
take the page down with it.
"""

from __future__ import annotations

import inspect
from typing import Any

import structlog
from markupsafe import Markup

from kernel.i18n.catalogs import KERNEL_DOMAIN, Translator, current_translator, using_translator
from kernel.sdk import Fragment

__all__ = ["render_slot"]

log = structlog.get_logger("kernel.web")


async def render_slot(request: Any, slot: str, **context: Any) -> list[Markup]:
    kernel = request.app.state.kernel
    actor = request.scope.get("user")
    enabled = getattr(actor, "enabled_plugins", frozenset())
    pieces: list[tuple[int, str, Markup]] = []
    for plugin, result in kernel.plugins.call_each(
        "render_slot", only=enabled, kernel=kernel, slot=slot, request=request, context=context
    ):
        if inspect.isawaitable(result):
            result = await result
        for item in result if isinstance(result, list | tuple) else [result]:
            if item is None:
                continue
            try:
                pieces.append(_render(request, plugin, item, context))
            except Exception:  # one plugin's broken fragment must not break the page
                log.exception("slot_fragment_failed", plugin=plugin, slot=slot)
    return [html for _, _, html in sorted(pieces, key=lambda piece: (piece[0], piece[1]))]


def _render(request: Any, plugin: str, item: Any, context: dict[str, Any]) -> tuple[int, str, Markup]:
    if isinstance(item, str):
        return 100, plugin, Markup(item)  # noqa: S704 - the plugin escaped its own HTML
    if not isinstance(item, Fragment):
        raise TypeError(f"render_slot returned {type(item).__name__}")
    from kernel.web.shell import shell_context

    environment = request.app.template_engine.engine
    current = current_translator()
    # The fragment speaks the plugin's catalog first, like the plugin's own pages.
    plugin_translator = Translator(
        catalogs=current.catalogs, language=current.language, domains=(plugin, KERNEL_DOMAIN), timezone=current.timezone
    )
    with using_translator(plugin_translator):
        values = {**shell_context(request), **context, **item.context}
        html = environment.get_template(item.template).render(**values)
    return item.order, plugin, Markup(html)  # noqa: S704 - rendered by an autoescaping environment
