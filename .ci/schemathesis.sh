#!/usr/bin/env bash
# Schema-driven fuzzing of the /v1 API with schemathesis, once on SQLite and once on PostgreSQL.
# Usage: .ci/schemathesis.sh [path/to/lc-webhooks]   (default target/release/lc-webhooks)
# Every check, every phase: the document states each rule the API enforces (patterns for names, emails,
# secrets, timestamps; ranges; closed objects), so schema-valid input is accepted. An id that names nothing
# is a 409 (valid input the current state refuses), which positive_data_acceptance expects. The one rule
# JSON Schema cannot state (tiers' counts strictly increasing) is named in .ci/schemathesis.toml.
set -euo pipefail

ST_VERSION=4.32.5
script=$(realpath "$0")
root=$(dirname "$(dirname "$script")")
bin=$(realpath -m "${1:-$root/target/release/lc-webhooks}")
venv=$(realpath -m "${SCHEMATHESIS_VENV:-$root/target/schemathesis-venv}")
max_time=${SCHEMATHESIS_MAX_TIME:-90}
pg_socket=${LC_ST_PG_SOCKET:-/var/run/postgresql}
[[ -x $bin ]] || { echo "no executable at $bin (build it with cargo build --release)" >&2; exit 1; }

if [[ -z ${LC_ST_IN_NETNS:-} ]]; then
  if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $ST_VERSION" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
  fi
  # Fuzzed integration URLs make the service send webhooks anywhere: run where only loopback exists.
  exec unshare --net env LC_ST_IN_NETNS=1 SCHEMATHESIS_VENV="$venv" bash "$script" "$bin"
fi
ip link set lo up
# A proxy set in the environment is unreachable in here; curl and schemathesis must talk to the service directly.
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
token=$(random_hex 16)
tmp=$(mktemp -d)
svc=""
db=""
cleanup() {
  if [[ -n $svc ]]; then kill "$svc" 2>/dev/null || true; wait "$svc" 2>/dev/null || true; fi
  # The PostgreSQL socket is a file, so it is reachable from inside the network namespace.
  if [[ -n $db ]]; then psql -h "$pg_socket" -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_service() {
  kill -TERM "$svc" 2>/dev/null || true
  wait "$svc" || true
  svc=""
}

wait_healthy() { # port log
  local deadline=$((SECONDS + 30)) why
  until curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$1/healthz"; do
    why=""
    ((SECONDS < deadline)) || why="did not answer GET /healthz with 200 within 30 s"
    kill -0 "$svc" 2>/dev/null || why="exited before GET /healthz answered 200"
    if [[ -n $why ]]; then
      echo "lc-webhooks $why; its log:" >&2
      cat "$2" >&2
      return 1
    fi
    sleep 0.2
  done
}

# Called in an `||` list, where `set -e` does not apply: every step that can fail returns by itself.
run_store() {
  local store=$1 dir="$tmp/$1" url port status=0
  mkdir -p "$dir"
  if [[ $store == sqlite ]]; then
    url="sqlite://$dir/st.db"
  else
    db="lc_st_$(random_hex 6)"
    psql -h "$pg_socket" -U postgres -qc "CREATE DATABASE $db" || return 1
    url="postgres://postgres@localhost/$db?host=$pg_socket"
  fi
  port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || return 1
  DATABASE_URL=$url LC_LISTEN=127.0.0.1:$port LC_ADMIN_TOKEN=$token LC_RETRY_SCHEDULE=100ms LC_HTTP_TIMEOUT=1s \
    NO_COLOR=1 "$bin" >"$dir/service.log" 2>&1 &
  svc=$!
  wait_healthy "$port" "$dir/service.log" || { stop_service; return 1; }

  # Run from the scratch folder: schemathesis and Hypothesis write .schemathesis/ and .hypothesis/ to the cwd.
  (cd "$dir" && timeout -k 10 $((max_time + 30)) "$venv/bin/schemathesis" --config-file "$root/.ci/schemathesis.toml" \
    run "http://127.0.0.1:$port/openapi.json" \
    --phases examples,coverage,fuzzing,stateful \
    --checks all \
    -H "Authorization: Bearer $token" \
    --max-examples 50 --max-time "$max_time" --request-timeout 5 \
    --seed "${SCHEMATHESIS_SEED:-1}" --generation-database none --workers 1 --no-color) || status=$?

  stop_service
  if ((status != 0)); then
    echo "schemathesis exited with $status on $store; the service's errors, then the end of its log:" >&2
    grep -E ' (ERROR|WARN) ' "$dir/service.log" | grep -v 'delivery failed: every attempt' | tail -n 40 >&2 || true
    tail -n 10 "$dir/service.log" >&2
  fi
  return "$status"
}

failed=()
for store in sqlite postgres; do
  echo "=== schemathesis against lc-webhooks on $store"
  run_store "$store" || failed+=("$store")
done
if ((${#failed[@]})); then
  echo "API fuzzing failed on: ${failed[*]}" >&2
  exit 1
fi
echo "API fuzzing passed on sqlite and postgres"
