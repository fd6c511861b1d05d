"""Roles, permissions, the one guard, API tokens, and users kept within their organization."""

from __future__ import annotations

from uuid import uuid4

import pytest

from kernel.rbac.guard import route_access

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Every route that needs no token, and why. Anything else must declare a permission or ``authenticated``.
PUBLIC_ROUTES = {
    "/",  # a welcome page pointing at the API reference
    "/auth/login",  # the login form and its post (same-origin only)
    "/auth/logout",
    "/auth/language",  # the language switch: a cookie, and the person's preference when logged in
    "/auth/register",  # self-service registration of an organization (when the platform allows it)
    "/auth/register/slug",  # live check of a proposed address during registration
    "/auth/forgot",  # password reset request form
    "/auth/reset",  # set a new password from a mailed link
    "/auth/invitation",  # accept an invitation from a mailed link
    "/api/v1/auth/resume",  # renew a browser session from the refresh cookie and go back
    "/api/v1/auth/register",
    "/api/v1/auth/register/slug",
    "/media/{key:path}",  # public files only (logos): keys under public/
    "/healthz",
    "/readyz",
    "/metrics",  # guarded by ATENDAI_METRICS_TOKEN when set
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/auth/invitations/accept",
    "/api/v1/auth/password-reset",
    "/api/v1/auth/password-reset/confirm",
    # The web chat widget's visitors: found by the channel's unguessable key, then by a signed visitor token.
    "/api/v1/inbox/webchat/{public_key:str}/config",
    "/api/v1/inbox/webchat/{public_key:str}/sessions",
    "/api/v1/inbox/webchat/{public_key:str}/messages",
    "/api/v1/inbox/webchat/{public_key:str}/attachments",
    "/api/v1/inbox/webchat/{public_key:str}/files/{message_id:uuid}",
    "/api/v1/inbox/webchat/{public_key:str}/csat",
}


async def invite_and_accept(client, admin, role: str) -> dict[str, str]:
    """A second user of ``admin``'s organization with ``role``, logged in; returns auth headers."""
    import email as email_lib
    import re
    from pathlib import Path

    address = f"{role}-{uuid4().hex[:6]}@example.com"
    invited = await client.post("/api/v1/users/", json={"email": address, "role": role}, headers=admin.headers)
    assert invited.status_code == 201, invited.text
    folder = Path(client._transport.app.state.kernel.settings.data_dir) / "mail"
    messages = [email_lib.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]
    body = next(m for m in messages if m["To"] == address).get_payload(decode=True).decode()
    token = re.search(r"token=([\w-]+)", body).group(1)
    accepted = await client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "a long password 1"}
    )
    return {"Authorization": f"Bearer {accepted.json()['access_token']}"}


def test_every_route_declares_who_may_call_it(atendai_app):
    """The listing a reviewer reads: no route is open by accident."""
    from litestar.routes import HTTPRoute

    listing, undeclared = [], []
    for route in atendai_app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(("/schema", "/static")):
            continue
        for method, (handler, _) in sorted(route.route_handler_map.items()):
            if method == "OPTIONS":
                continue
            access = route_access(handler)
            listing.append(f"{method:<6} {route.path:<55} {access}")
            if access is None:
                undeclared.append(f"{method} {route.path}")
            if access == "public":
                assert route.path in PUBLIC_ROUTES, f"{method} {route.path} is public but not in the reviewed list"
    print("\n".join(listing))
    assert undeclared == []
    assert len(listing) > 25


async def test_an_operator_cannot_reach_admin_routes(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    operator = await invite_and_accept(atendai_client, admin, "operator")
    for method, path in [
        ("GET", "/api/v1/users/"),
        ("POST", "/api/v1/users/"),
        ("GET", "/api/v1/roles/"),
        ("GET", "/api/v1/api-tokens/"),
        ("GET", "/api/v1/audit/"),
        ("POST", "/api/v1/example/notes/"),
    ]:
        response = await atendai_client.request(method, path, json={} if method == "POST" else None, headers=operator)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["type"].endswith("/missing-permission")
    assert (await atendai_client.get("/api/v1/example/notes/", headers=operator)).status_code == 200
    me = (await atendai_client.get("/api/v1/users/me", headers=operator)).json()
    assert me["user"]["role"] == "operator"
    assert "kernel.user.write" not in me["permissions"] and "example.note.read" in me["permissions"]


async def test_a_custom_role_grants_exactly_its_permissions(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "auditor", "name": "Auditor", "permissions": ["kernel.audit.read", "kernel.user.read"]},
        headers=admin.headers,
    )
    assert created.status_code == 201 and created.json()["permissions"] == ["kernel.audit.read", "kernel.user.read"]
    auditor = await invite_and_accept(atendai_client, admin, "auditor")
    assert (await atendai_client.get("/api/v1/users/", headers=auditor)).status_code == 200
    assert (await atendai_client.get("/api/v1/audit/", headers=auditor)).status_code == 200
    assert (await atendai_client.get("/api/v1/example/notes/", headers=auditor)).status_code == 403

    unknown = await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "x1", "name": "X", "permissions": ["platform.tenant.manage"]},
        headers=admin.headers,
    )
    assert unknown.status_code == 422
    in_use = await atendai_client.delete(f"/api/v1/roles/{created.json()['id']}", headers=admin.headers)
    assert in_use.status_code == 409
    system = next(
        r for r in (await atendai_client.get("/api/v1/roles/", headers=admin.headers)).json() if r["key"] == "admin"
    )
    assert (
        await atendai_client.patch(f"/api/v1/roles/{system['id']}", json={"name": "X"}, headers=admin.headers)
    ).status_code == 409


async def test_system_roles_follow_what_plugins_declare(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    roles = {r["key"]: r for r in (await atendai_client.get("/api/v1/roles/", headers=admin.headers)).json()}
    assert set(roles) >= {"admin", "supervisor", "operator", "analyst"}
    assert "example.note.write" in roles["admin"]["permissions"]
    assert "example.note.write" not in roles["operator"]["permissions"]
    assert "example.note.read" in roles["analyst"]["permissions"]
    groups = {
        g["plugin"]: g for g in (await atendai_client.get("/api/v1/roles/permissions", headers=admin.headers)).json()
    }
    assert {"kernel", "example"} <= set(groups)


async def test_the_last_admin_cannot_be_demoted_or_deactivated(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    demote = await atendai_client.patch(
        f"/api/v1/users/{admin.admin_user_id}", json={"role": "operator"}, headers=admin.headers
    )
    assert demote.status_code == 409
    self_off = await atendai_client.delete(f"/api/v1/users/{admin.admin_user_id}", headers=admin.headers)
    assert self_off.status_code == 409


async def test_a_tenant_admin_cannot_touch_another_tenants_users(atendai_client, two_tenants):
    tenant_a, tenant_b = two_tenants
    target = tenant_b.admin_user_id
    assert (await atendai_client.get(f"/api/v1/users/{target}", headers=tenant_a.headers)).status_code == 404
    assert (
        await atendai_client.patch(f"/api/v1/users/{target}", json={"name": "x"}, headers=tenant_a.headers)
    ).status_code == 404
    assert (await atendai_client.delete(f"/api/v1/users/{target}", headers=tenant_a.headers)).status_code == 404
    assert (
        await atendai_client.post(f"/api/v1/users/{target}/end-sessions", headers=tenant_a.headers)
    ).status_code == 404
    listed = (await atendai_client.get("/api/v1/users/", headers=tenant_a.headers)).json()
    assert str(target) not in {u["id"] for u in listed}
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant_b.headers)).status_code == 200


async def test_deactivating_a_user_ends_their_sessions(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    operator = await invite_and_accept(atendai_client, admin, "operator")
    operator_id = (await atendai_client.get("/api/v1/users/me", headers=operator)).json()["user"]["id"]
    assert (await atendai_client.delete(f"/api/v1/users/{operator_id}", headers=admin.headers)).status_code == 204
    assert (await atendai_client.get("/api/v1/users/me", headers=operator)).status_code == 401


# --- API tokens -----------------------------------------------------------------------------------


async def test_api_tokens_are_shown_once_scoped_and_revocable(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "CRM sync", "permissions": ["example.note.read"]}, headers=admin.headers
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    token_id = created.json()["api_token"]["id"]
    assert secret.startswith("atd_") and created.json()["api_token"]["prefix"] == secret[:12]
    listed = (await atendai_client.get("/api/v1/api-tokens/", headers=admin.headers)).text
    assert secret not in listed

    integration = {"Authorization": f"Bearer {secret}"}
    assert (await atendai_client.get("/api/v1/example/notes/", headers=integration)).status_code == 200
    assert (
        await atendai_client.post("/api/v1/example/notes/", json={"title": "x"}, headers=integration)
    ).status_code == 403
    assert (await atendai_client.get("/api/v1/users/", headers=integration)).status_code == 403
    used = next(
        t
        for t in (await atendai_client.get("/api/v1/api-tokens/", headers=admin.headers)).json()
        if t["id"] == token_id
    )
    assert used["last_used_at"] is not None

    assert (await atendai_client.delete(f"/api/v1/api-tokens/{token_id}", headers=admin.headers)).status_code == 204
    assert (await atendai_client.get("/api/v1/example/notes/", headers=integration)).status_code == 401


async def test_an_api_token_cannot_exceed_its_creators_permissions(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    response = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "x", "permissions": ["platform.tenant.manage"]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["values"] == ["platform.tenant.manage"]


async def test_an_unknown_api_token_is_refused(atendai_client):
    response = await atendai_client.get("/api/v1/example/notes/", headers={"Authorization": "Bearer atd_nope"})
    assert response.status_code == 401


# --- problem details in the caller's language ----------------------------------------------------


@pytest.mark.parametrize(
    ("language", "title", "detail"),
    [
        ("pt-BR", "Acesso negado", "Você precisa da permissão kernel.user.write para isso."),
        ("en", "Forbidden", "You need the permission kernel.user.write for this."),
        ("es", "Acceso denegado", "Necesitas el permiso kernel.user.write para esto."),
    ],
)
async def test_problem_details_speak_the_users_language(atendai_client, make_tenant, language, title, detail):
    admin = await make_tenant(seed=False)
    operator = await invite_and_accept(atendai_client, admin, "operator")
    await atendai_client.patch("/api/v1/users/me", json={"language": language}, headers=operator)
    problem = (
        await atendai_client.post("/api/v1/users/", json={"email": "x@example.com", "role": "admin"}, headers=operator)
    ).json()
    assert (problem["title"], problem["detail"]) == (title, detail)


async def test_anonymous_problems_follow_accept_language(atendai_client):
    problem = (await atendai_client.get("/api/v1/nowhere", headers={"Accept-Language": "es-MX,es;q=0.9"})).json()
    assert problem["title"] == "No encontrado"
    problem = (await atendai_client.get("/api/v1/users/me", headers={"Accept-Language": "pt-BR"})).json()
    assert problem["title"] == "É preciso entrar na sua conta"


async def test_identity_changes_land_in_the_audit_trail_with_who_and_where(atendai_client, make_tenant):
    admin = await make_tenant(seed=False)
    await invite_and_accept(atendai_client, admin, "operator")
    await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "viewer", "name": "Viewer", "permissions": ["kernel.user.read"]},
        headers=admin.headers,
    )
    token = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "sync", "permissions": ["kernel.user.read"]}, headers=admin.headers
    )
    entries = (
        await atendai_client.get("/api/v1/audit/", headers={**admin.headers, "User-Agent": "audit-check"})
    ).json()
    items = entries["items"] if isinstance(entries, dict) else entries
    actions = [item["action"] for item in items]
    for expected in (
        "organization.created",
        "plugin.enabled",
        "user.invited",
        "user.invitation_accepted",
        "role.created",
        "api_token.created",
    ):
        assert expected in actions, expected
    created = next(item for item in items if item["action"] == "api_token.created")
    assert created["actor_label"] == admin.email
    assert token.json()["token"] not in str(items)
