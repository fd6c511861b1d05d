"""Migrations: every branch at its head, models and migrations in agreement, and the check is not hollow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kernel.db import migrate


def test_every_branch_is_at_its_head_and_matches_the_models(atendai_kernel):
    plan = atendai_kernel.migration_plan()
    assert migrate.pending_heads(plan) == []
    assert migrate.heads_by_branch(plan)["example"] == "example_0001"
    assert migrate.heads_by_branch(plan)["kernel"].startswith("kernel_")
    migrate.check(plan)


def test_check_fails_when_a_model_has_no_migration(atendai_kernel, tmp_path):
    (tmp_path / "stray_models.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy.orm import Mapped, mapped_column
            from kernel.sdk import Base, TenantScoped

            class Stray(TenantScoped, Base):
                __tablename__ = "stray_things"
                label: Mapped[str] = mapped_column()
            """
        )
    )
    installed = "".join(f"{spec!r}, " for spec in atendai_kernel.registry.migrations.values())
    script = textwrap.dedent(
        f"""
        import sys
        from dataclasses import replace
        from kernel.db import migrate
        from kernel.sdk import MigrationSpec
        plan = migrate.MigrationPlan(owner_url={atendai_kernel.db.urls.owner!r}, app_role="atendai_app", app_password=None,
            plugins=({installed}
                     MigrationSpec("stray", "atendai_example:migrations/versions", "stray_models")))
        try:
            migrate.check(plan)
        except migrate.MigrationsOutOfDate as exc:
            print(exc)
            sys.exit(3)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": ""}
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert "models and migrations disagree" in result.stdout
    assert "stray_things" in result.stdout


@pytest.mark.parametrize("branch", ["example"])
def test_a_plugin_branch_downgrades_and_upgrades_cleanly(atendai_kernel, branch):
    plan = atendai_kernel.migration_plan()
    migrate.downgrade(plan, f"{branch}@base")
    assert migrate.pending_heads(plan) == [f"{branch}_0001"]
    migrate.upgrade(plan)
    assert migrate.pending_heads(plan) == []
