"""Let row-level security keep the text-search and trigram indexes.

Every tenant table forces row-level security, and PostgreSQL evaluates a policy's condition before any
condition of the query that is not *leakproof* (one that could reveal the rows it sees, by an error
message for instance). Index conditions run before the policy, so a query condition that is not
leakproof cannot use an index: ``tsv @@ query`` stops using the GIN index and ``title <% query`` the
trigram index, and a search reads every passage of the tenant instead of the few that match.

The functions below compare text without side effects and raise no error that depends on the row they
read (``ts_match_vq`` only checks the query's own nesting depth; the trigram functions only allocate),
so marking them ``LEAKPROOF`` lets the planner use the indexes under the policies. Only a superuser may
mark a function leakproof: ``atendai migrate`` does it when it connects as one and the setting
``ATENDAI_DB_LEAKPROOF_SEARCH`` is on (the default), and logs what to run otherwise. Search works the
same either way; it is only slower on large tenants. ``NOT LEAKPROOF`` reverts it.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from psycopg import sql

from kernel.db.urls import libpq_url

__all__ = ["SEARCH_FUNCTIONS", "ensure_leakproof_search", "leakproof_search_state"]

log = structlog.get_logger("kernel.db")

SEARCH_FUNCTIONS: tuple[tuple[str, str], ...] = (
    # tsvector @@ tsquery
    ("pg_catalog.ts_match_vq", "tsvector, tsquery"),
    # pg_trgm: text % text, text <% text, text %> text
    ("similarity_op", "text, text"),
    ("word_similarity_op", "text, text"),
    ("word_similarity_commutator_op", "text, text"),
)
"""The functions behind the operators searches filter with: name and argument types."""

_STATE = """
SELECT p.oid::regprocedure::text AS signature, p.proleakproof
FROM pg_proc p
WHERE p.oid = to_regprocedure(%s)
"""


def _signature(name: str, arguments: str) -> str:
    return f"{name}({arguments})"


def leakproof_search_state(conn: psycopg.Connection[Any]) -> dict[str, bool]:
    """Each search function present on the server (pg_trgm's only when installed) and whether it is leakproof."""
    state: dict[str, bool] = {}
    for name, arguments in SEARCH_FUNCTIONS:
        row = conn.execute(_STATE, (_signature(name, arguments),)).fetchone()
        if row is not None:
            state[row[0]] = bool(row[1])
    return state


def ensure_leakproof_search(owner_url: str, *, enabled: bool = True) -> bool:
    """Mark the search functions leakproof when allowed; True when all of them are (now or already)."""
    with psycopg.connect(libpq_url(owner_url), autocommit=True) as conn:
        state = leakproof_search_state(conn)
        missing = [signature for signature, leakproof in state.items() if not leakproof]
        if not missing:
            return True
        if not enabled:
            return False
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (superuser and superuser[0]):
            log.warning(
                "search_functions_not_leakproof",
                message="Row-level security keeps full-text and trigram indexes out of tenant searches, so "
                "searches on large tenants read every row. A superuser can let the indexes in with: "
                + "; ".join(f"ALTER FUNCTION {signature} LEAKPROOF" for signature in missing),
                functions=missing,
            )
            return False
        for signature in missing:
            # The signature is the catalog's own regprocedure text, qualified and quoted as needed.
            conn.execute(sql.SQL("ALTER FUNCTION {} LEAKPROOF").format(sql.SQL(signature)))
        log.info("search_functions_leakproof", functions=missing)
        return True
