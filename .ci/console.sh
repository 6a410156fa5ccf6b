#!/usr/bin/env bash
# Headless-browser test of the web console (Debian's chromium + the playwright PyPI package; no browser
# download), with an accessibility check by axe-core (from the npm registry, into target/axe).
# Usage: LC_BIN=path/to/lc-webhooks .ci/console.sh   (default target/release/lc-webhooks)
set -euo pipefail
PW_VERSION=1.49.1
AXE_VERSION=4.14.1
cd "$(dirname "$0")/.."
root=$PWD
bin=$(realpath -m "${LC_BIN:-$root/target/release/lc-webhooks}")
venv=$root/target/console-venv
[[ -x $bin ]] || { echo "no executable at $bin" >&2; exit 1; }

if [[ ! -x /usr/bin/chromium && $(id -u) == 0 ]]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null || true
fi
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ ${CI:-} == true ]]; then echo "console test: /usr/bin/chromium is missing and could not be installed" >&2; exit 1; fi
  echo "console test: skipping, /usr/bin/chromium is missing"; exit 0
fi
if [[ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null)" != "$PW_VERSION" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "playwright==$PW_VERSION"
fi
axe_dir=$root/target/axe
axe_js=$axe_dir/node_modules/axe-core/axe.min.js
if [[ "$(node -p "require('$axe_dir/node_modules/axe-core/package.json').version" 2>/dev/null)" != "$AXE_VERSION" ]]; then
  if ! command -v npm >/dev/null 2>&1; then
    if [[ ${CI:-} == true ]]; then echo "console test: npm is missing, so axe-core cannot be installed" >&2; exit 1; fi
    echo "console test: skipping, npm is missing (needed for axe-core)"; exit 0
  fi
  npm install --prefix "$axe_dir" --no-audit --no-fund --no-save --silent "axe-core@$AXE_VERSION" >&2
fi
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
free_port() { "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
token=$(random_hex 16)
tmp=$(mktemp -d)
svc="" rcv=""
cleanup() {
  for p in $svc $rcv; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(free_port)
rport=$(free_port)
# Bound and released: nothing listens there, so a webhook to it fails with a long error.
dport=$(free_port)
"$venv/bin/python" - "$rport" "$tmp/received.jsonl" >"$tmp/receiver.log" 2>&1 <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers), "body": body}) + "\n")
        self.send_response(200); self.send_header("content-type", "application/json"); self.end_headers()
        self.wfile.write(b'{"ok":true}')
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
rcv=$!
DATABASE_URL="sqlite://$tmp/console.db" LC_LISTEN=127.0.0.1:$port LC_ADMIN_TOKEN=$token LC_RETRY_SCHEDULE=100ms LC_HTTP_TIMEOUT=2s \
  NO_COLOR=1 "$bin" >"$tmp/service.log" 2>&1 &
svc=$!
deadline=$((SECONDS + 30))
until curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz"; do
  if ((SECONDS >= deadline)) || ! kill -0 "$svc" 2>/dev/null; then echo "lc-webhooks did not become healthy; its log:" >&2; cat "$tmp/service.log" >&2; exit 1; fi
  sleep 0.2
done
rm -rf target/console-screenshots && mkdir -p target/console-screenshots
status=0
LC_URL="http://127.0.0.1:$port" LC_TOKEN=$token LC_RECEIVER="http://127.0.0.1:$rport/hook" LC_RECEIVED="$tmp/received.jsonl" \
  LC_DOWN_RECEIVER="http://127.0.0.1:$dport/hook" LC_AXE="$axe_js" \
  LC_SHOTS="$root/target/console-screenshots" timeout -k 10 300 "$venv/bin/python" .ci/console_test.py || status=$?
if ((status != 0)); then
  echo "console test failed ($status); end of the service log:" >&2; tail -n 30 "$tmp/service.log" >&2
fi
exit "$status"
