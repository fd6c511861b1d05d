"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Response, Template
from sqlalchemy import text

from kernel.auth.middleware import PUBLIC
from kernel.i18n.catalogs import translator


@get("/healthz", opt={PUBLIC: True}, tags=["operations"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", opt={PUBLIC: True}, tags=["operations"], summary="The process can serve: the database answers")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    kernel = request.app.state.kernel
    checks: dict[str, str] = {}
    try:
        async with kernel.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # the probe reports any failure instead of raising it
        checks["database"] = f"error: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body: dict[str, Any] = {"status": "ok" if ready else "unavailable", "checks": checks}
    capabilities = kernel.state.get("capabilities")
    if capabilities is not None:
        body["database"] = capabilities.as_dict()
    return Response(body, status_code=200 if ready else 503)


@get("/", opt={PUBLIC: True}, include_in_schema=False, name="welcome")
async def welcome(request: Request[Any, Any, Any]) -> Template:
    """The root page: where the API reference and the status are."""
    current = translator()
    return Template(template_name="welcome.html", context={"language": current.language if current else "pt-BR"})
