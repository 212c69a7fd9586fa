# Sourced by tests/api/run-schemathesis.sh and tests/sdk/run.sh: starts tests/api/serve.mjs (the
# built Worker in Miniflare on 127.0.0.1, random port) and stops it when the caller exits.
# After `start_server`: SERVE_URL, SERVE_KEY (pro), SERVE_FREE_KEY, SERVE_CUSTOM_KEY (custom plan,
# no limits) and SERVE_LIMITED_KEY (enterprise, 5 requests/min, 3 events/month) are exported.

serve_dir=""
serve_pid=""

stop_server() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  serve_pid=""
  if [ -n "$serve_dir" ]; then rm -rf "$serve_dir"; serve_dir=""; fi
}

start_server() {
  if [ ! -f build/index.js ]; then
    echo "build/index.js is missing: run scripts/build --dev first" >&2
    return 1
  fi
  serve_dir=$(mktemp -d)
  trap stop_server EXIT
  trap 'exit 130' INT TERM
  node tests/api/serve.mjs >"$serve_dir/out" 2>"$serve_dir/log" &
  serve_pid=$!
  local line=""
  for _ in $(seq 1 600); do
    line=$(grep -m1 '^{"url"' "$serve_dir/out" 2>/dev/null || true)
    [ -n "$line" ] && break
    if ! kill -0 "$serve_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  if [ -z "$line" ]; then
    echo "serve.mjs did not start:" >&2
    cat "$serve_dir/log" >&2
    return 1
  fi
  SERVE_URL=$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$line")
  SERVE_KEY=$(node -e 'console.log(JSON.parse(process.argv[1]).key)' "$line")
  SERVE_FREE_KEY=$(node -e 'console.log(JSON.parse(process.argv[1]).free_key)' "$line")
  SERVE_CUSTOM_KEY=$(node -e 'console.log(JSON.parse(process.argv[1]).custom_key)' "$line")
  SERVE_LIMITED_KEY=$(node -e 'console.log(JSON.parse(process.argv[1]).limited_key)' "$line")
  case "$SERVE_URL" in
    http://127.0.0.1:*) ;;
    *) echo "refusing a server that is not on 127.0.0.1: $SERVE_URL" >&2; return 1 ;;
  esac
  export SERVE_URL SERVE_KEY SERVE_FREE_KEY SERVE_CUSTOM_KEY SERVE_LIMITED_KEY
  echo "[serve] $SERVE_URL (log: $serve_dir/log)" >&2
}
