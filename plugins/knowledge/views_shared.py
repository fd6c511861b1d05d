"""What the knowledge pages share: permissions, reading forms, turning service errors into form
errors and toasts, the Markdown preview, and the small vocabularies (statuses, kinds, languages).

The pages call the same services as the JSON API (``services.py``, ``faq.py``, ``products.py``,
``search.py``), never the API over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any
from uuid import UUID

import nh3
from litestar import Request, Response
from markdown_it import MarkdownIt
from markupsafe import Markup

from kernel.sdk import KernelError, ValidationFailed, gettext
from kernel.web.shell import field_errors, is_htmx
from plugins.knowledge.permissions import FAQ_READ, FAQ_WRITE, MANAGE, PRODUCT_READ, PRODUCT_WRITE, READ, WRITE

__all__ = [
    "FAQ_READ",
    "FAQ_WRITE",
    "MANAGE",
    "PRODUCT_READ",
    "PRODUCT_WRITE",
    "READ",
    "WRITE",
    "actor_id",
    "can",
    "done",
    "form_errors",
    "parse_date",
    "parse_uuid",
    "render_markdown",
    "say",
    "targets",
    "trigger",
]


DOCUMENT_STATUSES = ("queued", "processing", "ready", "failed")
PENDING = ("queued", "processing")
DOCUMENT_KINDS = ("editor", "file", "url")
FAQ_STATUSES = ("suggested", "approved", "rejected")

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def actor_id(request: Request[Any, Any, Any]) -> UUID | None:
    return getattr(request.scope.get("user"), "user_id", None)


def can(request: Request[Any, Any, Any], permission: str) -> bool:
    actor = request.scope.get("user")
    return bool(actor is not None and actor.can(permission))


def targets(request: Request[Any, Any, Any], element_id: str) -> bool:
    """An htmx request that swaps only ``element_id`` (a fragment will do, not the whole page).

    A history restore (Back after ``hx-push-url``) is an htmx request too, but it needs the page.
    """
    return is_htmx(request) and request.headers.get("hx-target") == element_id


def say(exc: KernelError) -> str:
    """A service error's sentence in the reader's language."""
    from kernel.sdk import ngettext

    if exc.plural is not None and exc.count is not None:
        return ngettext(exc.detail, exc.plural, exc.count, **exc.params)
    return gettext(exc.detail, **exc.params)


def form_errors(exc: KernelError, fields: Iterable[str]) -> dict[str, str]:
    """Translated messages keyed by the form's fields; anything about another field goes to the whole form."""
    shown = set(fields)
    named = [e for e in exc.errors if isinstance(e, dict) and e.get("field")]
    if exc.detail == "Fill in %(field)s." and named:
        # The service's "Fill in %(field)s." names the field by its code; the field's own label says it better.
        messages = {str(named[0]["field"]): gettext("This field is required.")}
    elif isinstance(exc, ValidationFailed) or named:
        messages = field_errors(exc)
    else:
        messages = {"": say(exc)}
    errors: dict[str, str] = {}
    for name, message in messages.items():
        key = name if name in shown else ""
        errors.setdefault(key, message or say(exc))
    return errors


def import_line_message(error: dict[str, Any]) -> str:
    """A bad import line's reason in the reader's language (the services give a msgid and its values)."""
    return gettext(str(error.get("message", "")), **dict(error.get("params") or {}))


def trigger(message: str | None = None, kind: str = "success", *events: str) -> dict[str, str]:
    """An ``HX-Trigger`` header: an optional toast plus page events (``documents-changed``...)."""
    payload: dict[str, Any] = dict.fromkeys(events, True)
    if message:
        payload["toast"] = {"kind": kind, "message": message}
    return {"HX-Trigger": json.dumps(payload, ensure_ascii=True)}


def done(message: str, *events: str) -> Response[None]:
    """Nothing to swap: a toast, and events that make the page redraw what changed."""
    return Response(None, status_code=204, headers=trigger(message, "success", *events))


def parse_uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def parse_date(value: Any, field: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(
            "Type a date such as 2025-12-31.", errors=[{"field": field, "message": "invalid"}]
        ) from None


def pairs(form: Any, key_field: str, value_field: str) -> dict[str, str]:
    """Name and value rows of a form (metadata, attributes): blank names are left out."""
    keys, values = form.getall(key_field, []), form.getall(value_field, [])
    result: dict[str, str] = {}
    for key, value in zip(keys, values, strict=False):
        name = str(key).strip()
        if name:
            result[name] = str(value).strip()
    return result


def pair_rows(mapping: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The rows a pairs editor starts from (one empty row when there are none)."""
    rows = [(str(k), "" if v is None else str(v)) for k, v in (mapping or {}).items()]
    return rows or [("", "")]


def render_markdown(text: str | None) -> Markup:
    """Markdown as safe HTML: raw HTML off in the parser, and the output sanitized again."""
    html = _MARKDOWN.render(text or "")
    return Markup(nh3.clean(html, link_rel="noopener noreferrer nofollow"))  # noqa: S704 - sanitized just above
