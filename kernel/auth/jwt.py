"""Access tokens: short-lived JWTs, HS256 only, with ``aud``, ``iss`` and ``typ`` checked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt as pyjwt

__all__ = ["ALGORITHM", "AUDIENCE", "ISSUER", "AccessClaims", "InvalidAccessToken", "decode_access", "encode_access"]

ALGORITHM = "HS256"
AUDIENCE = "atendai"
ISSUER = "atendai"
ACCESS_TYPE = "access"


class InvalidAccessToken(Exception):
    """The token is malformed, forged, expired, or not an access token of this installation."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: UUID
    tenant_id: UUID | None
    token_version: int
    jti: str
    expires_at: datetime
    impersonator_id: UUID | None = None
    """A platform administrator acting as this user (``atendai`` platform panel); ``None`` otherwise."""


def encode_access(
    secret: str,
    *,
    user_id: UUID,
    tenant_id: UUID | None,
    token_version: int,
    lifetime: timedelta,
    impersonator_id: UUID | None = None,
) -> tuple[str, AccessClaims]:
    now = datetime.now(UTC)
    claims = AccessClaims(user_id, tenant_id, token_version, uuid.uuid4().hex, now + lifetime, impersonator_id)
    payload = {
        "sub": str(user_id),
        "tid": str(tenant_id) if tenant_id else None,
        "ver": token_version,
        "typ": ACCESS_TYPE,
        "jti": claims.jti,
        "iat": now,
        "nbf": now - timedelta(seconds=5),
        "exp": claims.expires_at,
        "aud": AUDIENCE,
        "iss": ISSUER,
    }
    if impersonator_id is not None:
        payload["imp"] = str(impersonator_id)
    return pyjwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_access(secret: str, token: str) -> AccessClaims:
    try:
        payload = pyjwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # pinned: "none" and every other algorithm are refused
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "aud", "iss", "typ", "jti"]},
            leeway=5,
        )
        if payload.get("typ") != ACCESS_TYPE:
            raise InvalidAccessToken("not an access token")
        return AccessClaims(
            user_id=UUID(payload["sub"]),
            tenant_id=UUID(payload["tid"]) if payload.get("tid") else None,
            token_version=int(payload["ver"]),
            jti=str(payload["jti"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            impersonator_id=UUID(payload["imp"]) if payload.get("imp") else None,
        )
    except (pyjwt.PyJWTError, KeyError, TypeError, ValueError) as exc:
        raise InvalidAccessToken(str(exc)) from exc
