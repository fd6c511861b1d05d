"""The example's settings: one typed Struct, which the kernel turns into the module's settings form.

Titles, descriptions and option labels are msgids of this plugin's catalog (``N_`` marks them for
``python -m kernel.i18n extract``). ``export_token`` is a secret field
(``secret_fields`` in ``register_settings``): it is stored encrypted and only its hint is ever shown.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from kernel.sdk import N_

__all__ = ["ExampleSettings"]

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class ExampleSettings(msgspec.Struct, kw_only=True, frozen=True):
    notes_per_page: Annotated[
        int,
        msgspec.Meta(ge=5, le=200, title=N_("Notes per page"), description=N_("How many notes the Notes page lists.")),
    ] = 50
    order: Annotated[
        Literal["newest", "oldest", "title"],
        msgspec.Meta(
            title=N_("Order of the notes"),
            extra={"labels": {"newest": N_("Newest first"), "oldest": N_("Oldest first"), "title": N_("By title")}},
        ),
    ] = "newest"
    agents_may_search: Annotated[
        bool,
        msgspec.Meta(
            title=N_("AI agents may search the notes"), description=N_("Off: the notes stay for the team only.")
        ),
    ] = True
    search_results: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=20, title=N_("Notes per search"), description=N_("How many notes an AI agent reads per search.")
        ),
    ] = 5
    footer: Annotated[
        str,
        msgspec.Meta(
            max_length=500,
            title=N_("Footer"),
            description=N_("Shown under every note, e.g. who to ask about it."),
            extra={"widget": "textarea"},
        ),
    ] = ""
    tags: Annotated[
        list[Tag],
        msgspec.Meta(max_length=20, title=N_("Tags"), description=N_("Tags offered when writing a note.")),
    ] = []
    export_token: Annotated[
        str,
        msgspec.Meta(
            max_length=200, title=N_("Export token"), description=N_("Sent by the export job to your document archive.")
        ),
    ] = ""
