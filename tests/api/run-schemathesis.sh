#!/usr/bin/env bash
# Property-based conformance run of the API against openapi/openapi.json (served by the Worker at
# /openapi.json) with schemathesis 4.32.5 from .venv/. Starts the built Worker in Miniflare on
# 127.0.0.1 (tests/api/serve.mjs), seeds events and alerts of every status, then runs every
# operation with a key on the custom plan (no rate limit, no quota).
# Fails on any 5xx, any response that breaks its documented schema, status, content type or
# headers, or a response slower than SCHEMATHESIS_MAX_RESPONSE_TIME seconds.
#
# Needs build/index.js (scripts/build --dev). Reports (JUnit, HAR) go to tests/artifacts/schemathesis.
# Knobs (env): SCHEMATHESIS_MAX_EXAMPLES (25 per operation), SCHEMATHESIS_SEED (random; printed),
# SCHEMATHESIS_TIMEOUT (600 s for the whole run), SCHEMATHESIS_MAX_RESPONSE_TIME (5 s),
# SCHEMATHESIS_PHASES (examples,coverage,fuzzing,stateful), SCHEMATHESIS_WORKERS (1: with more,
# hypothesis's caches race and report spurious "flaky" errors).
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/setup-python
. tests/api/serve-lib.sh
start_server

node tests/api/seed.mjs "$SERVE_URL" "$SERVE_CUSTOM_KEY"

report_dir="$PWD/tests/artifacts/schemathesis"
mkdir -p "$report_dir"
# schemathesis and hypothesis keep caches in the working directory: give them a scratch one.
scratch=$(mktemp -d)
args=(
  run "$SERVE_URL/openapi.json"
  --url "$SERVE_URL"
  -H "X-API-Key: $SERVE_CUSTOM_KEY"
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}"
  --phases "${SCHEMATHESIS_PHASES:-examples,coverage,fuzzing,stateful}"
  --workers "${SCHEMATHESIS_WORKERS:-1}"
  --max-response-time "${SCHEMATHESIS_MAX_RESPONSE_TIME:-5}"
  --request-timeout 15
  --generation-database none
  --report junit,har --report-dir "$report_dir"
  --no-color
)
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then args+=(--seed "$SCHEMATHESIS_SEED"); fi

status=0
st="$PWD/.venv/bin/schemathesis"
(cd "$scratch" && HYPOTHESIS_STORAGE_DIRECTORY="$scratch/.hypothesis" \
  timeout --kill-after=10 "${SCHEMATHESIS_TIMEOUT:-600}" "$st" "${args[@]}") || status=$?
rm -rf "$scratch"
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "schemathesis did not finish within ${SCHEMATHESIS_TIMEOUT:-600} s" >&2
fi
exit "$status"
