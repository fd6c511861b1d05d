"""Database URLs: one owner URL for migrations, one application URL for everything else."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url

__all__ = ["app_url_from_owner", "asyncpg_url", "libpq_url", "redact"]


def asyncpg_url(url: str | URL) -> str:
    """The URL for SQLAlchemy's asyncpg driver (``postgresql+asyncpg://``)."""
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def libpq_url(url: str | URL) -> str:
    """A plain ``postgresql://`` URL for libpq tools and psycopg (psql, SAQ's queue)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def app_url_from_owner(owner_url: str, role: str, password: str | None) -> str:
    """The owner's URL with the application role's credentials in place of the owner's."""
    return make_url(owner_url).set(username=role, password=password).render_as_string(hide_password=False)


def redact(url: str | URL) -> str:
    return make_url(url).render_as_string(hide_password=True)
