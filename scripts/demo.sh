#!/usr/bin/env bash
# The demo: builds the package, starts the bundled test node on a free
# loopback port, and runs examples/quickstart.py against it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

step "Build the test node and the wheel"
cargo build --locked --release -p calimero-testnode
build_wheel
python -m pip install -q --force-reinstall --no-deps dist/calimero_client_py-*.whl

step "Start the test node"
workdir=$(mktemp -d)
mkfifo "$workdir/stdin"
# The node exits when its stdin closes, i.e. when this script ends.
target/release/calimero-testnode --host 127.0.0.1 --port 0 <"$workdir/stdin" >"$workdir/out" &
exec 3>"$workdir/stdin"
trap 'exec 3>&-; wait; rm -rf "$workdir"' EXIT
for _ in $(seq 100); do
  if grep -q '^listening on ' "$workdir/out"; then break; fi
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$workdir/out")
echo "test node at $url"

# An application file on the node's disk (the test node runs every
# application as a key-value store).
printf '\0asm\1\0\0\0demo-kv-store calimero_abi_v1' >"$workdir/kv_store.wasm"

step "Run examples/quickstart.py"
CALIMERO_NODE_URL="$url" python examples/quickstart.py "$workdir/kv_store.wasm"

step "Run examples/async_quickstart.py"
printf '\0asm\1\0\0\0demo-kv-store-async calimero_abi_v1' >"$workdir/kv_store_async.wasm"
CALIMERO_NODE_URL="$url" python examples/async_quickstart.py "$workdir/kv_store_async.wasm"
