"""The knowledge module's settings for an organization (the Modules page draws the form)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from kernel.sdk import N_

__all__ = ["KnowledgeSettings"]


class KnowledgeSettings(msgspec.Struct, kw_only=True, frozen=True):
    parallel_ingestion: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=4,
            title=N_("Documents processed at once"),
            description=N_("How many of your documents are read and indexed at the same time."),
        ),
    ] = 2
    search_results: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=20,
            title=N_("Passages per search"),
            description=N_("How many passages an AI agent reads per search."),
        ),
    ] = 6
    max_upload_mb: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=100, title=N_("Largest upload (MB)"), description=N_("Files above this size are refused.")
        ),
    ] = 25
    crawl_page_limit: Annotated[
        int,
        msgspec.Meta(
            ge=1, le=500, title=N_("Pages per site import"), description=N_("The most pages one site import may read.")
        ),
    ] = 50
