"""The type stubs: generated from the endpoint table, checked against the
built module by mypy.stubtest (scripts/test.sh runs it on the real stubs),
and able to catch a stub that drifts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import calimero

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(calimero.__file__).resolve().parent

mypy = pytest.importorskip("mypy")


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_client_stub_is_generated_from_the_table() -> None:
    done = run(["scripts/gen_stubs.py", "--check"])
    assert done.returncode == 0, done.stderr


def test_the_wheel_ships_stubs_and_py_typed() -> None:
    for name in ("py.typed", "_client.pyi", "calimero_client_py.pyi", "types.py"):
        assert (PACKAGE / name).is_file(), name


def stub_copy(tmp_path: Path) -> Path:
    """The package's Python and stub files, copied to tmp_path/calimero."""
    copy = tmp_path / "calimero"
    copy.mkdir()
    for path in PACKAGE.iterdir():
        if path.suffix in (".py", ".pyi") or path.name == "py.typed":
            shutil.copy(path, copy / path.name)
    return copy


def test_stubtest_catches_a_wrong_stub(tmp_path: Path) -> None:
    copy = stub_copy(tmp_path)
    # First the unchanged copy passes: the check works in this environment.
    allow = str(ROOT / "stubtest-allowlist.txt")
    ok = run(["-m", "mypy.stubtest", "calimero", "--allowlist", allow], MYPYPATH=str(tmp_path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # A renamed parameter in the generated Client stub ...
    stub = copy / "_client.pyi"
    text = stub.read_text()
    wrong = text.replace(
        "def get_context(self, context_id: str)", "def get_context(self, ctx: str)"
    )
    assert wrong != text
    stub.write_text(wrong)
    # ... and a missing property in the native module's stub.
    native = copy / "calimero_client_py.pyi"
    native.write_text(native.read_text().replace("    def closed(self) -> bool: ...\n", "", 1))
    bad = run(["-m", "mypy.stubtest", "calimero", "--allowlist", allow], MYPYPATH=str(tmp_path))
    assert bad.returncode == 1
    assert "calimero._client.Client.get_context" in bad.stdout
    assert "calimero.calimero_client_py.ConnectionInfo.closed" in bad.stdout


def test_mypy_uses_the_stubs(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import calimero\n"
        "conn = calimero.create_connection('http://127.0.0.1:1')\n"
        "client = calimero.create_client(conn)\n"
        "client.list_contexts(offset='1')\n"
        "n: int = client.health()['data']['status']\n"
        "async def f(c: calimero.AsyncClient) -> None:\n"
        "    c.get_context(1)\n"
    )
    done = run(["-m", "mypy", "--strict", str(sample)])
    assert done.returncode == 1
    assert (
        'Argument "offset" to "list_contexts" of "Client" has incompatible type "str"'
        in done.stdout
    )
    assert "Incompatible types in assignment" in done.stdout
    assert 'Argument 1 to "get_context" of "AsyncClient"' in done.stdout
