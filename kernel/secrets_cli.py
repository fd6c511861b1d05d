"""``atendai secrets``: the keys that encrypt stored secrets.

The group's Python name is ``secrets_group`` so that adding it to :mod:`kernel.cli` does not shadow
the standard library's ``secrets`` module there.
"""

from __future__ import annotations

import click
from cryptography.fernet import Fernet

from kernel.config import SettingsError

__all__ = ["secrets_group"]


@click.group("secrets")
def secrets_group() -> None:
    """Encrypted stored secrets (model API keys, provider tokens) and their keys."""


@secrets_group.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for ATENDAI_SECRETS_KEYS (put it first to make it the encrypting key)."""
    click.echo(Fernet.generate_key().decode("ascii"))


@secrets_group.command("rotate")
@click.pass_context
def rotate(click_ctx: click.Context) -> None:
    """Re-encrypt every stored secret with the first key of ATENDAI_SECRETS_KEYS.

    Afterwards the other keys can be removed from ATENDAI_SECRETS_KEYS.
    """
    from kernel.cli import Context, run
    from kernel.db.session import set_session_scope
    from kernel.secrets import rotate_all, secret_box

    ctx = click_ctx.ensure_object(Context)
    try:
        box = secret_box(ctx.settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc

    async def rotate_everything() -> int:
        async with ctx.kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            count = await rotate_all(session, box=box)
            await session.commit()
            return count

    count = run(ctx, rotate_everything)
    click.echo(f"Re-encrypted {count} stored secret{'s' if count != 1 else ''} with the first key.")
