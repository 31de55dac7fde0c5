#!/usr/bin/env bash
# The test command: Rust lints and tests, the wheel built and installed into
# .venv, Python lints, and pytest against the bundled test node.
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

step "Python: pytest"
python -m pytest -q "$@"
