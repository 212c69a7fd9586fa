#!/usr/bin/env bash
# The official LiteSOC SDKs against edgesoc, pointed at it by base URL only: starts the built
# Worker on 127.0.0.1 (tests/api/serve.mjs, random port), exports SERVE_URL and the keys, runs the
# Python SDK tests (litesoc 2.6.0 from .venv/, pytest) and the alert-webhook signature check
# (standardwebhooks), then stops the server. Then the Node SDK
# test: litesoc 2.6.0's exact requests replayed through the Worker in Miniflare (its own instance,
# no server needed); it also runs the real package when node_modules/litesoc (or LITESOC_NODE_SDK)
# provides it. Needs build/index.js (scripts/build --dev).
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/setup-python
. tests/api/serve-lib.sh
start_server

PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -p no:cacheprovider -q tests/sdk "$@"

stop_server

node --test --test-concurrency=1 tests/sdk/node-sdk.test.mjs
