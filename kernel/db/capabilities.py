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

    def as_dict(self) -> dict[str, Any]:
        return {
            "server_version": self.server_version,
            "pgvector": self.pgvector,
            "unaccent": self.unaccent,
            "pg_trgm": self.pg_trgm,
        }


async def detect_capabilities(engine: Any) -> DatabaseCapabilities:
    async with engine.connect() as conn:
        version = int((await conn.execute(text("SHOW server_version_num"))).scalar_one())
        installed = set((await conn.execute(text("SELECT extname FROM pg_extension"))).scalars())
    capabilities = DatabaseCapabilities(
        server_version=version,
        pgvector="vector" in installed,
        unaccent="unaccent" in installed,
        pg_trgm="pg_trgm" in installed,
    )
    if not capabilities.pgvector:
        log.warning(
            "pgvector_missing",
            message="pgvector is not installed on this PostgreSQL server: semantic (embedding) search is off; "
            "full-text search still works. Install pgvector and run `atendai migrate` to turn it on.",
        )
    return capabilities
