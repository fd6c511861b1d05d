"""The web chat's public side: what a visitor's browser calls, found by the channel's public key.

A business pastes ``<script src="https://<atendai>/static/plugins/inbox/widget.js" data-key="<public
key>" async></script>`` on its site; the widget (``static/widget.js``) talks to these routes, mounted by
the kernel under ``/api/v1/inbox/webchat/{public_key}``:

* ``GET config``: the organization's name, brand colours and logo, the greeting, whether people answer
  now, the language;
* ``POST sessions``: a new visitor (or the same one again), with a signed visitor token;
* ``GET messages`` / ``POST messages``: the visitor's thread, and a message from them;
* ``POST attachments``: a file from them (image, PDF or audio); ``GET files/{message_id}``: a file of
  their thread;
* ``POST csat``: their rating of the conversation that was just resolved;
* ``socket`` (WebSocket): a signal whenever something new reaches their thread.

Why it is built this way:

* Nobody logs in (``opt={"public": True}``), so the kernel's guards neither authenticate nor check that
  the module is enabled: :func:`find_channel` does both jobs, across tenants, in one platform-scope query
  (the channel must be an active web chat of an active organization that has the inbox enabled), and
  every read or write afterwards runs in :func:`kernel.sdk.tenant_session` of the channel's tenant, under
  row-level security.
* A visitor is a random id (``[0-9a-f]{32}``, valid in a real-time topic) inside a **visitor token**
  signed with HMAC-SHA256 under a key derived from ``ATENDAI_SECRET_KEY`` (so it can never pass for an
  access token, nor an access token for it), binding tenant, channel and visitor for 30 days. Nothing is
  stored per session: a token is checked by its signature alone.
* What a visitor sees is what was said to them: their own messages, and replies once they may go out
  (private notes never; an AI agent's reply only after it was delivered, because a person taking over
  drops a queued AI reply). Their message ids are namespaced by visitor, so one visitor cannot fish out
  another's message by reusing its client id.
* An e-mail the visitor types is unverified: it is kept on the contact as the attribute
  ``webchat_email`` and never used to join the visitor to a contact registered with that address,
  which would hand a stranger someone else's history.
* The widget runs on the organization's own site, another origin: these routes answer CORS requests from
  any origin (no cookies are involved: the token travels in the ``Authorization`` header), and the
  socket takes the token in its first frame (or ``?token=``), since browsers cannot set headers on a
  WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Annotated, Any
from uuid import UUID

import anyio
import msgspec
import structlog
from litestar import Request, Response, Router, WebSocket, get, post, websocket
from litestar.channels.subscriber import Subscriber
from litestar.datastructures import UploadFile
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.types import Message as AsgiMessage
from sqlalchemy import and_, bindparam, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.cache import cache_key, increment
from kernel.realtime import channel_name, channels_of, publish
from kernel.sdk import (
    N_,
    ImageRefused,
    KernelError,
    NotFound,
    ProviderError,
    QuotaExceeded,
    ValidationFailed,
    clean_image,
    load_plugin_settings,
    media_url,
    platform_session,
    storage,
    tenant_session,
    tenant_storage_key,
)
from plugins.inbox.channels import webchat_topic
from plugins.inbox.contacts import EMAIL, ContactService, Identity
from plugins.inbox.hours import BusinessHours, is_open, next_opening
from plugins.inbox.models import Contact, ContactIdentity, Conversation, Message, Team
from plugins.inbox.services import MAX_BODY, Inbound, InboxService

__all__ = [
    "MAX_UPLOAD_BYTES",
    "TOKEN_LIFETIME",
    "WEBCHAT_ROUTES",
    "VisitorClaims",
    "WebChannel",
    "find_channel",
    "issue_visitor_token",
    "read_visitor_token",
]

log = structlog.get_logger("plugins.inbox.webchat")

TOKEN_LIFETIME = timedelta(days=30)
TOKEN_VERSION = "wv1"  # noqa: S105 - the format's version tag, not a secret
_TOKEN_CONTEXT = b"atendai.inbox.webchat.visitor-token"
MAX_TOKEN_LENGTH = 600
VISITOR_ID = re.compile(r"[0-9a-f]{32}")
PUBLIC_KEY = re.compile(r"[A-Za-z0-9_-]{8,40}")
CLIENT_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
LANGUAGE = re.compile(r"[a-z]{2}(?:-[A-Z]{2})?")
NAME_MAX = 80

SESSIONS_PER_HOUR = 30
"""New visitors one address may start per hour on one organization's chat (resuming is not counted)."""
MESSAGES_PER_MINUTE = 30
FILES_PER_HOUR = 30
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
FORM_OVERHEAD = 64 * 1024
"""Room for the multipart envelope around the file, so a file of exactly the limit still fits."""
IMAGE_MAX_SIDE = 2048
IMAGE_MAX_PIXELS = 25_000_000
THREAD_LIMIT = 50
VISIBLE_STATUSES = ("sent", "delivered", "read")
PAYLOAD_KEYS = ("auto", "latitude", "longitude", "name", "phones")
"""What of a message's payload a visitor may see: the rating request marker, a location, a contact card."""
ACCEPTED_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "application/pdf",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/wav",
    "audio/webm",
    "audio/flac",
)
DEFAULT_PRIMARY = "#8b5cf6"
DEFAULT_ACCENT = "#ec4899"
CONFIG_MAX_AGE = 60

CLOSE_NOT_FOUND = 4404
"""The socket's channel is unknown, inactive, or its organization no longer offers the chat."""
CLOSE_UNAUTHORIZED = 4401
"""No valid visitor token (missing, tampered, expired, or of another chat): start a session again."""
SOCKET_AUTH_SECONDS = 10.0
SOCKET_RECHECK_SECONDS = 60.0
SOCKET_MAX_FRAME = 4096
TYPING_EVERY_SECONDS = 3.0


# --- errors -----------------------------------------------------------------------------------------


class InvalidVisitorToken(KernelError):
    """The request's visitor token is missing, tampered with, expired or belongs to another chat."""

    status, slug, title = 401, "invalid-visitor-token", N_("Authentication required")


class TooManyRequests(QuotaExceeded):
    slug, title = "too-many-requests", N_("Too many requests")


class FileTooLarge(ValidationFailed):
    status, slug, title = 413, "file-too-large", N_("Payload too large")


class UnsupportedFile(ValidationFailed):
    status, slug, title = 415, "unsupported-file", N_("Unsupported media type")


class NothingToRate(KernelError):
    status, slug, title = 409, "nothing-to-rate", N_("Conflict")


def _not_found() -> NotFound:
    return NotFound("This chat is not available.")


def _bad_token() -> InvalidVisitorToken:
    return InvalidVisitorToken(N_("Your chat session is missing or has expired. Start a new one."))


# --- the channel, across tenants ----------------------------------------------------------------------


@dataclass(frozen=True)
class WebChannel:
    """A web chat channel as its public routes need it, with its organization's look."""

    id: UUID
    tenant_id: UUID
    public_key: str
    team_id: UUID | None
    settings: dict[str, Any]
    organization: str
    language: str
    brand_primary: str | None
    brand_accent: str | None
    logo_path: str | None


_CHANNEL_SQL = text(
    """
    SELECT c.id, c.tenant_id, c.public_key, c.team_id, c.settings,
           o.name, o.language, o.brand_primary, o.brand_accent, o.logo_path
    FROM inbox_channels c
    JOIN organizations o ON o.id = c.tenant_id
    JOIN tenant_plugins p ON p.tenant_id = c.tenant_id AND p.plugin = 'inbox' AND p.enabled
    WHERE c.public_key = :key AND c.kind = 'webchat' AND c.active AND o.status = 'active'
    """
)


async def find_channel(public_key: str) -> WebChannel | None:
    """The active web chat with this key, of an active organization with the inbox enabled; else None.

    Raw SQL in the platform scope: the tenant is what we are looking for, so no tenant filter can apply.
    """
    if not PUBLIC_KEY.fullmatch(public_key):
        return None
    async with platform_session() as session:
        row = (await session.execute(_CHANNEL_SQL, {"key": public_key})).first()
    if row is None:
        return None
    return WebChannel(
        id=row.id,
        tenant_id=row.tenant_id,
        public_key=row.public_key,
        team_id=row.team_id,
        settings=dict(row.settings or {}),
        organization=row.name,
        language=row.language or "pt-BR",
        brand_primary=row.brand_primary,
        brand_accent=row.brand_accent,
        logo_path=row.logo_path,
    )


async def _channel(public_key: str) -> WebChannel:
    channel = await find_channel(public_key)
    if channel is None:
        raise _not_found()
    return channel


# --- visitor tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitorClaims:
    tenant_id: UUID
    channel_id: UUID
    visitor_id: str
    name: str
    expires_at: datetime


class _Claims(msgspec.Struct, forbid_unknown_fields=True):
    t: UUID
    c: UUID
    v: str
    x: int
    n: str = ""


_encode_claims = msgspec.json.Encoder().encode
_decode_claims = msgspec.json.Decoder(_Claims).decode


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


def _signature(secret: str, signed: str) -> str:
    # A key of its own, derived from the app's secret: a visitor token is no access token, nor the reverse.
    key = hmac.new(secret.encode(), _TOKEN_CONTEXT, hashlib.sha256).digest()
    return _b64(hmac.new(key, signed.encode(), hashlib.sha256).digest())


def new_visitor_id() -> str:
    """128 random bits in lower-case hex: URL-safe and a valid word of a real-time topic."""
    return secrets.token_hex(16)


def issue_visitor_token(
    secret: str,
    tenant_id: UUID,
    channel_id: UUID,
    visitor_id: str,
    *,
    name: str = "",
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """A token binding tenant, channel and visitor (and the name they gave), valid for :data:`TOKEN_LIFETIME`."""
    expires = (now or datetime.now(UTC)) + TOKEN_LIFETIME
    claims = _Claims(t=tenant_id, c=channel_id, v=visitor_id, x=int(expires.timestamp()), n=name)
    signed = f"{TOKEN_VERSION}.{_b64(_encode_claims(claims))}"
    return f"{signed}.{_signature(secret, signed)}", expires.replace(microsecond=0)


def read_visitor_token(secret: str, token: str, *, now: datetime | None = None) -> VisitorClaims | None:
    """The claims of a well-signed, unexpired token; ``None`` for anything else (never an exception)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    version, _, rest = token.partition(".")
    body, _, signature = rest.partition(".")
    if version != TOKEN_VERSION or not body or not signature:
        return None
    if not hmac.compare_digest(_signature(secret, f"{version}.{body}"), signature):
        return None
    try:
        claims = _decode_claims(_unb64(body))
    except (ValueError, msgspec.DecodeError):
        return None
    expires = datetime.fromtimestamp(claims.x, UTC)
    if expires <= (now or datetime.now(UTC)) or not VISITOR_ID.fullmatch(claims.v):
        return None
    return VisitorClaims(claims.t, claims.c, claims.v, claims.n[:NAME_MAX], expires)


def _secret(request: Request[Any, Any, Any] | WebSocket[Any, Any, Any]) -> str:
    return str(request.app.state.kernel.settings.secret_key)


def _claims_for(channel: WebChannel, secret: str, token: str | None) -> VisitorClaims | None:
    claims = read_visitor_token(secret, token or "")
    if claims is None or (claims.tenant_id, claims.channel_id) != (channel.tenant_id, channel.id):
        return None
    return claims


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    scheme, _, credential = (request.headers.get("authorization") or "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" and credential.strip() else None


async def _visitor(request: Request[Any, Any, Any], public_key: str) -> tuple[WebChannel, VisitorClaims]:
    """The channel and the visitor behind ``Authorization: Bearer <visitor token>``, or a problem."""
    channel = await _channel(public_key)
    claims = _claims_for(channel, _secret(request), _bearer(request))
    if claims is None:
        raise _bad_token()
    return channel, claims


# --- rate limits --------------------------------------------------------------------------------------


async def _limit(request: Request[Any, Any, Any], key: str, limit: int, window_seconds: int, message: str) -> None:
    """Count one more under ``key`` in the kernel's rate-limit store (Redis when configured); 429 past ``limit``."""
    store = request.app.state.auth_store
    if await increment(store, key, window_seconds) > limit:
        retry_after = await store.expires_in(key) or window_seconds
        raise TooManyRequests(message, headers={"Retry-After": str(max(1, retry_after))})


def _client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


# --- what the visitor sees --------------------------------------------------------------------------


class WidgetConfig(msgspec.Struct):
    organization: str
    primary_color: str
    accent_color: str
    logo_url: str | None
    """A path on this server (``/media/...``); the widget resolves it against the script's origin."""
    greeting: str
    """The channel's own greeting (its settings' ``greeting``); empty: the widget's default, in its language."""
    open: bool
    """Whether people answer now, by the business hours of the inbox (or of the channel's team)."""
    opens_at: datetime | None
    language: str
    max_upload_bytes: int
    accept: list[str]


class SessionIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""


class SessionOut(msgspec.Struct):
    visitor_id: str
    token: str
    expires_at: datetime
    resumed: bool


class VisitorMessageIn(msgspec.Struct, forbid_unknown_fields=True):
    client_id: str
    """A UUID the widget makes per message: a retry with the same id is stored once."""
    body: Annotated[str, msgspec.Meta(max_length=MAX_BODY)]
    language: str | None = None


class FileOut(msgspec.Struct):
    url: str
    """A path on this server; fetch it with the visitor token in ``Authorization``."""
    content_type: str
    size: int
    filename: str


class VisitorMessage(msgspec.Struct):
    id: UUID
    conversation_id: UUID
    direction: str
    """``in`` (from the visitor) or ``out`` (to them)."""
    sender: str
    """``contact`` (the visitor), ``person``, ``agent`` (an AI agent) or ``system``."""
    sender_name: str
    """A person's first name; empty for the others."""
    kind: str
    body: str
    file: FileOut | None
    payload: dict[str, Any]
    """Only ``auto`` (``csat`` marks the rating request), a location's or a contact card's fields."""
    created_at: datetime


class Thread(msgspec.Struct):
    items: list[VisitorMessage]
    """Oldest first."""
    conversation_id: UUID | None
    """The visitor's latest conversation on this chat."""
    awaiting_rating: bool
    """The latest conversation was resolved and its last system message asks for a rating not yet given."""


class CsatIn(msgspec.Struct, forbid_unknown_fields=True):
    score: Annotated[int, msgspec.Meta(ge=1, le=5)]
    comment: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class CsatOut(msgspec.Struct):
    conversation_id: UUID
    score: int


def _visible() -> Any:
    """Messages a visitor may read: never a note; a reply once it may go out (an AI's only once delivered)."""
    return and_(
        Message.private.is_(False),
        or_(
            Message.direction == "in",
            Message.status.in_(VISIBLE_STATUSES),
            and_(Message.status == "queued", Message.sender_kind != "agent"),
        ),
    )


async def _contact_of(session: AsyncSession, visitor_id: str) -> Contact | None:
    """The visitor's contact (following merges), or None before their first message."""
    identity = (
        await session.execute(
            select(ContactIdentity).where(ContactIdentity.kind == "webchat", ContactIdentity.address == visitor_id)
        )
    ).scalar_one_or_none()
    if identity is None:
        return None
    return await ContactService(session).get(identity.contact_id, follow_merge=True)


async def _first_names(session: AsyncSession, user_ids: set[UUID]) -> dict[UUID, str]:
    """People are introduced by first name only: a visitor needs no more of the team's identity."""
    if not user_ids:
        return {}
    statement = text("SELECT id, name FROM users WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    rows = await session.execute(statement, {"ids": list(user_ids)})
    return {row.id: (row.name or "").split(" ")[0] for row in rows}


def _file_url(channel: WebChannel, message_id: UUID) -> str:
    return f"/api/v1/inbox/webchat/{channel.public_key}/files/{message_id}"


def _shown(channel: WebChannel, message: Message, names: dict[UUID, str]) -> VisitorMessage:
    media = message.media or None
    file = (
        FileOut(
            url=_file_url(channel, message.id),
            content_type=str(media.get("content_type") or "application/octet-stream"),
            size=int(media.get("size") or 0),
            filename=str(media.get("filename") or ""),
        )
        if media and media.get("key")
        else None
    )
    payload = {key: value for key, value in (message.payload or {}).items() if key in PAYLOAD_KEYS}
    return VisitorMessage(
        id=message.id,
        conversation_id=message.conversation_id,
        direction=message.direction,
        sender=message.sender_kind,
        sender_name=names.get(message.sender_user_id, "") if message.sender_user_id else "",
        kind=message.kind,
        body=message.body,
        file=file,
        payload=payload,
        created_at=message.created_at,
    )


async def _latest_conversation(session: AsyncSession, channel: WebChannel, contact: Contact) -> Conversation | None:
    return (
        await session.execute(
            select(Conversation)
            .where(Conversation.channel_id == channel.id, Conversation.contact_id == contact.id)
            .order_by(Conversation.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _awaiting_rating(session: AsyncSession, conversation: Conversation | None) -> bool:
    """Resolved, not rated, and the last system message the visitor can see is the rating request."""
    if conversation is None or conversation.resolved_at is None or conversation.csat_score is not None:
        return False
    last_system = (
        await session.execute(
            select(Message.payload)
            .where(
                Message.conversation_id == conversation.id,
                Message.sender_kind == "system",
                _visible(),
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return bool(last_system) and last_system.get("auto") == "csat"


async def _thread(
    session: AsyncSession,
    channel: WebChannel,
    visitor_id: str,
    *,
    after: datetime | None,
    before: datetime | None,
    limit: int,
) -> Thread:
    contact = await _contact_of(session, visitor_id)
    if contact is None:
        return Thread(items=[], conversation_id=None, awaiting_rating=False)
    statement = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.channel_id == channel.id, Conversation.contact_id == contact.id, _visible())
    )
    if after is not None:
        rows = await session.execute(
            statement.where(Message.created_at > after).order_by(Message.created_at, Message.id).limit(limit)
        )
        messages = list(rows.scalars())
    else:
        if before is not None:
            statement = statement.where(Message.created_at < before)
        rows = await session.execute(statement.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
        messages = list(reversed(list(rows.scalars())))
    names = await _first_names(session, {m.sender_user_id for m in messages if m.sender_user_id})
    latest = await _latest_conversation(session, channel, contact)
    return Thread(
        items=[_shown(channel, m, names) for m in messages],
        conversation_id=latest.id if latest else None,
        awaiting_rating=await _awaiting_rating(session, latest),
    )


def _provider_id(visitor_id: str, client_id: str) -> str:
    # Unique per channel in the inbox: namespaced, or one visitor could claim (and read back) another's id.
    return f"webchat:{visitor_id}:{client_id}"


def _client_id(value: str) -> str:
    if not CLIENT_ID.fullmatch(value or ""):
        raise ValidationFailed(
            "Give each message a client id of 8 to 64 letters, digits or dashes.",
            errors=[{"field": "client_id", "message": "invalid"}],
        )
    return value


def _language(value: str | None) -> str | None:
    return value if value and LANGUAGE.fullmatch(value) else None


async def _existing(session: AsyncSession, channel: WebChannel, provider_message_id: str) -> Message | None:
    return (
        await session.execute(
            select(Message).where(Message.channel_id == channel.id, Message.provider_message_id == provider_message_id)
        )
    ).scalar_one_or_none()


# --- files ----------------------------------------------------------------------------------------------


def _sniff(data: bytes, declared: str) -> tuple[str, str] | None:
    """``(message kind, content type)`` read from the file's first bytes: what the browser claims is not trusted."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "image/webp"
    if head.startswith(b"%PDF-"):
        return "document", "application/pdf"
    if head.startswith(b"OggS"):
        return "audio", "audio/ogg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio", "audio/flac"
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"M4B", b"mp4", b"iso") and declared.startswith("audio/"):
        return "audio", "audio/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3") and declared.startswith("audio/"):
        return "audio", "audio/webm"  # WebM is audio or video: MediaRecorder's voice notes say audio/webm
    if head.startswith(b"ID3"):
        return "audio", "audio/mpeg"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio", "audio/aac" if head[1] & 0x06 == 0 else "audio/mpeg"  # ADTS (layer 0) or an MP3 frame
    return None


_IMAGE_REFUSALS = {
    "empty": N_("The file is empty."),
    "too_large": N_("Files can be at most %(size)s."),
    "svg": N_("SVG images are not accepted: send PNG, JPEG, WebP or GIF."),
    "too_many_pixels": N_("This image is too large: send one of at most 25 megapixels."),
    "unreadable": N_("This image could not be read: send a PNG, JPEG, WebP or GIF."),
}


def _clean_picture(data: bytes, filename: str, content_type: str) -> bytes:
    """The kernel's image cleaner (no EXIF or GPS, no decompression bombs, upright, PNG); CPU-bound."""
    return clean_image(
        data,
        max_bytes=MAX_UPLOAD_BYTES,
        max_side=IMAGE_MAX_SIDE,
        max_pixels=IMAGE_MAX_PIXELS,
        filename=filename,
        content_type=content_type,
    )


def _display_name(filename: str | None, fallback: str) -> str:
    """The name shown beside the file: no folders, no control characters, at most 200 characters."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or fallback


def _storage_name(display: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", PurePath(display).stem).strip("-")[:60] or "file"
    return f"inbox/webchat/{stem}.{extension}"


_EXTENSIONS = {
    "image/png": "png",
    "application/pdf": "pdf",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/wav": "wav",
    "audio/webm": "webm",
    "audio/flac": "flac",
}


async def _accepted_file(data: bytes, filename: str | None, declared: str) -> tuple[str, str, bytes, str]:
    """``(kind, content type, bytes to store, display name)``, or a problem saying what is accepted."""
    if not data:
        raise ValidationFailed("The file is empty.", errors=[{"field": "file", "message": "empty"}])
    if len(data) > MAX_UPLOAD_BYTES:
        raise FileTooLarge(
            N_("Files can be at most %(size)s."), errors=[{"field": "file", "message": "too_large"}], size="10 MB"
        )
    sniffed = _sniff(data, declared.lower())
    if sniffed is None:
        raise UnsupportedFile(
            N_("Send images (PNG, JPEG, WebP or GIF), PDF documents or audio."),
            errors=[{"field": "file", "message": "unsupported"}],
        )
    kind, content_type = sniffed
    display = _display_name(filename, "file")
    if kind == "image":
        try:
            data = await anyio.to_thread.run_sync(_clean_picture, data, display, content_type)
        except ImageRefused as refused:
            raise ValidationFailed(
                _IMAGE_REFUSALS.get(refused.reason, _IMAGE_REFUSALS["unreadable"]),
                errors=[{"field": "file", "message": refused.reason}],
                size="10 MB",
            ) from None
        content_type = "image/png"
        display = f"{PurePath(display).stem or 'image'}.png"
    return kind, content_type, data, display


# --- CORS ---------------------------------------------------------------------------------------------

_CORS_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"retry-after, x-request-id"),
    (b"vary", b"Origin"),
)
_PREFLIGHT_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"authorization, content-type, accept-language, x-request-id"),
    (b"access-control-max-age", b"86400"),
    (b"vary", b"Origin"),
)


class CrossOrigin:
    """Let any site's pages call the web chat's routes, errors included.

    The widget runs on the organization's own site, so every call is cross-origin. Allowing every origin
    is safe here because nothing rides on cookies: the visitor token travels in ``Authorization``, which a
    page can only send if it has the token. Preflights are answered here, before Litestar's automatic
    ``OPTIONS`` handler, which knows nothing of CORS without an app-wide configuration.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": list(_PREFLIGHT_HEADERS)})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(header for header in _CORS_HEADERS if header[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)


# --- the routes -----------------------------------------------------------------------------------------

PUBLIC = {"public": True}


@get("/config", opt=PUBLIC, summary="The web chat widget's look, greeting and whether people answer now")
async def widget_config(public_key: FromPath[str]) -> Response[WidgetConfig]:
    channel = await _channel(public_key)
    now = datetime.now(UTC)
    async with tenant_session(channel.tenant_id) as session:
        settings = await load_plugin_settings(session, "inbox", tenant_id=channel.tenant_id)
        hours: BusinessHours = settings.business_hours
        if channel.team_id is not None:
            team = await session.get(Team, channel.team_id)
            if team is not None and team.hours:
                hours = msgspec.convert(team.hours, BusinessHours)
    open_now = is_open(hours, now)
    config = WidgetConfig(
        organization=channel.organization,
        primary_color=channel.brand_primary or DEFAULT_PRIMARY,
        accent_color=channel.brand_accent or DEFAULT_ACCENT,
        logo_url=media_url(channel.logo_path) if channel.logo_path else None,
        greeting=str(channel.settings.get("greeting") or "")[:500],
        open=open_now,
        opens_at=None if open_now else next_opening(hours, now),
        language=str(channel.settings.get("language") or channel.language),
        max_upload_bytes=MAX_UPLOAD_BYTES,
        accept=list(ACCEPTED_TYPES),
    )
    # Every page view of the organization's site asks for it: let browsers keep it a minute.
    return Response(config, headers={"Cache-Control": f"public, max-age={CONFIG_MAX_AGE}"})


@post("/sessions", opt=PUBLIC, summary="Start a visitor's chat session, or resume it with its token")
async def start_session(
    request: Request[Any, Any, Any], public_key: FromPath[str], data: JSONBody[SessionIn]
) -> Response[SessionOut]:
    """A valid token of this chat in ``Authorization`` resumes its visitor (renewed for 30 days)."""
    channel = await _channel(public_key)
    secret = _secret(request)
    name = " ".join(data.name.split())[:NAME_MAX]
    email = data.email.strip().lower()
    if email and not EMAIL.match(email):
        raise ValidationFailed(
            "%(value)s is not an e-mail address.", errors=[{"field": "email", "message": "invalid_email"}], value=email
        )
    current = _claims_for(channel, secret, _bearer(request))
    if current is None:
        await _limit(
            request,
            cache_key(channel.tenant_id, "webchat", "sessions", _client_address(request)),
            SESSIONS_PER_HOUR,
            3600,
            N_("Too many chats were started from this address. Try again later."),
        )
    visitor_id = current.visitor_id if current else new_visitor_id()
    name = name or (current.name if current else "")
    if data.name or email:
        await _introduce(channel, visitor_id, name, email)
    token, expires = issue_visitor_token(secret, channel.tenant_id, channel.id, visitor_id, name=name)
    body = SessionOut(visitor_id=visitor_id, token=token, expires_at=expires, resumed=current is not None)
    return Response(body, status_code=200 if current else 201, headers={"Cache-Control": "no-store"})


async def _introduce(channel: WebChannel, visitor_id: str, name: str, email: str) -> None:
    """Put the name the visitor gave on their contact, and the e-mail as an attribute (it is unverified)."""
    async with tenant_session(channel.tenant_id) as session:
        contacts = ContactService(session)
        # A name fills an empty contact's name only: what the team wrote about the contact stays.
        contact, _identity, _new = await contacts.resolve(Identity("webchat", visitor_id, name), name=name)
        if email:
            contact.attributes = {**(contact.attributes or {}), "webchat_email": email}
        await session.commit()


@get("/messages", opt=PUBLIC, summary="The visitor's thread (their messages and the replies to them)")
async def read_messages(
    request: Request[Any, Any, Any],
    public_key: FromPath[str],
    after: FromQuery[datetime | None] = None,
    before: FromQuery[datetime | None] = None,
    limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=100)]] = THREAD_LIMIT,
) -> Response[Thread]:
    """Newest ``limit`` messages (before ``before``), or those created after ``after``, oldest first.

    A reply appears once it may go out, which can be after newer messages of the visitor: a client that
    was told of a new message re-reads the newest page rather than only what came ``after``.
    """
    channel, claims = await _visitor(request, public_key)
    async with tenant_session(channel.tenant_id) as session:
        thread = await _thread(session, channel, claims.visitor_id, after=after, before=before, limit=limit)
    return Response(thread, headers={"Cache-Control": "no-store"})


@post("/messages", opt=PUBLIC, summary="A message from the visitor (stored once per client id)")
async def send_message(
    request: Request[Any, Any, Any], public_key: FromPath[str], data: JSONBody[VisitorMessageIn]
) -> Response[VisitorMessage]:
    channel, claims = await _visitor(request, public_key)
    client_id = _client_id(data.client_id)
    await _limit(
        request,
        cache_key(channel.tenant_id, "webchat", "messages", claims.visitor_id),
        MESSAGES_PER_MINUTE,
        60,
        N_("Too many messages in a short time. Wait a moment and try again."),
    )
    async with tenant_session(channel.tenant_id) as session:
        message, created = await InboxService(session).receive(
            Inbound(
                channel_id=channel.id,
                identity=Identity("webchat", claims.visitor_id, claims.name),
                provider_message_id=_provider_id(claims.visitor_id, client_id),
                body=data.body,
                name=claims.name,
                language=_language(data.language),
            )
        )
        await session.commit()
        shown = _shown(channel, message, {})
    return Response(shown, status_code=201 if created else 200)


@post(
    "/attachments",
    opt=PUBLIC,
    summary="A file from the visitor (multipart: file, client_id, body): image, PDF or audio, at most 10 MB",
    request_max_body_size=MAX_UPLOAD_BYTES + FORM_OVERHEAD,
)
async def send_attachment(request: Request[Any, Any, Any], public_key: FromPath[str]) -> Response[VisitorMessage]:
    channel, claims = await _visitor(request, public_key)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_UPLOAD_BYTES + FORM_OVERHEAD:
        # Said before the body is read, so a browser learns why instead of seeing the connection cut.
        raise FileTooLarge(
            N_("Files can be at most %(size)s."), errors=[{"field": "file", "message": "too_large"}], size="10 MB"
        )
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("Attach a file.", errors=[{"field": "file", "message": "required"}])
    client_id = _client_id(str(form.get("client_id") or ""))
    caption = str(form.get("body") or "")[:MAX_BODY]
    await _limit(
        request,
        cache_key(channel.tenant_id, "webchat", "files", claims.visitor_id),
        FILES_PER_HOUR,
        3600,
        N_("Too many files in a short time. Wait a moment and try again."),
    )
    provider_message_id = _provider_id(claims.visitor_id, client_id)
    async with tenant_session(channel.tenant_id) as session:
        existing = await _existing(session, channel, provider_message_id)
        if existing is not None:  # a retry of an upload that arrived: nothing stored twice
            return Response(_shown(channel, existing, {}), status_code=200)
    kind, content_type, data, display = await _accepted_file(
        await upload.read(), upload.filename, upload.content_type or ""
    )
    extension = _EXTENSIONS.get(content_type, "bin")
    key = tenant_storage_key(channel.tenant_id, _storage_name(display, extension), data)
    files = storage()
    try:
        await files.put(key, data, content_type=content_type)
    except Exception as exc:  # the store's own error types vary (disk, S3): all mean "not stored"
        log.error("webchat_file_store_failed", tenant_id=str(channel.tenant_id), error=str(exc))
        raise ProviderError("The file could not be stored. Try again in a moment.") from exc
    media = {"key": key, "content_type": content_type, "size": len(data), "filename": display}
    try:
        async with tenant_session(channel.tenant_id) as session:
            message, created = await InboxService(session).receive(
                Inbound(
                    channel_id=channel.id,
                    identity=Identity("webchat", claims.visitor_id, claims.name),
                    provider_message_id=provider_message_id,
                    kind=kind,
                    body=caption,
                    media=media,
                    name=claims.name,
                )
            )
            await session.commit()
            shown = _shown(channel, message, {})
    except BaseException:
        with suppress(Exception):
            await files.delete(key)  # no row points at it; an orphan would only waste space
        raise
    return Response(shown, status_code=201 if created else 200)


@get("/files/{message_id:uuid}", opt=PUBLIC, summary="A file of the visitor's thread")
async def read_file(
    request: Request[Any, Any, Any], public_key: FromPath[str], message_id: FromPath[UUID]
) -> Response[bytes]:
    channel, claims = await _visitor(request, public_key)
    async with tenant_session(channel.tenant_id) as session:
        contact = await _contact_of(session, claims.visitor_id)
        if contact is None:
            raise NotFound("File not found.")
        message = (
            await session.execute(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.id == message_id,
                    Message.channel_id == channel.id,
                    Conversation.contact_id == contact.id,
                    _visible(),
                )
            )
        ).scalar_one_or_none()
    media = (message.media or {}) if message else {}
    key = str(media.get("key") or "")
    # Only this organization's files, whatever a message's media says.
    if not key.startswith((f"private/{channel.tenant_id}/", f"public/{channel.tenant_id}/")):
        raise NotFound("File not found.")
    try:
        data = await storage().get(key)
    except FileNotFoundError:
        raise NotFound("File not found.") from None
    content_type = str(media.get("content_type") or "application/octet-stream")
    inline = content_type.startswith(("image/", "audio/", "video/"))
    filename = re.sub(r'["\\\r\n]', "_", str(media.get("filename") or "file"))
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
            "Cache-Control": "private, max-age=86400",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@post("/csat", opt=PUBLIC, summary="The visitor's rating (1 to 5) of their resolved conversation", status_code=200)
async def rate(request: Request[Any, Any, Any], public_key: FromPath[str], data: JSONBody[CsatIn]) -> CsatOut:
    channel, claims = await _visitor(request, public_key)
    async with tenant_session(channel.tenant_id) as session:
        contact = await _contact_of(session, claims.visitor_id)
        latest = await _latest_conversation(session, channel, contact) if contact else None
        if latest is None or not await _awaiting_rating(session, latest):
            raise NothingToRate(N_("Nothing is waiting for your rating."))
        conversation = await InboxService(session).record_csat(latest.id, data.score, data.comment)
        await session.commit()
        return CsatOut(conversation_id=conversation.id, score=data.score)


# --- the socket -----------------------------------------------------------------------------------------


class _Frame(msgspec.Struct):
    op: str
    token: str | None = None


class _Published(msgspec.Struct):
    channel: str
    data: msgspec.Raw


_decode_frame = msgspec.json.Decoder(_Frame).decode
_decode_published = msgspec.json.Decoder(_Published).decode
_encode = msgspec.json.Encoder().encode


@websocket("/socket", opt=PUBLIC, name="inbox-webchat-socket")
async def visitor_socket(socket: WebSocket[Any, Any, Any], public_key: FromPath[str]) -> None:
    """Accept, check the chat and the visitor token (``?token=`` or a first ``{"op": "auth", "token"}``),
    then relay what is published to the visitor's topic until they leave or the token expires.

    The handshake is always accepted, as the kernel's ``/ws`` does: a browser cannot read why a
    handshake failed, but it can read a close code (4404: no such chat, 4401: start a session again).
    """
    channel = await find_channel(public_key)
    await socket.accept()
    if channel is None:
        await socket.close(code=CLOSE_NOT_FOUND, reason="not found")
        return
    token = socket.query_params.get("token") or await _token_frame(socket)
    claims = _claims_for(channel, _secret(socket), token)
    if claims is None:
        with suppress(WebSocketDisconnect, OSError):
            await socket.close(code=CLOSE_UNAUTHORIZED, reason="unauthorized")
        return
    structlog.contextvars.bind_contextvars(tenant_id=str(channel.tenant_id), webchat_visitor=claims.visitor_id)
    await VisitorSocket(socket, channel, claims).run()


async def _token_frame(socket: WebSocket[Any, Any, Any]) -> str | None:
    """The token from the client's first frame: it stays out of URLs, which end up in access logs."""
    try:
        with anyio.fail_after(SOCKET_AUTH_SECONDS):
            frame = _decode_frame(await socket.receive_text())
    except (TimeoutError, WebSocketDisconnect, msgspec.DecodeError):
        return None
    return frame.token if frame.op == "auth" else None


class VisitorSocket:
    """One visitor's socket: joined to their own topic of their own organization, nothing else."""

    def __init__(self, socket: WebSocket[Any, Any, Any], channel: WebChannel, claims: VisitorClaims) -> None:
        self.socket = socket
        self.channel = channel
        self.claims = claims
        self.channels = channels_of(socket.app)
        # Built from the token's verified tenant and visitor, never from what the client sends.
        self.channel_name = channel_name(channel.tenant_id, webchat_topic(claims.visitor_id))
        self._send_lock = asyncio.Lock()
        self._typing_at = 0.0

    async def run(self) -> None:
        subscriber = await self.channels.subscribe(self.channel_name)
        tasks = {
            asyncio.create_task(self._read_loop()),
            asyncio.create_task(self._forward(subscriber)),
        }
        watchdog = asyncio.create_task(self._watch())
        tasks.add(watchdog)
        try:
            await self._send({"op": "ready", "visitor_id": self.claims.visitor_id})
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.channels.unsubscribe(subscriber, self.channel_name)
        for task in done:
            if task is not watchdog:
                task.result()  # re-raises an unexpected error; a disconnect ends quietly
        if watchdog in done:
            with suppress(WebSocketDisconnect, OSError):
                await self.socket.close(code=watchdog.result(), reason="closed")

    async def _read_loop(self) -> None:
        while True:
            try:
                text_ = await self.socket.receive_text()
            except WebSocketDisconnect:
                return
            reply = await self._answer(text_)
            if reply is not None:
                await self._send(reply)

    async def _answer(self, text_: str) -> dict[str, Any] | None:
        if len(text_) > SOCKET_MAX_FRAME:
            return {"op": "error", "code": "bad_request", "detail": "Frame too long."}
        try:
            frame = _decode_frame(text_)
        except msgspec.DecodeError:
            return {"op": "error", "code": "bad_request", "detail": "Not a valid frame."}
        if frame.op == "ping":
            return {"op": "pong"}
        if frame.op == "typing":
            await self._typing()
            return None
        if frame.op == "auth":
            return None  # already authenticated: a client resending its token is harmless
        return {"op": "error", "code": "bad_request", "detail": "Unknown op: use ping or typing."}

    async def _typing(self) -> None:
        """Tell the team the visitor is typing, on the conversation's topic, at most every few seconds."""
        now = asyncio.get_running_loop().time()
        if now - self._typing_at < TYPING_EVERY_SECONDS:
            return
        self._typing_at = now
        async with tenant_session(self.channel.tenant_id) as session:
            contact = await _contact_of(session, self.claims.visitor_id)
            latest = await _latest_conversation(session, self.channel, contact) if contact else None
        if latest is not None and latest.resolved_at is None:
            publish(
                self.socket.app,
                self.channel.tenant_id,
                f"inbox.conversation.{latest.id}",
                {"type": "typing", "conversation_id": str(latest.id), "sender": "contact"},
            )

    async def _forward(self, subscriber: Subscriber) -> None:
        try:
            async for payload in subscriber.iter_events():
                try:
                    published = _decode_published(payload)
                except msgspec.DecodeError:
                    log.warning("webchat_malformed_push")
                    continue
                await self._send_raw(_encode({"op": "message", "data": published.data}))
        except (WebSocketDisconnect, OSError):
            return

    async def _watch(self) -> int:
        """The close code once the token expires or the chat is gone (deactivated, module disabled)."""
        while True:
            remaining = (self.claims.expires_at - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.0, min(SOCKET_RECHECK_SECONDS, remaining)))
            if self.claims.expires_at <= datetime.now(UTC):
                return CLOSE_UNAUTHORIZED
            if await find_channel(self.channel.public_key) is None:
                return CLOSE_NOT_FOUND

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_raw(_encode(message))

    async def _send_raw(self, data: bytes) -> None:
        async with self._send_lock:
            await self.socket.send_text(data.decode())


WEBCHAT_ROUTES = [
    Router(
        path="/webchat/{public_key:str}",
        route_handlers=[
            widget_config,
            start_session,
            read_messages,
            send_message,
            send_attachment,
            read_file,
            rate,
            visitor_socket,
        ],
        opt=PUBLIC,
        middleware=[CrossOrigin],
        tags=["inbox webchat"],
    )
]
"""The public routes of the web chat, for ``Routes(api=...)``: under ``/api/v1/inbox/webchat/{public_key}``."""
