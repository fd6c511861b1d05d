"""Kernel text search: unaccented configurations for Portuguese, English and Spanish, and an immutable
``unaccent`` for expression indexes.

``atendai_pt``, ``atendai_en`` and ``atendai_es`` copy PostgreSQL's ``portuguese``, ``english`` and
``spanish`` configurations and put ``unaccent`` before the stemmer, so ``promoção`` and ``promocao``
give the same lexeme. ``to_tsvector`` with a constant configuration is immutable, so plugins can keep a
stored generated ``tsvector``. ``atendai_unaccent(text)`` wraps ``unaccent`` (only STABLE itself) with
its dictionary named, which makes it safe in index expressions (e.g. trigram indexes on titles).

Revision ID: kernel_0007
Revises: kernel_0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "kernel_0007"
down_revision = "kernel_0006"
branch_labels = None
depends_on = None

CONFIGURATIONS = {"atendai_pt": "portuguese", "atendai_en": "english", "atendai_es": "spanish"}


def upgrade() -> None:
    for name, base in CONFIGURATIONS.items():
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION public.{name} (COPY = pg_catalog.{base})")
        op.execute(
            f"ALTER TEXT SEARCH CONFIGURATION public.{name} "
            f"ALTER MAPPING FOR hword, hword_part, word, asciihword, asciiword, hword_asciipart "
            f"WITH public.unaccent, pg_catalog.{base}_stem"
        )
    op.execute(
        "CREATE FUNCTION public.atendai_unaccent(text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT "
        "AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS public.atendai_unaccent(text)")
    for name in CONFIGURATIONS:
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS public.{name}")
