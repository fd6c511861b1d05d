"""``docs/api.md`` from the app itself: every endpoint with its summary and who may call it.

The test suite compares the file with what the app serves and fails when they differ; regenerate
with ``ATENDAI_UPDATE_DOCS=1 ./install.sh test -k api_reference`` (or the test alone).
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.routes import HTTPRoute

from kernel.rbac.guard import route_access

__all__ = ["render_api_reference"]

HEADER = """# API reference

Generated from the running app (`kernel/web/apidocs.py`); the live, interactive version with request
and response schemas is at `/schema` (Scalar) and `/schema/swagger`, the raw spec at
`/schema/openapi.json`.

Authentication: `Authorization: Bearer <access token>` (from `POST /api/v1/auth/login`), or
`Authorization: Bearer atd_...` (an API token), or the browser's session cookie with the
`X-CSRF-Token` header on changes. Errors are RFC 9457 problem details (`application/problem+json`).

**Access** says who may call a route: `public` (no token), `authenticated` (any signed-in caller), or
the permission needed. Routes of a plugin answer `403` (`plugin-disabled`) to an organization that has
not enabled it.
"""


def render_api_reference(app: Litestar) -> str:
    spec = app.openapi_schema.to_schema()
    summaries: dict[tuple[str, str], str] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            summaries[(path, method.upper())] = operation.get("summary") or ""
    sections: dict[str, list[str]] = {}
    for route in sorted(app.routes, key=lambda r: r.path):
        if not isinstance(route, HTTPRoute) or not (
            route.path.startswith("/api/") or route.path in ("/healthz", "/readyz")
        ):
            continue
        openapi_path = _openapi_path(route.path)
        for method, (handler, _) in sorted(route.route_handler_map.items()):
            if method in ("OPTIONS", "HEAD"):
                continue
            section = _section(route.path)
            access = route_access(handler) or "closed"
            summary = summaries.get((openapi_path, method), "")
            sections.setdefault(section, []).append(f"| `{method}` | `{openapi_path}` | {summary} | {access} |")
    lines = [HEADER]
    for section, rows in sections.items():
        lines += [f"## {section}", "", "| method | path | what | access |", "|---|---|---|---|", *rows, ""]
    return "\n".join(lines).rstrip() + "\n"


def _openapi_path(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def _section(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"] and len(parts) > 2:
        return parts[2]
    return "operations"
