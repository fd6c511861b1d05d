"""The hook reference documents every hook under its exact signature (and nothing that is not a hook)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from kernel import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS_DOC = ROOT / "docs" / "plugins" / "hooks.md"


def _specs() -> dict[str, str]:
    specs = {}
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "atendai_spec"):
            specs[name] = f"{name}({', '.join(inspect.signature(fn).parameters)})"
    return specs


def test_every_hook_is_documented_under_its_signature():
    documented = set(re.findall(r"^### `([^`]+)`\s*$", HOOKS_DOC.read_text(), flags=re.M))
    expected = set(_specs().values())
    assert expected - documented == set(), "hooks missing from docs/plugins/hooks.md"
    assert {d for d in documented if "(" in d} - expected == set(), "documented hooks that do not exist"


def test_the_docs_the_readme_points_to_exist():
    for page in ("architecture.md", "configuration.md", "plugins/hooks.md", "plugins/writing-a-plugin.md"):
        assert (ROOT / "docs" / page).is_file(), page


def test_every_setting_is_documented():
    from kernel.config import ENV_NAMES

    text = (ROOT / "docs" / "configuration.md").read_text()
    assert [env for env in ENV_NAMES.values() if env not in text] == []
