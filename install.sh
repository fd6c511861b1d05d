#!/usr/bin/env bash
# Atendai installer: one script to set up, run, and test.
#
#   ./install.sh          set up .venv, migrate the embedded database, create the demo, and serve
#   ./install.sh test     set up .venv with test tools and run the whole test suite
#   ./install.sh setup    only set up .venv
#   ./install.sh --docker production with Docker Compose: write .env with generated secrets, build, start
#   ./install.sh --help   this text
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${ATENDAI_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
TEST_SERVER_URL="${ATENDAI_TEST_SERVER_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
TEST_REDIS_URL="${ATENDAI_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

log() { printf '\033[35m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  die "Python 3.11 or newer is needed (found none on PATH)"
}

setup_venv() {
  local extras="$1"
  if [ ! -x "$PY" ]; then
    log "Creating $VENV"
    "$(find_python)" -m venv "$VENV"
  fi
  log "Installing Atendai${extras:+ with $extras}"
  "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT${extras:+[$extras]}"
  "$PY" -m kernel.i18n compile >/dev/null
}

install_example_plugin() {
  log "Installing the example plugin"
  "$PY" -m pip install --quiet --disable-pip-version-check -e "$ROOT/examples/atendai-example-plugin"
}

run_app() {
  setup_venv ""
  cd "$ROOT"
  log "Preparing the embedded database (data in ${ATENDAI_DATA_DIR:-./data})"
  "$VENV/bin/atendai" migrate
  "$VENV/bin/atendai" demo
  log "Open http://${ATENDAI_HOST:-127.0.0.1}:${ATENDAI_PORT:-8000} (Ctrl+C stops the app and its database)"
  exec "$VENV/bin/atendai" serve
}

postgres_server_answers() {
  "$PY" - "$TEST_SERVER_URL" <<'PY'
import sys
import psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception:
    sys.exit(1)
PY
}

redis_answers() {
  "$PY" - "$TEST_REDIS_URL" <<'PY'
import sys
import redis
try:
    redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()
except Exception:
    sys.exit(1)
PY
}

# The tests talk to a real Redis (queues, channels, shared stores): start one when none answers.
ensure_redis() {
  redis_answers && return 0
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      log "Installing redis-server"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
      die "the tests need a Redis at $TEST_REDIS_URL: install redis-server or set ATENDAI_TEST_REDIS_URL"
    fi
  fi
  log "Starting a Redis for the tests on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis_answers && return 0; sleep 0.1; done
  die "Redis did not start"
}

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
ensure_chromium() {
  [ -x "${ATENDAI_CHROMIUM:-/usr/bin/chromium}" ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    log "Installing Debian's chromium for the browser tests"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    die "the browser tests need Chromium at /usr/bin/chromium (apt-get install chromium) or ATENDAI_CHROMIUM"
  fi
}

run_tests() {
  setup_venv "test"
  install_example_plugin
  cd "$ROOT"
  ensure_redis
  ensure_chromium
  export ATENDAI_TEST_REDIS_URL="$TEST_REDIS_URL"
  log "Lint (ruff)"
  "$VENV/bin/ruff" check kernel plugins webui tests examples bench
  "$VENV/bin/ruff" format --check kernel plugins webui tests examples bench
  # Parallel test processes, each with a database (and a Redis database) of its own: at most four.
  local workers="${ATENDAI_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}"
  [ "$workers" -gt 4 ] && workers=4
  log "Tests on the embedded PostgreSQL 18 ($workers processes)"
  env -u ATENDAI_TEST_DATABASE_URL "$PY" -m pytest -n "$workers" "$@"
  if postgres_server_answers; then
    # The browser tests ran above; they test pages, not the database, so this pass leaves them out.
    log "Tests again on the PostgreSQL server at ${TEST_SERVER_URL%%\?*} (browser tests excepted)"
    ATENDAI_TEST_DATABASE_URL="$TEST_SERVER_URL" "$PY" -m pytest -n "$workers" -m "not e2e" "$@"
  else
    log "No PostgreSQL server answers at $TEST_SERVER_URL; the server pass is skipped"
  fi
}

# Production with Docker Compose (docker-compose.yml, docs/deployment.md). Writes .env only when it is
# missing, so running this again keeps the secrets (and the data they unlock). Set ATENDAI_PUBLIC_URL to
# the address users will reach, and ATENDAI_ADMIN_EMAIL to create the first platform admin.
run_docker() {
  command -v docker >/dev/null 2>&1 || die "Docker is needed for --docker: https://docs.docker.com/engine/install/"
  docker compose version >/dev/null 2>&1 || die "the Docker Compose plugin (docker compose, 2.23 or newer) is needed"
  cd "$ROOT"
  if [ -f .env ]; then
    log "Keeping the existing .env"
  else
    log "Writing .env with generated secrets (keep it private, and back it up with the database)"
    local postgres_password app_password secret_key secrets_key evolution_key
    postgres_password="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    app_password="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    secret_key="$(head -c 48 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_')"
    # A Fernet key: 32 random bytes, url-safe base64 with its padding.
    secrets_key="$(head -c 32 /dev/urandom | base64 | tr -d '\n' | tr '+/' '-_')"
    evolution_key="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    (
      umask 077
      cat >.env <<ENV
# Written by ./install.sh --docker on $(date -u +%Y-%m-%dT%H:%M:%SZ). Secrets: never commit this file.
ATENDAI_PUBLIC_URL=${ATENDAI_PUBLIC_URL:-http://localhost:8000}
POSTGRES_USER=atendai
POSTGRES_PASSWORD=$postgres_password
POSTGRES_DB=atendai
DATABASE_URL=postgresql://atendai:$postgres_password@postgres:5432/atendai
ATENDAI_DB_APP_PASSWORD=$app_password
REDIS_URL=redis://redis:6379/0
ATENDAI_SECRET_KEY=$secret_key
# Fernet keys for stored secrets, newest first (rotation: docs/deployment.md).
ATENDAI_SECRETS_KEYS=$secrets_key
EVOLUTION_API_KEY=$evolution_key
ENV
    )
  fi
  log "Building the image and starting the containers"
  docker compose up -d --build
  log "Waiting for the app to be healthy (it migrates the database first)"
  local status tries=0
  while :; do
    status="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' \
      "$(docker compose ps -q app)" 2>/dev/null || true)"
    [ "$status" != healthy ] || break
    tries=$((tries + 1))
    [ "$tries" -lt 120 ] || die "the app did not become healthy in 6 minutes; see: docker compose logs app"
    sleep 3
  done
  if [ -n "${ATENDAI_ADMIN_EMAIL:-}" ]; then
    docker compose exec -T app atendai admins create --email "$ATENDAI_ADMIN_EMAIL" ||
      log "No admin created (it may exist already): docker compose exec app atendai admins list"
  else
    log "Create the first platform admin (its password is printed):"
    log "  docker compose exec app atendai admins create --email you@example.com"
  fi
  log "Atendai is up at ${ATENDAI_PUBLIC_URL:-$(sed -n 's/^ATENDAI_PUBLIC_URL=//p' .env)} (local port 127.0.0.1:8000)"
  log "A demo organization to try it: docker compose exec app atendai demo"
}

main() {
  local command="${1:-run}"
  case "$command" in
    run) run_app ;;
    test) shift; run_tests "$@" ;;
    setup) setup_venv "test"; install_example_plugin ;;
    --docker|docker) run_docker ;;
    -h|--help|help) usage ;;
    *) usage; die "unknown command: $command" ;;
  esac
}

main "$@"
