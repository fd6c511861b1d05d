"""``/app/-/styleguide``: the design tokens and every shell component, live, with their contrast ratios."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import JSONBody
from litestar.response import Response, Template

from kernel.errors import Conflict
from kernel.i18n.catalogs import current_translator
from kernel.rbac.guard import AUTHENTICATED
from kernel.web.nav import KERNEL_PAGES
from kernel.web.shell import page, toast
from kernel.web.theme import DEFAULT_ACCENT, DEFAULT_PRIMARY, brand_theme, contrast_ratio

__all__ = ["ROUTES"]

BASE_TOKENS = {
    "--bg": "#0f0d17",
    "--surface": "#181524",
    "--surface-2": "#211d31",
    "--text": "#ece8f5",
    "--muted": "#a9a1c0",
    "--accent-text": "#c4b5fd",
    "--accent-2-text": "#f9a8d4",
    "--success": "#34d399",
    "--warning": "#fbbf24",
    "--danger": "#fca5a5",
    "--info": "#93c5fd",
    "--accent": DEFAULT_PRIMARY,
    "--on-accent": "#ffffff",
    "--accent-2": DEFAULT_ACCENT,
    "--on-accent-2": "#ffffff",
}
"""Mirrors ``webui/static/css/shell.css`` (a test keeps both in step)."""

PAIRS = (
    ("--text", "--bg"),
    ("--text", "--surface"),
    ("--muted", "--surface"),
    ("--muted", "--surface-2"),
    ("--accent-text", "--surface"),
    ("--accent-2-text", "--surface"),
    ("--success", "--surface"),
    ("--warning", "--surface"),
    ("--danger", "--surface"),
    ("--info", "--surface"),
    ("--on-accent", "--accent"),
    ("--on-accent-2", "--accent-2"),
)


def token_pairs(actor: Any) -> list[dict[str, Any]]:
    """Each text/background pair the shell uses, with its contrast ratio under the organization's colours."""
    tokens = {**BASE_TOKENS, **brand_theme(getattr(actor, "brand_primary", None), getattr(actor, "brand_accent", None))}
    pairs = []
    for text, background in PAIRS:
        ratio = contrast_ratio(tokens[text], tokens[background])
        pairs.append({"text": text, "background": background, "ratio": round(ratio, 2), "passes": ratio >= 4.5})
    return pairs


@get(f"{KERNEL_PAGES}/styleguide", opt={AUTHENTICATED: True}, include_in_schema=False, name="styleguide")
async def styleguide(request: Request[Any, Any, Any]) -> Template:
    from kernel.web.listing import Listing

    t = current_translator()
    listing = Listing(path=request.url.path, sort="name", direction="asc", page=2, per_page=10, total=134)
    columns = [
        {
            "id": "new",
            "title": t.gettext("New"),
            "cards": [
                {"id": "c1", "title": "Ana Souza", "meta": "WhatsApp"},
                {"id": "c2", "title": "Bruno Lima", "meta": t.gettext("Web chat")},
            ],
        },
        {
            "id": "doing",
            "title": t.gettext("In progress"),
            "cards": [{"id": "c3", "title": "Carla Dias", "meta": "WhatsApp"}],
        },
        {"id": "locked", "title": t.gettext("Locked"), "cards": []},
    ]
    chart = {
        "type": "line",
        "data": {
            "labels": [t.gettext("Mon"), t.gettext("Tue"), t.gettext("Wed"), t.gettext("Thu"), t.gettext("Fri")],
            "datasets": [
                {"label": t.gettext("Conversations"), "data": [12, 19, 14, 23, 17]},
                {"label": t.gettext("Handed to a person"), "data": [3, 5, 2, 6, 4]},
            ],
        },
    }
    return page(
        request,
        "styleguide.html",
        pairs=token_pairs(request.scope["user"]),
        listing=listing,
        columns=columns,
        chart_config=chart,
        errors={"email": t.gettext("The email address is not valid.")},
    )


class DemoMove(msgspec.Struct, forbid_unknown_fields=True):
    card: str
    to: str
    index: int


@post(f"{KERNEL_PAGES}/styleguide/move", opt={AUTHENTICATED: True}, include_in_schema=False, status_code=204)
async def styleguide_move(data: JSONBody[DemoMove]) -> None:
    """The board demo's server: it accepts every move except into the locked column, to show both answers."""
    if data.to == "locked":
        raise Conflict("Cards cannot be moved into a locked column.")


@post(f"{KERNEL_PAGES}/styleguide/toast", opt={AUTHENTICATED: True}, include_in_schema=False)
async def styleguide_toast() -> Response[None]:
    return toast(current_translator().gettext("Done: the server answered with a toast."))


ROUTES = [styleguide, styleguide_move, styleguide_toast]
