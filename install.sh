#!/usr/bin/env bash
# Atendai installer: one script to set up, run, and test.
#
#   ./install.sh          set up .venv, migrate the embedded database, create the demo, and serve
#   ./install.sh test     set up .venv with test tools and run the whole test suite
#   ./install.sh setup    only set up .venv
#   ./install.sh --help   this text
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${ATENDAI_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
TEST_SERVER_URL="${ATENDAI_TEST_SERVER_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"

usage() {
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
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

run_tests() {
  setup_venv "test"
  install_example_plugin
  cd "$ROOT"
  log "Lint (ruff)"
  "$VENV/bin/ruff" check kernel plugins webui tests examples bench
  "$VENV/bin/ruff" format --check kernel plugins webui tests examples bench
  log "Tests on the embedded PostgreSQL 18"
  env -u ATENDAI_TEST_DATABASE_URL "$PY" -m pytest "$@"
  if postgres_server_answers; then
    log "Tests again on the PostgreSQL server at ${TEST_SERVER_URL%%\?*}"
    ATENDAI_TEST_DATABASE_URL="$TEST_SERVER_URL" "$PY" -m pytest "$@"
  else
    log "No PostgreSQL server answers at $TEST_SERVER_URL; the server pass is skipped"
  fi
}

main() {
  local command="${1:-run}"
  case "$command" in
    run) run_app ;;
    test) shift; run_tests "$@" ;;
    setup) setup_venv "test"; install_example_plugin ;;
    -h|--help|help) usage ;;
    *) usage; die "unknown command: $command" ;;
  esac
}

main "$@"
