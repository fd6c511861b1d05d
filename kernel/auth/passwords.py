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
# A real hash with the current costs to verify against when the account does not exist, so timing does
# not reveal it. Made at the first login attempt rather than at import: one hash costs about 0.2 s.
_dummy_hash: str | None = None


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """Use these Argon2id costs from now on (the process's settings; see :mod:`kernel.config`)."""
    global _hasher, _dummy_hash
    if (_hasher.time_cost, _hasher.memory_cost) == (time_cost, memory_kib):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _dummy_hash = None


def _timing_equalizer() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("atendai-timing-equalizer")
    return _dummy_hash


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _timing_equalizer(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
