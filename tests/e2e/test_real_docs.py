"""The Python samples of README.md and docs/*.md against real merod
0.11.0-rc.25 nodes, with the prelude of tests/test_docs.py: ``NODE_URL`` a
fresh open node for each page, ``AUTH_NODE_URL`` the embedded-auth node,
``APP_PATH`` core's kv-store. Pages whose samples need a later release
(delegated access: rc.83) and the samples that use a device credential or
a TEE node are left out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_docs import PAGES, ROOT, extract, page_release, run_samples, sandbox


@pytest.fixture
def real_prelude(
    merod_node_factory: Any,
    auth_node: Any,
    kv_store_path: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    sandbox(tmp_path, monkeypatch, "CALIMERO_MEROD_BIN")
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


#: Pages whose every sample talks to a TEE node.
NEEDS_TEE = {"docs/tee.md"}

#: The release of the nodes here.
RELEASE = "0.11.0-rc.25"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_samples_of_a_page_run(page: Path, real_prelude: dict[str, Any]) -> None:
    if page_release(page) != RELEASE:
        pytest.skip(f"its samples run against merod {page_release(page)}")
    if page.relative_to(ROOT).as_posix() in NEEDS_TEE:
        pytest.skip("its samples run against a TEE node (tests/test_docs.py runs them)")
    # A device credential needs a relay, and the sealed transport a TEE
    # node, which an rc.25 node on this machine cannot be.
    samples = [
        s
        for s in extract(page)
        if "DEVICE_CREDENTIAL" not in s.code and "TEE_NODE_URL" not in s.code
    ]
    run_samples(samples, real_prelude)
