"""The app's own surface: probes, OpenAPI, problem details, request ids and structured logs."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_health_and_readiness(atendai_client):
    assert (await atendai_client.get("/healthz")).json() == {"status": "ok"}
    ready = await atendai_client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok" and body["checks"] == {"database": "ok"}
    assert body["database"]["server_version"] >= 150000
    assert body["database"]["unaccent"] and body["database"]["pg_trgm"]
    assert isinstance(body["database"]["leakproof_search"], bool)  # true when migrated by a superuser
    assert isinstance(body["database"]["pgvector"], bool)  # optional: PostgreSQL 15 in CI may lack it


async def test_openapi_lists_kernel_and_plugin_routes_with_an_interactive_renderer(atendai_client):
    spec = (await atendai_client.get("/schema/openapi.json")).json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert "/api/v1/example/notes/{note_id}" in spec["paths"]
    assert not any(path.startswith("/app/") for path in spec["paths"])
    assert "BearerToken" in spec["components"]["securitySchemes"]
    for renderer in ("/schema/scalar", "/schema/swagger"):
        page = await atendai_client.get(renderer)
        assert page.status_code == 200 and "<html" in page.text.lower()


async def test_unknown_path_is_a_problem_document(atendai_client):
    response = await atendai_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith("/not-found") and body["status"] == 404 and body["instance"] == "/api/v1/nothing-here"


async def test_wrong_method_is_a_problem_document(atendai_client):
    response = await atendai_client.put("/healthz")
    assert response.status_code == 405
    assert response.json()["type"].endswith("/method-not-allowed")


async def test_invalid_body_lists_field_errors(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await atendai_client.post("/api/v1/example/notes/", json={"body": 3}, headers=tenant.headers)
    assert response.status_code == 400
    problem = response.json()
    assert problem["errors"] and problem["errors"][0]["source"] == "body"
    assert "Traceback" not in response.text


async def test_service_validation_is_a_422_with_the_field(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await atendai_client.post("/api/v1/example/notes/", json={"title": "   "}, headers=tenant.headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "title", "message": "required"}]


async def test_missing_or_forged_token_is_401(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    assert (await atendai_client.get("/api/v1/example/notes/")).status_code == 401
    forged = tenant.token[:-4] + ("AAAA" if not tenant.token.endswith("AAAA") else "BBBB")
    response = await atendai_client.get("/api/v1/example/notes/", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_wrong_password_is_refused_without_saying_which_part_was_wrong(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    wrong = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": "nope nope nope"})
    unknown = await atendai_client.post("/api/v1/auth/login", json={"email": "who@example.com", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["title"] == unknown.json()["title"]


async def test_request_id_is_echoed_or_generated(atendai_client):
    echoed = await atendai_client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await atendai_client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32


async def test_logs_are_json_lines_with_request_and_tenant(atendai_client, make_tenant, capsys):
    from kernel.logs import configure_logging

    tenant = await make_tenant(seed=False)
    configure_logging("INFO", json=True)
    try:
        capsys.readouterr()
        await atendai_client.get("/api/v1/example/notes/", headers={**tenant.headers, "X-Request-ID": "log-check-1"})
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging("WARNING", json=False)
    request_line = next(line for line in lines if line.get("event") == "request")
    assert request_line["request_id"] == "log-check-1"
    assert request_line["tenant_id"] == str(tenant.tenant_id)
    assert request_line["status"] == 200 and request_line["path"].rstrip("/") == "/api/v1/example/notes"


async def test_the_root_page_points_at_the_api_in_the_browsers_language(atendai_client):
    page = await atendai_client.get("/", headers={"Accept-Language": "es"})
    assert page.status_code == 200 and 'href="/schema"' in page.text
    assert "El servidor está funcionando." in page.text


async def test_http_errors_are_translated_too(atendai_client):
    problem = (await atendai_client.put("/healthz", headers={"Accept-Language": "pt-BR"})).json()
    assert problem["title"] == "Método não permitido"
