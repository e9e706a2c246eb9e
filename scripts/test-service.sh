# Sourced by the runners that test clients against the real binary
# (tests/openfeature/run, sdks/python/run, sdks/kotlin/run).
#
#   start_test_service LABEL ADMIN_TOKEN
#     builds target/debug/feature-flags if missing, starts it on a free
#     loopback port with a scratch SQLite database and waits until it is
#     ready (TEST_SERVICE_DATABASE_URL, when set, names another database,
#     e.g. a scratch PostgreSQL one); sets $url, $work (a scratch directory) and $server_pid, and stops
#     the service and removes $work on exit.
#   new_test_key ADMIN_TOKEN NAME KIND ENVIRONMENT
#     creates an API key through the admin API and prints its secret.
#   dump_test_service_log [LINES]
#     prints the end of the service's log (for a failure's report).

start_test_service() {
  local label="$1" admin_token="$2" root port
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local bin="$root/target/debug/feature-flags"
  if [ ! -x "$bin" ]; then
    echo "== building $bin"
    (cd "$root" && cargo build -p feature-flags)
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  url="http://127.0.0.1:$port"
  work="$(mktemp -d)"
  server_pid=""
  trap stop_test_service EXIT
  echo "== $label: starting the service on $url"
  DATABASE_URL="${TEST_SERVICE_DATABASE_URL:-sqlite://$work/flags.db}" FEATURE_FLAGS_ADMIN_TOKEN="$admin_token" RUST_LOG=warn \
    "$bin" serve --bind 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    curl -fs "$url/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "the service did not become ready; its log:" >&2
  cat "$work/server.log" >&2
  exit 1
}

stop_test_service() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -n "${work:-}" ] && rm -rf "$work"
}

new_test_key() {
  curl -sS --fail-with-body -X POST "$url/api/v1/api-keys" \
    -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"name\": \"$2\", \"kind\": \"$3\", \"environment\": \"$4\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}

dump_test_service_log() {
  echo "the service's log:" >&2
  tail -"${1:-50}" "$work/server.log" >&2
}
