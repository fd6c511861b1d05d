"""The platform administration's pages: overview, organizations, plans, plugin catalog, impersonation.

Each page action calls the same service function as its JSON twin in :mod:`kernel.admin.api`.
Forms post with htmx: invalid input comes back as the same form with status 422, the typed values
and an error beside each field; a done action redirects with a toast.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.admin import services
from kernel.audit.labels import action_label
from kernel.auth.middleware import ACCESS_COOKIE
from kernel.errors import NotFound, ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, SUPPORTED_LANGUAGES, current_translator, gettext, ngettext
from kernel.rbac.guard import AUTHENTICATED, PERMISSION
from kernel.rbac.permissions import SYSTEM_ROLES
from kernel.tenancy.services import time_zones
from kernel.web.listing import Listing
from kernel.web.nav import KERNEL_PAGES, PLATFORM_PAGES
from kernel.web.shell import LANGUAGE_NAMES, field_errors, form_values, fragment, hx_redirect, page

__all__ = ["ROUTES"]

TENANTS = {PERMISSION: "platform.tenant.manage"}
PLANS = {PERMISSION: "platform.plan.manage"}
AUDIT_PERMISSION = "platform.audit.read"
ROLE_NAMES = {role.key: role.name for role in SYSTEM_ROLES}


# --- helpers ---------------------------------------------------------------------------------------


def _actor(request: Request[Any, Any, Any]) -> Any:
    return request.scope["user"]


def _kernel(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.kernel


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _tenant_path(tenant_id: UUID) -> str:
    return f"{PLATFORM_PAGES}/tenants/{tenant_id}"


def _language_options() -> list[tuple[str, str]]:
    return [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES]


def _feature_descriptions(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    """The plan form's features, each with its description in the reader's language."""
    catalogs = request.app.state.catalogs
    language = current_translator().language
    described = []
    for feature in services.plan_features(_kernel(request)):
        domains = (KERNEL_DOMAIN,) if feature.plugin == services.KERNEL else (feature.plugin, KERNEL_DOMAIN)
        described.append(
            {
                "key": feature.key,
                "plugin": feature.plugin,
                "kind": feature.kind,
                "default": feature.default,
                "description": catalogs.gettext(domains, language, feature.description) if feature.description else "",
            }
        )
    return described


def _titles(request: Request[Any, Any, Any]) -> dict[str, str]:
    return services.plugin_titles(_kernel(request), request.app.state.catalogs, current_translator().language)


def _impersonation_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    """The impersonation's access token as the session cookie; the administrator's refresh cookie stays."""
    settings = _kernel(request).settings
    return Cookie(
        key=ACCESS_COOKIE,
        value=token,
        max_age=int(services.IMPERSONATION_LIFETIME.total_seconds()),
        httponly=True,
        secure=settings.environment == "production" or settings.base_url.startswith("https://"),
        samesite="lax",
    )


# --- overview --------------------------------------------------------------------------------------


@get(f"{PLATFORM_PAGES}/", opt=TENANTS, include_in_schema=False, name="platform_overview")
async def overview_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    found = await services.overview(_kernel(request), db_session)
    return page(
        request,
        "platform/overview.html",
        overview=found,
        can_read_audit=_actor(request).can(AUDIT_PERMISSION),
        action_label=action_label,
    )


# --- organizations ---------------------------------------------------------------------------------


def _new_organization_values(request: Request[Any, Any, Any], plans: list[services.PlanRow]) -> dict[str, str]:
    settings = _kernel(request).settings
    default = next((row.plan.code for row in plans if row.plan.is_default), "")
    return {
        "name": "",
        "slug": "",
        "plan": default,
        "admin_email": "",
        "admin_name": "",
        "language": settings.default_language,
        "timezone": settings.default_timezone,
    }


def _organization_form_context(plans: list[services.PlanRow]) -> dict[str, Any]:
    return {
        "plan_options": [(row.plan.code, row.plan.name) for row in plans],
        "language_options": _language_options(),
        "time_zones": sorted(time_zones()),
    }


@get(f"{PLATFORM_PAGES}/tenants", opt=TENANTS, include_in_schema=False, name="platform_tenants")
async def tenants_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    listing = Listing.from_request(
        request, sorts=services.ORGANIZATION_SORTS, default_sort="name", filters=("status", "plan")
    )
    rows, listing = await services.list_organizations(db_session, listing)
    plans = await services.list_plans(db_session)
    return page(
        request,
        "platform/tenants.html",
        rows=rows,
        listing=listing,
        plans=plans,
        values=_new_organization_values(request, plans),
        errors={},
        **_organization_form_context(plans),
    )


@post(f"{PLATFORM_PAGES}/tenants", opt=TENANTS, include_in_schema=False, status_code=200)
async def tenant_create(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    form = await form_values(request)
    values = {
        name: _text(form, name)
        for name in ("name", "slug", "plan", "admin_email", "admin_name", "language", "timezone")
    }
    try:
        tenant_id = await services.create_organization(
            _kernel(request),
            db_session,
            _actor(request),
            services.OrganizationInput(
                name=values["name"],
                slug=values["slug"],
                admin_email=values["admin_email"],
                admin_name=values["admin_name"],
                plan=values["plan"] or None,
                language=values["language"] or None,
                timezone=values["timezone"] or None,
            ),
        )
    except ValidationFailed as exc:
        await db_session.rollback()
        plans = await services.list_plans(db_session)
        return fragment(
            request,
            "platform/_tenant_form.html",
            status_code=422,
            values=values,
            errors=field_errors(exc),
            **_organization_form_context(plans),
        )
    await db_session.commit()
    message = gettext("Organization created. An invitation went to %(email)s.", email=values["admin_email"].lower())
    return hx_redirect(request, _tenant_path(tenant_id), message=message)


async def _tenant_page(
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    tenant_id: UUID,
    *,
    settings_values: dict[str, str] | None = None,
    settings_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    detail = await services.organization_detail(_kernel(request), db_session, tenant_id)
    plans = await services.list_plans(db_session)
    return {
        "detail": detail,
        "org": detail.organization,
        "plan_options": [(row.plan.code, row.plan.name) for row in plans],
        "titles": _titles(request),
        "role_names": ROLE_NAMES,
        "language_names": LANGUAGE_NAMES,
        "values": settings_values
        or {"name": detail.organization.name, "plan": detail.plan.code if detail.plan else ""},
        "errors": settings_errors or {},
        "can_read_audit": _actor(request).can(AUDIT_PERMISSION),
        "action_label": action_label,
        "reason_values": {"reason": ""},
        "reason_errors": {},
        "impersonation_minutes": int(services.IMPERSONATION_LIFETIME.total_seconds() // 60),
    }


@get(f"{PLATFORM_PAGES}/tenants/{{tenant_id:uuid}}", opt=TENANTS, include_in_schema=False, name="platform_tenant")
async def tenant_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
) -> Template:
    return page(request, "platform/tenant.html", **await _tenant_page(request, db_session, tenant_id))


@post(f"{PLATFORM_PAGES}/tenants/{{tenant_id:uuid}}", opt=TENANTS, include_in_schema=False, status_code=200)
async def tenant_update(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
) -> Response[Any]:
    form = await form_values(request)
    values = {"name": _text(form, "name"), "plan": _text(form, "plan")}
    try:
        _, disabled = await services.update_organization(
            _kernel(request), db_session, _actor(request), tenant_id, name=values["name"], plan=values["plan"] or None
        )
    except ValidationFailed as exc:
        await db_session.rollback()
        context = await _tenant_page(
            request, db_session, tenant_id, settings_values=values, settings_errors=field_errors(exc)
        )
        return fragment(request, "platform/_tenant_settings.html", status_code=422, **context)
    await db_session.commit()
    if disabled:
        titles = _titles(request)
        message = gettext(
            "Saved. The new plan does not include these modules, so they were disabled: %(modules)s.",
            modules=", ".join(titles.get(name, name) for name in disabled),
        )
        return hx_redirect(request, _tenant_path(tenant_id), message=message, kind="warning")
    return hx_redirect(request, _tenant_path(tenant_id), message=gettext("Saved."))


@post(f"{PLATFORM_PAGES}/tenants/{{tenant_id:uuid}}/suspend", opt=TENANTS, include_in_schema=False, status_code=200)
async def tenant_suspend(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
) -> Response[Any]:
    form = await form_values(request)
    reason = _text(form, "reason")
    try:
        await services.set_organization_active(db_session, _actor(request), tenant_id, active=False, reason=reason)
    except ValidationFailed as exc:
        await db_session.rollback()
        context = await _tenant_page(request, db_session, tenant_id)
        context.update(reason_values={"reason": reason}, reason_errors=field_errors(exc))
        return fragment(request, "platform/_suspend_form.html", status_code=422, **context)
    await db_session.commit()
    return hx_redirect(request, _tenant_path(tenant_id), message=gettext("Organization suspended."))


@post(f"{PLATFORM_PAGES}/tenants/{{tenant_id:uuid}}/activate", opt=TENANTS, include_in_schema=False, status_code=200)
async def tenant_activate(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
) -> Response[Any]:
    await services.set_organization_active(db_session, _actor(request), tenant_id, active=True)
    await db_session.commit()
    return hx_redirect(request, _tenant_path(tenant_id), message=gettext("Organization reactivated."))


@post(f"{PLATFORM_PAGES}/tenants/{{tenant_id:uuid}}/impersonate", opt=TENANTS, include_in_schema=False, status_code=200)
async def tenant_impersonate(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], tenant_id: FromPath[UUID]
) -> Response[Any]:
    form = await form_values(request)
    values = {
        "reason": _text(form, "reason"),
        "user_id": _text(form, "user_id"),
        "user_label": _text(form, "user_label"),
    }
    user_id: UUID | None = None
    if values["user_id"]:
        try:
            user_id = UUID(values["user_id"])
        except ValueError:
            raise NotFound("User not found.") from None
    try:
        started = await services.start_impersonation(
            _kernel(request), db_session, _actor(request), tenant_id, reason=values["reason"], user_id=user_id
        )
    except ValidationFailed as exc:
        await db_session.rollback()
        context = await _tenant_page(request, db_session, tenant_id)
        context.update(impersonate_values=values, impersonate_errors=field_errors(exc))
        return fragment(request, "platform/_impersonate_form.html", status_code=422, **context)
    await db_session.commit()
    response = hx_redirect(
        request, "/app/", message=gettext("You are now acting as %(user)s.", user=started.user.email), kind="info"
    )
    response.cookies.append(_impersonation_cookie(request, started.access_token))
    return response


@post(f"{KERNEL_PAGES}/impersonation/end", opt={AUTHENTICATED: True}, include_in_schema=False, status_code=200)
async def impersonation_end(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Response[Any]:
    """Back to the administrator's own session: renewed from their refresh cookie, on the organization's page."""
    tenant_id = await services.end_impersonation(db_session, request.app.state.auth_store, _actor(request))
    await db_session.commit()
    target = f"/api/v1/auth/resume?next={_tenant_path(tenant_id)}"
    response = hx_redirect(request, target, message=gettext("Impersonation ended."))
    response.cookies.append(Cookie(key=ACCESS_COOKIE, value="", max_age=0, httponly=True))
    return response


# --- plans -----------------------------------------------------------------------------------------


def _plan_values(row: services.PlanRow | None) -> dict[str, Any]:
    """What the plan form shows: the plan's own values, or a new plan's."""
    if row is None:
        return {
            "code": "",
            "name": "",
            "description": "",
            "is_default": False,
            "modules_mode": "all",
            "modules": [],
            "features": {},
        }
    plan = row.plan
    return {
        "code": plan.code,
        "name": plan.name,
        "description": plan.description,
        "is_default": plan.is_default,
        "modules_mode": "all" if plan.allowed_plugins is None else "chosen",
        "modules": list(plan.allowed_plugins or []),
        "features": dict(plan.features or {}),
    }


def _plan_form_context(request: Request[Any, Any, Any], row: services.PlanRow | None) -> dict[str, Any]:
    return {
        "plan_row": row,
        "titles": _titles(request),
        "features": _feature_descriptions(request),
    }


def _read_plan_form(request: Request[Any, Any, Any], form: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The typed values (to show again) and the changes for the service."""
    kernel = _kernel(request)
    features = services.parse_feature_form(kernel, form)
    mode = "chosen" if form.get("modules_mode") == "chosen" else "all"
    modules = [str(name) for name in form.getall("modules", [])]
    values = {
        "code": _text(form, "code"),
        "name": _text(form, "name"),
        "description": _text(form, "description"),
        "is_default": form.get("is_default") is not None,
        "modules_mode": mode,
        "modules": modules,
        "features": {key: value for key, value in features.items() if value is not None},
    }
    changes = {
        "name": values["name"],
        "description": values["description"],
        "is_default": values["is_default"],
        "allowed_plugins": modules if mode == "chosen" else None,
        "features": features,
    }
    return values, changes


@get(f"{PLATFORM_PAGES}/plans", opt=PLANS, include_in_schema=False, name="platform_plans")
async def plans_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    return page(request, "platform/plans.html", plans=await services.list_plans(db_session), titles=_titles(request))


@get(f"{PLATFORM_PAGES}/plans/new", opt=PLANS, include_in_schema=False, name="platform_plan_new")
async def plan_new_page(request: Request[Any, Any, Any]) -> Template:
    return page(
        request, "platform/plan_form.html", values=_plan_values(None), errors={}, **_plan_form_context(request, None)
    )


@post(f"{PLATFORM_PAGES}/plans", opt=PLANS, include_in_schema=False, status_code=200)
async def plan_create(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    form = await form_values(request)
    values, changes = _read_plan_form(request, form)
    try:
        await services.create_plan(
            _kernel(request),
            db_session,
            _actor(request),
            services.PlanInput(
                code=values["code"],
                name=changes["name"],
                description=changes["description"],
                is_default=changes["is_default"],
                allowed_plugins=changes["allowed_plugins"],
                features={key: value for key, value in changes["features"].items() if value is not None},
            ),
        )
    except ValidationFailed as exc:
        await db_session.rollback()
        return _plan_form_again(request, values, exc, None)
    await db_session.commit()
    return hx_redirect(request, f"{PLATFORM_PAGES}/plans", message=gettext("Plan created."))


def _plan_form_again(request: Request[Any, Any, Any], values: Any, exc: ValidationFailed, row: Any) -> Template:
    """The plan form with what was typed and a message beside each field that needs fixing."""
    return fragment(
        request,
        "platform/_plan_form.html",
        status_code=422,
        values=values,
        errors=field_errors(exc),
        **_plan_form_context(request, row),
    )


@get(f"{PLATFORM_PAGES}/plans/{{plan_id:uuid}}", opt=PLANS, include_in_schema=False, name="platform_plan")
async def plan_edit_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], plan_id: FromPath[UUID]
) -> Template:
    row = await services.get_plan(db_session, plan_id)
    return page(
        request, "platform/plan_form.html", values=_plan_values(row), errors={}, **_plan_form_context(request, row)
    )


@post(f"{PLATFORM_PAGES}/plans/{{plan_id:uuid}}", opt=PLANS, include_in_schema=False, status_code=200)
async def plan_update(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], plan_id: FromPath[UUID]
) -> Response[Any]:
    row = await services.get_plan(db_session, plan_id)
    form = await form_values(request)
    values, changes = _read_plan_form(request, form)
    values["code"] = row.plan.code
    try:
        _, disabled = await services.update_plan(_kernel(request), db_session, _actor(request), plan_id, changes)
    except ValidationFailed as exc:
        await db_session.rollback()
        return _plan_form_again(request, values, exc, await services.get_plan(db_session, plan_id))
    await db_session.commit()
    if disabled:
        message = ngettext(
            "Plan saved. Modules it no longer includes were disabled in %(num)d organization.",
            "Plan saved. Modules it no longer includes were disabled in %(num)d organizations.",
            len(disabled),
        )
        return hx_redirect(request, f"{PLATFORM_PAGES}/plans", message=message, kind="warning")
    return hx_redirect(request, f"{PLATFORM_PAGES}/plans", message=gettext("Plan saved."))


@delete(f"{PLATFORM_PAGES}/plans/{{plan_id:uuid}}", opt=PLANS, include_in_schema=False, status_code=200)
async def plan_delete(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], plan_id: FromPath[UUID]
) -> Response[Any]:
    await services.delete_plan(db_session, _actor(request), plan_id)
    await db_session.commit()
    return hx_redirect(request, f"{PLATFORM_PAGES}/plans", message=gettext("Plan deleted."))


# --- plugin catalog --------------------------------------------------------------------------------


@get(f"{PLATFORM_PAGES}/plugins", opt=TENANTS, include_in_schema=False, name="platform_plugins")
async def plugins_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    catalogs = request.app.state.catalogs
    language = current_translator().language
    entries = await services.plugin_catalog(_kernel(request), db_session, catalogs, language)
    features = {item["key"]: item for item in _feature_descriptions(request)}
    return page(request, "platform/plugins.html", entries=entries, feature_info=features)


ROUTES = [
    overview_page,
    tenants_page,
    tenant_create,
    tenant_page,
    tenant_update,
    tenant_suspend,
    tenant_activate,
    tenant_impersonate,
    impersonation_end,
    plans_page,
    plan_new_page,
    plan_create,
    plan_edit_page,
    plan_update,
    plan_delete,
    plugins_page,
]
