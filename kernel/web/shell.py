"""Rendering pages inside the shell, and the small vocabulary every page handler shares.

* :func:`page` draws a template inside the layout (sidebar, top bar, theme, toasts); :func:`fragment`
  renders a piece of a page for an htmx swap with the same context.
* :func:`flash` carries a message across a redirect; :func:`toast` shows one after an htmx request.
* :func:`hx_redirect` sends the browser elsewhere, from an htmx request or a plain form post alike.
* :func:`field_errors` turns a :class:`~kernel.errors.ValidationFailed` into translated messages per
  form field, so a form can be shown again with what the person typed and what to fix.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from kernel.i18n.catalogs import KERNEL_DOMAIN, N_, SUPPORTED_LANGUAGES, current_translator, translator
from kernel.web.templates import LANGUAGE_COOKIE

__all__ = [
    "FLASH_COOKIE",
    "LANGUAGE_COOKIE",
    "LANGUAGE_NAMES",
    "NavEntry",
    "NavSection",
    "field_errors",
    "flash",
    "form_values",
    "fragment",
    "hx_redirect",
    "is_htmx",
    "page",
    "shell_context",
    "toast",
    "toast_header",
]

FLASH_COOKIE = "atendai_flash"
LANGUAGE_NAMES = {"pt-BR": "Português (Brasil)", "en": "English", "es": "Español"}
"""Each language in its own words: the switch must be readable whatever language is showing."""
TOAST_KINDS = ("success", "info", "warning", "error")

_FIELD_MESSAGES = {
    "required": N_("This field is required."),
    "invalid": N_("This value is not valid."),
    "unknown": N_("This value is not one of the options."),
    "too short": N_("This is too short."),
    "too long": N_("This is too long."),
    "taken": N_("This is already taken."),
    "mismatch": N_("The two values are not the same."),
}
"""Machine codes services put in ``errors[].message``, and the sentence a person reads for each."""


@dataclass(frozen=True)
class NavEntry:
    id: str
    label: str
    href: str
    icon: str
    current: bool


@dataclass(frozen=True)
class NavSection:
    id: str
    label: str
    entries: tuple[NavEntry, ...]


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _matches(path: str, href: str) -> bool:
    base = href.rstrip("/")
    if base == "/app":
        return path in ("/app", "/app/")
    return path == base or path.startswith(base + "/")


def navigation(request: Request[Any, Any, Any]) -> list[NavSection]:
    """The sidebar of this person: enabled plugins' entries and the kernel's, by section, permission-filtered."""
    from kernel.rbac.permissions import KERNEL
    from kernel.web.nav import SECTIONS, section_label

    cached = request.scope.get("state", {}).get("atendai_nav")
    if cached is not None:
        return cached
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    actor = request.scope.get("user")
    if actor is None:
        return []
    language = current_translator().language
    enabled = getattr(actor, "enabled_plugins", frozenset())
    platform_only = getattr(actor, "tenant_id", None) is None
    path = request.url.path
    visible = []
    for plugin, item in kernel.registry.nav:
        if platform_only != (item.section == "platform"):
            continue
        if plugin != KERNEL and plugin not in enabled:
            continue
        if item.permission is not None and not actor.can(item.permission):
            continue
        visible.append((plugin, item))
    # The most specific entry whose address holds the current page is the current one.
    current = max((item.href for _, item in visible if _matches(path, item.href)), key=len, default=None)
    grouped: dict[str, list[tuple[int, NavEntry]]] = {}
    for plugin, item in visible:
        domains = (KERNEL_DOMAIN,) if plugin == KERNEL else (plugin, KERNEL_DOMAIN)
        label = catalogs.gettext(domains, language, item.label)
        entry = NavEntry(item.id, label, item.href, item.icon, item.href == current)
        grouped.setdefault(item.section, []).append((item.order, entry))
    order = {name: rank for name, (rank, _) in SECTIONS.items()}
    sections = []
    for section in sorted(grouped, key=lambda name: (order.get(name, 50), name)):
        entries = tuple(entry for _, entry in sorted(grouped[section], key=lambda pair: (pair[0], pair[1].id)))
        msgid = section_label(section)
        label = catalogs.gettext((KERNEL_DOMAIN,), language, msgid) if msgid else ""
        sections.append(NavSection(section, label, entries))
    request.scope.setdefault("state", {})["atendai_nav"] = sections
    return sections


def _read_flash(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        messages = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(messages, list):
        return []
    return [
        {"kind": str(m.get("kind")), "message": str(m.get("message"))[:500]}
        for m in messages[:5]
        if isinstance(m, dict) and m.get("kind") in TOAST_KINDS
    ]


def shell_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the layout needs on every page: sidebar, organization, theme, languages, pending messages."""
    from kernel.storage import media_url
    from kernel.web.theme import brand_theme, style_attribute

    actor = request.scope.get("user")
    language = current_translator().language
    theme = brand_theme(getattr(actor, "brand_primary", None), getattr(actor, "brand_accent", None))
    expires = getattr(actor, "token_expires_at", None)
    logo_path = getattr(actor, "logo_path", None)
    sections = navigation(request)
    return {
        "language": language,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
        "actor": actor,
        "nav_sections": sections,
        "nav": [entry for section in sections for entry in section.entries],
        "organization_name": getattr(actor, "tenant_name", None),
        "logo_url": media_url(logo_path) if logo_path else None,
        "theme_style": style_attribute(theme),
        "flash_messages": _read_flash(request),
        "session_expires_at": int(expires.timestamp() * 1000) if expires else None,
        "current_path": request.url.path,
        "is_htmx": is_htmx(request),
    }


def page(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    """Render ``template`` (which extends ``base.html``) inside the shell."""
    values = shell_context(request)
    values.update(context)
    cookies = [Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/")] if values["flash_messages"] else []
    return Template(template_name=template, context=values, status_code=status_code, cookies=cookies)


def fragment(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    toast_message: str | None = None,
    toast_kind: str = "success",
    **context: Any,
) -> Template:
    """Render a piece of a page for an htmx swap (same context as :func:`page`), optionally with a toast."""
    values = shell_context(request)
    values.update(context)
    headers = toast_header(toast_message, toast_kind) if toast_message else {}
    return Template(template_name=template, context=values, status_code=status_code, headers=headers)


def toast_header(message: str, kind: str) -> dict[str, str]:
    payload = {"toast": {"kind": kind if kind in TOAST_KINDS else "info", "message": message}}
    return {"HX-Trigger": json.dumps(payload, ensure_ascii=True)}


def toast(message: str, kind: str = "success", *, status_code: int = 204) -> Response[None]:
    """An htmx answer with nothing to swap, only a toast (``message`` already translated)."""
    return Response(None, status_code=status_code, headers=toast_header(message, kind))


def flash(message: str, kind: str = "success") -> Cookie:
    """A cookie that shows ``message`` as a toast on the next page (after a redirect)."""
    payload = json.dumps([{"kind": kind, "message": message}], ensure_ascii=True).encode()
    return Cookie(
        key=FLASH_COOKIE,
        value=base64.urlsafe_b64encode(payload).decode().rstrip("="),
        max_age=60,
        path="/",
        httponly=True,
        samesite="lax",
    )


def hx_redirect(
    request: Request[Any, Any, Any], path: str, *, message: str | None = None, kind: str = "success"
) -> Response[Any]:
    """Go to ``path``: ``HX-Redirect`` for htmx, ``303 See Other`` for a plain form post."""
    cookies = [flash(message, kind)] if message else []
    if is_htmx(request):
        return Response(None, status_code=200, headers={"HX-Redirect": path}, cookies=cookies)
    return Redirect(path=path, status_code=303, cookies=cookies)


def login_redirect_path(request: Request[Any, Any, Any]) -> str:
    """Where a page without a (valid) session goes: resume the session if a refresh token allows, else log in."""
    target = request.headers.get("hx-current-url") if is_htmx(request) else None
    next_path = request.url.path
    if target:
        from urllib.parse import urlsplit

        split = urlsplit(target)
        next_path = split.path + (f"?{split.query}" if split.query else "")
    elif request.url.query:
        next_path = f"{request.url.path}?{request.url.query}"
    return f"/api/v1/auth/resume?next={quote(next_path, safe='/')}"


async def form_values(request: Request[Any, Any, Any]) -> Any:
    """The posted form (url-encoded or multipart) as a multi-dict: ``.get(name)``, ``.getall(name)``."""
    return await request.form()


def field_errors(exc: Any) -> dict[str, str]:
    """Translated messages per field of a :class:`~kernel.errors.ValidationFailed` (``""``: the whole form).

    A service names the field and a machine code (``required``, ``invalid``, ...), and may add a
    ``detail`` msgid (with ``params``) for that field alone. With one field the service's own sentence
    is the clearest message; with several each field gets its own detail, else its code's sentence.
    """
    t = translator() or current_translator()
    detail = t.gettext(exc.detail, **exc.params) if getattr(exc, "detail", None) else ""
    fields = [e for e in getattr(exc, "errors", []) if isinstance(e, dict) and e.get("field")]
    if not fields:
        return {"": detail}
    if len({e["field"] for e in fields}) == 1:
        return {str(fields[0]["field"]): detail}
    messages: dict[str, str] = {}
    for error in fields:
        if error.get("detail"):
            messages.setdefault(str(error["field"]), t.gettext(str(error["detail"]), **dict(error.get("params") or {})))
            continue
        code = str(error.get("message", ""))
        messages.setdefault(
            str(error["field"]), t.gettext(_FIELD_MESSAGES[code]) if code in _FIELD_MESSAGES else detail
        )
    return messages
