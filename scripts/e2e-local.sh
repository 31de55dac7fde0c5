#!/usr/bin/env bash
# Runs tests/e2e against real merod nodes started here, on loopback: one in
# the default (proxy, open) auth mode and one in embedded auth mode.
#
#   MEROD=/path/to/merod ./scripts/e2e-local.sh [pytest args]
#
# Needs a merod 0.11.0-rc.25 binary (this script does not build one).
# CALIMERO_E2E_APP_PATH, if set, is passed on (a kv-store .wasm path; the
# nodes run here, so it is a local path). The nodes are isolated: no
# bootstrap nodes, no mDNS, listening on 127.0.0.1 only. The auth node's
# access tokens live E2E_ACCESS_TTL seconds (default 5; the node accepts
# them 60 s longer), so the refresh test crosses a real expiry in ~70 s.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MEROD:?set MEROD to the path of a merod binary}"
. scripts/env.sh

home=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT

export E2E_ACCESS_TTL="${E2E_ACCESS_TTL:-5}"
export MERO_AUTH_ADMIN_USER=admin
export MERO_AUTH_ADMIN_PASSWORD=e2e-admin-password

start_node() { # name server-port swarm-port [init args...]
  local name=$1 port=$2 swarm=$3
  shift 3
  "$MEROD" --node "$name" --home "$home" init --server-port "$port" --swarm-port "$swarm" \
    --swarm-host 127.0.0.1 --no-mdns "$@" >"$home/$name-init.log" 2>&1
  # Never dial the public bootstrap nodes; short-lived access tokens
  # (core:crates/auth/src/config.rs, JwtConfig.access_token_expiry).
  python - "$home/$name/config.toml" <<'PY'
import os, re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"\[bootstrap\]\nnodes = \[.*?\]\n", "[bootstrap]\nnodes = []\n", s, flags=re.S)
s = re.sub(r"(?m)^access_token_expiry = \d+$", "access_token_expiry = " + os.environ["E2E_ACCESS_TTL"], s)
open(p, "w").write(s)
PY
  "$MEROD" --node "$name" --home "$home" run >"$home/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 150); do
    if curl -sf "http://127.0.0.1:$port/admin-api/health" >/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "merod $name did not start; its log:" >&2
  tail -20 "$home/$name.log" >&2
  return 1
}

step "Start merod nodes"
start_node e2e-open 2748 2848
start_node e2e-auth 2758 2858 --auth-mode embedded

step "Run tests/e2e"
CALIMERO_E2E_NODE_URL=http://127.0.0.1:2748 \
CALIMERO_E2E_AUTH_NODE_URL=http://127.0.0.1:2758 \
CALIMERO_E2E_USERNAME="$MERO_AUTH_ADMIN_USER" \
CALIMERO_E2E_PASSWORD="$MERO_AUTH_ADMIN_PASSWORD" \
CALIMERO_E2E_ACCESS_TTL="$E2E_ACCESS_TTL" \
  python -m pytest -q -rs tests/e2e "$@"
