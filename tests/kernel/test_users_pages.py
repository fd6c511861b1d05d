"""The users panel, one user's page, the roles editor and the API tokens page, over HTTP."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select

from kernel.auth.models import ApiToken
from kernel.db.session import set_session_scope
from kernel.testing.mail import link_token, mails_to

pytestmark = pytest.mark.asyncio(loop_scope="session")
EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true", **EN}


# --- helpers -------------------------------------------------------------------------------------


def table(html: str) -> str:
    """The users table only (the top bar also shows the signed-in person's email)."""
    start = html.index('id="users-table"')
    return html[start : html.index("</dialog>", start) if "</dialog>" in html[start:] else len(html)]


def triggers(response) -> dict:
    return json.loads(response.headers.get("hx-trigger", "{}"))


async def invite(client, admin, role: str = "operator", **extra) -> dict:
    address = extra.pop("email", f"{role}-{uuid4().hex[:6]}@example.com")
    response = await client.post(
        "/api/v1/users/", json={"email": address, "role": role, **extra}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def invite_and_accept(client, settings, admin, role: str = "operator", name: str = "Bia Lima") -> dict:
    """A second, active user of ``admin``'s organization; returns its id, email, password and API headers."""
    invited = await invite(client, admin, role, name=name)
    token = link_token(mails_to(settings, invited["email"])[-1])
    password = "a long password 1"
    accepted = await client.post("/api/v1/auth/invitations/accept", json={"token": token, "password": password})
    assert accepted.status_code == 200, accepted.text
    return {
        "id": invited["id"],
        "email": invited["email"],
        "password": password,
        "headers": {"Authorization": f"Bearer {accepted.json()['access_token']}"},
    }


# --- the users list ------------------------------------------------------------------------------


async def test_the_users_page_lists_people_with_role_status_and_last_login(page_client, make_tenant):
    tenant = await make_tenant(language="en")
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/users", headers=EN)
    assert response.status_code == 200
    html = response.text
    assert 'id="users-table"' in html and 'class="table responsive users-table"' in html
    admin_row = re.search(rf'<tr id="user-{tenant.admin_user_id}".*?</tr>', html, re.S).group(0)
    assert tenant.email in admin_row and "Active" in admin_row and 'data-label="Last login"' in admin_row
    assert "Never" not in admin_row  # the admin just logged in
    invited_row = re.search(r'<tr id="user-[^"]+" data-user="operator-.*?</tr>', html, re.S).group(0)
    assert "Invited" in invited_row and "Never" in invited_row and "Resend invitation" in invited_row
    assert 'hx-post="/app/-/users/' in invited_row and 'data-testid="role-select"' in invited_row
    assert 'id="invite-dialog"' in html and 'name="email"' in html
    # The role picker offers every role of the organization, system and custom, in readable names.
    assert ">Administrator<" in html and ">Operator<" in html and ">Night shift<" in html


async def test_users_are_searched_filtered_and_sorted_from_the_query_string(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "supervisor", name="Zeca Souza")
    pending = await invite(atendai_client, tenant, "analyst", name="Ana Prado")
    async with page_client(tenant) as browser:
        found = await browser.get("/app/-/users?q=zeca", headers=EN)
        by_role = await browser.get("/app/-/users?role=analyst", headers=EN)
        invited = await browser.get("/app/-/users?status=invited", headers=EN)
        nobody = await browser.get("/app/-/users?q=nobody-at-all", headers=EN)
        bogus = await browser.get("/app/-/users?status=bogus&sort=password_hash", headers=EN)
        by_login = await browser.get("/app/-/users?sort=last_login&dir=desc", headers=EN)
    assert colleague["email"] in table(found.text) and pending["email"] not in table(found.text)
    assert pending["email"] in table(by_role.text) and colleague["email"] not in table(by_role.text)
    assert pending["email"] in table(invited.text) and tenant.email not in table(invited.text)
    assert "No user matches these filters." in nobody.text and "Clear the filters" in nobody.text
    assert bogus.status_code == 200 and pending["email"] in table(bogus.text)  # unknown values are ignored
    # Most recent login first; whoever never logged in comes last.
    rows = table(by_login.text)
    order = [rows.index(address) for address in (tenant.email, colleague["email"], pending["email"])]
    assert order[2] == max(order)


async def test_the_api_lists_users_with_the_same_filters(atendai_client, atendai_settings, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "supervisor", name="Zeca Souza")
    pending = await invite(atendai_client, tenant, "analyst")

    async def emails(query: str) -> set[str]:
        response = await atendai_client.get(f"/api/v1/users?{query}", headers=tenant.headers)
        assert response.status_code == 200, response.text
        return {user["email"] for user in response.json()}

    assert await emails("q=ZECA") == {colleague["email"]}
    assert await emails("role=analyst") == {pending["email"]}
    assert await emails("status=invited") == {pending["email"]}
    assert await emails("status=active") == {tenant.email, colleague["email"]}
    await atendai_client.delete(f"/api/v1/users/{colleague['id']}", headers=tenant.headers)
    assert await emails("status=deactivated") == {colleague["email"]}
    assert await emails("q=%25") == set()  # a wildcard typed in the box is a plain character
    wrong = await atendai_client.get("/api/v1/users?status=sleeping", headers=tenant.headers)
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "status"


async def test_an_admin_invites_through_the_dialog_and_the_table_is_told_to_refresh(
    page_client, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    address = f"new-{uuid4().hex[:6]}@example.com"
    async with page_client(tenant) as browser:
        response = await browser.post(
            "/app/-/users/invite",
            data={"email": address, "name": "Caio Reis", "role": "supervisor", "language": "es"},
            headers=HTMX,
        )
        listed = await browser.get("/app/-/users?status=invited", headers=EN)
    assert response.status_code == 200
    events = triggers(response)
    assert events["toast"] == {"kind": "success", "message": f"Invitation sent to {address}."}
    assert events["users-changed"] and events["invitation-sent"]
    assert 'id="invite-form"' in response.text and address not in response.text  # a blank form for the next one
    [mail] = mails_to(atendai_settings, address)
    assert "/auth/invitation?token=" in mail.get_payload(decode=True).decode()
    assert address in listed.text and "Caio Reis" in listed.text


async def test_an_invalid_invitation_stays_in_the_dialog_with_the_typed_values(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        bad_email = await browser.post(
            "/app/-/users/invite",
            data={"email": "not an email", "name": "Caio Reis", "role": "operator", "language": ""},
            headers=HTMX,
        )
        taken = await browser.post(
            "/app/-/users/invite",
            data={"email": tenant.email, "name": "Me again", "role": "operator", "language": ""},
            headers=HTMX,
        )
        no_role = await browser.post(
            "/app/-/users/invite",
            data={"email": "someone@example.com", "name": "", "role": "captain", "language": ""},
            headers=HTMX,
        )
    assert bad_email.status_code == 422 and "hx-trigger" not in bad_email.headers
    assert 'value="not an email"' in bad_email.text and 'value="Caio Reis"' in bad_email.text
    assert 'id="f-email-error"' in bad_email.text and "The email address is not valid." in bad_email.text
    assert taken.status_code == 422 and "A user with this email already exists." in taken.text
    assert 'id="f-email-error"' in taken.text
    assert no_role.status_code == 422 and 'id="f-role-error"' in no_role.text


async def test_changing_a_role_inline_saves_it_and_redraws_the_row(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator")
    async with page_client(tenant) as browser:
        response = await browser.post(f"/app/-/users/{colleague['id']}/role", data={"role": "supervisor"}, headers=HTMX)
    assert response.status_code == 200 and response.text.lstrip().startswith("<tr")
    assert triggers(response)["toast"] == {"kind": "success", "message": "Role changed."}
    assert re.search(r'<option value="supervisor" selected>', response.text)
    me = await atendai_client.get("/api/v1/users/me", headers=colleague["headers"])
    assert me.json()["user"]["role"] == "supervisor"


async def test_the_last_admin_cannot_be_demoted_inline_and_the_row_keeps_the_real_role(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        response = await browser.post(
            f"/app/-/users/{tenant.admin_user_id}/role", data={"role": "operator"}, headers=HTMX
        )
        again = await browser.get("/app/-/users", headers=EN)
    assert response.status_code == 200
    toast = triggers(response)["toast"]
    assert toast["kind"] == "error" and "at least one active administrator" in toast["message"]
    assert re.search(r'<option value="admin" selected>', response.text)
    assert again.status_code == 200  # still an admin


async def test_deactivating_and_reactivating_from_the_list(page_client, make_tenant, atendai_client, atendai_settings):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator")
    async with page_client(tenant) as browser:
        off = await browser.post(f"/app/-/users/{colleague['id']}/deactivate", headers=HTMX)
        assert (await atendai_client.get("/api/v1/users/me", headers=colleague["headers"])).status_code == 401
        listed = await browser.get("/app/-/users?status=deactivated", headers=EN)
        on = await browser.post(f"/app/-/users/{colleague['id']}/reactivate", headers=HTMX)
    assert off.status_code == 204 and triggers(off)["users-changed"]
    assert triggers(off)["toast"]["message"] == "User deactivated."
    assert colleague["email"] in listed.text and "Reactivate" in listed.text
    assert on.status_code == 204 and triggers(on)["toast"]["message"] == "User reactivated."
    login = await atendai_client.post(
        "/api/v1/auth/login", json={"email": colleague["email"], "password": colleague["password"]}
    )
    assert login.status_code == 200


async def test_one_cannot_deactivate_oneself_from_the_panel(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        listed = await browser.get("/app/-/users", headers=EN)
        response = await browser.post(f"/app/-/users/{tenant.admin_user_id}/deactivate", headers=HTMX)
    admin_row = re.search(rf'<tr id="user-{tenant.admin_user_id}".*?</tr>', listed.text, re.S).group(0)
    assert "/deactivate" not in admin_row and "/end-sessions" not in admin_row
    assert response.status_code == 409
    assert response.json()["detail"] == "You cannot deactivate yourself."  # the shell shows it as a toast


async def test_resending_an_invitation_mails_a_new_link_and_retires_the_old_one(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    invited = await invite(atendai_client, tenant, "operator")
    first = link_token(mails_to(atendai_settings, invited["email"])[-1])
    async with page_client(tenant) as browser:
        response = await browser.post(f"/app/-/users/{invited['id']}/resend-invitation", headers=HTMX)
        accepted_user = await browser.post(f"/app/-/users/{tenant.admin_user_id}/resend-invitation", headers=HTMX)
    assert response.status_code == 204
    assert triggers(response)["toast"]["message"] == f"Invitation sent again to {invited['email']}."
    second = link_token(mails_to(atendai_settings, invited["email"])[-1])
    assert second != first
    old = await atendai_client.post("/api/v1/auth/invitations/accept", json={"token": first, "password": "x" * 12})
    assert old.status_code == 401
    assert accepted_user.status_code == 409


async def test_ending_a_users_sessions_from_the_panel_logs_them_out(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator")
    async with page_client(tenant) as browser:
        response = await browser.post(f"/app/-/users/{colleague['id']}/end-sessions", headers=HTMX)
    assert response.status_code == 204 and triggers(response)["toast"]["kind"] == "success"
    assert (await atendai_client.get("/api/v1/users/me", headers=colleague["headers"])).status_code == 401


async def test_an_operator_can_neither_see_nor_change_users(page_client, make_tenant, atendai_client, atendai_settings):
    tenant = await make_tenant(seed=False, language="en")
    operator = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator")
    async with page_client(email=operator["email"], password=operator["password"]) as browser:
        listed = await browser.get("/app/-/users", headers=EN)
        detail = await browser.get(f"/app/-/users/{tenant.admin_user_id}", headers=EN)
        invited = await browser.post(
            "/app/-/users/invite", data={"email": "x@example.com", "role": "admin"}, headers=HTMX
        )
        promoted = await browser.post(f"/app/-/users/{operator['id']}/role", data={"role": "admin"}, headers=HTMX)
        home = await browser.get("/app/", headers=EN)
    assert listed.status_code == 403 and "kernel.user.read" in listed.text and 'id="users-table"' not in listed.text
    assert detail.status_code == 403
    assert invited.status_code == 403 and promoted.status_code == 403
    assert 'data-nav="kernel.users"' not in home.text


async def test_a_supervisor_reads_the_panel_without_any_way_to_change_it(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(language="en")
    supervisor = await invite_and_accept(atendai_client, atendai_settings, tenant, "supervisor")
    async with page_client(email=supervisor["email"], password=supervisor["password"]) as browser:
        listed = await browser.get("/app/-/users", headers=EN)
        detail = await browser.get(f"/app/-/users/{tenant.admin_user_id}", headers=EN)
        change = await browser.post(f"/app/-/users/{tenant.admin_user_id}", data={"name": "X"}, headers=HTMX)
    assert listed.status_code == 200 and tenant.email in table(listed.text)
    assert 'data-testid="role-select"' not in listed.text and 'id="invite-dialog"' not in listed.text
    assert "/deactivate" not in listed.text and "Resend invitation" not in listed.text
    assert detail.status_code == 200 and 'id="user-edit-form"' not in detail.text
    assert 'data-testid="performed"' in detail.text  # supervisors read the audit trail
    assert change.status_code == 403


# --- one user ------------------------------------------------------------------------------------


async def test_a_users_page_shows_their_facts_who_invited_them_and_their_activity(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator", name="Bia Lima")
    changed = await atendai_client.patch(
        f"/api/v1/users/{colleague['id']}", json={"role": "supervisor", "language": "es"}, headers=tenant.headers
    )
    assert changed.status_code == 200
    await atendai_client.patch("/api/v1/users/me", json={"name": "Bia Lima Souza"}, headers=colleague["headers"])
    async with page_client(tenant) as browser:
        response = await browser.get(f"/app/-/users/{colleague['id']}", headers=EN)
    assert response.status_code == 200
    html = response.text
    assert "<h1>Bia Lima Souza</h1>" in html and colleague["email"] in html
    assert "Invited by" in html and tenant.email in html
    assert 'href="/app/-/users/' + str(tenant.admin_user_id) + '"' in html  # the inviter, linked
    assert "Español" in html  # their language, in its own words
    performed = html[html.index('data-testid="performed"') :]
    assert "Accepted the invitation" in performed and "Changed a user" in performed
    received = html[html.index('data-testid="received"') :]
    assert "Invited a user" in received and "user.invited" in received
    # The role change reads with the roles' names, before and after.
    assert re.search(r"Role</span> <del>Operator</del>.*?<ins>Supervisor</ins>", html, re.S)
    assert f'href="/app/-/audit?actor_id={colleague["id"]}"' in html
    assert 'id="user-edit-form"' in html and 'value="Bia Lima Souza"' in html


async def test_editing_a_user_saves_or_comes_back_with_inline_errors(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    colleague = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator")
    async with page_client(tenant) as browser:
        empty = await browser.post(
            f"/app/-/users/{colleague['id']}", data={"name": "  ", "role": "supervisor", "language": "en"}, headers=HTMX
        )
        saved = await browser.post(
            f"/app/-/users/{colleague['id']}",
            data={"name": "Bia Nova", "role": "analyst", "language": ""},
            headers=HTMX,
        )
        demote_me = await browser.post(
            f"/app/-/users/{tenant.admin_user_id}",
            data={"name": "Boss", "role": "operator", "language": ""},
            headers=HTMX,
        )
    assert empty.status_code == 422 and 'id="f-name-error"' in empty.text
    assert 'option value="supervisor" selected' in empty.text  # the typed choices stay
    assert saved.status_code == 204 and triggers(saved)["users-changed"]
    user = (await atendai_client.get(f"/api/v1/users/{colleague['id']}", headers=tenant.headers)).json()
    assert (user["name"], user["role"], user["language"]) == ("Bia Nova", "analyst", None)
    assert demote_me.status_code == 422 and "at least one active administrator" in demote_me.text
    me = (await atendai_client.get(f"/api/v1/users/{tenant.admin_user_id}", headers=tenant.headers)).json()
    assert me["name"] != "Boss" and me["role"] == "admin"  # nothing half-saved


async def test_the_users_of_another_organization_do_not_exist_here(page_client, two_tenants, atendai_client):
    tenant_a, tenant_b = two_tenants
    b_users = (await atendai_client.get("/api/v1/users/", headers=tenant_b.headers)).json()
    b_invited = next(user for user in b_users if user["invited"])
    async with page_client(tenant_a) as browser:
        listed = await browser.get(f"/app/-/users?q={tenant_b.email}", headers=EN)
        detail = await browser.get(f"/app/-/users/{tenant_b.admin_user_id}", headers=EN)
        answers = [
            await browser.post(f"/app/-/users/{tenant_b.admin_user_id}/role", data={"role": "operator"}, headers=HTMX),
            await browser.post(f"/app/-/users/{tenant_b.admin_user_id}/deactivate", headers=HTMX),
            await browser.post(f"/app/-/users/{tenant_b.admin_user_id}/end-sessions", headers=HTMX),
            await browser.post(f"/app/-/users/{b_invited['id']}/resend-invitation", headers=HTMX),
            await browser.post(f"/app/-/users/{b_invited['id']}/reactivate", headers=HTMX),
            await browser.post(
                f"/app/-/users/{tenant_b.admin_user_id}", data={"name": "Hacked", "role": "operator"}, headers=HTMX
            ),
        ]
    # No row of B's (rows carry data-user); the search typed is only echoed in the form and links.
    assert f'data-user="{tenant_b.email}"' not in listed.text and 'class="empty-state"' in table(listed.text)
    assert detail.status_code == 404 and tenant_b.email not in detail.text
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    b_admin = (await atendai_client.get(f"/api/v1/users/{tenant_b.admin_user_id}", headers=tenant_b.headers)).json()
    assert b_admin["name"] != "Hacked" and b_admin["is_active"] and b_admin["role"] == "admin"
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant_b.headers)).status_code == 200


# --- roles ---------------------------------------------------------------------------------------


async def role_id(client, tenant, key: str) -> str:
    roles = (await client.get("/api/v1/roles/", headers=tenant.headers)).json()
    return next(role["id"] for role in roles if role["key"] == key)


async def test_the_roles_page_lists_system_and_custom_roles_with_their_counts(page_client, make_tenant):
    tenant = await make_tenant(language="en")
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/roles", headers=EN)
    assert response.status_code == 200
    admin_row = re.search(r'<tr data-role="admin">.*?</tr>', response.text, re.S).group(0)
    assert "Administrator" in admin_row and "System" in admin_row and "Duplicate" in admin_row
    assert re.search(r'data-label="Users">1<', admin_row)  # the admin themself
    custom_row = re.search(r'<tr data-role="night-shift">.*?</tr>', response.text, re.S).group(0)
    assert "Night shift" in custom_row and "Custom" in custom_row and "hx-delete" in custom_row
    assert re.search(r'data-label="Permissions">1<', custom_row)
    assert 'href="/app/-/roles/new"' in response.text


async def test_the_role_editor_groups_permissions_by_module_with_translated_titles(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/roles/new", headers=EN)
    html = response.text
    assert response.status_code == 200 and 'hx-post="/app/-/roles/new"' in html
    groups = re.findall(r'<fieldset class="permission-group" data-plugin="(\w+)"', html)
    assert groups[0] == "kernel" and "example" in groups
    kernel_group = html[html.index('data-plugin="kernel"') : html.index('data-plugin="example"')]
    assert "<legend>General" in kernel_group and "Invite, change and deactivate users" in kernel_group
    assert '<code class="perm-code">kernel.user.write</code>' in kernel_group and "Select all" in kernel_group
    example_group = html[html.index('data-plugin="example"') :]
    assert "<legend>Notes" in example_group  # the plugin manifest's title
    assert "platform.tenant.manage" not in html


async def test_creating_a_custom_role_suggests_its_key_and_grants_what_was_ticked(
    page_client, make_tenant, atendai_client
):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        created = await browser.post(
            "/app/-/roles/new",
            data={
                "name": "Atendimento Noturno",
                "key": "",
                "description": "Covers the night",
                "permissions": ["kernel.user.read", "example.note.read"],
            },
            headers=HTMX,
        )
        listed = await browser.get("/app/-/roles", headers=EN)
    assert created.status_code == 200 and created.headers["hx-redirect"] == "/app/-/roles"
    assert "atendai_flash" in created.headers.get("set-cookie", "")
    roles = (await atendai_client.get("/api/v1/roles/", headers=tenant.headers)).json()
    role = next(r for r in roles if r["key"] == "atendimento-noturno")
    assert (
        role["permissions"] == ["example.note.read", "kernel.user.read"] and role["description"] == "Covers the night"
    )
    assert "Atendimento Noturno" in listed.text


async def test_an_invalid_role_comes_back_with_inline_errors_and_what_was_typed(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        no_name = await browser.post(
            "/app/-/roles/new", data={"name": "", "key": "x9", "permissions": ["kernel.user.read"]}, headers=HTMX
        )
        bad_key = await browser.post(
            "/app/-/roles/new",
            data={"name": "Night", "key": "9 lives", "permissions": ["kernel.audit.read"]},
            headers=HTMX,
        )
        taken = await browser.post(
            "/app/-/roles/new", data={"name": "Admins", "key": "admin", "permissions": []}, headers=HTMX
        )
        unknown = await browser.post(
            "/app/-/roles/new",
            data={"name": "Root", "key": "root", "permissions": ["platform.tenant.manage"]},
            headers=HTMX,
        )
    assert no_name.status_code == 422 and 'id="f-name-error"' in no_name.text
    assert bad_key.status_code == 422 and 'id="f-key-error"' in bad_key.text and 'value="9 lives"' in bad_key.text
    assert re.search(r'value="kernel.audit.read" checked', bad_key.text)  # ticked boxes stay ticked
    assert taken.status_code == 422 and "A role admin already exists." in taken.text
    assert unknown.status_code == 422 and 'id="perm-error"' in unknown.text


async def test_a_system_role_is_read_only_and_can_be_duplicated(page_client, make_tenant, atendai_client):
    tenant = await make_tenant(seed=False, language="en")
    supervisor_id = await role_id(atendai_client, tenant, "supervisor")
    async with page_client(tenant) as browser:
        shown = await browser.get(f"/app/-/roles/{supervisor_id}", headers=EN)
        copy = await browser.get(f"/app/-/roles/new?from={supervisor_id}", headers=EN)
        forced = await browser.post(
            f"/app/-/roles/{supervisor_id}", data={"name": "Boss", "permissions": ["kernel.user.write"]}, headers=HTMX
        )
        deleted = await browser.delete(f"/app/-/roles/{supervisor_id}", headers=HTMX)
    assert shown.status_code == 200 and "hx-post" not in shown.text.split('id="role-form"')[1].split(">")[0]
    assert re.search(r'value="kernel.user.read" checked disabled', shown.text)
    assert f'href="/app/-/roles/new?from={supervisor_id}"' in shown.text and "Duplicate as a custom role" in shown.text
    assert 'value="Supervisor (copy)"' in copy.text and re.search(r'value="kernel.user.read" checked>', copy.text)
    assert not re.search(r'value="kernel.user.write" checked', copy.text)
    assert forced.status_code == 409 and deleted.status_code == 409


async def test_editing_and_deleting_a_custom_role(page_client, make_tenant, atendai_client, atendai_settings):
    tenant = await make_tenant(language="en")
    night_id = await role_id(atendai_client, tenant, "night-shift")
    async with page_client(tenant) as browser:
        edit = await browser.get(f"/app/-/roles/{night_id}", headers=EN)
        saved = await browser.post(
            f"/app/-/roles/{night_id}",
            data={"name": "Night team", "description": "", "permissions": ["kernel.user.read", "kernel.audit.read"]},
            headers=HTMX,
        )
        await invite(atendai_client, tenant, "night-shift")
        in_use = await browser.delete(f"/app/-/roles/{night_id}", headers=HTMX)
    assert 'hx-post="/app/-/roles/' in edit.text and '<code class="role-key">night-shift</code>' in edit.text
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == "/app/-/roles"
    role = next(
        r for r in (await atendai_client.get("/api/v1/roles/", headers=tenant.headers)).json() if r["id"] == night_id
    )
    assert role["name"] == "Night team" and role["permissions"] == ["kernel.audit.read", "kernel.user.read"]
    assert in_use.status_code == 409 and "give them another one first" in in_use.json()["detail"]

    empty_id = (
        await atendai_client.post(
            "/api/v1/roles/", json={"key": "temp", "name": "Temp", "permissions": []}, headers=tenant.headers
        )
    ).json()["id"]
    async with page_client(tenant) as browser:
        gone = await browser.delete(f"/app/-/roles/{empty_id}", headers=HTMX)
    assert gone.status_code == 200 and gone.headers["hx-redirect"] == "/app/-/roles"
    assert all(r["id"] != empty_id for r in (await atendai_client.get("/api/v1/roles/", headers=tenant.headers)).json())


async def test_roles_of_another_organization_cannot_be_seen_copied_changed_or_deleted(
    page_client, two_tenants, atendai_client
):
    tenant_a, tenant_b = two_tenants
    b_role = await role_id(atendai_client, tenant_b, "night-shift")
    async with page_client(tenant_a) as browser:
        shown = await browser.get(f"/app/-/roles/{b_role}", headers=EN)
        copied = await browser.get(f"/app/-/roles/new?from={b_role}", headers=EN)
        changed = await browser.post(f"/app/-/roles/{b_role}", data={"name": "Mine"}, headers=HTMX)
        deleted = await browser.delete(f"/app/-/roles/{b_role}", headers=HTMX)
    assert shown.status_code == copied.status_code == changed.status_code == deleted.status_code == 404
    still = next(
        r for r in (await atendai_client.get("/api/v1/roles/", headers=tenant_b.headers)).json() if r["id"] == b_role
    )
    assert still["name"] == "Night shift"


async def test_an_operator_cannot_open_the_role_editor(page_client, make_tenant, atendai_client, atendai_settings):
    tenant = await make_tenant(seed=False, language="en")
    operator = await invite_and_accept(atendai_client, atendai_settings, tenant, "operator")
    async with page_client(email=operator["email"], password=operator["password"]) as browser:
        listed = await browser.get("/app/-/roles", headers=EN)
        new = await browser.get("/app/-/roles/new", headers=EN)
        created = await browser.post("/app/-/roles/new", data={"name": "Mine", "key": "mine"}, headers=HTMX)
    assert listed.status_code == new.status_code == created.status_code == 403


# --- API tokens ----------------------------------------------------------------------------------


async def test_creating_an_api_token_shows_its_secret_once_and_the_list_never_does(
    page_client, make_tenant, atendai_client
):
    tenant = await make_tenant(language="en")
    async with page_client(tenant) as browser:
        page = await browser.get("/app/-/api-tokens", headers=EN)
        created = await browser.post(
            "/app/-/api-tokens",
            data={"name": "Zapier", "permissions": ["kernel.user.read", "example.note.read"], "expires_at": ""},
            headers=HTMX,
        )
        listed = await browser.get("/app/-/api-tokens", headers=EN)
    assert page.status_code == 200 and "CRM sync" in page.text and 'id="token-dialog"' in page.text
    assert created.status_code == 200
    secret = re.search(r'id="token-secret" type="text" value="(atd_[^"]+)"', created.text).group(1)
    assert triggers(created)["tokens-changed"] and "only time it is shown" in created.text
    assert secret not in listed.text and secret[:12] in listed.text and "Zapier" in listed.text
    me = await atendai_client.get("/api/v1/users/", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    row = re.search(r'<tr data-token="Zapier">.*?</tr>', listed.text, re.S).group(0)
    assert "2 permissions" in row and "Active" in row and "Never" in row and f"by {tenant.email.split('@')[0]}" in row


async def test_a_token_form_with_mistakes_stays_open_with_the_reasons(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    async with page_client(tenant) as browser:
        nothing = await browser.post("/app/-/api-tokens", data={"name": "", "expires_at": ""}, headers=HTMX)
        past = await browser.post(
            "/app/-/api-tokens",
            data={"name": "Old", "permissions": ["kernel.user.read"], "expires_at": yesterday},
            headers=HTMX,
        )
        beyond = await browser.post(
            "/app/-/api-tokens",
            data={"name": "Root", "permissions": ["platform.tenant.manage"], "expires_at": ""},
            headers=HTMX,
        )
    assert nothing.status_code == 422 and 'id="f-name-error"' in nothing.text
    assert past.status_code == 422 and 'id="f-expires_at-error"' in past.text and 'value="Old"' in past.text
    assert beyond.status_code == 422 and "A token cannot hold permissions you do not have" in beyond.text


async def test_the_token_form_offers_only_what_its_creator_holds_and_expiry_ends_the_chosen_day(
    page_client, make_tenant, atendai_client, atendai_settings
):
    tenant = await make_tenant(seed=False, language="en")
    custom = await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "integrator", "name": "Integrator", "permissions": ["kernel.api_token.write", "kernel.user.read"]},
        headers=tenant.headers,
    )
    assert custom.status_code == 201
    integrator = await invite_and_accept(atendai_client, atendai_settings, tenant, "integrator")
    day = (datetime.now(UTC) + timedelta(days=10)).date()
    async with page_client(email=integrator["email"], password=integrator["password"]) as browser:
        form = await browser.get("/app/-/api-tokens/new", headers=HTMX)
        created = await browser.post(
            "/app/-/api-tokens",
            data={"name": "Reports", "permissions": ["kernel.user.read"], "expires_at": day.isoformat()},
            headers=HTMX,
        )
    boxes = re.findall(r'name="permissions" value="([\w.]+)"', form.text)
    assert sorted(boxes) == ["kernel.api_token.write", "kernel.user.read"]
    assert created.status_code == 200
    [token] = [
        t
        for t in (await atendai_client.get("/api/v1/api-tokens/", headers=tenant.headers)).json()
        if t["name"] == "Reports"
    ]
    expires = datetime.fromisoformat(token["expires_at"]).astimezone(UTC)
    # Midnight after the chosen day, São Paulo time (UTC-3): the token works through that day.
    assert expires == datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC) + timedelta(days=1)


async def test_revoking_a_token_stops_it_at_once(page_client, make_tenant, atendai_client):
    tenant = await make_tenant(seed=False, language="en")
    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "Temp", "permissions": ["kernel.user.read"]}, headers=tenant.headers
    )
    secret, token_id = created.json()["token"], created.json()["api_token"]["id"]
    async with page_client(tenant) as browser:
        revoked = await browser.delete(f"/app/-/api-tokens/{token_id}", headers=HTMX)
        again = await browser.delete(f"/app/-/api-tokens/{token_id}", headers=HTMX)
        listed = await browser.get("/app/-/api-tokens", headers=EN)
    assert revoked.status_code == 204 and triggers(revoked)["toast"]["message"] == "API token Temp revoked."
    assert (
        await atendai_client.get("/api/v1/users/", headers={"Authorization": f"Bearer {secret}"})
    ).status_code == 401
    assert again.status_code == 409
    row = re.search(r'<tr data-token="Temp">.*?</tr>', listed.text, re.S).group(0)
    assert "Revoked" in row and "hx-delete" not in row


async def test_api_tokens_of_another_organization_cannot_be_listed_or_revoked(page_client, two_tenants, atendai_kernel):
    tenant_a, tenant_b = two_tenants
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_b.tenant_id)
        b_token = (
            (await session.execute(select(ApiToken).where(ApiToken.tenant_id == tenant_b.tenant_id))).scalars().first()
        )
    async with page_client(tenant_a) as browser:
        listed = await browser.get("/app/-/api-tokens", headers=EN)
        revoked = await browser.delete(f"/app/-/api-tokens/{b_token.id}", headers=HTMX)
    assert b_token.prefix not in listed.text
    assert revoked.status_code == 404
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_b.tenant_id)
        assert (await session.get(ApiToken, b_token.id)).revoked_at is None


async def test_the_isolation_walk_probes_these_pages_with_another_tenants_ids(
    atendai_app, atendai_client, atendai_kernel, two_tenants
):
    from kernel.testing.isolation import check_tenant_isolation

    tenant_a, tenant_b = two_tenants
    report = await check_tenant_isolation(atendai_app, atendai_client, atendai_kernel.db.urls.owner, tenant_a, tenant_b)
    ours = (
        "/app/-/users",
        "/app/-/roles",
        "/app/-/profile",
        "/app/-/api-tokens",
        "/api/v1/users",
        "/api/v1/api-tokens",
    )
    assert [v for v in report.violations if any(prefix in v for prefix in ours)] == []
    assert {
        "GET /app/-/users/{user_id:uuid}",
        "POST /app/-/users/{user_id:uuid}",
        "POST /app/-/users/{user_id:uuid}/role",
        "POST /app/-/users/{user_id:uuid}/deactivate",
        "POST /app/-/users/{user_id:uuid}/reactivate",
        "POST /app/-/users/{user_id:uuid}/end-sessions",
        "POST /app/-/users/{user_id:uuid}/resend-invitation",
        "GET /app/-/roles/{role_id:uuid}",
        "POST /app/-/roles/{role_id:uuid}",
        "DELETE /app/-/roles/{role_id:uuid}",
        "DELETE /app/-/profile/sessions/{session_id:uuid}",
        "DELETE /app/-/api-tokens/{token_id:uuid}",
        "DELETE /api/v1/users/me/sessions/{session_id:uuid}",
    } <= report.probed_routes
