"""Settings read from the environment and an optional ``.env`` file.

Every setting has an embedded default so that ``atendai serve`` works on a fresh machine with no
configuration at all: no ``DATABASE_URL`` starts the embedded PostgreSQL under ``data_dir``, no
``REDIS_URL`` keeps queues and channels in PostgreSQL and memory, and the AI answers offline.
The full list lives in ``docs/configuration.md``; keep both in step.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

import msgspec
from dotenv import dotenv_values

__all__ = ["ENV_NAMES", "Settings", "load_settings"]


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """The whole runtime configuration. Build it with :func:`load_settings`, never from ``os.environ`` ad hoc."""

    environment: Literal["development", "production", "test"] = "development"
    # Database: the owner URL runs migrations; the app connects as a role that owns nothing.
    database_url: str | None = None
    database_app_url: str | None = None
    database_app_role: str = "atendai_app"
    database_app_password: str | None = None
    database_pool_size: int = 10
    # Let full-text and trigram indexes serve searches under row-level security (needs a superuser owner).
    database_leakproof_search: bool = True
    data_dir: str = "./data"
    auto_migrate: bool | None = None
    # Redis: queues, channels and stores use it when set; PostgreSQL and memory otherwise.
    redis_url: str | None = None
    # Real-time channels: "auto" is Redis pub/sub with REDIS_URL, process memory without it.
    realtime_backend: Literal["auto", "memory", "redis", "postgres"] = "auto"
    # Background work: a worker inside the app process (the embedded default) or `atendai worker`.
    worker_in_process: bool | None = None
    worker_concurrency: int = 10
    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    secret_key: str | None = None
    # Fernet keys (comma separated, newest first) that encrypt stored secrets: the first encrypts, all decrypt.
    secrets_keys: str | None = None
    # Argon2id cost of password hashes: RFC 9106's low-memory profile; production may only go higher.
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    # Login protection: failures per account before a lockout, attempts per address per window.
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_ip_attempts: int = 30
    login_ip_window_seconds: int = 300
    # Mail
    mail_backend: Literal["file", "console", "smtp"] = "file"
    mail_from: str = "Atendai <no-reply@atendai.local>"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    # Plugins
    plugins: str | None = None
    strict_plugins: bool = False
    # Outgoing HTTP: private networks and host names user-given URLs may reach anyway (kernel/http.py)
    http_allow: str | None = None
    # Files (logos, uploads): a local folder by default, any S3-compatible service when set
    storage_url: str | None = None
    storage_s3_endpoint: str | None = None
    storage_s3_access_key: str | None = None
    storage_s3_secret_key: str | None = None
    storage_s3_region: str | None = None
    # Self-service registration of organizations (the platform admin's switch in the panel wins)
    registration_open: bool = True
    registration_per_hour: int = 5
    # Operations
    metrics_token: str | None = None
    # Logs
    log_level: str = "INFO"
    log_json: bool = True
    # Tenancy
    default_language: str = "pt-BR"
    default_timezone: str = "America/Sao_Paulo"

    @property
    def embedded(self) -> bool:
        """True when no database server is configured and the embedded PostgreSQL runs under ``data_dir``."""
        return not self.database_url

    @property
    def should_auto_migrate(self) -> bool:
        """Migrations run at start-up in the embedded default unless told otherwise."""
        return self.embedded if self.auto_migrate is None else self.auto_migrate

    @property
    def runs_worker_in_process(self) -> bool:
        return self.embedded if self.worker_in_process is None else self.worker_in_process

    @property
    def plugin_allowlist(self) -> frozenset[str] | None:
        """Names from ``ATENDAI_PLUGINS`` (comma separated), or ``None`` for every installed plugin."""
        if not self.plugins:
            return None
        return frozenset(name.strip() for name in self.plugins.split(",") if name.strip())

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()


# Field name -> environment variable. Common names stay plain; the rest are prefixed.
ENV_NAMES: dict[str, str] = {
    "environment": "ATENDAI_ENV",
    "database_url": "DATABASE_URL",
    "database_app_url": "DATABASE_APP_URL",
    "database_app_role": "ATENDAI_DB_APP_ROLE",
    "database_app_password": "ATENDAI_DB_APP_PASSWORD",
    "database_pool_size": "ATENDAI_DB_POOL_SIZE",
    "database_leakproof_search": "ATENDAI_DB_LEAKPROOF_SEARCH",
    "data_dir": "ATENDAI_DATA_DIR",
    "auto_migrate": "ATENDAI_AUTO_MIGRATE",
    "redis_url": "REDIS_URL",
    "realtime_backend": "ATENDAI_REALTIME_BACKEND",
    "worker_in_process": "ATENDAI_WORKER_IN_PROCESS",
    "worker_concurrency": "ATENDAI_WORKER_CONCURRENCY",
    "host": "ATENDAI_HOST",
    "port": "ATENDAI_PORT",
    "public_url": "ATENDAI_PUBLIC_URL",
    "secret_key": "ATENDAI_SECRET_KEY",
    "secrets_keys": "ATENDAI_SECRETS_KEYS",
    "password_hash_time_cost": "ATENDAI_PASSWORD_HASH_TIME_COST",
    "password_hash_memory_kib": "ATENDAI_PASSWORD_HASH_MEMORY_KIB",
    "access_token_minutes": "ATENDAI_ACCESS_TOKEN_MINUTES",
    "refresh_token_days": "ATENDAI_REFRESH_TOKEN_DAYS",
    "login_max_failures": "ATENDAI_LOGIN_MAX_FAILURES",
    "login_lockout_minutes": "ATENDAI_LOGIN_LOCKOUT_MINUTES",
    "login_ip_attempts": "ATENDAI_LOGIN_IP_ATTEMPTS",
    "login_ip_window_seconds": "ATENDAI_LOGIN_IP_WINDOW_SECONDS",
    "mail_backend": "ATENDAI_MAIL_BACKEND",
    "mail_from": "ATENDAI_MAIL_FROM",
    "smtp_host": "ATENDAI_SMTP_HOST",
    "smtp_port": "ATENDAI_SMTP_PORT",
    "smtp_username": "ATENDAI_SMTP_USERNAME",
    "smtp_password": "ATENDAI_SMTP_PASSWORD",
    "smtp_security": "ATENDAI_SMTP_SECURITY",
    "plugins": "ATENDAI_PLUGINS",
    "strict_plugins": "ATENDAI_STRICT_PLUGINS",
    "http_allow": "ATENDAI_HTTP_ALLOW",
    "storage_url": "ATENDAI_STORAGE_URL",
    "storage_s3_endpoint": "ATENDAI_STORAGE_S3_ENDPOINT",
    "storage_s3_access_key": "ATENDAI_STORAGE_S3_ACCESS_KEY",
    "storage_s3_secret_key": "ATENDAI_STORAGE_S3_SECRET_KEY",
    "storage_s3_region": "ATENDAI_STORAGE_S3_REGION",
    "registration_open": "ATENDAI_REGISTRATION_OPEN",
    "registration_per_hour": "ATENDAI_REGISTRATION_PER_HOUR",
    "metrics_token": "ATENDAI_METRICS_TOKEN",
    "log_level": "ATENDAI_LOG_LEVEL",
    "log_json": "ATENDAI_LOG_JSON",
    "default_language": "ATENDAI_DEFAULT_LANGUAGE",
    "default_timezone": "ATENDAI_DEFAULT_TIMEZONE",
}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Read settings from ``env_file`` (if it exists), then the environment, then ``overrides``.

    Later sources win. Empty strings count as unset. A missing ``secret_key`` is generated once and
    kept in ``<data_dir>/secret_key`` so tokens survive restarts of the embedded default.
    """
    raw: dict[str, object] = {}
    file_values = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}
    for field, env_name in ENV_NAMES.items():
        value = os.environ.get(env_name, file_values.get(env_name))
        if value not in (None, ""):
            raw[field] = value
    raw.update({key: value for key, value in overrides.items() if value is not None})
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc)) from exc
    if settings.environment == "production" and (
        settings.password_hash_time_cost < 3 or settings.password_hash_memory_kib < 65536
    ):
        raise SettingsError(
            "ATENDAI_PASSWORD_HASH_TIME_COST / ATENDAI_PASSWORD_HASH_MEMORY_KIB: production needs at least 3 and 65536"
        )
    if settings.secret_key is None:
        settings = msgspec.structs.replace(settings, secret_key=_persistent_secret(settings.data_path()))
    return settings


def _explain(exc: msgspec.ValidationError) -> str:
    message = str(exc)
    for field, env_name in ENV_NAMES.items():
        if f"$.{field}" in message:
            return f"{env_name}: {message}"
    return message


def _persistent_secret(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key
