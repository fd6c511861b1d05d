"""What the connected PostgreSQL offers. pgvector is optional: features that need it check here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import text

__all__ = ["DatabaseCapabilities", "detect_capabilities"]

log = structlog.get_logger("kernel.db")


@dataclass(frozen=True)
class DatabaseCapabilities:
    server_version: int
    """``server_version_num``, e.g. 180006."""
    pgvector: bool
    unaccent: bool
    pg_trgm: bool
    leakproof_search: bool = False
    """The text-search and trigram functions are leakproof, so searches keep their indexes under
    row-level security (:mod:`kernel.db.leakproof`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "server_version": self.server_version,
            "pgvector": self.pgvector,
            "unaccent": self.unaccent,
            "pg_trgm": self.pg_trgm,
            "leakproof_search": self.leakproof_search,
        }


def _leakproof_search_sql() -> str:
    from kernel.db.leakproof import SEARCH_FUNCTIONS

    present = ", ".join(f"to_regprocedure('{name}({arguments})')" for name, arguments in SEARCH_FUNCTIONS)
    return f"SELECT coalesce(bool_and(proleakproof), false) FROM pg_proc WHERE oid IN ({present})"  # noqa: S608


LEAKPROOF_SEARCH = _leakproof_search_sql()


async def detect_capabilities(engine: Any) -> DatabaseCapabilities:
    async with engine.connect() as conn:
        version = int((await conn.execute(text("SHOW server_version_num"))).scalar_one())
        installed = set((await conn.execute(text("SELECT extname FROM pg_extension"))).scalars())
        leakproof = (await conn.execute(text(LEAKPROOF_SEARCH))).scalar_one()
    capabilities = DatabaseCapabilities(
        server_version=version,
        pgvector="vector" in installed,
        unaccent="unaccent" in installed,
        pg_trgm="pg_trgm" in installed,
        leakproof_search=bool(leakproof),
    )
    if not capabilities.pgvector:
        log.warning(
            "pgvector_missing",
            message="pgvector is not installed on this PostgreSQL server: semantic (embedding) search is off; "
            "full-text search still works. Install pgvector and run `atendai migrate` to turn it on.",
        )
    if not capabilities.leakproof_search:
        log.warning(
            "search_indexes_unused",
            message="Full-text and trigram indexes cannot serve tenant searches under row-level security on "
            "this server (the search functions are not leakproof): run `atendai migrate` as a superuser, see "
            "docs/security.md.",
        )
    return capabilities
