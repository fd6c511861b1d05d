"""The platform administration's JSON API: ``/api/v1/platform/...`` and ending an impersonation.

Every route needs a ``platform.*`` permission, which only platform administrators hold (and never
while they act as someone else), except ``POST /api/v1/impersonation/end``, which any impersonated
session may call. The rules live in :mod:`kernel.admin.services`, shared with the pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.admin import services
from kernel.i18n.catalogs import KERNEL_DOMAIN, current_translator
from kernel.rbac.guard import AUTHENTICATED, PERMISSION
from kernel.web.listing import Listing

__all__ = [
    "ROUTES",
    "ImpersonationController",
    "PlatformOrganizationsController",
    "PlatformOverviewController",
    "PlatformPlansController",
    "PlatformPluginsController",
]

TENANTS = "platform.tenant.manage"
PLANS = "platform.plan.manage"


# --- shapes ----------------------------------------------------------------------------------------


class PlanRef(msgspec.Struct):
    id: UUID
    code: str
    name: str


class OrganizationOut(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    status: str
    """``active`` or ``suspended``."""
    plan: PlanRef | None
    users: int
    modules: int
    """Enabled modules."""
    language: str
    timezone: str
    created_at: datetime

    @classmethod
    def of(cls, row: services.OrganizationRow) -> OrganizationOut:
        org, plan = row.organization, row.plan
        return cls(
            id=org.id,
            slug=org.slug,
            name=org.name,
            status=org.status,
            plan=PlanRef(plan.id, plan.code, plan.name) if plan else None,
            users=row.users,
            modules=row.modules,
            language=org.language,
            timezone=org.timezone,
            created_at=org.created_at,
        )


class OrganizationPage(msgspec.Struct):
    items: list[OrganizationOut]
    total: int
    page: int
    per_page: int


class OrganizationUserOut(msgspec.Struct):
    id: UUID
    email: str
    name: str
    role: str | None
    status: str
    """``active``, ``invited`` (no password chosen yet) or ``inactive``."""
    last_login_at: datetime | None
    created_at: datetime


class OrganizationDetailOut(msgspec.Struct):
    organization: OrganizationOut
    enabled_modules: list[str]
    users: list[OrganizationUserOut]

    @classmethod
    def of(cls, detail: services.OrganizationDetail) -> OrganizationDetailOut:
        summary = services.OrganizationRow(detail.organization, detail.plan, len(detail.users), len(detail.modules))
        return cls(
            organization=OrganizationOut.of(summary),
            enabled_modules=list(detail.modules),
            users=[
                OrganizationUserOut(
                    id=row.user.id,
                    email=row.user.email,
                    name=row.user.name,
                    role=row.role,
                    status=row.status,
                    last_login_at=row.user.last_login_at,
                    created_at=row.user.created_at,
                )
                for row in detail.users
            ],
        )


class OrganizationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    slug: str
    """1 to 40 lowercase letters, digits or hyphens; unique."""
    admin_email: str
    """The first administrator, who receives an invitation link to choose a password."""
    admin_name: str = ""
    plan: str | None = None
    """A plan code; the default plan when omitted."""
    language: str | None = None
    """``pt-BR``, ``en`` or ``es``; the installation's default when omitted."""
    timezone: str | None = None
    """An IANA time zone such as ``America/Sao_Paulo``; the installation's default when omitted."""


class OrganizationPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    plan: str | None = None
    """A plan code. Enabled modules the new plan does not allow are disabled (dependents first)."""


class OrganizationChangeOut(msgspec.Struct):
    organization: OrganizationDetailOut
    disabled_modules: list[str]
    """Modules the plan change disabled, in the order they were disabled."""


class SuspendIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str | None = None
    """Kept in the audit log of the organization and of the platform."""


class ImpersonateIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str
    """Why: recorded in both audit logs and shown to the organization's administrators."""
    user_id: UUID | None = None
    """The user to act as; the organization's oldest active administrator when omitted."""


class ImpersonationOut(msgspec.Struct):
    access_token: str
    """Use as ``Authorization: Bearer``. There is no refresh token: it cannot be renewed."""
    token_type: str
    expires_in: int
    expires_at: datetime
    user_id: UUID
    user_email: str
    tenant_id: UUID


class PlanOut(msgspec.Struct):
    id: UUID
    code: str
    name: str
    description: str
    is_default: bool
    allowed_plugins: list[str] | None
    """``null``: every installed plugin."""
    features: dict[str, Any]
    """Values set by this plan; a feature missing here has its default."""
    organizations: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: services.PlanRow) -> PlanOut:
        plan = row.plan
        return cls(
            id=plan.id,
            code=plan.code,
            name=plan.name,
            description=plan.description,
            is_default=plan.is_default,
            allowed_plugins=list(plan.allowed_plugins) if plan.allowed_plugins is not None else None,
            features=dict(plan.features or {}),
            organizations=row.organizations,
            created_at=plan.created_at,
            updated_at=plan.updated_at,
        )


FeatureValue = int | bool | None


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    """1 to 50 lowercase letters, digits or hyphens; it never changes afterwards."""
    name: str
    description: str = ""
    is_default: bool = False
    """Only one plan is the default: making this one the default unsets the others."""
    allowed_plugins: list[str] | None = None
    """``null`` (or omitted): every installed plugin."""
    features: dict[str, FeatureValue] = msgspec.field(default_factory=dict)
    """Flags are booleans, quotas whole numbers of 0 or more; ``null`` means the feature's default."""


class PlanPatch(msgspec.Struct, forbid_unknown_fields=True):
    code: str | msgspec.UnsetType = msgspec.UNSET
    """Refused if different: a plan's code never changes."""
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    is_default: bool | msgspec.UnsetType = msgspec.UNSET
    """Only ``true``: a plan stops being the default when another becomes it."""
    allowed_plugins: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    """``null``: every installed plugin. Organizations on the plan lose modules it stops allowing."""
    features: dict[str, FeatureValue] | msgspec.UnsetType = msgspec.UNSET
    """Merged into the plan's: a key set to ``null`` goes back to the feature's default."""


class PlanChangeOut(msgspec.Struct):
    plan: PlanOut
    disabled_modules: dict[str, list[str]]
    """Modules disabled because the plan stopped allowing them, by organization slug."""


class FeatureOut(msgspec.Struct):
    key: str
    kind: str
    """``flag`` or ``quota``."""
    default: int | bool | None
    """``null``: no limit."""
    description: str


class PluginOut(msgspec.Struct):
    name: str
    title: str
    description: str
    version: str
    distribution: str | None
    depends: list[str]
    features: list[FeatureOut]
    auto_enable: bool
    organizations: int
    """Organizations that have it enabled."""
    health: str
    """``ok``, or ``failed`` when it could not be loaded (see ``reason``)."""
    reason: str | None


class OverviewOut(msgspec.Struct):
    organizations_active: int
    organizations_suspended: int
    users: int
    """People in organizations (platform administrators not counted)."""
    plans: int
    modules_healthy: int
    modules_failed: int
    newest: list[OrganizationOut]


# --- helpers ---------------------------------------------------------------------------------------


def _actor(request: Request[Any, Any, Any]) -> Any:
    return request.scope["user"]


def _feature_out(request: Request[Any, Any, Any], feature: services.PlanFeature) -> FeatureOut:
    catalogs = request.app.state.catalogs
    domains = (KERNEL_DOMAIN,) if feature.plugin == services.KERNEL else (feature.plugin, KERNEL_DOMAIN)
    description = catalogs.gettext(domains, current_translator().language, feature.description)
    return FeatureOut(feature.key, feature.kind, feature.default, description)


async def _detail(request: Request[Any, Any, Any], session: AsyncSession, tenant_id: UUID) -> OrganizationDetailOut:
    detail = await services.organization_detail(request.app.state.kernel, session, tenant_id)
    return OrganizationDetailOut.of(detail)


# --- /api/v1/platform/tenants ------------------------------------------------------------------------


class PlatformOrganizationsController(Controller):
    path = "/api/v1/platform/tenants"
    tags = ["platform"]
    opt = {PERMISSION: TENANTS}

    @get("/", summary="Organizations: search, filter, sort and page")
    async def list_organizations(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        q: Annotated[str, QueryParameter(max_length=200, description="Part of the name or slug.")] = "",
        status: Annotated[Literal["active", "suspended"] | None, QueryParameter()] = None,
        plan: Annotated[str | None, QueryParameter(max_length=50, description="A plan code.")] = None,
        sort: Annotated[Literal["name", "created", "users"], QueryParameter()] = "name",
        direction: Annotated[Literal["asc", "desc"], QueryParameter(name="dir")] = "asc",
        page: Annotated[int, QueryParameter(ge=1)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 25,
    ) -> OrganizationPage:
        filters = {name: value for name, value in (("status", status), ("plan", plan)) if value}
        listing = Listing(
            path=request.url.path,
            sort=sort,
            direction=direction,
            page=page,
            per_page=per_page,
            q=q.strip(),
            filters=filters,
        )
        rows, listing = await services.list_organizations(db_session, listing)
        return OrganizationPage(
            items=[OrganizationOut.of(row) for row in rows],
            total=listing.total,
            page=listing.page,
            per_page=listing.per_page,
        )

    @post("/", status_code=HTTP_201_CREATED, summary="Create an organization; its first admin is invited by mail")
    async def create_organization(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[OrganizationIn]
    ) -> OrganizationDetailOut:
        tenant_id = await services.create_organization(
            request.app.state.kernel,
            db_session,
            _actor(request),
            services.OrganizationInput(
                name=data.name,
                slug=data.slug,
                admin_email=data.admin_email,
                admin_name=data.admin_name,
                plan=data.plan,
                language=data.language,
                timezone=data.timezone,
            ),
        )
        return await _detail(request, db_session, tenant_id)

    @get("/{tenant_id:uuid}", summary="An organization: facts, enabled modules and users")
    async def get_organization(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
    ) -> OrganizationDetailOut:
        return await _detail(request, db_session, tenant_id)

    @patch("/{tenant_id:uuid}", summary="Rename an organization or change its plan")
    async def update_organization(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        tenant_id: FromPath[UUID],
        data: JSONBody[OrganizationPatch],
    ) -> OrganizationChangeOut:
        _, disabled = await services.update_organization(
            request.app.state.kernel, db_session, _actor(request), tenant_id, name=data.name, plan=data.plan
        )
        return OrganizationChangeOut(await _detail(request, db_session, tenant_id), disabled)

    @post("/{tenant_id:uuid}/suspend", status_code=200, summary="Suspend an organization: its users cannot log in")
    async def suspend(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        tenant_id: FromPath[UUID],
        data: JSONBody[SuspendIn | None] = None,
    ) -> OrganizationDetailOut:
        await services.set_organization_active(
            db_session, _actor(request), tenant_id, active=False, reason=data.reason if data else None
        )
        return await _detail(request, db_session, tenant_id)

    @post("/{tenant_id:uuid}/activate", status_code=200, summary="Lift an organization's suspension")
    async def activate(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
    ) -> OrganizationDetailOut:
        await services.set_organization_active(db_session, _actor(request), tenant_id, active=True)
        return await _detail(request, db_session, tenant_id)

    @post(
        "/{tenant_id:uuid}/impersonate",
        status_code=200,
        summary="Act as one of the organization's users for 30 minutes (audited, the organization is notified)",
    )
    async def impersonate(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        tenant_id: FromPath[UUID],
        data: JSONBody[ImpersonateIn],
    ) -> ImpersonationOut:
        started = await services.start_impersonation(
            request.app.state.kernel, db_session, _actor(request), tenant_id, reason=data.reason, user_id=data.user_id
        )
        return ImpersonationOut(
            access_token=started.access_token,
            token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
            expires_in=max(0, int((started.expires_at - datetime.now(UTC)).total_seconds())),
            expires_at=started.expires_at,
            user_id=started.user.id,
            user_email=started.user.email,
            tenant_id=started.organization.id,
        )


# --- /api/v1/platform/plans ------------------------------------------------------------------------


class PlatformPlansController(Controller):
    path = "/api/v1/platform/plans"
    tags = ["platform"]
    opt = {PERMISSION: PLANS}

    @get("/", summary="Plans, the default first, with how many organizations each has")
    async def list_plans(self, db_session: NamedDependency[AsyncSession]) -> list[PlanOut]:
        return [PlanOut.of(row) for row in await services.list_plans(db_session)]

    @post("/", status_code=HTTP_201_CREATED, summary="Create a plan")
    async def create_plan(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[PlanIn]
    ) -> PlanOut:
        plan = await services.create_plan(
            request.app.state.kernel,
            db_session,
            _actor(request),
            services.PlanInput(
                code=data.code,
                name=data.name,
                description=data.description,
                is_default=data.is_default,
                allowed_plugins=data.allowed_plugins,
                features=dict(data.features),
            ),
        )
        return PlanOut.of(await services.get_plan(db_session, plan.id))

    @get("/{plan_id:uuid}", summary="A plan")
    async def get_plan(self, db_session: NamedDependency[AsyncSession], plan_id: FromPath[UUID]) -> PlanOut:
        return PlanOut.of(await services.get_plan(db_session, plan_id))

    @patch("/{plan_id:uuid}", summary="Change a plan (its code stays)")
    async def update_plan(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        plan_id: FromPath[UUID],
        data: JSONBody[PlanPatch],
    ) -> PlanChangeOut:
        changes = {
            name: getattr(data, name) for name in data.__struct_fields__ if getattr(data, name) is not msgspec.UNSET
        }
        _, disabled = await services.update_plan(
            request.app.state.kernel, db_session, _actor(request), plan_id, changes
        )
        return PlanChangeOut(PlanOut.of(await services.get_plan(db_session, plan_id)), disabled)

    @delete("/{plan_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete a plan no organization uses")
    async def delete_plan(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], plan_id: FromPath[UUID]
    ) -> None:
        await services.delete_plan(db_session, _actor(request), plan_id)


# --- /api/v1/platform/plugins and overview -----------------------------------------------------------


class PlatformPluginsController(Controller):
    path = "/api/v1/platform/plugins"
    tags = ["platform"]
    opt = {PERMISSION: TENANTS}

    @get("/", summary="Installed plugins (and those that failed to load) with how many organizations use each")
    async def list_plugins(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> list[PluginOut]:
        entries = await services.plugin_catalog(
            request.app.state.kernel, db_session, request.app.state.catalogs, current_translator().language
        )
        return [
            PluginOut(
                name=entry.name,
                title=entry.title,
                description=entry.description,
                version=entry.version,
                distribution=entry.distribution,
                depends=list(entry.depends),
                features=[_feature_out(request, feature) for feature in entry.features],
                auto_enable=entry.auto_enable,
                organizations=entry.organizations,
                health=entry.health,
                reason=entry.reason,
            )
            for entry in entries
        ]


class PlatformOverviewController(Controller):
    path = "/api/v1/platform/overview"
    tags = ["platform"]
    opt = {PERMISSION: TENANTS}

    @get("/", summary="Counts across the platform and the newest organizations")
    async def get_overview(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> OverviewOut:
        found = await services.overview(request.app.state.kernel, db_session)
        return OverviewOut(
            organizations_active=found.organizations_active,
            organizations_suspended=found.organizations_suspended,
            users=found.users,
            plans=found.plans,
            modules_healthy=found.modules_healthy,
            modules_failed=found.modules_failed,
            newest=[OrganizationOut.of(row) for row in found.newest],
        )


# --- ending an impersonation -----------------------------------------------------------------------


class ImpersonationController(Controller):
    path = "/api/v1/impersonation"
    tags = ["platform"]

    @post(
        "/end",
        status_code=HTTP_204_NO_CONTENT,
        opt={AUTHENTICATED: True},
        summary="End the impersonation this token belongs to (it stops working at once)",
    )
    async def end(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> None:
        await services.end_impersonation(db_session, request.app.state.auth_store, _actor(request))


ROUTES = [
    PlatformOrganizationsController,
    PlatformPlansController,
    PlatformPluginsController,
    PlatformOverviewController,
    ImpersonationController,
]
