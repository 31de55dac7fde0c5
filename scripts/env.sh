# Shared set-up for scripts/test.sh and scripts/demo.sh: a .venv with the
# development tools, and a helper to build the wheel. Sourced, not run.
step() { printf '\n==> %s\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
  step "Create .venv"
  python3 -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
python -m pip install -q -r requirements-dev.txt

build_wheel() {
  rm -rf dist
  maturin build --release --locked -o dist
  local wheels
  wheels=$(ls dist/*.whl)
  case "$wheels" in
    *-abi3-*.whl) ;;
    *) echo "expected one abi3 wheel, got: $wheels" >&2; return 1 ;;
  esac
}
