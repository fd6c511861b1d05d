"""The ``atendai`` command against the test database."""

from __future__ import annotations

import secrets

import pytest
from click.testing import CliRunner

from kernel.cli import cli


@pytest.fixture
def run_cli(atendai_kernel, atendai_settings, tmp_path):
    env = {
        "DATABASE_URL": atendai_settings.database_url,
        "ATENDAI_DATA_DIR": str(tmp_path),
        "ATENDAI_SECRET_KEY": "cli-test",
        "ATENDAI_LOG_LEVEL": "WARNING",
    }

    def invoke(*args: str):
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        return result

    return invoke


def test_tenants_create_list_suspend_activate(run_cli):
    slug = f"cli-{secrets.token_hex(3)}"
    created = run_cli(
        "tenants", "create", "--slug", slug, "--name", "Padaria Pão Quente", "--admin-email", f"{slug}@example.com"
    )
    assert created.exit_code == 0, created.output
    assert f"Created organization {slug}" in created.output and "password: " in created.output
    assert "enabled plugins: example" in created.output

    listed = run_cli("tenants", "list")
    line = next(line for line in listed.output.splitlines() if line.startswith(slug))
    assert "active" in line and "Padaria Pão Quente" in line

    assert run_cli("tenants", "suspend", slug).exit_code == 0
    assert "suspended" in next(line for line in run_cli("tenants", "list").output.splitlines() if line.startswith(slug))
    assert run_cli("tenants", "activate", slug).exit_code == 0


def test_tenants_create_reports_bad_input_clearly(run_cli):
    result = run_cli("tenants", "create", "--slug", "Not Valid!", "--name", "X", "--admin-email", "x@example.com")
    assert result.exit_code == 1
    assert "Error: The slug must be" in result.output


def test_plugins_list_and_per_tenant_toggle(run_cli):
    slug = f"cli-{secrets.token_hex(3)}"
    run_cli("tenants", "create", "--slug", slug, "--name", "X", "--admin-email", f"{slug}@example.com")
    listed = run_cli("plugins", "list")
    assert listed.exit_code == 0
    assert any(line.startswith("example ") and "atendai-example-plugin" in line for line in listed.output.splitlines())

    assert run_cli("plugins", "disable", "example", "--tenant", slug).exit_code == 0
    state = run_cli("plugins", "list", "--tenant", slug).output
    assert any(line.startswith("example ") and " no " in line for line in state.splitlines())
    assert run_cli("plugins", "enable", "example", "--tenant", slug).exit_code == 0
    state = run_cli("plugins", "list", "--tenant", slug).output
    assert any(line.startswith("example ") and " yes " in line for line in state.splitlines())


def test_demo_is_idempotent_and_prints_the_login(run_cli, tmp_path):
    first = run_cli("demo")
    second = run_cli("demo")
    assert first.exit_code == second.exit_code == 0, first.output
    assert "login: admin@demo.atendai.local  password: " in second.output
    listed = run_cli("tenants", "list").output
    assert sum(1 for line in listed.splitlines() if line.startswith("demo ")) == 1


def test_migrate_is_a_no_op_at_heads_and_check_passes(run_cli):
    upgraded = run_cli("migrate")
    assert (
        upgraded.exit_code == 0 and "example example_0001" in upgraded.output and "kernel kernel_0" in upgraded.output
    )
    checked = run_cli("migrate", "--check")
    assert checked.exit_code == 0, checked.output
    assert "up to date" in checked.output


def test_db_shell_runs_one_statement_and_honours_rls_as_the_app(run_cli, capfd):
    owner = run_cli("db", "shell", "-c", "SELECT count(*) > 0 AS has_orgs FROM organizations")
    assert owner.exit_code == 0
    assert " t" in capfd.readouterr().out
    app = run_cli("db", "shell", "--as-app", "-c", "SELECT count(*) AS visible FROM organizations")
    assert app.exit_code == 0
    assert "     0" in capfd.readouterr().out
    failing = run_cli("db", "shell", "-c", "SELECT * FROM no_such_table")
    assert failing.exit_code != 0


def test_platform_admins_are_created_and_listed(run_cli):
    email = f"root-{secrets.token_hex(3)}@example.com"
    created = run_cli("admins", "create", "--email", email, "--password", "platform admin pw 1")
    assert created.exit_code == 0, created.output
    assert email in run_cli("admins", "list").output
    duplicate = run_cli("admins", "create", "--email", email.upper(), "--password", "platform admin pw 1")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output


def test_audit_verify_reports_every_chain_intact(run_cli):
    slug = f"cli-{secrets.token_hex(3)}"
    run_cli("tenants", "create", "--slug", slug, "--name", "X", "--admin-email", f"{slug}@example.com")
    run_cli("tenants", "suspend", slug)
    whole = run_cli("audit", "verify")
    assert whole.exit_code == 0, whole.output
    line = next(line for line in whole.output.splitlines() if line.startswith(slug))
    assert " ok " in line and "seq " in line
    one = run_cli("audit", "verify", "--tenant", slug)
    assert one.exit_code == 0 and one.output.startswith(slug)
