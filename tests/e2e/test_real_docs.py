"""The Python samples of README.md and docs/*.md against real merod
0.11.0-rc.25 nodes, with the prelude of tests/test_docs.py: ``NODE_URL`` a
fresh open node for each page, ``AUTH_NODE_URL`` the embedded-auth node,
``APP_PATH`` core's kv-store. Delegated access needs a relay an rc.25 node
cannot be: its page and the samples that use a device credential are left
out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_docs import PAGES, ROOT, extract, run_samples


@pytest.fixture
def real_prelude(
    merod_node_factory: Any,
    auth_node: Any,
    kv_store_path: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    home = tmp_path / "home"
    work = tmp_path / "work"
    for directory in (home, work):
        directory.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith("CALIMERO_") and name != "CALIMERO_MEROD_BIN":
            monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    environ = dict(os.environ)
    node = merod_node_factory("e2e-docs")
    yield {
        "__name__": "__main__",
        "NODE_URL": node.url,
        "AUTH_NODE_URL": auth_node.url,
        "ADMIN_PASSWORD": auth_node.password,
        "APP_PATH": kv_store_path,
    }
    os.environ.clear()
    os.environ.update(environ)


#: Pages that need what only the test node can be.
NOT_HERE = {"delegated-access.md": "delegated access needs a relay (rc.83 and the test node)"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_samples_of_a_page_run(page: Path, real_prelude: dict[str, Any]) -> None:
    if page.name in NOT_HERE:
        pytest.skip(NOT_HERE[page.name])
    samples = [s for s in extract(page) if "DEVICE_CREDENTIAL" not in s.code]
    run_samples(samples, real_prelude)
