"""The production files agree with each other: compose, the image and the installer's generated .env.

No Docker engine is needed: the files are parsed, and ``install.sh --docker`` runs against a stand-in
``docker`` command that records what it was asked to do.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
INSTALL = ROOT / "install.sh"
SERVICES = {"app", "worker", "postgres", "redis", "evolution-api"}
# ``${NAME}``, ``${NAME:?message}``, ``${NAME:-default}``; ``$${NAME}`` is the container's own variable.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY$")
CREDENTIALS_IN_URL = re.compile(r"://[^/@\s:]+:([^@\s]+)@")
WHOLE_INTERPOLATION = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::[?-][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def _env_file_variables() -> set[str]:
    """The variables ``install.sh --docker`` writes into ``.env`` (the lines of its heredoc)."""
    text = INSTALL.read_text()
    heredoc = re.search(r"cat >\.env <<ENV\n(.*?)\nENV\n", text, flags=re.S)
    assert heredoc, "install.sh writes .env from a heredoc"
    return set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", heredoc.group(1), flags=re.M))


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


# -- docker-compose.yml ----------------------------------------------------------------------------


def test_the_five_services_exist(services):
    assert set(services) == SERVICES


def test_app_and_worker_run_the_same_image_built_from_this_repository(services):
    app, worker = services["app"], services["worker"]
    assert app["build"] == worker["build"] == "."
    assert app["image"] == worker["image"]
    assert app["env_file"] == worker["env_file"] == ".env"
    assert app["command"] == ["atendai", "serve", "--host", "0.0.0.0"]
    assert worker["command"] == ["atendai", "worker"]
    assert _environment(app)["ATENDAI_ENV"] == _environment(worker)["ATENDAI_ENV"] == "production"


def test_only_the_app_migrates_and_the_worker_waits_for_it(services):
    assert _environment(services["app"])["ATENDAI_AUTO_MIGRATE"] == "true"
    assert _environment(services["worker"])["ATENDAI_AUTO_MIGRATE"] == "false"
    assert services["worker"]["depends_on"]["app"] == {"condition": "service_healthy"}


def test_app_and_worker_get_every_setting_they_need(services):
    needed = {
        "DATABASE_URL",
        "ATENDAI_DB_APP_PASSWORD",
        "REDIS_URL",
        "ATENDAI_SECRET_KEY",
        "ATENDAI_SECRETS_KEYS",
        "ATENDAI_PUBLIC_URL",
    }
    for name in ("app", "worker"):
        env = _environment(services[name])
        assert needed <= set(env), name
        assert all(INTERPOLATION.findall(env[key]) == [key] for key in needed), "each comes from .env"


def test_every_service_has_a_healthcheck(services):
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name


def test_python_healthchecks_are_valid_python(services):
    for name, service in services.items():
        test = service["healthcheck"]["test"]
        if isinstance(test, list) and "python" in test and "-c" in test:
            compile(test[test.index("-c") + 1], f"<{name} healthcheck>", "exec")


def test_app_and_worker_wait_for_healthy_postgres_and_redis(services):
    for name in ("app", "worker", "evolution-api"):
        depends = services[name]["depends_on"]
        for dependency in ("postgres", "redis"):
            assert depends[dependency] == {"condition": "service_healthy"}, (name, dependency)


def test_the_images_are_the_ones_documented(services):
    assert services["postgres"]["image"] == "pgvector/pgvector:pg17"
    assert services["redis"]["image"] == "redis:7-alpine"
    assert services["evolution-api"]["image"].startswith("evoapicloud/evolution-api:v2.")
    assert "--appendonly" in services["redis"]["command"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_every_variable_compose_reads_is_one_install_sh_writes():
    used = set(INTERPOLATION.findall(COMPOSE.read_text()))
    written = _env_file_variables()
    assert used, "compose reads its secrets from .env"
    assert used - written == set()


def test_no_secret_is_written_in_the_compose_file(services):
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert WHOLE_INTERPOLATION.fullmatch(value), (name, key, "a secret comes from .env")
            password = CREDENTIALS_IN_URL.search(value)
            if password:
                assert password.group(1).startswith("${"), (name, key)
    assert "EVOLUTION_API_KEY" in _environment(services["evolution-api"])["AUTHENTICATION_API_KEY"]


def test_every_named_volume_is_declared_and_data_is_kept(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for service in services.values():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert used and used <= declared
    mounts = {name: " ".join(service.get("volumes") or []) for name, service in services.items()}
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert ":/data" in mounts["redis"]
    assert "/evolution/instances" in mounts["evolution-api"]


def test_the_gateway_database_is_created_on_first_start(compose, services):
    config = services["postgres"]["configs"][0]
    assert config["target"].startswith("/docker-entrypoint-initdb.d/")
    assert "CREATE DATABASE evolution" in compose["configs"][config["source"]]["content"]
    assert "/evolution?" in _environment(services["evolution-api"])["DATABASE_CONNECTION_URI"]


# -- Dockerfile ------------------------------------------------------------------------------------


def _dockerfile_stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text()).splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            stages.append([])
        if stages and line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_on_slim_python():
    stages = _dockerfile_stages()
    assert len(stages) >= 2
    assert all(re.match(r"FROM python:\$\{PYTHON_VERSION\}-slim|FROM python:3\.1[12]-slim", s[0]) for s in stages)
    assert re.search(r"^ARG PYTHON_VERSION=3\.1[12]$", DOCKERFILE.read_text(), flags=re.M)
    build = " ".join(stages[0])
    assert "pip install ." in build and "python -m kernel.i18n compile" in build


def test_the_image_runs_as_a_non_root_user_with_health_and_port():
    final = _dockerfile_stages()[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0", "0:0")
    assert "EXPOSE 8000" in final
    healthcheck = next(line for line in final if line.startswith("HEALTHCHECK "))
    assert "/healthz" in healthcheck and "urllib" in healthcheck and "curl" not in healthcheck
    cmd = next(line for line in final if line.startswith("CMD "))
    assert cmd == 'CMD ["atendai", "serve", "--host", "0.0.0.0"]'


def test_the_build_context_leaves_out_secrets_and_local_state():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore, "everything is left out unless listed"
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert {"pyproject.toml", "README.md", "kernel", "plugins", "webui"} <= included
    assert not included & {".env", "data", ".venv", ".git", "tests"}


# -- install.sh --------------------------------------------------------------------------------------


def test_install_sh_parses_and_its_help_mentions_docker():
    subprocess.run(["bash", "-n", str(INSTALL)], check=True)
    help_text = subprocess.run([str(INSTALL), "--help"], check=True, capture_output=True, text=True).stdout
    assert "--docker" in help_text


FAKE_DOCKER = """#!/usr/bin/env bash
echo "$*" >>"$FAKE_DOCKER_LOG"
case "$*" in
  "compose ps -q app") echo 0123456789ab ;;
  inspect*) echo healthy ;;
esac
"""


@pytest.fixture
def docker_install(tmp_path):
    """``install.sh --docker`` in a copy of the repository's root, with a stand-in ``docker``."""
    root = tmp_path / "atendai"
    root.mkdir()
    shutil.copy(INSTALL, root / "install.sh")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    log = tmp_path / "docker.log"

    def run(**env: str) -> subprocess.CompletedProcess[str]:
        inherited = {k: v for k, v in os.environ.items() if k not in ("ATENDAI_PUBLIC_URL", "ATENDAI_ADMIN_EMAIL")}
        environment = {
            **inherited,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DOCKER_LOG": str(log),
            **env,
        }
        return subprocess.run(
            ["bash", str(root / "install.sh"), "--docker"], env=environment, capture_output=True, text=True, timeout=120
        )

    return root, log, run


def _read_env(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )


def test_install_docker_writes_a_private_env_with_fresh_secrets_and_starts(docker_install):
    root, log, run = docker_install
    result = run(ATENDAI_PUBLIC_URL="https://chat.example.com", ATENDAI_ADMIN_EMAIL="owner@example.com")
    assert result.returncode == 0, result.stderr

    env_file = root / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = _read_env(env_file)
    assert set(values) == _env_file_variables()
    assert values["ATENDAI_PUBLIC_URL"] == "https://chat.example.com"
    Fernet(values["ATENDAI_SECRETS_KEYS"])  # a valid Fernet key
    assert values["DATABASE_URL"] == f"postgresql://atendai:{values['POSTGRES_PASSWORD']}@postgres:5432/atendai"
    secrets = [values[k] for k in ("POSTGRES_PASSWORD", "ATENDAI_DB_APP_PASSWORD", "ATENDAI_SECRET_KEY")]
    assert len(set(secrets)) == 3 and all(len(value) >= 32 for value in secrets)
    assert re.fullmatch(r"[0-9a-f]{48}", values["POSTGRES_PASSWORD"])  # safe inside a URL

    calls = log.read_text().splitlines()
    assert "compose up -d --build" in calls
    assert "compose exec -T app atendai admins create --email owner@example.com" in calls


def test_install_docker_keeps_an_existing_env(docker_install):
    root, _log, run = docker_install
    assert run().returncode == 0
    first = (root / ".env").read_text()
    assert _read_env(root / ".env")["ATENDAI_PUBLIC_URL"] == "http://localhost:8000"
    second = run()
    assert second.returncode == 0, second.stderr
    assert (root / ".env").read_text() == first
    assert "Keeping the existing .env" in second.stderr
    assert "atendai admins create --email you@example.com" in second.stderr
