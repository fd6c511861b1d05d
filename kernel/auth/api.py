"""Identity API: ``/api/v1/auth``, ``/api/v1/users`` and ``/api/v1/api-tokens``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.auth import services, users
from kernel.auth.actor import Actor
from kernel.auth.middleware import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    PUBLIC,
    REFRESH_COOKIE,
    browser_origin_guard,
    revoked_key,
)
from kernel.auth.models import ApiToken, User
from kernel.auth.secrets import new_secret
from kernel.errors import ValidationFailed
from kernel.rbac.guard import AUTHENTICATED, PERMISSION

__all__ = ["ApiTokensController", "AuthController", "UsersController"]

REFRESH_PATH = "/api/v1/auth"
SESSION_COOKIE = "atendai_session"
"""The browser's session (refresh-token family) id: not a credential, it only tells a page which of
one's sessions is this browser (the refresh cookie itself only travels to ``/api/v1/auth``)."""


# --- shapes --------------------------------------------------------------------------------------


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    password: str


class RefreshIn(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: str | None = None


class TokenOut(msgspec.Struct):
    access_token: str | None
    """``None`` when a browser renewed its session from the cookie: the new tokens travel only in
    (HttpOnly) cookies then, out of reach of any script on the page."""
    refresh_token: str | None
    token_type: str
    expires_in: int
    csrf_token: str


class AcceptInvitationIn(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    password: str
    name: str | None = None


class ResetRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str


class ResetConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    password: str


class UserOut(msgspec.Struct):
    id: UUID
    email: str
    name: str
    role: str | None
    is_active: bool
    language: str | None
    invited: bool
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, user: User, role: str | None) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=role,
            is_active=user.is_active,
            language=user.language,
            invited=user.password_hash is None,
            last_login_at=user.last_login_at,
            created_at=user.created_at,
        )


class MeOut(msgspec.Struct):
    user: UserOut | None
    tenant_id: UUID | None
    is_platform_admin: bool
    permissions: list[str]
    enabled_plugins: list[str]


class MeIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    language: str | msgspec.UnsetType | None = msgspec.UNSET
    """A language, or ``null`` for the organization's default; left out: unchanged."""
    current_password: str | None = None
    new_password: str | None = None


class InviteIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str
    role: str
    name: str | None = None
    language: str | None = None


class UserPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    role: str | None = None
    is_active: bool | None = None
    language: str | msgspec.UnsetType | None = msgspec.UNSET
    """A language, or ``null`` for the organization's default; left out: unchanged."""


class SessionOut(msgspec.Struct):
    id: UUID
    """The session (refresh-token family) id, to end it with ``DELETE /api/v1/users/me/sessions/{id}``."""
    started_at: datetime
    last_used_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool
    """The session of the browser making this request (known from its session cookie)."""


class ApiTokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    permissions: list[str]
    expires_at: datetime | None = None


class ApiTokenOut(msgspec.Struct):
    id: UUID
    name: str
    prefix: str
    permissions: list[str]
    created_by: UUID | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    status: str = "active"
    """``active``, ``expired`` or ``revoked``."""
    created_by_name: str | None = None

    @classmethod
    def of(cls, token: ApiToken, created_by_name: str | None = None) -> ApiTokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            permissions=list(token.permissions),
            created_by=token.created_by,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            status=services.api_token_status(token),
            created_by_name=created_by_name,
        )


class CreatedApiTokenOut(msgspec.Struct):
    token: str
    """Shown this once: only its hash is kept."""
    api_token: ApiTokenOut


# --- helpers -------------------------------------------------------------------------------------


def _secure(request: Request[Any, Any, Any]) -> bool:
    settings = request.app.state.kernel.settings
    return settings.environment == "production" or settings.base_url.startswith("https://")


def _token_response(
    request: Request[Any, Any, Any], issued: services.IssuedTokens, *, in_body: bool = True
) -> Response[TokenOut]:
    """Tokens in the body (API clients, unless ``in_body`` is false) and in cookies (browsers), with a fresh CSRF token."""
    settings = request.app.state.kernel.settings
    csrf = new_secret(24)
    secure = _secure(request)
    access_age = settings.access_token_minutes * 60
    refresh_age = int((issued.refresh_expires_at - datetime.now(UTC)).total_seconds())
    body = TokenOut(
        access_token=issued.access_token if in_body else None,
        refresh_token=issued.refresh_token if in_body else None,
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=access_age,
        csrf_token=csrf,
    )
    return Response(
        body,
        status_code=200,
        headers={"Cache-Control": "no-store"},
        cookies=[
            Cookie(
                key=ACCESS_COOKIE,
                value=issued.access_token,
                max_age=access_age,
                httponly=True,
                secure=secure,
                samesite="lax",
            ),
            Cookie(
                key=REFRESH_COOKIE,
                value=issued.refresh_token,
                max_age=refresh_age,
                path=REFRESH_PATH,
                httponly=True,
                secure=secure,
                samesite="strict",
            ),
            Cookie(key=CSRF_COOKIE, value=csrf, max_age=refresh_age, httponly=False, secure=secure, samesite="lax"),
            *(
                [
                    Cookie(
                        key=SESSION_COOKIE,
                        value=str(issued.family_id),
                        max_age=refresh_age,
                        httponly=True,
                        secure=secure,
                        samesite="lax",
                    )
                ]
                if issued.family_id
                else []
            ),
        ],
    )


def current_session_id(request: Request[Any, Any, Any]) -> UUID | None:
    """Which session this browser is, from its session cookie (``None`` for API clients)."""
    try:
        return UUID(request.cookies.get(SESSION_COOKIE, ""))
    except ValueError:
        return None


def _clear_cookies() -> list[Cookie]:
    return [
        Cookie(key=ACCESS_COOKIE, value="", max_age=0, httponly=True),
        Cookie(key=REFRESH_COOKIE, value="", max_age=0, path=REFRESH_PATH, httponly=True),
        Cookie(key=CSRF_COOKIE, value="", max_age=0),
        Cookie(key=SESSION_COOKIE, value="", max_age=0, httponly=True),
    ]


def _actor(request: Request[Any, Any, Any]) -> Actor:
    return request.scope["user"]


# --- /api/v1/auth --------------------------------------------------------------------------------


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    opt = {PUBLIC: True}
    guards = [browser_origin_guard]

    @post("/login", status_code=200, summary="Log in with email and password")
    async def login(self, request: Request[Any, Any, Any], data: JSONBody[LoginIn]) -> Response[TokenOut]:
        kernel = request.app.state.kernel
        try:
            async with kernel.db.session() as session:
                user = await services.authenticate(
                    kernel, request.app.state.auth_store, session, data.email, data.password
                )
                issued = await services.issue_tokens(kernel, session, user)
                await session.commit()
        except services.TooManyAttempts as exc:
            exc.headers = {"Retry-After": str(exc.retry_after)}  # type: ignore[attr-defined]
            raise
        return _token_response(request, issued)

    @post("/refresh", status_code=200, summary="Trade a refresh token for new tokens (rotation)")
    async def refresh(
        self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn | None] = None
    ) -> Response[TokenOut]:
        kernel = request.app.state.kernel
        from_body = data.refresh_token if data else None
        presented = from_body or request.cookies.get(REFRESH_COOKIE)
        if not presented:
            raise services.InvalidToken("No refresh token was sent.")
        async with kernel.db.session() as session:
            _, issued = await services.rotate_refresh_token(kernel, session, presented)
            await session.commit()
        # A browser renewing from its cookie gets cookies only: no script on a page ever sees a token.
        return _token_response(request, issued, in_body=from_body is not None)

    @get(
        "/resume",
        summary="Browsers: renew the session from the refresh cookie, then go back to the page",
        description=(
            "Pages send a browser here when its access token is missing or expired. With a valid refresh "
            "cookie the session is rotated and the browser returns to `next` (a path of this site); without "
            "one it goes to the login form, which brings it back to `next` afterwards."
        ),
    )
    async def resume(self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None) -> Response[Any]:
        from urllib.parse import quote

        from litestar.response import Redirect

        from kernel.web.pages import _safe_next

        target = _safe_next(next)
        kernel = request.app.state.kernel
        presented = request.cookies.get(REFRESH_COOKIE)
        if presented:
            try:
                async with kernel.db.session() as session:
                    _, issued = await services.rotate_refresh_token(kernel, session, presented)
                    await session.commit()
            except services.InvalidToken:
                pass
            else:
                tokens = _token_response(request, issued)
                return Redirect(
                    path=target, status_code=303, cookies=tokens.cookies, headers={"Cache-Control": "no-store"}
                )
        login = f"/auth/login?next={quote(target, safe='/')}"
        return Redirect(path=login, status_code=303, cookies=_clear_cookies() if presented else [])

    @post("/logout", status_code=HTTP_204_NO_CONTENT, opt={"ends_session": True}, summary="End this session")
    async def logout(self, request: Request[Any, Any, Any], data: JSONBody[RefreshIn | None] = None) -> Response[None]:
        kernel = request.app.state.kernel
        presented = (data.refresh_token if data else None) or request.cookies.get(REFRESH_COOKIE)
        if presented:
            async with kernel.db.session() as session:
                await services.revoke_refresh_token(session, presented)
                await session.commit()
        await _revoke_presented_access_token(request)
        return Response(None, status_code=HTTP_204_NO_CONTENT, cookies=_clear_cookies())

    @post("/invitations/accept", status_code=200, summary="Accept an invitation: set the password and log in")
    async def accept_invitation(
        self, request: Request[Any, Any, Any], data: JSONBody[AcceptInvitationIn]
    ) -> Response[TokenOut]:
        kernel = request.app.state.kernel
        name = data.name if data.name and data.name.strip() else None  # blank: keep the invited name
        async with kernel.db.session() as session:
            _, issued = await users.accept_invitation(kernel, session, data.token, data.password, name)
            await session.commit()
        return _token_response(request, issued)

    @post("/password-reset", status_code=HTTP_202_ACCEPTED, summary="Mail a password reset link")
    async def request_reset(self, request: Request[Any, Any, Any], data: JSONBody[ResetRequestIn]) -> dict[str, str]:
        """Always 202, whether or not the address has an account, so the answer reveals nothing.

        A client address that asks too often gets 429 (``Retry-After``), as for logins.
        """
        kernel = request.app.state.kernel
        async with kernel.db.session() as session:
            await users.request_password_reset(
                kernel, request.app.state.catalogs, request.app.state.auth_store, session, data.email
            )
            await session.commit()
        return {"status": "accepted"}

    @post("/password-reset/confirm", status_code=HTTP_204_NO_CONTENT, summary="Set a new password with a reset link")
    async def confirm_reset(self, request: Request[Any, Any, Any], data: JSONBody[ResetConfirmIn]) -> None:
        kernel = request.app.state.kernel
        async with kernel.db.session() as session:
            await users.confirm_password_reset(session, data.token, data.password)
            await session.commit()


async def _revoke_presented_access_token(request: Request[Any, Any, Any]) -> None:
    """Logout also kills the access token in hand for the rest of its short life."""
    from kernel.auth.jwt import InvalidAccessToken, decode_access

    header = request.headers.get("authorization", "")
    token = (
        header.partition(" ")[2].strip() if header.lower().startswith("bearer ") else request.cookies.get(ACCESS_COOKIE)
    )
    if not token:
        return
    try:
        claims = decode_access(request.app.state.kernel.settings.secret_key, token)
    except InvalidAccessToken:
        return
    remaining = int((claims.expires_at - datetime.now(UTC)).total_seconds()) + 5
    if remaining > 0:
        await request.app.state.auth_store.set(revoked_key(claims.jti), b"1", expires_in=remaining)


# --- /api/v1/users -------------------------------------------------------------------------------


class UsersController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/me", opt={AUTHENTICATED: True}, summary="The caller: profile, permissions and enabled modules")
    async def me(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> MeOut:
        actor = _actor(request)
        user_out = None
        if actor.kind == "user" and actor.user_id:
            user, role = await users.get_user(db_session, actor.user_id)
            user_out = UserOut.of(user, role)
        return MeOut(
            user=user_out,
            tenant_id=actor.tenant_id,
            is_platform_admin=actor.is_platform_admin,
            permissions=sorted(actor.permissions),
            enabled_plugins=sorted(actor.enabled_plugins),
        )

    @patch("/me", opt={AUTHENTICATED: True}, summary="Change one's own name, language or password")
    async def update_me(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[MeIn]
    ) -> UserOut:
        actor = _actor(request)
        if actor.kind != "user" or actor.user_id is None:
            raise ValidationFailed("API tokens have no profile.")
        if data.new_password is not None:
            await users.change_own_password(db_session, actor, data.current_password or "", data.new_password)
        changes: dict[str, Any] = {}
        if data.name is not None:
            changes["name"] = data.name
        if data.language is not msgspec.UNSET:
            changes["language"] = data.language
        if changes:
            return UserOut.of(*await users.update_own_profile(db_session, actor, changes))
        return UserOut.of(*await users.get_user(db_session, actor.user_id))

    @post(
        "/me/end-sessions",
        status_code=200,
        opt={AUTHENTICATED: True, "ends_session": True},
        summary="Log out everywhere else: end every session, then get fresh tokens for this one",
        description=(
            "Every access token of the caller stops at once and every refresh token is revoked. The answer "
            "carries new tokens (and, for a browser, new session cookies), so the caller stays logged in."
        ),
    )
    async def end_my_other_sessions(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> Response[TokenOut]:
        issued = await services.end_other_sessions(request.app.state.kernel, db_session, _actor(request))
        return _token_response(request, issued)

    @get("/me/sessions", opt={AUTHENTICATED: True}, summary="One's own active sessions (devices)")
    async def my_sessions(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> list[SessionOut]:
        actor = _actor(request)
        if actor.kind != "user" or actor.user_id is None:
            raise ValidationFailed("API tokens have no sessions.")
        current = current_session_id(request)
        return [
            SessionOut(
                id=info.family_id,
                started_at=info.started_at,
                last_used_at=info.last_used_at,
                expires_at=info.expires_at,
                ip=info.ip,
                user_agent=info.user_agent,
                current=info.family_id == current,
            )
            for info in await services.active_sessions(db_session, actor.user_id)
        ]

    @delete(
        "/me/sessions/{session_id:uuid}",
        opt={AUTHENTICATED: True},
        summary="End one of one's own sessions (that device must log in again)",
    )
    async def end_my_session(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], session_id: FromPath[UUID]
    ) -> None:
        await services.end_session_family(db_session, _actor(request), session_id)

    @get("/", opt={PERMISSION: "kernel.user.read"}, summary="List the organization's users")
    async def list_users(
        self,
        db_session: NamedDependency[AsyncSession],
        q: FromQuery[str | None] = None,
        role: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
    ) -> list[UserOut]:
        """``q`` searches names and emails; ``role`` is a role key; ``status`` is active, invited or deactivated."""
        rows = await users.list_users(db_session, q=q, role=role, status=status)
        return [UserOut.of(user, role_key) for user, role_key in rows]

    @post("/", opt={PERMISSION: "kernel.user.write"}, summary="Invite a user (mails an invitation link)")
    async def invite(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[InviteIn]
    ) -> UserOut:
        actor = _actor(request)
        user, secret = await users.invite_user(
            db_session, actor, email=data.email, name=data.name, role_key=data.role, language=data.language
        )
        await users.send_invitation(request.app.state.kernel, request.app.state.catalogs, db_session, user, secret)
        return UserOut.of(user, data.role)

    @get("/{user_id:uuid}", opt={PERMISSION: "kernel.user.read"}, summary="Read a user")
    async def get_user(self, db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]) -> UserOut:
        return UserOut.of(*await users.get_user(db_session, user_id))

    @patch(
        "/{user_id:uuid}",
        opt={PERMISSION: "kernel.user.write"},
        summary="Change a user's name, role, language or status",
    )
    async def update_user(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        user_id: FromPath[UUID],
        data: JSONBody[UserPatch],
    ) -> UserOut:
        changes: dict[str, Any] = {
            f: getattr(data, f) for f in ("name", "role", "is_active") if getattr(data, f) is not None
        }
        if data.language is not msgspec.UNSET:
            changes["language"] = data.language
        return UserOut.of(*await users.change_user(db_session, _actor(request), user_id, changes))

    @delete("/{user_id:uuid}", opt={PERMISSION: "kernel.user.write"}, summary="Deactivate a user (history is kept)")
    async def deactivate(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
    ) -> None:
        await users.deactivate_user(db_session, _actor(request), user_id)

    @post(
        "/{user_id:uuid}/end-sessions",
        status_code=HTTP_204_NO_CONTENT,
        opt={PERMISSION: "kernel.user.write"},
        summary="Log a user out everywhere",
    )
    async def end_sessions(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
    ) -> None:
        await users.end_user_sessions(db_session, _actor(request), user_id)

    @post(
        "/{user_id:uuid}/resend-invitation",
        status_code=HTTP_202_ACCEPTED,
        opt={PERMISSION: "kernel.user.write"},
        summary="Mail the invitation again",
    )
    async def resend_invitation(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
    ) -> dict[str, str]:
        await users.resend_invitation(
            request.app.state.kernel, request.app.state.catalogs, db_session, _actor(request), user_id
        )
        return {"status": "accepted"}


# --- /api/v1/api-tokens --------------------------------------------------------------------------


class ApiTokensController(Controller):
    path = "/api/v1/api-tokens"
    tags = ["api-tokens"]
    opt = {PERMISSION: "kernel.api_token.write"}

    @get("/", summary="List API tokens (never their secrets)")
    async def list_tokens(self, db_session: NamedDependency[AsyncSession]) -> list[ApiTokenOut]:
        return [ApiTokenOut.of(row.token, row.created_by_name) for row in await services.list_api_tokens(db_session)]

    @post("/", summary="Create an API token; its value is shown once")
    async def create_token(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[ApiTokenIn]
    ) -> CreatedApiTokenOut:
        actor = _actor(request)
        token, secret = await services.issue_api_token(
            db_session, actor, name=data.name, permissions=data.permissions, expires_at=data.expires_at
        )
        return CreatedApiTokenOut(token=secret, api_token=ApiTokenOut.of(token, actor.name if actor.user_id else None))

    @delete("/{token_id:uuid}", summary="Revoke an API token")
    async def revoke(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token_id: FromPath[UUID]
    ) -> None:
        await services.withdraw_api_token(db_session, _actor(request), token_id)
