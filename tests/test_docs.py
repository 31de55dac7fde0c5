"""Every Python sample of README.md and docs/*.md runs against the test node.

The ```python blocks of a page run in order, in one namespace per page (a
page's samples build on each other), as a script would (``__name__`` is
``"__main__"``), in a fresh working directory, with ``HOME`` a fresh
directory too (token caches land there) and no ``CALIMERO_*`` variable set.
Before a page's first block the prelude defines:

``NODE_URL``
    the URL of a test node (no authentication), wiped clean for the page;
``AUTH_NODE_URL``
    the URL of a test node in embedded auth mode, whose admin account is
    ``"admin"`` with the password ``ADMIN_PASSWORD``;
``ADMIN_PASSWORD``
    that password;
``APP_PATH``
    the path of an application (a ``.wasm`` file) on the node's disk, for
    ``install_dev_application``;
``DEVICE_CREDENTIAL``, ``DEVICE_SECRET``
    a device credential (hex) of a fresh account and the secret of the key
    it certifies, minted by the auth-mode node, which serves delegated
    access for the page.
``TEE_NODE_URL``
    the URL of a test node serving the sealed transport of a TEE node
    (``--transport-secret``, sealing required), without TDX: its
    attestation is a mock quote, wiped clean for the page;
``TEE_TRANSPORT_KEY``
    that node's transport key (hex).

A block that uses ``await`` at its top level runs under ``asyncio.run``;
each may run ``SAMPLE_TIME_LIMIT`` seconds. A block fenced ```python no-run
is not run (it needs a real remote node, a
second node or a terminal); there may be at most ``MAX_NOT_RUN`` of them in
all. A block that raises fails the test with its file and line.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import os
import re
import signal
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import AUTH_PASSWORD, RELEASES, make_wasm, shared_auth_node, shared_node
from testnode import TestNode

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: At most this many ```python no-run blocks in README.md and docs/*.md.
MAX_NOT_RUN = 5

#: Seconds one sample may run (a sample waiting for an event that never
#: comes fails instead of hanging the tests).
SAMPLE_TIME_LIMIT = 60.0

#: Pages of docs/ that have no Python sample by design: the index, the
#: fault matrix (its rows name tests) and fuzzing (shell commands).
WITHOUT_SAMPLES = {"README.md", "faults.md", "fuzzing.md"}

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")


@dataclass
class Sample:
    """One fenced Python block: its page, the line of its first code line
    (1-based), its code, and whether it is marked ``no-run``."""

    path: Path
    line: int
    code: str
    run: bool

    @property
    def where(self) -> str:
        try:
            name = self.path.relative_to(ROOT)
        except ValueError:
            name = self.path
        return f"{name}:{self.line}"


class SampleError(AssertionError):
    """A sample raised; the message names its page and line."""


def extract(path: Path, text: str | None = None) -> list[Sample]:
    """The ```python blocks of a Markdown page, in order. Other languages
    are ignored; an unclosed fence is an error."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    samples: list[Sample] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        words = match["info"].split()
        start = i + 1
        i = start
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if (
                close
                and not close["info"]
                and close["fence"][0] == fence[0]
                and len(close["fence"]) >= len(fence)
            ):
                break
            i += 1
        else:
            raise ValueError(f"{path}:{start}: unclosed code fence")
        if words and words[0] in ("python", "py"):
            if set(words[1:]) - {"no-run"}:
                raise ValueError(f"{path}:{start}: unknown fence words {words[1:]}")
            body = [
                line[len(indent) :] if line.startswith(indent) else line.lstrip()
                for line in lines[start:i]
            ]
            code = "\n".join(body) + "\n"
            samples.append(Sample(path, start + 1, code, run="no-run" not in words[1:]))
        i += 1
    return samples


def _failing_line(error: BaseException, filename: str) -> int | None:
    """The line of ``filename`` (a page) deepest in the error's traceback."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    return line


class SampleTimeout(Exception):
    """A sample ran longer than its time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raises SampleTimeout in the running code after ``seconds`` (on POSIX,
    in the main thread; elsewhere there is no limit). Blocking calls of the
    client are interrupted like by Ctrl-C."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or seconds <= 0:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise SampleTimeout(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_samples(
    samples: list[Sample], namespace: dict[str, Any], time_limit: float = SAMPLE_TIME_LIMIT
) -> int:
    """Runs the samples in order in ``namespace``, each within
    ``time_limit`` seconds; returns how many ran. Raises SampleError naming
    the page and line of the first that fails or hangs."""
    ran = 0
    for sample in samples:
        if not sample.run:
            continue
        filename = str(sample.path)
        # Pad with blank lines so that tracebacks give the page's own lines.
        source = "\n" * (sample.line - 1) + sample.code
        try:
            code = compile(source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError as e:
            name = sample.where.rsplit(":", 1)[0]
            raise SampleError(
                f"{name}:{e.lineno}: the sample starting at line {sample.line} does not "
                f"compile: {e.msg}"
            ) from e
        try:
            with _time_limit(time_limit):
                if code.co_flags & inspect.CO_COROUTINE:
                    asyncio.run(eval(code, namespace))
                else:
                    exec(code, namespace)
        except Exception as e:
            line = _failing_line(e, filename) or sample.line
            name = sample.where.rsplit(":", 1)[0]
            raise SampleError(
                f"{name}:{line}: the sample starting at line {sample.line} raised "
                f"{type(e).__name__}: {e}"
            ) from e
        ran += 1
    return ran


# ------------------------------------------------------------------ the pages


#: The transport secret of the TEE test node (core's vector secret).
TEE_SECRET = "22" * 32


@pytest.fixture(scope="module")
def tee_node() -> Iterator[TestNode]:
    node = TestNode("--tee-mock", "--transport-secret", TEE_SECRET, "--sealed-required")
    yield node
    node.stop()


#: A page whose samples need a later node release says so:
#: ``<!-- samples run against merod 0.11.0-rc.83 -->``.
RELEASE_MARK = re.compile(r"<!-- samples run against merod (0\.11\.0-rc\.\d+) -->")


def sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: str, *others: str
) -> dict[str, Path]:
    """Where a page's samples run: fresh ``home`` and ``work`` directories
    (and ``others``) under ``tmp_path``, ``HOME`` the first, the current
    directory the second, and no ``CALIMERO_*`` variable set but ``keep``
    (the node binary's)."""
    dirs = {name: tmp_path / name for name in ("home", "work", *others)}
    for directory in dirs.values():
        directory.mkdir()
    monkeypatch.setenv("HOME", str(dirs["home"]))
    for name in list(os.environ):
        if name.startswith("CALIMERO_") and name != keep:
            monkeypatch.delenv(name)
    monkeypatch.chdir(dirs["work"])
    return dirs


def page_release(page: Path) -> str:
    found = RELEASE_MARK.search(page.read_text())
    return found.group(1) if found else RELEASES[0]


@pytest.fixture
def prelude(
    request: pytest.FixtureRequest,
    testnodes: dict[str, TestNode],
    auth_testnodes: dict[str, TestNode],
    tee_node: TestNode,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    page = request.node.callspec.params["page"]
    release = page_release(page)
    node = shared_node(testnodes, release)
    node.reset()
    auth_node = shared_auth_node(auth_testnodes, release)
    auth_node.reset()
    apps = sandbox(tmp_path, monkeypatch, "CALIMERO_TESTNODE_BIN", "apps")["apps"]
    environ = dict(os.environ)
    auth_node.auth(delegatedAccess=True)
    device = auth_node.control("POST", "credential", {})
    tee_node.reset()
    tee_node.control("POST", "sealed", {"forgetSessions": True, "resetStats": True})
    yield {
        "DEVICE_CREDENTIAL": device["credential"],
        "DEVICE_SECRET": device["deviceSecret"],
        "__name__": "__main__",
        "NODE_URL": node.url,
        "AUTH_NODE_URL": auth_node.url,
        "ADMIN_PASSWORD": AUTH_PASSWORD,
        # What a dev install takes on the page's release: a .wasm up to
        # rc.31, a signed .mpk bundle from rc.32.
        "APP_PATH": (
            node.bundle("com.example.kv", "1.0.0")["path"]
            if int(release.rsplit(".", 1)[1]) >= 32
            else str(make_wasm(apps, "kv_store.wasm"))
        ),
        "TEE_NODE_URL": tee_node.url,
        "TEE_TRANSPORT_KEY": tee_node.control("GET", "sealed")["transportPublicKey"],
    }
    # What a page's samples set in the environment goes with them.
    os.environ.clear()
    os.environ.update(environ)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_samples_of_a_page_run(page: Path, prelude: dict[str, Any]) -> None:
    samples = extract(page)
    run_samples(samples, prelude)


def test_samples_are_found_and_few_are_not_run() -> None:
    samples = [s for page in PAGES for s in extract(page)]
    not_run = [s.where for s in samples if not s.run]
    assert len(not_run) <= MAX_NOT_RUN, f"too many no-run samples: {not_run}"
    for sample in samples:  # even the ones not run must compile
        source = "\n" * (sample.line - 1) + sample.code
        compile(source, str(sample.path), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert len(samples) - len(not_run) >= 20, "the samples were not found"
    for page in PAGES:
        if page.parent == ROOT or page.name not in WITHOUT_SAMPLES:
            assert extract(page), f"{page}: no Python sample"


def test_the_index_lists_every_page_and_links_resolve() -> None:
    index = (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        if page.parent.name == "docs" and page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"
    link = re.compile(r"\]\((?!https?://|#|mailto:)([^)#\s]+)(?:#[^)]*)?\)")
    for page in PAGES:
        for target in link.findall(page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


# ------------------------------------------------------------ the test's test

BROKEN = """\
# A page

Some text.

```python
x = 1
```

```sh
this is not python
```

```python no-run
raise RuntimeError("never run")
```

```python
y = x + 1
missing_name(y)
```
"""


def test_a_broken_sample_fails_with_its_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text(BROKEN)
    samples = extract(page)
    assert [(s.line, s.run) for s in samples] == [(6, True), (14, False), (18, True)]
    assert samples[2].code == "y = x + 1\nmissing_name(y)\n"
    namespace: dict[str, Any] = {}
    with pytest.raises(SampleError) as info:
        run_samples(samples, namespace)
    message = str(info.value)
    assert message.startswith(f"{page}:19: ")
    assert "NameError" in message and "missing_name" in message
    assert namespace["y"] == 2  # the first block ran; its names reached the third


def test_a_sample_that_does_not_compile_is_reported(tmp_path: Path) -> None:
    page = tmp_path / "syntax.md"
    page.write_text("text\n\n```python\nprint('a'\n```\n")
    expected = r"syntax\.md:4: the sample starting at line 4 does not compile"
    with pytest.raises(SampleError, match=expected):
        run_samples(extract(page), {})


def test_async_samples_run_under_asyncio(tmp_path: Path) -> None:
    page = tmp_path / "async.md"
    page.write_text(
        "```python\nimport asyncio\n\nawait asyncio.sleep(0)\ndone = True\n```\n\n"
        "- in a list:\n\n  ```python\n  async def f():\n      raise KeyError('k')\n\n"
        "  await f()\n  ```\n"
    )
    namespace: dict[str, Any] = {}
    with pytest.raises(SampleError) as info:
        run_samples(extract(page), namespace)
    assert namespace["done"] is True
    assert str(info.value).startswith(f"{page}:12: the sample starting at line 11 raised")
    assert "KeyError" in str(info.value)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM")
def test_a_hanging_sample_fails_with_its_line(tmp_path: Path) -> None:
    page = tmp_path / "hang.md"
    page.write_text(
        "```python\nimport threading\n\nthreading.Event().wait()\n```\n\n"
        "```python\nimport asyncio\n\nawait asyncio.Event().wait()\n```\n"
    )
    samples = extract(page)
    # A waiting coroutine is not in the traceback: its sample's first line.
    for sample, line in zip(samples, (4, 8)):
        with pytest.raises(SampleError) as info:
            run_samples([sample], {}, time_limit=0.3)
        assert str(info.value).startswith(f"{page}:{line}: ")
        assert "SampleTimeout: still running after 0.3 s" in str(info.value)


def test_an_unclosed_fence_or_a_mistyped_marker_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "open.md"
    page.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match="unclosed code fence"):
        extract(page)
    page.write_text("```python norun\nx = 1\n```\n")
    with pytest.raises(ValueError, match="unknown fence words"):
        extract(page)
