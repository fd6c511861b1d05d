"""Stored secrets: encrypted at rest, masked everywhere, rotatable, and each tenant's own."""

from __future__ import annotations

import pickle
import stat
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.models import AuditEntry
from kernel.config import Settings
from kernel.db.scope import TenantScopeMissing
from kernel.db.session import set_session_scope
from kernel.db.urls import libpq_url
from kernel.secrets import (
    KEY_FILE,
    Secret,
    SecretBox,
    SecretsKeysMissing,
    SecretUnreadable,
    delete_secret,
    get_secret,
    list_secrets,
    load_secret,
    mask,
    put_secret,
    rotate_all,
    secret_box,
)
from kernel.secrets_cli import secrets_group
from kernel.secrets_models import StoredSecret

OPENAI_KEY = "sk-proj-" + "Zx8" * 12 + "abcd"


def _name(prefix: str = "test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}.api_key"


@asynccontextmanager
async def scoped(kernel, *, tenant_id=None, platform=False) -> AsyncIterator[AsyncSession]:
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id, platform=platform)
        yield session


async def _stored_row(owner_connection, name: str) -> tuple:
    """The row as the database holds it, read as the owner in the platform scope."""
    async with owner_connection.transaction():
        await owner_connection.execute("SELECT set_config('app.platform', 'on', true)")
        cursor = await owner_connection.execute(
            "SELECT tenant_id, name, ciphertext, hint FROM stored_secrets WHERE name = %s", (name,)
        )
        return await cursor.fetchone()


# -- Masking ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (OPENAI_KEY, "sk-...abcd"),
        ("12345678901", "123...8901"),
        ("1234567890", "***"),
        ("short", "***"),
        ("", "***"),
    ],
)
def test_mask_keeps_three_leading_and_four_trailing_characters_of_long_values(value, expected):
    assert mask(value) == expected


def test_a_secret_never_shows_its_value_in_repr_str_or_formatting():
    secret = Secret(OPENAI_KEY)
    logged = "%s" % secret  # noqa: UP031 - the way the standard library's logging formats arguments
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", logged, repr([secret]), repr({"k": secret})]
    assert all(OPENAI_KEY not in text and "Zx8" not in text for text in shown)
    assert str(secret) == "sk-...abcd" and repr(secret) == "Secret('sk-...abcd')"
    assert secret.reveal() == OPENAI_KEY
    assert secret == Secret(OPENAI_KEY) and secret != Secret(OPENAI_KEY + "x")
    assert OPENAI_KEY not in str(ValueError(secret))
    with pytest.raises(TypeError, match="not serialized"):
        pickle.dumps(secret)


# -- The box and its keys --------------------------------------------------------------------------


def test_a_box_round_trips_and_its_ciphertext_holds_no_plaintext():
    box = SecretBox([Fernet.generate_key()])
    token = box.encrypt(OPENAI_KEY)
    assert OPENAI_KEY not in token and "Zx8" not in token
    assert box.decrypt(token) == OPENAI_KEY
    assert box.decrypt(box.encrypt(Secret(OPENAI_KEY))) == OPENAI_KEY
    assert "key" not in repr(box).lower().replace("keys=", "")


def test_the_first_key_encrypts_and_every_key_decrypts():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox([old]).encrypt(OPENAI_KEY)
    both = SecretBox.from_keys(f" {new} , {old} ,")
    assert both.decrypt(token) == OPENAI_KEY
    with pytest.raises(SecretUnreadable):
        SecretBox([new]).decrypt(token)
    rotated = both.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == OPENAI_KEY
    assert SecretBox([new]).decrypt(both.encrypt("fresh value 123")) == "fresh value 123"


def test_production_without_keys_refuses_naming_the_variable(tmp_path):
    settings = Settings(environment="production", database_url="postgresql://u@db/atendai", data_dir=str(tmp_path))
    with pytest.raises(SecretsKeysMissing, match="ATENDAI_SECRETS_KEYS"):
        secret_box(settings)
    assert not (tmp_path / KEY_FILE).exists()
    configured = Settings(
        environment="production", database_url="postgresql://u@db/atendai", secrets_keys=Fernet.generate_key().decode()
    )
    assert secret_box(configured).decrypt(secret_box(configured).encrypt("abc")) == "abc"


def test_a_malformed_key_is_refused_without_echoing_it():
    bad = "not-a-fernet-key-but-secret-material"
    with pytest.raises(SecretsKeysMissing, match="key 2 is not a Fernet key") as caught:
        SecretBox.from_keys(f"{Fernet.generate_key().decode()},{bad}")
    assert bad not in str(caught.value) and caught.value.__cause__ is None


@pytest.mark.parametrize("environment", ["development", "test"])
def test_without_keys_a_key_file_is_generated_once_and_kept_private(tmp_path, environment):
    settings = Settings(environment=environment, database_url="postgresql://u@db/atendai", data_dir=str(tmp_path))
    token = secret_box(settings).encrypt("kept across restarts")
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip())  # a valid key
    # A new process (no cache) reads the same file back.
    assert SecretBox.from_keys(key_file.read_text()).decrypt(token) == "kept across restarts"
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]


# -- Storage ---------------------------------------------------------------------------------------


async def test_put_and_get_round_trip_with_the_installation_box(atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    name = _name()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        info = await put_secret(session, name, OPENAI_KEY)
        await session.commit()
    assert info.name == name and info.hint == "sk-...abcd" and isinstance(info.updated_at, datetime)
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        assert await get_secret(session, name) == OPENAI_KEY
        loaded = await load_secret(session, name)
        assert isinstance(loaded, Secret) and loaded.reveal() == OPENAI_KEY
        assert await get_secret(session, _name("missing")) is None
        listed = await list_secrets(session)
    assert [(item.name, item.hint) for item in listed if item.name == name] == [(name, "sk-...abcd")]
    assert all(OPENAI_KEY not in repr(item) for item in listed)
    key_file = atendai_kernel.settings.data_path() / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def test_replacing_and_deleting_a_secret(atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    name = _name()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        await put_secret(session, name, "first-value-0001")
        await put_secret(session, name, "second-value-0002")
        await session.commit()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        assert await get_secret(session, name) == "second-value-0002"
        rows = (await session.execute(select(StoredSecret).where(StoredSecret.name == name))).scalars().all()
        assert len(rows) == 1 and rows[0].hint == "sec...0002"
        assert await delete_secret(session, name) is True
        assert await delete_secret(session, name) is False
        await session.commit()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        assert await get_secret(session, name) is None


async def test_the_database_holds_ciphertext_and_a_hint_never_the_value(atendai_kernel, make_tenant, owner_connection):
    tenant = await make_tenant(seed=False)
    name = _name()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        await put_secret(session, name, OPENAI_KEY)
        await session.commit()
    tenant_id, _, ciphertext, hint = await _stored_row(owner_connection, name)
    assert tenant_id == tenant.tenant_id
    assert hint == "sk-...abcd"
    assert OPENAI_KEY not in ciphertext and OPENAI_KEY[3:-4] not in ciphertext and "Zx8Zx8" not in ciphertext
    assert ciphertext.startswith("gAAAA")  # a Fernet token


async def test_the_audit_trail_records_set_and_delete_with_the_hint_only(atendai_kernel, make_tenant, owner_connection):
    tenant = await make_tenant(seed=False)
    name = _name()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        await put_secret(session, name, OPENAI_KEY)
        await delete_secret(session, name)
        await session.commit()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        entries = (
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.action.like("secret.%")).order_by(AuditEntry.seq)
                )
            )
            .scalars()
            .all()
        )
    assert [entry.action for entry in entries] == ["secret.set", "secret.deleted"]
    assert entries[0].changes["hint"] == {"before": None, "after": "sk-...abcd"}
    assert entries[1].changes["name"] == {"before": name, "after": None}
    assert all(entry.target_type == "secret" and entry.tenant_id == tenant.tenant_id for entry in entries)
    async with owner_connection.transaction():
        await owner_connection.execute("SELECT set_config('app.platform', 'on', true)")
        cursor = await owner_connection.execute(
            "SELECT count(*) FROM audit_log WHERE changes::text LIKE %s", (f"%{OPENAI_KEY[3:-4]}%",)
        )
        assert (await cursor.fetchone())[0] == 0


# -- Isolation -------------------------------------------------------------------------------------


async def test_a_tenant_cannot_read_another_tenants_secret(atendai_kernel, two_tenants, app_connection):
    tenant_a, tenant_b = two_tenants
    name = _name()
    async with scoped(atendai_kernel, tenant_id=tenant_a.tenant_id) as session:
        await put_secret(session, name, OPENAI_KEY)
        await session.commit()

    async with scoped(atendai_kernel, tenant_id=tenant_b.tenant_id) as session:
        assert await get_secret(session, name) is None
        assert name not in [item.name for item in await list_secrets(session)]
        # Row-level security on its own: even a query naming tenant A's rows sees nothing.
        smuggled = select(StoredSecret).where(StoredSecret.tenant_id == tenant_a.tenant_id)
        assert (await session.execute(smuggled)).scalars().all() == []
        with pytest.raises(TenantScopeMissing, match="another tenant"):
            await get_secret(session, name, tenant_id=tenant_a.tenant_id)

    async with app_connection.transaction():
        await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_b.tenant_id),))
        cursor = await app_connection.execute("SELECT count(*) FROM stored_secrets WHERE name = %s", (name,))
        assert (await cursor.fetchone())[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with app_connection.transaction():  # a savepoint, so the outer block stays usable
                await app_connection.execute(
                    "INSERT INTO stored_secrets (id, tenant_id, name, ciphertext, hint, created_at, updated_at) "
                    "VALUES (%s, %s, 'smuggled', 'x', '', now(), now())",
                    (uuid.uuid4(), tenant_a.tenant_id),
                )


async def test_platform_secrets_need_the_platform_scope(atendai_kernel, make_tenant, app_connection):
    tenant = await make_tenant(seed=False)
    name = _name("platform")
    async with scoped(atendai_kernel, platform=True) as session:
        await put_secret(session, name, "platform-wide-default-key")
        await session.commit()
    async with scoped(atendai_kernel, platform=True) as session:
        assert await get_secret(session, name) == "platform-wide-default-key"
        assert name in [item.name for item in await list_secrets(session)]
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        assert await get_secret(session, name) is None  # the tenant's own, which it does not have
    async with scoped(atendai_kernel) as session:
        with pytest.raises(TenantScopeMissing, match="platform scope"):
            await get_secret(session, name)
        with pytest.raises(TenantScopeMissing):
            await put_secret(session, name, "overwritten-by-nobody")
    async with app_connection.transaction():
        await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant.tenant_id),))
        cursor = await app_connection.execute("SELECT count(*) FROM stored_secrets WHERE name = %s", (name,))
        assert (await cursor.fetchone())[0] == 0


async def test_a_platform_admin_may_read_a_tenants_secret_by_naming_it(atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    name = _name()
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        await put_secret(session, name, OPENAI_KEY)
        await session.commit()
    async with scoped(atendai_kernel, platform=True) as session:
        assert await get_secret(session, name) is None  # the platform's own secret of that name
        assert await get_secret(session, name, tenant_id=tenant.tenant_id) == OPENAI_KEY


# -- Rotation --------------------------------------------------------------------------------------


async def test_rotation_re_encrypts_every_row_so_the_old_key_can_go(atendai_kernel, make_tenant, owner_connection):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_box, both, new_box = SecretBox([old]), SecretBox([new, old]), SecretBox([new])
    tenant = await make_tenant(seed=False)
    tenant_name, platform_name = _name(), _name("platform")
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        await put_secret(session, tenant_name, OPENAI_KEY, box=old_box)
        await session.commit()
    async with scoped(atendai_kernel, platform=True) as session:
        await put_secret(session, platform_name, "platform-token-9876", box=old_box)
        await session.commit()
    before = (await _stored_row(owner_connection, tenant_name))[2]

    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        assert await get_secret(session, tenant_name, box=both) == OPENAI_KEY  # old key still decrypts
        with pytest.raises(SecretUnreadable, match=tenant_name):
            await get_secret(session, tenant_name, box=new_box)
        with pytest.raises(TenantScopeMissing):
            await rotate_all(session, box=both)

    async with scoped(atendai_kernel, platform=True) as session:
        rotated = await rotate_all(session, box=both, batch_size=2)
        await session.commit()
    assert rotated >= 2  # ours, and any other rows readable with these keys

    assert (await _stored_row(owner_connection, tenant_name))[2] != before
    async with scoped(atendai_kernel, tenant_id=tenant.tenant_id) as session:
        assert await get_secret(session, tenant_name, box=new_box) == OPENAI_KEY
    async with scoped(atendai_kernel, platform=True) as session:
        assert await get_secret(session, platform_name, box=new_box) == "platform-token-9876"
        with pytest.raises(SecretUnreadable):
            await get_secret(session, platform_name, box=old_box)


def test_the_cli_generates_keys_and_rotates(atendai_kernel, atendai_settings, tmp_path):
    runner = CliRunner()
    generated = runner.invoke(secrets_group, ["generate-key"], catch_exceptions=False)
    assert generated.exit_code == 0
    old, new = Fernet.generate_key().decode(), generated.output.strip()
    Fernet(new)  # a valid key

    name = _name("platform")
    owner_url = libpq_url(atendai_kernel.db.urls.owner)
    with psycopg.connect(owner_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.platform', 'on', true)")
        conn.execute(
            "INSERT INTO stored_secrets (id, tenant_id, name, ciphertext, hint, created_at, updated_at) "
            "VALUES (%s, NULL, %s, %s, '***', %s, %s)",
            (uuid.uuid4(), name, SecretBox([old]).encrypt("cli-rotated"), datetime.now(UTC), datetime.now(UTC)),
        )

    env = {
        "DATABASE_URL": atendai_settings.database_url,
        "ATENDAI_DATA_DIR": str(tmp_path),
        "ATENDAI_SECRET_KEY": "cli-test",
        "ATENDAI_SECRETS_KEYS": f"{new},{old}",
        "ATENDAI_LOG_LEVEL": "ERROR",
    }
    result = runner.invoke(secrets_group, ["rotate"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Re-encrypted" in result.output and "with the first key" in result.output

    with psycopg.connect(owner_url, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT set_config('app.platform', 'on', true)")
        (ciphertext,) = conn.execute("SELECT ciphertext FROM stored_secrets WHERE name = %s", (name,)).fetchone()
    assert SecretBox([new]).decrypt(ciphertext) == "cli-rotated"


def test_the_cli_rotation_refuses_production_without_keys(atendai_settings, tmp_path):
    env = {
        "DATABASE_URL": atendai_settings.database_url,
        "ATENDAI_ENV": "production",
        "ATENDAI_DATA_DIR": str(tmp_path),
        "ATENDAI_SECRET_KEY": "cli-test",
        "ATENDAI_SECRETS_KEYS": "",
    }
    result = CliRunner().invoke(secrets_group, ["rotate"], env=env)
    assert result.exit_code == 1
    assert "ATENDAI_SECRETS_KEYS is required in production" in result.output
