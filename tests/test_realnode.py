"""The launcher of real merod nodes (tests/realnode.py): where it finds the
binary, and that tests/e2e skips with the reason when there is none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import realnode


def test_the_binary_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    merod = tmp_path / "merod"
    merod.write_text("#!/bin/sh\n")
    merod.chmod(0o755)
    monkeypatch.delenv("CALIMERO_MEROD_BIN", raising=False)
    monkeypatch.setenv("CALIMERO_MEROD", str(merod))
    assert realnode.merod_binary() == (merod, "")
    monkeypatch.setenv("CALIMERO_MEROD_BIN", str(merod))
    assert realnode.merod_binary() == (merod, "")
    monkeypatch.setenv("CALIMERO_MEROD_BIN", str(tmp_path / "absent"))
    found, why = realnode.merod_binary()
    assert (
        found is None
        and why == f"CALIMERO_MEROD_BIN={tmp_path / 'absent'} is not an executable file"
    )


def test_the_shared_binary_beside_the_project_or_its_main_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``../shared/node/merod`` from the project root; in a git worktree,
    from the main checkout's root too."""
    monkeypatch.delenv("CALIMERO_MEROD_BIN", raising=False)
    monkeypatch.delenv("CALIMERO_MEROD", raising=False)
    main = tmp_path / "work" / "main"
    (main / ".git" / "worktrees" / "e2e").mkdir(parents=True)
    tree = tmp_path / "work" / "wt" / "e2e"
    tree.mkdir(parents=True)
    (tree / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'e2e'}\n")
    monkeypatch.setattr(realnode, "ROOT", tree)
    found, why = realnode.merod_binary()
    assert found is None
    assert str(tree.parent / "shared" / "node" / "merod") in why
    assert str(main.parent / "shared" / "node" / "merod") in why
    assert "CALIMERO_MEROD_BIN" in why and "CALIMERO_E2E_NODE_URL" in why
    shared = main.parent / "shared" / "node"
    shared.mkdir(parents=True)
    (shared / "merod").write_text("#!/bin/sh\n")
    (shared / "merod").chmod(0o755)
    (shared / "kv_store.wasm").write_bytes(b"\0asm")
    assert realnode.merod_binary() == (shared / "merod", "")
    assert realnode.app_path(shared / "merod", "kv_store.wasm") == shared / "kv_store.wasm"
    assert realnode.app_path(shared / "merod", "blobs.wasm") is None


def test_free_ports_are_free_for_tcp_and_udp() -> None:
    ports = {realnode.free_port() for _ in range(5)}
    assert all(1024 < p < 65536 for p in ports)
    assert all(realnode._port_is_free(p) for p in ports)


def test_without_a_binary_every_e2e_test_skips_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALIMERO_E2E_")}
    env.pop("CALIMERO_MEROD", None)
    env["CALIMERO_MEROD_BIN"] = str(tmp_path / "no-merod")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests/e2e"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert " skipped" in last and "passed" not in last and "failed" not in last, last
    assert f"CALIMERO_MEROD_BIN={tmp_path / 'no-merod'} is not an executable file" in done.stdout
