#!/usr/bin/env bash
# The test command: Rust lints and tests, the wheel built and installed into
# .venv, Python lints, pytest against the bundled test node, and tests/e2e
# against real merod nodes it starts (../shared/node/merod from the project
# root, or $CALIMERO_MEROD_BIN; skipped with the reason when there is none).
# Arguments go to pytest, and then make it one run (e.g. tests/e2e -x).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

step "Rust: fmt, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust: tests (core and test node)"
cargo test --locked -p calimero-client-core -p calimero-testnode

step "Build the test node"
cargo build --locked -p calimero-testnode
export CALIMERO_TESTNODE_BIN="$PWD/target/debug/calimero-testnode"

step "Build the abi3 wheel and install it"
build_wheel
python -m pip install -q --force-reinstall --no-deps dist/calimero_client_py-*.whl

step "Python: ruff"
ruff check python tests examples scripts benches
ruff format --check python tests examples scripts benches

step "Python: stubs (generated from the table, stubtest, mypy --strict on examples/)"
python scripts/gen_stubs.py --check
python -m mypy.stubtest calimero --allowlist stubtest-allowlist.txt
python -m mypy --strict examples/

if [ $# -gt 0 ]; then
  step "Python: pytest $*"
  python -m pytest -q -rs "$@"
  exit
fi

step "Python: pytest (the test node)"
python -m pytest -q --ignore=tests/e2e

step "Python: pytest tests/e2e (real merod 0.11.0-rc.25 nodes, started here)"
python -m pytest -q -rs tests/e2e
