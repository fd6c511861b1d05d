"""Registration of a new organization: the wizard's pages and the same thing as an API.

1. ``/auth/register``: the organization's name and its address (slug, suggested from the name and
   checked live);
2. the same form, second step: the administrator's name, email and password (the first step's values
   travel along and are checked again);
3. ``/app/-/welcome`` (logged in by then): logo, time zone and language, or "later"; then the home page
   with its first-steps checklist.

The public steps are plain forms posted from our own origin: they work without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromQuery, JSONBody
from litestar.response import Redirect, Response, Template

from kernel.auth import services as auth_services
from kernel.auth.api import TokenOut, _token_response
from kernel.auth.middleware import PUBLIC, browser_origin_guard
from kernel.errors import Conflict, ValidationFailed
from kernel.i18n.catalogs import SUPPORTED_LANGUAGES, current_translator
from kernel.tenancy import registration
from kernel.tenancy.platform_settings import registration_open
from kernel.web.context import current_request
from kernel.web.pages import auth_page, same_origin
from kernel.web.shell import field_errors, flash

__all__ = ["ROUTES", "RegistrationController"]

WIZARD = "auth/register.html"
WELCOME_PATH = "/app/-/welcome"
HONEYPOT = "website"
"""A field people never see or fill; bots fill every field."""


def _values(form: dict[str, str]) -> dict[str, str]:
    names = ("organization_name", "slug", "name", "email", "language", "timezone")
    return {name: (form.get(name) or "").strip() for name in names}


async def _wizard(
    request: Request[Any, Any, Any],
    *,
    step: int,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return auth_page(
        request, WIZARD, status_code=status_code, step=step, values=values, errors=errors or {}, honeypot=HONEYPOT
    )


async def _closed(request: Request[Any, Any, Any], status_code: int = 200) -> Template:
    return auth_page(request, "auth/register_closed.html", status_code=status_code)


@get("/auth/register", opt={PUBLIC: True}, include_in_schema=False, name="register")
async def register_form(request: Request[Any, Any, Any]) -> Template:
    kernel = request.app.state.kernel
    async with kernel.db.session() as session:
        if not await registration_open(kernel, session):
            return await _closed(request)
    language = current_translator().language
    return await _wizard(request, step=1, values={"language": language})


@get("/auth/register/slug", opt={PUBLIC: True}, include_in_schema=False)
async def register_slug_check(
    request: Request[Any, Any, Any], slug: FromQuery[str] = "", organization_name: FromQuery[str] = ""
) -> Template:
    """The live check next to the address field: free, taken or malformed (an htmx fragment)."""
    kernel = request.app.state.kernel
    proposed = slug or registration.suggest_slug(organization_name)
    async with kernel.db.session() as session:
        status = await registration.slug_status(session, proposed) if proposed else "empty"
    return auth_page(request, "auth/_slug_status.html", status=status, slug=proposed)


@post("/auth/register", opt={PUBLIC: True}, include_in_schema=False, status_code=200)
async def register_submit(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    kernel = request.app.state.kernel
    values = _values(data)
    if not values["slug"] and values["organization_name"]:
        values["slug"] = registration.suggest_slug(values["organization_name"])
    step = 2 if data.get("step") == "2" else 1
    if data.get("back"):
        return await _wizard(request, step=1, values=values)
    if not same_origin(request):
        message = current_translator().gettext("The form expired. Reload the page and try again.")
        return await _wizard(request, step=step, values=values, errors={"": message}, status_code=403)
    async with kernel.db.session() as session:
        if not await registration_open(kernel, session):
            return await _closed(request, status_code=403)
        try:
            values["slug"] = await registration.check_organization_step(
                session, values["organization_name"], values["slug"]
            )
        except ValidationFailed as exc:
            return await _wizard(request, step=1, values=values, errors=field_errors(exc), status_code=422)
        if step == 1:
            return await _wizard(request, step=2, values=values)
        if data.get(HONEYPOT):
            message = current_translator().gettext("The form could not be sent. Try again.")
            return await _wizard(request, step=2, values=values, errors={"": message}, status_code=422)
        info = current_request()
        try:
            result = await registration.register_organization(
                kernel,
                session,
                request.app.state.auth_store,
                registration.RegistrationInput(
                    organization_name=values["organization_name"],
                    slug=values["slug"],
                    name=values["name"],
                    email=values["email"],
                    password=data.get("password", ""),
                    password_confirmation=data.get("password_confirmation", ""),
                    language=values["language"] or current_translator().language,
                    timezone=values["timezone"] or None,
                ),
                client_ip=info.ip if info else None,
            )
        except ValidationFailed as exc:
            errors = field_errors(exc)
            back = 1 if {"organization_name", "slug"} & set(errors) else 2
            return await _wizard(request, step=back, values=values, errors=errors, status_code=422)
        except Conflict as exc:  # the email belongs to someone already (or the address went a moment ago)
            t = current_translator()
            field = "slug" if "slug" in exc.params else "email"
            errors = {field: t.gettext(exc.detail, **exc.params)}
            step = 1 if field == "slug" else 2
            return await _wizard(request, step=step, values=values, errors=errors, status_code=409)
        except registration.TooManyRegistrations as exc:
            errors = {"": current_translator().gettext(exc.detail)}
            return await _wizard(request, step=2, values=values, errors=errors, status_code=429)
        user = await _user(session, result.admin_user_id)
        issued = await auth_services.issue_tokens(kernel, session, user)
        await session.commit()
    tokens = _token_response(request, issued)
    welcome = current_translator().gettext("Welcome to Atendai! Your organization is ready.")
    return Redirect(path=WELCOME_PATH, status_code=303, cookies=[*tokens.cookies, flash(welcome)])


async def _user(session: Any, user_id: Any) -> Any:
    from kernel.auth.models import User

    return await session.get(User, user_id)


class RegisterIn(msgspec.Struct, forbid_unknown_fields=True):
    organization_name: str
    slug: str
    name: str
    email: str
    password: str
    language: str | None = None
    timezone: str | None = None


class SlugStatusOut(msgspec.Struct):
    slug: str
    status: str
    """``available``, ``taken`` or ``invalid``."""


class RegistrationController(Controller):
    path = "/api/v1/auth/register"
    tags = ["auth"]
    opt = {PUBLIC: True}
    guards = [browser_origin_guard]

    @post("/", status_code=201, summary="Register a new organization and log its administrator in")
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[RegisterIn]) -> Response[TokenOut]:
        kernel = request.app.state.kernel
        if data.language is not None and data.language not in SUPPORTED_LANGUAGES:
            raise ValidationFailed(
                "%(language)s is not a supported language.",
                errors=[{"field": "language", "message": "unsupported"}],
                language=data.language,
            )
        info = current_request()
        async with kernel.db.session() as session:
            result = await registration.register_organization(
                kernel,
                session,
                request.app.state.auth_store,
                registration.RegistrationInput(
                    organization_name=data.organization_name,
                    slug=data.slug,
                    name=data.name,
                    email=data.email,
                    password=data.password,
                    language=data.language,
                    timezone=data.timezone,
                ),
                client_ip=info.ip if info else None,
            )
            issued = await auth_services.issue_tokens(kernel, session, await _user(session, result.admin_user_id))
            await session.commit()
        response = _token_response(request, issued)
        response.status_code = 201
        return response

    @get("/slug", summary="Whether an address (slug) is free for a new organization")
    async def slug(self, request: Request[Any, Any, Any], slug: FromQuery[str]) -> SlugStatusOut:
        async with request.app.state.kernel.db.session() as session:
            return SlugStatusOut(slug=slug, status=await registration.slug_status(session, slug))


ROUTES = [register_form, register_slug_check, register_submit, RegistrationController]
