"""Password hashing with Argon2id (by default argon2-cffi's RFC 9106 low-memory profile: t=3, m=64 MiB, p=4).

The cost comes from the settings (``ATENDAI_PASSWORD_HASH_TIME_COST``, ``..._MEMORY_KIB``): production may
only raise it; a test run lowers it so hundreds of logins do not spend minutes hashing. Hashes made with
other parameters keep verifying, and are rehashed with the current ones at the next login.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["configure_hashing", "hash_password", "needs_rehash", "normalize_email", "verify_password"]

_hasher = PasswordHasher()
# A real hash to verify against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("atendai-timing-equalizer")


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """Use these Argon2id costs from now on (the process's settings; see :mod:`kernel.config`)."""
    global _hasher, _DUMMY_HASH
    if (_hasher.time_cost, _hasher.memory_cost) == (time_cost, memory_kib):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _DUMMY_HASH = _hasher.hash("atendai-timing-equalizer")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
