"""File storage: local disk by default, any S3-compatible service when configured.

Built on advanced-alchemy's file objects over `obstore <https://developmentseed.org/obstore/>`_:
``ATENDAI_STORAGE_URL`` names the store (``file:///srv/atendai/media`` or ``s3://bucket/prefix``; the
default is ``<data_dir>/media``), and ``ATENDAI_STORAGE_S3_*`` give an S3 endpoint and credentials
(MinIO, Cloudflare R2, Backblaze B2, AWS itself).

Keys are paths that always start with ``public/`` or ``private/`` and then the tenant id, so one
organization's files never share a folder with another's. Only ``public/`` keys are served, by
``GET /media/<key>`` (logos shown on pages and, later, on the web chat); everything else is read by the
code that checks who may see it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit
from uuid import UUID

from advanced_alchemy.types.file_object import FileObject
from advanced_alchemy.types.file_object.backends.obstore import ObstoreBackend

__all__ = [
    "MEDIA_PREFIX",
    "Storage",
    "StorageError",
    "StoredFile",
    "build_storage",
    "current_storage",
    "is_public_key",
    "is_storage_key",
    "media_url",
    "tenant_key",
]

MEDIA_PREFIX = "/media/"
STATE_KEY = "storage"
MAX_KEY_LENGTH = 400
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}"
"""One folder or file name: no leading dot, so never ``.``, ``..`` or a hidden file."""
_KEY = re.compile(rf"^(public|private)/{_UUID}/{_SEGMENT}(?:/{_SEGMENT}){{0,9}}$")


class StorageError(RuntimeError):
    """The store refused or failed an operation (its message says which key and why)."""


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    content_type: str | None


def is_storage_key(key: str) -> bool:
    """Whether ``key`` is one this module hands out: ``public|private/<tenant uuid>/<safe names>``."""
    return len(key) <= MAX_KEY_LENGTH and bool(_KEY.match(key))


def tenant_key(tenant_id: UUID, name: str, data: bytes, *, visibility: Literal["public", "private"] = "private") -> str:
    """A key for ``data`` under the tenant's folder, with a content hash so a changed file gets a new address.

    ``name`` is a folder and base name of the code's choosing (``logo.png``, ``documents/contract.pdf``);
    the hash goes before the extension: ``public/<tenant>/logo-3f2a9c1e5b7d4a60.png``.
    """
    if not isinstance(tenant_id, UUID):
        raise TypeError("tenant_id must be a UUID")
    if visibility not in ("public", "private"):
        raise ValueError(f"visibility is 'public' or 'private', not {visibility!r}")
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder, _, base = name.rpartition("/")
    if not base:
        raise ValueError(f"a storage name needs a file name: {name!r}")
    stem, dot, extension = base.rpartition(".")
    hashed = f"{stem}-{digest}.{extension}" if dot and stem else f"{base}-{digest}"
    key = f"{visibility}/{tenant_id}/{folder + '/' if folder else ''}{hashed}"
    if not is_storage_key(key):
        raise ValueError(f"not a safe storage name: {name!r}")
    return key


def media_url(key: str) -> str:
    """Where the browser fetches a public file (a path on this server)."""
    return MEDIA_PREFIX + key


def is_public_key(key: str) -> bool:
    """Whether ``key`` may be served to anyone by ``GET /media/<key>``."""
    return key.startswith("public/") and is_storage_key(key)


class Storage:
    """Put, read and delete files by key (async, never blocking the event loop)."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.backend = ObstoreBackend(key="atendai", fs=url, **options)

    def __repr__(self) -> str:
        return f"Storage({self.url!r})"  # never the options: they hold the credentials

    async def put(self, key: str, data: bytes, content_type: str | None = None) -> StoredFile:
        """Write ``data`` under ``key`` (replacing what was there)."""
        _check(key)
        file = FileObject(
            backend=self.backend, filename=key.rsplit("/", 1)[-1], to_filename=key, content_type=content_type
        )
        try:
            await file.save_async(data=data)
        except Exception as exc:  # obstore raises its own error types per store
            raise StorageError(f"could not store {key}: {exc}") from exc
        return StoredFile(key=key, size=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        """The file's bytes; ``FileNotFoundError`` when there is none."""
        _check(key)
        try:
            return await self.backend.get_content_async(key)
        except FileNotFoundError:
            raise
        except Exception as exc:
            raise StorageError(f"could not read {key}: {exc}") from exc

    async def delete(self, key: str) -> None:
        """Remove the file; a missing file is not an error."""
        _check(key)
        try:
            await self.backend.delete_object_async(key)
        except FileNotFoundError:
            return
        except Exception as exc:
            raise StorageError(f"could not delete {key}: {exc}") from exc


def _check(key: str) -> None:
    # Keys come from tenant_key; anything else reaching the store is a programming error, refused loudly.
    if not is_storage_key(key):
        raise ValueError(f"not a storage key: {key!r}")


def _local_folder(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


def build_storage(settings: Any) -> Storage:
    """The store the settings name: ``ATENDAI_STORAGE_URL``, else a folder under the data directory."""
    url = settings.storage_url
    if not url:
        folder = Path(settings.data_path()) / "media"
        folder.mkdir(parents=True, exist_ok=True)
        return Storage(folder.as_uri(), mkdir=True)
    if url.startswith("file://"):
        _local_folder(url).mkdir(parents=True, exist_ok=True)
        return Storage(url, mkdir=True)
    options: dict[str, Any] = {}
    if url.startswith(("s3://", "s3a://")):
        endpoint = settings.storage_s3_endpoint
        if endpoint:
            # MinIO, R2, B2...: path-style requests to the endpoint given, plain HTTP only when it says so.
            options["endpoint"] = endpoint
            options["virtual_hosted_style_request"] = False
            if endpoint.startswith("http://"):
                options["client_options"] = {"allow_http": True}
        if settings.storage_s3_access_key:
            options["access_key_id"] = settings.storage_s3_access_key
        if settings.storage_s3_secret_key:
            options["secret_access_key"] = settings.storage_s3_secret_key
        options["region"] = settings.storage_s3_region or "us-east-1"
    return Storage(url, **options)


def current_storage(kernel: Any) -> Storage:
    """The process's store (built once, on first use)."""
    storage = kernel.state.get(STATE_KEY)
    if storage is None:
        storage = build_storage(kernel.settings)
        kernel.state[STATE_KEY] = storage
    return storage
