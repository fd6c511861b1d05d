"""docs/api.md lists exactly the endpoints the app serves, with who may call each."""

from __future__ import annotations

import os
from pathlib import Path

from kernel.web.apidocs import render_api_reference

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_api_reference_matches_the_app(atendai_app):
    rendered = render_api_reference(atendai_app)
    if os.environ.get("ATENDAI_UPDATE_DOCS") == "1":
        API_DOC.write_text(rendered)
    assert API_DOC.read_text() == rendered, "docs/api.md is stale: rerun this test with ATENDAI_UPDATE_DOCS=1"
    assert "| `POST` | `/api/v1/auth/login` |" in rendered and "kernel.user.write" in rendered
