#!/usr/bin/env bash
# The official LiteSOC SDKs against edgesoc, pointed at it by base URL only: starts the built
# Worker on 127.0.0.1 (tests/api/serve.mjs, random port), exports SERVE_URL and the keys, runs the
# Python SDK tests (litesoc 2.6.0 from .venv/, pytest) and the Node SDK tests when that package is
# installed, then stops the server. Needs build/index.js (scripts/build --dev).
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/setup-python
. tests/api/serve-lib.sh
start_server

PYTHONDONTWRITEBYTECODE=1 .venv/bin/python -m pytest -p no:cacheprovider -q tests/sdk "$@"

if [ -f node_modules/litesoc/package.json ] && [ -f tests/sdk/node-sdk.test.mjs ]; then
  node --test tests/sdk/node-sdk.test.mjs
else
  echo "[sdk] Node SDK not installed (npm has no 'litesoc' package): skipped" >&2
fi
