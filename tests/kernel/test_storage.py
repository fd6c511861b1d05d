"""File storage on a local folder and on S3 (a real local fake), keys per tenant, and ``GET /media/<key>``."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from kernel.storage import (
    Storage,
    StorageError,
    build_storage,
    current_storage,
    is_public_key,
    is_storage_key,
    media_url,
    tenant_key,
)

TENANT_A = uuid.UUID("0190f1a2-0000-7000-8000-00000000000a")
TENANT_B = uuid.UUID("0190f1a2-0000-7000-8000-00000000000b")
BUCKET = "atendai-media"


# -- Keys -----------------------------------------------------------------------------------------------


def test_a_key_names_the_visibility_the_tenant_and_a_hash_of_the_content():
    key = tenant_key(TENANT_A, "logo.png", b"picture", visibility="public")
    assert key.startswith(f"public/{TENANT_A}/logo-") and key.endswith(".png")
    assert key == tenant_key(TENANT_A, "logo.png", b"picture", visibility="public"), "same bytes, same key"
    assert key != tenant_key(TENANT_A, "logo.png", b"another picture", visibility="public")
    assert tenant_key(TENANT_A, "documents/contract.pdf", b"x").startswith(f"private/{TENANT_A}/documents/contract-")
    assert media_url(key) == f"/media/{key}"


def test_the_same_file_of_two_tenants_never_shares_a_key():
    assert tenant_key(TENANT_A, "logo.png", b"same", visibility="public") != tenant_key(
        TENANT_B, "logo.png", b"same", visibility="public"
    )


@pytest.mark.parametrize("name", ["../logo.png", "a/../../b.png", ".hidden", "logo png", "dir//x.png", "ç.png", ""])
def test_unsafe_names_are_refused(name):
    with pytest.raises(ValueError):
        tenant_key(TENANT_A, name, b"x")


def test_a_key_must_be_built_with_a_real_tenant_id():
    with pytest.raises(TypeError):
        tenant_key(str(TENANT_A), "logo.png", b"x")  # type: ignore[arg-type]


def test_only_well_formed_public_keys_are_public():
    public = tenant_key(TENANT_A, "logo.png", b"x", visibility="public")
    private = tenant_key(TENANT_A, "logo.png", b"x")
    assert is_public_key(public) and not is_public_key(private)
    for key in (
        f"public/{TENANT_A}/../private/{TENANT_A}/x.png",
        f"public/{TENANT_A}/./x.png",
        "public/not-a-tenant/x.png",
        f"public/{TENANT_A}",
        f"public/{TENANT_A}/",
        f"/public/{TENANT_A}/x.png",
        f"public/{TENANT_A}/x.png/",
        "public/../../etc/passwd",
    ):
        assert not is_public_key(key), key
    assert is_storage_key(private) and not is_storage_key("private/x")


# -- A local folder -------------------------------------------------------------------------------------


@pytest.fixture
def local_storage(tmp_path: Path) -> Storage:
    return Storage((tmp_path / "media").as_uri(), mkdir=True)


async def test_a_local_store_puts_reads_and_deletes_files(local_storage, tmp_path):
    key = tenant_key(TENANT_A, "logo.png", b"picture", visibility="public")
    stored = await local_storage.put(key, b"picture", content_type="image/png")
    assert stored.size == 7 and stored.key == key
    assert (tmp_path / "media" / key).read_bytes() == b"picture"
    assert await local_storage.get(key) == b"picture"
    await local_storage.delete(key)
    with pytest.raises(FileNotFoundError):
        await local_storage.get(key)


async def test_a_missing_file_is_not_found_and_deleting_it_is_no_error(local_storage):
    key = tenant_key(TENANT_A, "logo.png", b"never stored", visibility="public")
    with pytest.raises(FileNotFoundError):
        await local_storage.get(key)
    await local_storage.delete(key)


async def test_the_store_refuses_keys_it_did_not_hand_out(local_storage):
    for key in ("../outside.png", f"public/{TENANT_A}/../../x", "etc/passwd"):
        with pytest.raises(ValueError):
            await local_storage.put(key, b"x")
        with pytest.raises(ValueError):
            await local_storage.get(key)


async def test_the_default_store_is_a_folder_in_the_data_directory(atendai_settings, tmp_path):
    settings = msgspec.structs.replace(atendai_settings, data_dir=str(tmp_path), storage_url=None)
    storage = build_storage(settings)
    key = tenant_key(TENANT_B, "logo.png", b"x", visibility="public")
    await storage.put(key, b"x")
    assert (tmp_path / "media" / key).is_file()


async def test_a_file_url_names_the_folder(atendai_settings, tmp_path):
    folder = tmp_path / "elsewhere" / "media files"
    settings = msgspec.structs.replace(atendai_settings, storage_url=folder.as_uri())
    storage = build_storage(settings)
    key = tenant_key(TENANT_A, "logo.png", b"y", visibility="public")
    await storage.put(key, b"y")
    assert (folder / key).read_bytes() == b"y"


# -- S3, against a real local fake -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, with an empty bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def _bucket_keys(endpoint: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )
    return [item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


@pytest.fixture
def s3_storage(atendai_settings, s3_endpoint) -> Storage:
    settings = msgspec.structs.replace(
        atendai_settings,
        storage_url=f"s3://{BUCKET}/tenants",
        storage_s3_endpoint=s3_endpoint,
        storage_s3_access_key="test",
        storage_s3_secret_key="test",
        storage_s3_region="us-east-1",
    )
    return build_storage(settings)


async def test_an_s3_store_puts_reads_and_deletes_files_under_its_prefix(s3_storage, s3_endpoint):
    key = tenant_key(TENANT_A, "logo.png", b"s3 picture", visibility="public")
    await s3_storage.put(key, b"s3 picture", content_type="image/png")
    assert f"tenants/{key}" in _bucket_keys(s3_endpoint)
    assert await s3_storage.get(key) == b"s3 picture"
    await s3_storage.delete(key)
    assert f"tenants/{key}" not in _bucket_keys(s3_endpoint)
    with pytest.raises(FileNotFoundError):
        await s3_storage.get(key)
    await s3_storage.delete(key)  # already gone: no error


async def test_two_tenants_files_on_s3_never_collide(s3_storage):
    key_a = tenant_key(TENANT_A, "logo.png", b"same bytes", visibility="public")
    key_b = tenant_key(TENANT_B, "logo.png", b"same bytes", visibility="public")
    await s3_storage.put(key_a, b"same bytes")
    await s3_storage.put(key_b, b"same bytes")
    await s3_storage.delete(key_a)
    assert await s3_storage.get(key_b) == b"same bytes"
    await s3_storage.delete(key_b)


async def test_an_unreachable_s3_store_fails_with_a_storage_error(atendai_settings):
    settings = msgspec.structs.replace(
        atendai_settings,
        storage_url=f"s3://{BUCKET}",
        storage_s3_endpoint=f"http://127.0.0.1:{_free_port()}",
        storage_s3_access_key="test",
        storage_s3_secret_key="test",
    )
    storage = build_storage(settings)
    key = tenant_key(TENANT_A, "logo.png", b"x", visibility="public")
    with pytest.raises(StorageError, match="could not store"):
        await storage.put(key, b"x")
    assert "test" not in repr(storage), "credentials never show"


# -- GET /media/<key> -----------------------------------------------------------------------------------


async def test_public_files_are_served_to_anyone_with_a_long_cache(atendai_client, atendai_kernel):
    key = tenant_key(TENANT_A, "logo.png", b"\x89PNG public", visibility="public")
    await current_storage(atendai_kernel).put(key, b"\x89PNG public", content_type="image/png")
    response = await atendai_client.get(media_url(key))
    assert response.status_code == 200 and response.content == b"\x89PNG public"
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]


async def test_private_files_are_never_served(atendai_client, atendai_kernel):
    key = tenant_key(TENANT_A, "contract.pdf", b"private", visibility="private")
    await current_storage(atendai_kernel).put(key, b"private")
    assert (await atendai_client.get(media_url(key))).status_code == 404


async def test_a_missing_file_and_made_up_keys_answer_404(atendai_client):
    missing = tenant_key(TENANT_A, "logo.png", b"never stored", visibility="public")
    assert (await atendai_client.get(media_url(missing))).status_code == 404
    for path in (
        f"/media/public/{TENANT_A}/../private/{TENANT_A}/x.png",
        f"/media/public/{TENANT_A}/%2e%2e/%2e%2e/etc/passwd",
        "/media/public/../../../../etc/passwd",
        "/media/..%2f..%2fkernel%2fconfig.py",
        "/media/",
    ):
        response = await atendai_client.get(path)
        assert response.status_code == 404, path


async def test_a_public_file_that_is_not_an_image_is_a_download_not_a_page(atendai_client, atendai_kernel):
    key = tenant_key(TENANT_A, "page.html", b"<script>alert(1)</script>", visibility="public")
    await current_storage(atendai_kernel).put(key, b"<script>alert(1)</script>")
    svg = tenant_key(TENANT_A, "logo.svg", b"<svg onload=alert(1)>", visibility="public")
    await current_storage(atendai_kernel).put(svg, b"<svg onload=alert(1)>")
    for stored in (key, svg):
        response = await atendai_client.get(media_url(stored))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"] == "attachment"
