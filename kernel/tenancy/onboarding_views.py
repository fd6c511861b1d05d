"""The first steps: the checklist as an API, hiding it, and the welcome page after registration."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Response, Template
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.i18n.catalogs import current_translator
from kernel.rbac.guard import AUTHENTICATED, PERMISSION
from kernel.tenancy.onboarding import dismiss_checklist, onboarding_state
from kernel.web.nav import KERNEL_PAGES

__all__ = ["ROUTES", "OnboardingController"]


class StepOut(msgspec.Struct):
    id: str
    title: str
    description: str
    href: str
    done: bool


class OnboardingOut(msgspec.Struct):
    steps: list[StepOut]
    done: int
    total: int
    dismissed: bool


def _tenant_actor(request: Request[Any, Any, Any]) -> Any:
    from kernel.errors import ValidationFailed

    actor = request.scope["user"]
    if actor.tenant_id is None:
        raise ValidationFailed("Only organizations have first steps.")
    return actor


class OnboardingController(Controller):
    path = "/api/v1/onboarding"
    tags = ["onboarding"]

    @get("/", opt={AUTHENTICATED: True}, summary="The first-steps checklist: what is done and what is left")
    async def checklist(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> OnboardingOut:
        from kernel.tenancy.models import Organization

        actor = _tenant_actor(request)
        kernel = request.app.state.kernel
        steps = await onboarding_state(
            kernel, db_session, actor, request.app.state.catalogs, current_translator().language
        )
        org = await db_session.get(Organization, actor.tenant_id)
        return OnboardingOut(
            steps=[StepOut(s.id, s.title, s.description, s.href, s.done) for s in steps],
            done=sum(s.done for s in steps),
            total=len(steps),
            dismissed=bool(org and org.onboarding_dismissed_at),
        )

    @post(
        "/dismiss",
        status_code=HTTP_204_NO_CONTENT,
        opt={PERMISSION: "kernel.organization.write"},
        summary="Hide the first-steps checklist for the whole organization",
    )
    async def dismiss(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> None:
        await dismiss_checklist(db_session, _tenant_actor(request).tenant_id)


@post(
    f"{KERNEL_PAGES}/onboarding/dismiss",
    opt={PERMISSION: "kernel.organization.write"},
    include_in_schema=False,
    status_code=200,
)
async def dismiss_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[str]:
    """The home page's "Hide" button: the checklist card is replaced by nothing, with a toast."""
    from kernel.web.shell import toast_header

    await dismiss_checklist(db_session, _tenant_actor(request).tenant_id)
    message = current_translator().gettext("The first steps are hidden. Every setting stays in the menu.")
    return Response("", media_type="text/html", headers=toast_header(message, "success"))


WELCOME = f"{KERNEL_PAGES}/welcome"


def _welcome_context(
    org: Any, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    from kernel.i18n.catalogs import SUPPORTED_LANGUAGES
    from kernel.tenancy.profile_views import timezone_groups
    from kernel.web.shell import LANGUAGE_NAMES

    values = values or {"timezone": org.timezone, "language": org.language}
    return {
        "values": values,
        "errors": errors or {},
        "timezone_groups": timezone_groups(values.get("timezone")),
        "language_options": [(code, LANGUAGE_NAMES[code]) for code in SUPPORTED_LANGUAGES],
        "has_logo": bool(org.logo_path),
    }


@get(WELCOME, opt={PERMISSION: "kernel.organization.write"}, include_in_schema=False, name="welcome-step")
async def welcome_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The wizard's last step: logo, time zone and language (each optional)."""
    from kernel.tenancy.models import Organization
    from kernel.web.shell import page

    org = await db_session.get(Organization, _tenant_actor(request).tenant_id)
    return page(request, "onboarding/welcome.html", **_welcome_context(org))


@post(
    WELCOME,
    opt={PERMISSION: "kernel.organization.write"},
    include_in_schema=False,
    status_code=200,
    request_max_body_size=3 * 1024 * 1024,
)
async def welcome_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    from litestar.datastructures import UploadFile

    from kernel.errors import ValidationFailed
    from kernel.tenancy import profile
    from kernel.tenancy.models import Organization
    from kernel.tenancy.profile_views import _errors
    from kernel.web.shell import form_values, fragment, hx_redirect

    actor = _tenant_actor(request)
    form = await form_values(request)
    values = {"timezone": str(form.get("timezone") or ""), "language": str(form.get("language") or "")}
    upload = form.get("logo")
    try:
        await profile.update_profile(db_session, actor, {k: v for k, v in values.items() if v})
        if isinstance(upload, UploadFile) and upload.filename:
            content = await upload.read()
            await profile.change_logo(
                request.app.state.kernel,
                db_session,
                actor,
                content,
                filename=upload.filename,
                content_type=upload.content_type,
            )
    except ValidationFailed as exc:
        await db_session.rollback()
        org = await db_session.get(Organization, actor.tenant_id)
        context = _welcome_context(org, values=values, errors=_errors(exc))
        return fragment(request, "onboarding/_welcome_form.html", status_code=422, **context)
    message = current_translator().gettext("All set. Here are your first steps.")
    return hx_redirect(request, "/app/", message=message)


ROUTES = [OnboardingController, dismiss_page, welcome_page, welcome_submit]
