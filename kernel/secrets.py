"""Stored secrets: tenant and platform values (model API keys, provider tokens) encrypted at rest.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) through :class:`cryptography.fernet.MultiFernet`
using the keys in ``ATENDAI_SECRETS_KEYS`` (comma separated, newest first): the first key encrypts,
every key decrypts, and :func:`rotate_all` re-encrypts every row with the first key so an old key can
then be dropped. Without that variable, development, tests and the embedded default generate one key
and keep it in ``<data_dir>/secrets.key``; a production server refuses to start.

A value never leaves this module in a form that can be logged by accident: the database holds the
ciphertext and a masked ``hint`` (``sk-...abcd``), the audit trail records only the hint, and
:class:`Secret` shows the mask in ``repr``/``str``. Rows are a tenant's (``tenant_id`` set) or the
platform's (``tenant_id`` NULL, reachable only in the platform scope); row-level security keeps
each tenant to its own.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, NoReturn, final
from uuid import UUID

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import ColumnElement, bindparam, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit import service as audit
from kernel.config import Settings, SettingsError
from kernel.db.scope import TenantScopeMissing, current_tenant_id, in_platform_scope
from kernel.secrets_models import StoredSecret

__all__ = [
    "KEYS_ENV",
    "KEY_FILE",
    "Secret",
    "SecretBox",
    "SecretInfo",
    "SecretUnreadable",
    "SecretsKeysMissing",
    "delete_secret",
    "get_secret",
    "list_secrets",
    "load_secret",
    "mask",
    "put_secret",
    "rotate_all",
    "secret_box",
]

KEYS_ENV = "ATENDAI_SECRETS_KEYS"
KEY_FILE = "secrets.key"
"""The generated key's file under ``data_dir`` when ``ATENDAI_SECRETS_KEYS`` is unset (mode 0600)."""
MASK = "***"
NAME_MAX = 200
ROTATE_BATCH = 500

log = structlog.get_logger("kernel.secrets")


class SecretsKeysMissing(SettingsError):
    """A production server has no ``ATENDAI_SECRETS_KEYS``, or the value holds no usable key."""


class SecretUnreadable(RuntimeError):
    """A stored value cannot be decrypted with any configured key (a key was dropped too early)."""


# -- Masking and the Secret wrapper ----------------------------------------------------------------


def mask(value: str) -> str:
    """A preview safe to show: ``sk-...abcd`` for values longer than 10 characters, else ``***``."""
    if len(value) > 10:
        return f"{value[:3]}...{value[-4:]}"
    return MASK


@final
class Secret:
    """A secret value that shows only its mask in ``repr``, ``str``, f-strings and tracebacks.

    Call :meth:`reveal` at the one place the value is really needed (an SDK client, a header).
    It refuses to be pickled, so it never lands in a job payload or a cache by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def hint(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.hint!r})"

    def __str__(self) -> str:
        return self.hint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not serialized; store it with put_secret and pass its name instead")


def _plain(value: str | Secret) -> str:
    plain = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(plain, str) or not plain:
        raise ValueError("a secret value is a non-empty string")
    return plain


# -- Encryption ------------------------------------------------------------------------------------


class SecretBox:
    """Encrypts with the first key, decrypts with any of them, re-encrypts with the first on rotation."""

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        fernets = [_fernet(key, position) for position, key in enumerate(keys, start=1)]
        if not fernets:
            raise SecretsKeysMissing(f"{KEYS_ENV}: no key given")
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_keys(cls, keys: str) -> SecretBox:
        """A box from a comma-separated list of keys, newest first (the format of ``ATENDAI_SECRETS_KEYS``)."""
        return cls(part.strip() for part in keys.split(",") if part.strip())

    def encrypt(self, value: str | Secret) -> str:
        return self._fernet.encrypt(_plain(value).encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            # ``from None``: a decoding error would carry the decrypted bytes along in a traceback.
            raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from None

    def rotate(self, token: str) -> str:
        """The same value encrypted with the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            # ``from None``: a decoding error would carry the decrypted bytes along in a traceback.
            raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from None

    def __repr__(self) -> str:
        return f"SecretBox(keys={self.key_count})"


def _fernet(key: str | bytes, position: int) -> Fernet:
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        # Never echo the key itself (nor chain an error that might): only where it sits in the list.
        raise SecretsKeysMissing(
            f"{KEYS_ENV}: key {position} is not a Fernet key (32 random bytes, url-safe base64); "
            "make one with `atendai secrets generate-key`"
        ) from None


def secret_box(settings: Settings) -> SecretBox:
    """The installation's box: ``ATENDAI_SECRETS_KEYS``, else the generated key file (never in production).

    One box per distinct key list is kept for the life of the process.
    """
    return _box_for(_keys_of(settings))


@lru_cache(maxsize=8)
def _box_for(keys: str) -> SecretBox:
    return SecretBox.from_keys(keys)


def _keys_of(settings: Settings) -> str:
    if settings.secrets_keys and settings.secrets_keys.strip(" ,"):
        return settings.secrets_keys
    if settings.environment == "production" and not settings.embedded:
        raise SecretsKeysMissing(
            f"{KEYS_ENV} is required in production: set it to one or more Fernet keys, newest first "
            "(make one with `atendai secrets generate-key`)"
        )
    return _persistent_key(settings.data_path())


def _persistent_key(data_dir: Path) -> str:
    """The key kept in ``<data_dir>/secrets.key``, created once (atomically, so processes agree on it)."""
    path = data_dir / KEY_FILE
    if path.is_file():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secrets-key-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode("ascii"))
        os.chmod(temporary, 0o600)
        os.link(temporary, path)  # fails if another process got there first; its key wins
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


def _default_box() -> SecretBox:
    from kernel.runtime import current_kernel

    return secret_box(current_kernel().settings)


# -- Storage ---------------------------------------------------------------------------------------


class SecretInfo(NamedTuple):
    """What may be shown about a stored secret: never its value."""

    name: str
    hint: str
    updated_at: datetime


def _platform(session: AsyncSession) -> bool:
    return bool(session.info.get("platform", in_platform_scope()))


def _owner_of(session: AsyncSession, tenant_id: UUID | None) -> UUID | None:
    """The tenant a call works on: the one given, else the session's; ``None`` means a platform secret.

    A platform secret, or another tenant's, needs the platform scope; asking outside it is a bug
    worth failing on rather than an empty answer from row-level security.
    """
    session_tenant = session.info.get("tenant_id", current_tenant_id())
    owner = tenant_id if tenant_id is not None else session_tenant
    if _platform(session):
        return owner
    if owner is None:
        raise TenantScopeMissing("platform secrets need the platform scope")
    if owner != session_tenant:
        raise TenantScopeMissing("another tenant's secrets need the platform scope")
    return owner


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or len(name) > NAME_MAX:
        raise ValueError(f"a secret name is 1 to {NAME_MAX} characters, like 'llm.openai.api_key'")


def _of_owner(owner: UUID | None) -> ColumnElement[bool]:
    """``= tenant`` or ``IS NULL``: in the platform scope every row is visible, so always say which."""
    return StoredSecret.tenant_id.is_(None) if owner is None else StoredSecret.tenant_id == owner


async def _find(session: AsyncSession, owner: UUID | None, name: str) -> StoredSecret | None:
    statement = select(StoredSecret).where(_of_owner(owner), StoredSecret.name == name)
    return (await session.execute(statement)).scalar_one_or_none()


async def _lock(session: AsyncSession, owner: UUID | None, name: str) -> None:
    """Serialize writers of one name: the unique constraint cannot, for platform rows (NULL tenant)."""
    key = f"secret:{owner or 'platform'}:{name}"
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


async def put_secret(
    session: AsyncSession,
    name: str,
    value: str | Secret,
    *,
    tenant_id: UUID | None = None,
    box: SecretBox | None = None,
) -> SecretInfo:
    """Store (or replace) a secret, encrypted, and record ``secret.set`` in the audit trail.

    The tenant defaults to the session's; a platform secret (no tenant) needs the platform scope.
    Flushes; the caller commits.
    """
    _check_name(name)
    plain = _plain(value)
    owner = _owner_of(session, tenant_id)
    ciphertext, hint = (box or _default_box()).encrypt(plain), mask(plain)
    await _lock(session, owner, name)
    row = await _find(session, owner, name)
    before = {"name": name, "hint": row.hint} if row else None
    if row is None:
        row = StoredSecret(tenant_id=owner, name=name, ciphertext=ciphertext, hint=hint)
        session.add(row)
    else:
        row.ciphertext, row.hint = ciphertext, hint
    await session.flush()
    await _audit(session, "secret.set", row, owner, before=before, after={"name": name, "hint": hint})
    return SecretInfo(name=row.name, hint=row.hint, updated_at=row.updated_at)


async def get_secret(
    session: AsyncSession, name: str, *, tenant_id: UUID | None = None, box: SecretBox | None = None
) -> str | None:
    """The decrypted value, or ``None`` when the tenant (or the platform) has no secret by that name."""
    _check_name(name)
    row = await _find(session, _owner_of(session, tenant_id), name)
    if row is None:
        return None
    try:
        return (box or _default_box()).decrypt(row.ciphertext)
    except SecretUnreadable:
        raise SecretUnreadable(
            f"stored secret {name!r} cannot be decrypted with the keys in {KEYS_ENV} "
            "(was a key dropped before `atendai secrets rotate`?)"
        ) from None


async def load_secret(
    session: AsyncSession, name: str, *, tenant_id: UUID | None = None, box: SecretBox | None = None
) -> Secret | None:
    """:func:`get_secret` wrapped in a :class:`Secret`, for values that travel before they are used."""
    value = await get_secret(session, name, tenant_id=tenant_id, box=box)
    return Secret(value) if value is not None else None


async def delete_secret(session: AsyncSession, name: str, *, tenant_id: UUID | None = None) -> bool:
    """Remove a secret and record ``secret.deleted``; ``False`` when there was none. The caller commits."""
    _check_name(name)
    owner = _owner_of(session, tenant_id)
    await _lock(session, owner, name)
    row = await _find(session, owner, name)
    if row is None:
        return False
    await _audit(session, "secret.deleted", row, owner, before={"name": row.name, "hint": row.hint}, after=None)
    await session.delete(row)
    await session.flush()
    return True


async def list_secrets(session: AsyncSession, *, tenant_id: UUID | None = None) -> list[SecretInfo]:
    """Name, hint and last change of each secret of the tenant (or of the platform), by name."""
    statement = (
        select(StoredSecret.name, StoredSecret.hint, StoredSecret.updated_at)
        .where(_of_owner(_owner_of(session, tenant_id)))
        .order_by(StoredSecret.name)
    )
    return [SecretInfo(*row) for row in (await session.execute(statement)).all()]


async def _audit(
    session: AsyncSession,
    action: str,
    row: StoredSecret,
    owner: UUID | None,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    await audit.record(
        session, action=action, target_type="secret", target_id=row.id, before=before, after=after, tenant_id=owner
    )


# -- Rotation --------------------------------------------------------------------------------------


async def rotate_all(session: AsyncSession, *, box: SecretBox | None = None, batch_size: int = ROTATE_BATCH) -> int:
    """Re-encrypt every stored secret (every tenant's and the platform's) with the first key.

    Needs the platform scope. Works in batches, locking each batch's rows until the caller commits so
    a concurrent :func:`put_secret` is neither lost nor overwritten. Rows no configured key can read
    are left as they are and logged (tenant and name only). Returns how many rows were re-encrypted;
    ``updated_at`` is kept, as the values did not change.
    """
    if not _platform(session):
        raise TenantScopeMissing("rotating every secret needs the platform scope")
    box = box or _default_box()
    rotated, last_id = 0, None
    while True:
        rows = await _rotation_batch(session, last_id, batch_size)
        if not rows:
            return rotated
        changes = [_rotated(box, row) for row in rows]
        ready = [change for change in changes if change is not None]
        if ready:
            table = StoredSecret.__table__
            await session.execute(
                update(table).where(table.c.id == bindparam("row_id")).values(ciphertext=bindparam("new_ciphertext")),
                ready,
            )
        rotated += len(ready)
        last_id = rows[-1].id


async def _rotation_batch(session: AsyncSession, after: UUID | None, size: int) -> list[Any]:
    table = StoredSecret.__table__
    statement = select(table.c.id, table.c.tenant_id, table.c.name, table.c.ciphertext).order_by(table.c.id)
    if after is not None:
        statement = statement.where(table.c.id > after)
    return list((await session.execute(statement.limit(size).with_for_update())).all())


def _rotated(box: SecretBox, row: Any) -> dict[str, Any] | None:
    try:
        return {"row_id": row.id, "new_ciphertext": box.rotate(row.ciphertext)}
    except SecretUnreadable:
        log.warning("secret_unreadable", tenant_id=str(row.tenant_id) if row.tenant_id else None, name=row.name)
        return None
