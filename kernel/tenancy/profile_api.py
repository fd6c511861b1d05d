"""Company profile API: ``/api/v1/organization`` and its logo.

Every member of the organization may read the profile (integrations and the web chat need the name,
logo, colours and hours); changing it takes ``kernel.organization.write``. The organization is always
the caller's own: no route takes an organization id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.rbac.guard import AUTHENTICATED, PERMISSION
from kernel.storage import media_url
from kernel.tenancy import profile
from kernel.tenancy.models import Organization
from kernel.web.theme import brand_theme

__all__ = ["ROUTES", "LogoUpload", "OrganizationController", "OrganizationOut", "OrganizationPatch", "organization_out"]

WRITE = {PERMISSION: "kernel.organization.write"}
LOGO_BODY_LIMIT = profile.LOGO_MAX_BYTES + 256 * 1024
"""The logo plus the multipart envelope; anything larger is refused before it is read (413)."""

Hours = dict[str, list[list[str]]]


class OrganizationOut(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    logo_url: str | None
    """Path of the logo on this server (``/media/public/...``), ``None`` without one."""
    brand_primary: str | None
    """``#rrggbb``, or ``None`` for the default theme's colour."""
    brand_accent: str | None
    theme: dict[str, str]
    """The CSS custom properties the shell sets for these colours (readable text variants included); empty for the default theme."""
    timezone: str
    language: str
    website: str | None
    contact_email: str | None
    contact_phone: str | None
    """E.164 (``+5511987654321``)."""
    business_hours: Hours
    """``{"mon": [["09:00", "18:00"]], ..., "sun": []}`` in ``timezone``; ``{}``: no published hours (always open)."""
    open_now: bool
    next_opening: datetime | None
    """Now when open; else when it next opens (in ``timezone``); ``None`` when every day is closed."""
    about: str
    refund_policy: str
    privacy_policy: str
    updated_at: datetime


class OrganizationPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields sent change. ``null`` (or ``""``) clears a colour, the website, email or phone."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    brand_primary: str | msgspec.UnsetType | None = msgspec.UNSET
    brand_accent: str | msgspec.UnsetType | None = msgspec.UNSET
    timezone: str | msgspec.UnsetType = msgspec.UNSET
    language: str | msgspec.UnsetType = msgspec.UNSET
    website: str | msgspec.UnsetType | None = msgspec.UNSET
    contact_email: str | msgspec.UnsetType | None = msgspec.UNSET
    contact_phone: str | msgspec.UnsetType | None = msgspec.UNSET
    business_hours: Hours | msgspec.UnsetType = msgspec.UNSET
    about: str | msgspec.UnsetType = msgspec.UNSET
    refund_policy: str | msgspec.UnsetType = msgspec.UNSET
    privacy_policy: str | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in self.__struct_fields__ if getattr(self, name) is not msgspec.UNSET
        }


@dataclass
class LogoUpload:
    logo: UploadFile
    """A PNG, JPEG, WebP or GIF image, at most 2 MB."""


def organization_out(org: Organization, now: datetime | None = None) -> OrganizationOut:
    """The profile as the API shows it, with whether it is open at ``now``."""
    moment = now or datetime.now(UTC)
    return OrganizationOut(
        id=org.id,
        slug=org.slug,
        name=org.name,
        logo_url=media_url(org.logo_path) if org.logo_path else None,
        brand_primary=org.brand_primary,
        brand_accent=org.brand_accent,
        theme=brand_theme(org.brand_primary, org.brand_accent),
        timezone=org.timezone,
        language=org.language,
        website=org.website,
        contact_email=org.contact_email,
        contact_phone=org.contact_phone,
        business_hours=org.business_hours or {},
        open_now=profile.is_open(org, moment),
        next_opening=profile.next_opening(org, moment),
        about=org.about,
        refund_policy=org.refund_policy,
        privacy_policy=org.privacy_policy,
        updated_at=org.updated_at,
    )


class OrganizationController(Controller):
    path = "/api/v1/organization"
    tags = ["organization"]

    @get("/", opt={AUTHENTICATED: True}, summary="The company profile of the caller's organization")
    async def read(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> OrganizationOut:
        org = await profile.get_organization(db_session, request.scope["user"].tenant_id)
        return organization_out(org)

    @patch("/", opt=WRITE, summary="Change the company profile (only the fields sent)")
    async def change(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[OrganizationPatch],
    ) -> OrganizationOut:
        org = await profile.update_profile(db_session, request.scope["user"], data.changes())
        return organization_out(org)

    @put(
        "/logo",
        opt=WRITE,
        summary="Upload the logo (multipart field logo: PNG, JPEG, WebP or GIF, at most 2 MB)",
        request_max_body_size=LOGO_BODY_LIMIT,
    )
    async def upload_logo(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[LogoUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> OrganizationOut:
        content = await data.logo.read()
        org = await profile.change_logo(
            request.app.state.kernel,
            db_session,
            request.scope["user"],
            content,
            filename=data.logo.filename,
            content_type=data.logo.content_type,
        )
        return organization_out(org)

    @delete("/logo", opt=WRITE, status_code=HTTP_204_NO_CONTENT, summary="Remove the logo")
    async def remove_logo(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> None:
        await profile.remove_logo(request.app.state.kernel, db_session, request.scope["user"])


ROUTES = [OrganizationController]
