"""merobox runs unchanged on this package.

merobox (PyPI ``merobox``), the ecosystem's harness, imports
``calimero_client_py`` directly. These tests install merobox 0.6.62 (the
release built for the official client 0.6.31 and merod 0.11.0-rc.25) from
the package registry without its client, with our wheel, into a virtualenv
of its own (``build/merobox-venv``), and then:

- check that every call merobox 0.6.62 and 0.6.86 (the newest, written for
  the official 0.9.0) make into the client binds to our ``Client``
  (``merobox_compat/audit.py``; 0.9.0-only calls are listed as pending);
- run merobox's own unit tests of the steps that call the client, with our
  module importable and each mocked client call bound to our signatures;
- run merobox's workflows natively against a real merod rc.25
  (``../shared/node/merod`` or ``CALIMERO_MEROD``; skipped without one),
  on loopback only, and compare them step by step with what the official
  client 0.6.31 did on the same workflows (``official-0.6.31.json``).

``-m slow`` runs every vendored workflow with both clients live (the
official wheel from ``../shared/reference/official/`` or
``CALIMERO_OFFICIAL_WHEEL``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

import calimero
from merobox_compat import audit, harness

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
REFERENCE = Path(__file__).parent / "merobox_compat" / "official-0.6.31.json"
WORKFLOWS = harness.VENDORED / "workflow-examples"

#: The workflows of the test command: every kind of step the issue is about
#: (expected failures caught as RuntimeError, JSON-RPC errors read from the
#: envelope, blobs across nodes, merobox's own login and token cache against
#: embedded auth) and the answers merobox parses, in about two minutes.
QUICK = [
    "workflow-negative-testing-example.yml",
    "workflow-blob-download-example.yml",
    "workflow-blob-cross-node-download-example.yml",
    "workflow-expected-failure-steps-example.yml",
    "workflow-embedded-auth-example.yml",
    "workflow-nested-json-parsing-example.yml",
    "workflow-subgroup-visibility-example.yml",
    "workflow-output-capture-strictness-example.yml",
]

#: merobox 0.6.86's calls that need the official 0.9.0 surface (node release
#: rc.83), which the node-release support adds: method -> call sites.
#: Calls of merobox 0.6.86 that wait for a surface we lack: none since the
#: node-release support (issue 14) added the 0.9.0 methods and forms.
PENDING_0_6_86: dict[str, set[str]] = {}


def _wheel() -> Path:
    wheels = sorted((ROOT / "dist").glob("calimero_client_py-*.whl"))
    if not wheels:
        pytest.skip("no wheel in dist/: build it first (scripts/test.sh does)")
    return wheels[-1]


@pytest.fixture(scope="session")
def merobox_python() -> Path:
    """The python of a venv with merobox (no client of its own) and ours."""
    try:
        return harness.ensure_venv(BUILD / "merobox-venv", _wheel(), unit_tests=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        pytest.skip(
            f"merobox {harness.MEROBOX_VERSION} could not be installed from the registry: {e}"
        )


@pytest.fixture(scope="session")
def merod() -> Path:
    found = harness.default_merod()
    if found is None:
        pytest.skip(
            "no merod 0.11.0-rc.25 (../shared/node/merod, or set CALIMERO_MEROD): "
            "merobox's workflows need a real node"
        )
    if not harness.can_unshare() and not harness.merobox_ports_free():
        pytest.skip(
            "no network namespace (unshare -rn) and merobox's default ports "
            "(2428+, 2528+) are taken on this host"
        )
    return found


def _site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import merobox, os; print(os.path.dirname(merobox.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def test_merobox_runs_on_our_client_not_the_official_one(merobox_python: Path) -> None:
    probe = (
        "import importlib.metadata as m, calimero_client_py as c, calimero\n"
        "print(m.version('merobox'), m.version('calimero-client-py'),"
        " hasattr(c, 'ENDPOINTS'), issubclass(calimero.ClientError, RuntimeError))"
    )
    out = subprocess.run([str(merobox_python), "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        harness.MEROBOX_VERSION,
        calimero.__version__,
        "True",
        "True",
    ]
    # merobox's requirement (calimero-client-py>=0.6.31) is met by ours
    check = subprocess.run(
        [str(merobox_python), "-m", "pip", "check"], capture_output=True, text=True
    )
    assert "merobox" not in check.stdout, check.stdout


def _statuses(package: Path, surface: str) -> list[tuple[audit.CallSite, str]]:
    sites = audit.find_calls(package, audit.known_methods(calimero.Client))
    return [(s, audit.status(s, calimero.Client, calimero, surface)) for s in sites]


def test_every_call_of_merobox_0_6_62_binds(merobox_python: Path) -> None:
    rows = _statuses(_site_packages(merobox_python), "0.6.31")
    bad = [
        f"{s.where} {s.method}({audit.shape(s)}): {st}"
        for s, st in rows
        if st not in ("ok", "fallback", "not in the official client")
    ]
    assert not bad, "\n".join(bad)
    ok = {s.method for s, st in rows if st == "ok"}
    assert len([r for r in rows if r[1] == "ok"]) >= 90
    assert {"execute_function", "download_blob", "create_context", "join_namespace"} <= ok
    # the methods merobox calls that the official client never had are the
    # same ten: merobox's CLI commands and fallbacks for older clients
    never = {s.method for s, st in rows if st == "not in the official client"}
    assert never <= audit.NEVER_OFFICIAL


@pytest.fixture(scope="session")
def merobox_0_6_86(merobox_python: Path) -> Path:
    target = BUILD / "merobox-0.6.86"
    if not (target / "merobox").is_dir():
        download = subprocess.run(
            [
                str(merobox_python),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "merobox==0.6.86",
                "-d",
                str(target),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if download.returncode != 0:
            pytest.skip(f"merobox 0.6.86 could not be downloaded: {download.stderr[-300:]}")
        with zipfile.ZipFile(next(target.glob("merobox-0.6.86-*.whl"))) as wheel:
            wheel.extractall(target)
    return target / "merobox"


def test_every_call_of_merobox_0_6_86_binds_or_waits_for_the_0_9_surface(
    merobox_0_6_86: Path,
) -> None:
    rows = _statuses(merobox_0_6_86, "0.9.0")
    bad = [
        f"{s.where} {s.method}({audit.shape(s)}): {st}"
        for s, st in rows
        if st not in ("ok", "fallback", "not in the official client", "pending")
    ]
    assert not bad, "\n".join(bad)
    pending: dict[str, set[str]] = {}
    for site, st in rows:
        if st == "pending":
            pending.setdefault(site.method, set()).add(site.file)
    assert pending == PENDING_0_6_86


def test_merobox_unit_tests_that_drive_the_client(merobox_python: Path, tmp_path: Path) -> None:
    unit = harness.VENDORED / "unit"
    done = harness.run_unit_tests(
        merobox_python, unit, tmp_path / "unit", sorted(p.name for p in unit.glob("test_*.py"))
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = re.search(r"merobox-client-calls: (\d+) calls of (\d+) client methods", done.stdout)
    assert summary, done.stdout[-2000:]
    # the mocked clients were really called, and each call was bound
    assert int(summary.group(1)) >= 100 and int(summary.group(2)) >= 30, summary.group(0)


def test_the_unit_test_conftest_refuses_a_call_our_client_does_not_take(
    merobox_python: Path, tmp_path: Path
) -> None:
    tests = tmp_path / "fake"
    tests.mkdir()
    (tests / "test_fake.py").write_text(
        "from unittest.mock import MagicMock\n"
        "def test_right():\n"
        "    MagicMock().download_blob('blob', None)\n"
        "def test_wrong():\n"
        "    MagicMock().download_blob('blob', None, 'extra')\n"
    )
    done = harness.run_unit_tests(merobox_python, tests, tmp_path / "unit", ["test_fake.py"])
    assert done.returncode == 1
    # both bodies pass; the wrong call fails its teardown
    assert "2 passed, 1 error" in done.stdout, done.stdout[-2000:]
    assert "client.download_blob(" in done.stdout


def _reference() -> dict[str, dict[str, Any]]:
    return {r["workflow"]: r for r in json.loads(REFERENCE.read_text())}


def test_the_reference_covers_every_vendored_workflow() -> None:
    vendored = {p.name for p in WORKFLOWS.glob("*.yml")}
    assert set(_reference()) == vendored
    assert set(QUICK) <= vendored


@pytest.mark.parametrize("workflow", QUICK)
def test_a_workflow_does_what_it_did_on_the_official_client(
    workflow: str, merobox_python: Path, merod: Path, tmp_path: Path
) -> None:
    reference = _reference()[workflow]
    run = harness.run_workflow(
        merobox_python,
        workflow,
        workflows=WORKFLOWS,
        merod=merod,
        work=tmp_path / "work",
        timeout=420,
    )
    assert run.passed == reference["passed"], run.tail
    problems = harness.compare([reference], harness.reference_record([run]))
    assert not problems, "\n".join(problems) + "\n" + run.tail


def _official_wheel() -> Path | None:
    env = os.environ.get("CALIMERO_OFFICIAL_WHEEL")
    if env:
        return Path(env)
    shared = harness.shared_node().parent / "reference" / "official"
    wheels = sorted(shared.glob("calimero_client_py-0.6.31-*.whl")) if shared.is_dir() else []
    return wheels[0] if wheels else None


@pytest.mark.slow
def test_every_workflow_with_both_clients_step_by_step(merobox_python: Path, merod: Path) -> None:
    """Every vendored workflow (and, with ``CALIMERO_MEROBOX_SRC`` naming a
    merobox v0.6.62 checkout, the two that need its kv_store_v2.wasm), run
    with the official client 0.6.31 and with ours, compared step by step
    (``CALIMERO_MEROBOX_WORKFLOWS``, comma-separated file names, runs only
    those). The results are written to ``build/merobox-{official,ours}.json``
    and the calls merobox made to ``build/merobox-{official,ours}-calls.jsonl``."""
    wheel = _official_wheel()
    if wheel is None or sys.version_info[:2] != (3, 11):
        pytest.skip("needs the official 0.6.31 wheel (CPython 3.11): set CALIMERO_OFFICIAL_WHEEL")
    source = os.environ.get("CALIMERO_MEROBOX_SRC")
    workflows = Path(source) / "workflow-examples" if source else WORKFLOWS
    names = sorted(_reference())
    only = os.environ.get("CALIMERO_MEROBOX_WORKFLOWS")
    if only:
        names = [n for n in names if n in only.split(",")]
    if not source:
        names = [n for n in names if "kv_store_v2" not in (WORKFLOWS / n).read_text()]
    official = harness.ensure_venv(BUILD / "merobox-venv-official", wheel)
    results = {}
    for label, python in (("official", official), ("ours", merobox_python)):
        calls = BUILD / f"merobox-{label}-calls.jsonl"
        calls.unlink(missing_ok=True)
        runs = [
            harness.run_workflow(
                python,
                n,
                workflows=workflows,
                merod=merod,
                work=BUILD / f"merobox-work-{label}" / n,
                timeout=600,
                call_log=calls,
            )
            for n in names
        ]
        results[label] = harness.reference_record(runs)
        (BUILD / f"merobox-{label}.json").write_text(json.dumps(results[label], indent=1))
    problems = harness.compare(results["official"], results["ours"])
    assert not problems, "\n".join(problems)
