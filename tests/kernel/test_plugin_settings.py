"""A plugin's settings Struct: the form it becomes, the layers of values, every error at once, secrets, audit."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import msgspec
import pytest
from litestar.datastructures import FormMultiDict
from sqlalchemy import select

from kernel.audit.models import AuditEntry
from kernel.db.scope import tenant_scope
from kernel.db.session import set_session_scope
from kernel.i18n.catalogs import Translator, using_translator
from kernel.plugins.manager import PluginManager
from kernel.plugins.registry import collect_registrations
from kernel.plugins.settings import describe, form_input, load_plugin_settings, plugin_settings, save_plugin_settings
from kernel.runtime import Kernel
from kernel.sdk import PluginManifest, SettingsSpec, ValidationFailed, hookimpl
from kernel.secrets import Secret
from kernel.secrets_models import StoredSecret
from kernel.tenancy.models import TenantPlugin

pytestmark = pytest.mark.asyncio(loop_scope="session")

EN = {"Accept-Language": "en"}


class Plan(enum.Enum):
    FREE = "free"
    PRO = "pro"


class Everything(msgspec.Struct, kw_only=True):
    per_page: Annotated[int, msgspec.Meta(ge=1, le=50, title="Rows per page", description="How many rows.")] = 10
    ratio: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.5
    greeting: Annotated[str, msgspec.Meta(max_length=80, extra={"placeholder": "Hello!"})] = ""
    signature: Annotated[str, msgspec.Meta(extra={"widget": "textarea"})] = ""
    active: bool = True
    tone: Annotated[Literal["formal", "casual"], msgspec.Meta(extra={"labels": {"casual": "Relaxed"}})] = "formal"
    plan: Plan = Plan.FREE
    words: list[str] = []
    limits: dict[str, int] = {}
    nickname: str | None = None
    api_token: str = ""


async def test_a_struct_becomes_a_form_with_a_widget_per_type():
    fields = {f.name: f for f in describe(SettingsSpec(Everything, secret_fields=("api_token",)))}
    assert [f.widget for f in fields.values()] == [
        "number", "number", "text", "textarea", "switch", "select", "select", "lines", "json", "text", "password",
    ]  # fmt: skip
    assert (fields["per_page"].label, fields["per_page"].description) == ("Rows per page", "How many rows.")
    assert (fields["per_page"].minimum, fields["per_page"].maximum, fields["per_page"].integer) == (1, 50, True)
    assert (fields["ratio"].exclusive_minimum, fields["ratio"].exclusive_maximum, fields["ratio"].integer) == (
        0,
        1,
        False,
    )
    assert fields["greeting"].label == "Greeting" and fields["greeting"].placeholder == "Hello!"
    assert fields["greeting"].max_length == 80
    assert fields["tone"].options == (("formal", "Formal"), ("casual", "Relaxed"))
    assert fields["plan"].options == (("free", "Free"), ("pro", "Pro"))
    assert fields["nickname"].nullable and not fields["per_page"].nullable
    assert fields["api_token"].secret and fields["words"].default == []


async def test_a_secret_field_must_be_a_string_with_a_default():
    class NumberSecret(msgspec.Struct):
        pin: int = 0

    class NoDefault(msgspec.Struct):
        key: str

    with pytest.raises(TypeError, match="must be a str with a default"):
        describe(SettingsSpec(NumberSecret, secret_fields=("pin",)))
    with pytest.raises(TypeError, match="must be a str with a default"):
        describe(SettingsSpec(NoDefault, secret_fields=("key",)))
    with pytest.raises(ValueError, match="does not have"):
        describe(SettingsSpec(Everything, secret_fields=("missing",)))


async def test_the_form_shows_limits_options_and_the_effective_values(atendai_kernel, atendai_app, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        view = await plugin_settings(atendai_kernel, session, "example", tenant.tenant_id)
    fields = {f.name: f for f in form_input(view, atendai_app.state.catalogs, "en")}
    assert fields["notes_per_page"].value == "50" and fields["notes_per_page"].inherited
    assert fields["notes_per_page"].attrs == {"min": "5", "max": "200", "step": "1", "inputmode": "numeric"}
    assert fields["order"].options[0] == ("newest", "Newest first")
    assert fields["agents_may_search"].value is True
    assert fields["export_token"].value == "" and fields["export_token"].secret.set is False


async def test_the_organizations_values_win_over_the_platforms_and_the_defaults(
    atendai_kernel, atendai_app, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    catalogs = atendai_app.state.catalogs
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        await save_plugin_settings(
            atendai_kernel,
            session,
            "example",
            None,
            {"notes_per_page": 30, "footer": "from the platform"},
            catalogs=catalogs,
        )
        await session.commit()
    try:
        async with atendai_kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant.tenant_id)
            with tenant_scope(tenant.tenant_id):
                await save_plugin_settings(
                    atendai_kernel,
                    session,
                    "example",
                    tenant.tenant_id,
                    {"notes_per_page": 12, "tags": ["a", "b"], "export_token": "tok-organization-0001"},
                    catalogs=catalogs,
                )
                await session.commit()
                settings = await load_plugin_settings(session, atendai_kernel, "example", tenant.tenant_id)
        assert settings.notes_per_page == 12  # the organization's
        assert settings.footer == "from the platform"  # the platform's default
        assert settings.search_results == 5  # the Struct's default
        assert settings.tags == ["a", "b"]
        assert isinstance(settings.export_token, Secret) and settings.export_token.reveal() == "tok-organization-0001"
        assert "tok-organization-0001" not in repr(settings)
    finally:
        async with atendai_kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            await save_plugin_settings(atendai_kernel, session, "example", None, {}, catalogs=catalogs)
            await session.commit()


async def test_every_invalid_field_is_reported_at_once(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.put(
        "/api/v1/modules/example/settings",
        json={
            "notes_per_page": 1000,
            "search_results": "many",
            "order": "random",
            "footer": "x" * 501,
            "tags": ["ok", "y" * 41],
            "colour": "blue",
        },
        headers=tenant.headers,
    )
    assert response.status_code == 422
    problem = response.json()
    errors = {e["field"]: (e["message"], e["detail"]) for e in problem["errors"]}
    assert errors == {
        "colour": ("unknown", "There is no setting named colour."),
        "notes_per_page": ("out of range", "Enter a number from 5 to 200."),
        "search_results": ("invalid", "Enter a whole number."),
        "order": ("unknown", "This value is not one of the options."),
        "footer": ("too long", "Use at most 500 characters."),
        "tags": ("too long", "Each line may have at most 40 characters."),
    }
    assert problem["detail"].startswith("Check these settings:") and "Notes per page" in problem["detail"]
    current = (await atendai_client.get("/api/v1/modules/example/settings", headers=tenant.headers)).json()
    assert current["values"]["notes_per_page"] == 50  # nothing was saved


async def test_a_value_equal_to_the_inherited_one_keeps_following_the_default(
    atendai_kernel, atendai_client, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    saved = await atendai_client.put(
        "/api/v1/modules/example/settings", json={"notes_per_page": 50, "order": "title"}, headers=tenant.headers
    )
    assert saved.status_code == 200
    fields = {f["name"]: f for f in saved.json()["fields"]}
    assert fields["notes_per_page"]["inherited"] is True and fields["order"]["inherited"] is False
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        row = (await session.execute(select(TenantPlugin).where(TenantPlugin.plugin == "example"))).scalar_one()
    assert row.settings == {"order": "title"}  # only what differs is the organization's own


async def test_a_left_out_field_goes_back_to_its_default(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await atendai_client.put("/api/v1/modules/example/settings", json={"notes_per_page": 7}, headers=tenant.headers)
    again = await atendai_client.put("/api/v1/modules/example/settings", json={}, headers=tenant.headers)
    assert again.json()["values"]["notes_per_page"] == 50


async def test_secrets_are_write_only_kept_when_left_empty_and_removed_with_null(
    atendai_kernel, atendai_client, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    token = "exp-0123456789-abcdef"
    saved = await atendai_client.put(
        "/api/v1/modules/example/settings", json={"export_token": token}, headers=tenant.headers
    )
    assert token not in saved.text
    assert saved.json()["values"]["export_token"] == "exp...cdef"
    assert saved.json()["secrets"]["export_token"] == {"set": True, "hint": "exp...cdef", "source": "organization"}
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        stored = (
            await session.execute(select(StoredSecret).where(StoredSecret.name == "plugin.example.export_token"))
        ).scalar_one()
        row = (await session.execute(select(TenantPlugin).where(TenantPlugin.plugin == "example"))).scalar_one()
    assert token not in stored.ciphertext and "export_token" not in row.settings  # never in the JSON layer

    kept = await atendai_client.put(
        "/api/v1/modules/example/settings", json={"export_token": "", "notes_per_page": 9}, headers=tenant.headers
    )
    assert kept.json()["secrets"]["export_token"]["hint"] == "exp...cdef"
    removed = await atendai_client.put(
        "/api/v1/modules/example/settings", json={"export_token": None}, headers=tenant.headers
    )
    assert removed.json()["secrets"]["export_token"] == {"set": False, "hint": None, "source": None}


async def test_a_change_is_audited_with_before_and_after_and_the_secret_masked(
    atendai_kernel, atendai_client, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    await atendai_client.put(
        "/api/v1/modules/example/settings",
        json={"notes_per_page": 25, "export_token": "exp-0123456789-abcdef"},
        headers=tenant.headers,
    )
    await atendai_client.put("/api/v1/modules/example/settings", json={"notes_per_page": 25}, headers=tenant.headers)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        entries = (
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.action == "plugin.settings_changed").order_by(AuditEntry.seq)
                )
            )
            .scalars()
            .all()
        )
    assert len(entries) == 1  # the second save changed nothing, so it left no entry
    changes = entries[0].changes
    assert changes["notes_per_page"] == {"before": None, "after": 25}
    assert "0123456789" not in str(changes) and entries[0].target_id == "example"
    assert entries[0].actor_id == tenant.admin_user_id


async def test_the_form_s_strings_are_read_like_people_type_them(atendai_kernel, atendai_app, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    form = FormMultiDict(
        {
            "notes_per_page": " 40 ",
            "order": "oldest",
            "search_results": "3",
            "footer": "Line one\r\nLine two",
            "tags": "prices\n\n hours \n",
            "export_token": "",
        }
    )  # agents_may_search is absent: an unticked switch is off
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        with tenant_scope(tenant.tenant_id):
            view = await save_plugin_settings(
                atendai_kernel,
                session,
                "example",
                tenant.tenant_id,
                form,
                catalogs=atendai_app.state.catalogs,
                from_form=True,
            )
            await session.rollback()
    assert view.values["notes_per_page"] == 40 and view.values["order"] == "oldest"
    assert view.values["agents_may_search"] is False
    assert view.values["footer"] == "Line one\nLine two"
    assert view.values["tags"] == ["prices", "hours"]


async def test_stored_values_that_no_longer_fit_the_struct_are_ignored(atendai_kernel, owner_connection, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    # A plugin upgrade renamed a field and narrowed another: what was stored no longer fits.
    await owner_connection.execute(
        "UPDATE tenant_plugins SET settings = %s::jsonb WHERE tenant_id = %s AND plugin = 'example'",
        ('{"notes_per_page": 999, "old_field": 1, "order": "title"}', tenant.tenant_id),
    )
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        settings = await load_plugin_settings(session, atendai_kernel, "example", tenant.tenant_id)
    assert settings.notes_per_page == 50 and settings.order == "title"


async def test_a_settings_error_in_the_service_names_every_field(atendai_kernel, atendai_app, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    translator = Translator(catalogs=atendai_app.state.catalogs, language="en", domains=("atendai",))
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        with using_translator(translator), pytest.raises(ValidationFailed) as caught:
            await save_plugin_settings(
                atendai_kernel,
                session,
                "example",
                tenant.tenant_id,
                {"notes_per_page": "", "search_results": 0},
                catalogs=atendai_app.state.catalogs,
            )
    assert [e["field"] for e in caught.value.errors] == ["notes_per_page", "search_results"]
    assert caught.value.errors[1]["detail"] == "Enter a number from 1 to 20."


async def test_another_organizations_settings_stay_out_of_reach(atendai_client, two_tenants):
    tenant_a, tenant_b = two_tenants
    await atendai_client.put(
        "/api/v1/modules/example/settings",
        json={"footer": "A's footer", "export_token": "a-secret-0123456789"},
        headers=tenant_a.headers,
    )
    seen_by_b = await atendai_client.get("/api/v1/modules/example/settings", headers=tenant_b.headers)
    assert "A's footer" not in seen_by_b.text and "a-s...6789" not in seen_by_b.text
    assert seen_by_b.json()["secrets"]["export_token"]["set"] is False
    await atendai_client.put("/api/v1/modules/example/settings", json={"footer": "B's"}, headers=tenant_b.headers)
    seen_by_a = (await atendai_client.get("/api/v1/modules/example/settings", headers=tenant_a.headers)).json()
    assert seen_by_a["values"]["footer"] == "A's footer"


class WebhookSettings(msgspec.Struct, kw_only=True):
    url: Annotated[str, msgspec.Meta(min_length=1, title="Address")]  # no default: someone must set it
    retries: int = 3
    max_wait: int = 10

    def __post_init__(self) -> None:
        if self.retries > self.max_wait:
            raise ValueError("There cannot be more retries than seconds of waiting.")


class WebhookPlugin:
    @hookimpl
    def register_settings(self, kernel: object) -> SettingsSpec:
        return SettingsSpec(schema=WebhookSettings)


def webhook_kernel(atendai_kernel: Kernel) -> Kernel:
    manager = PluginManager(strict=True)
    for _name, loaded in atendai_kernel.plugins.plugins.items():
        manager.register_object(loaded.manifest, loaded.obj, loaded.path)
    manager.register_object(PluginManifest(name="hooks", version="1", auto_enable=False), WebhookPlugin())
    kernel = Kernel(settings=atendai_kernel.settings, plugins=manager, database=atendai_kernel.database)
    kernel.registry = collect_registrations(manager, kernel)
    return kernel


async def test_a_setting_without_a_default_must_be_set_before_the_plugin_reads_its_settings(
    atendai_kernel, atendai_app, make_tenant
):
    kernel = webhook_kernel(atendai_kernel)
    tenant = await make_tenant(seed=False, language="en")
    catalogs = atendai_app.state.catalogs
    translator = Translator(catalogs=catalogs, language="en", domains=("atendai",))
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        with tenant_scope(tenant.tenant_id), using_translator(translator):
            assert describe(kernel.registry.settings["hooks"])[0].required
            with pytest.raises(ValidationFailed) as unset:
                await load_plugin_settings(session, kernel, "hooks", tenant.tenant_id)
            assert [e["field"] for e in unset.value.errors] == ["url"]
            with pytest.raises(ValidationFailed) as missing:
                await save_plugin_settings(
                    kernel, session, "hooks", tenant.tenant_id, {"retries": 2}, catalogs=catalogs
                )
            assert missing.value.errors[0] == {
                "field": "url",
                "message": "required",
                "detail": "This field is required.",
            }
            with pytest.raises(ValidationFailed) as together:
                await save_plugin_settings(
                    kernel,
                    session,
                    "hooks",
                    tenant.tenant_id,
                    {"url": "https://x.example", "retries": 20},
                    catalogs=catalogs,
                )
            assert together.value.params["reason"] == "There cannot be more retries than seconds of waiting."
            await save_plugin_settings(
                kernel, session, "hooks", tenant.tenant_id, {"url": "https://x.example"}, catalogs=catalogs
            )
            settings = await load_plugin_settings(session, kernel, "hooks", tenant.tenant_id)
            await session.rollback()
    assert (settings.url, settings.retries) == ("https://x.example", 3)
