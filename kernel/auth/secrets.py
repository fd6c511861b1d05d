"""Opaque secrets handed to people and programs: generated once, stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["API_TOKEN_PREFIX", "hash_secret", "new_api_token", "new_secret", "same_secret"]

API_TOKEN_PREFIX = "atd_"  # noqa: S105 - a public marker, not a secret


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(value: str) -> str:
    """High-entropy secrets need no slow hash: SHA-256 makes the stored value useless to a reader."""
    return hashlib.sha256(value.encode()).hexdigest()


def same_secret(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
