#!/usr/bin/env bash
# Runs tests/e2e against real merod nodes started by the tests themselves
# (tests/realnode.py, tests/e2e/conftest.py), on loopback: one open, one in
# embedded auth mode with 5 s access tokens, two peered, each with no
# bootstrap nodes but its peer, no mDNS, and its home removed at the end.
#
#   [MEROD=/path/to/merod] ./scripts/e2e-local.sh [pytest args]
#
# MEROD defaults to ../shared/node/merod from the project root; the apps
# (kv_store.wasm, blobs.wasm) are taken from beside it, or from
# CALIMERO_E2E_APP_PATH / CALIMERO_E2E_BLOBS_APP_PATH. Uses the package
# installed in .venv (./scripts/test.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${MEROD:-}" ]; then
  export CALIMERO_MEROD_BIN="$MEROD"
fi
. scripts/env.sh

step "Run tests/e2e"
python -m pytest -q -rs tests/e2e "$@"
