"""Runs merobox itself on a calimero-client-py: ours or the official 0.6.31.

merobox (PyPI ``merobox``) imports ``calimero_client_py`` directly. This
harness installs merobox from the package registry *without* its client
(``pip install --no-deps``, then merobox's other requirements explicitly)
into a virtualenv of its own, adds the client under test (our wheel, or the
official wheel for the comparison), and runs merobox's workflows natively
(``merobox bootstrap run FILE --no-docker --e2e-mode --binary-path ...``)
against a real merod, through ``merod_sandbox.py`` so that no node leaves
this machine. When ``unshare`` can make a network namespace, merobox and
its nodes run in one that has only a loopback interface.

Used by ``tests/test_merobox.py`` and from the command line, to compare the
two clients workflow by workflow and step by step::

    python tests/merobox_compat/harness.py run --client dist/calimero_client_py-*.whl \\
        --merod ../shared/node/merod --out ours.json [WORKFLOW ...]
    python tests/merobox_compat/harness.py run --client official.whl --out official.json ...
    python tests/merobox_compat/harness.py compare official.json ours.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The merobox release built against calimero-client-py 0.6.31 and merod
#: 0.11.0-rc.25: the newest that requires ``calimero-client-py>=0.6.31``
#: (0.6.63 requires 0.6.32).
MEROBOX_VERSION = "0.6.62"

#: merobox 0.6.62's requirements but the client (its METADATA), and what
#: its unit tests need.
MEROBOX_REQUIREMENTS = [
    "click>=8.0.0",
    "docker>=6.0.0",
    "rich>=13.0.0,<14.3.4",
    "PyYAML>=6.0.0",
    "aiohttp>=3.9.0",
    "toml>=0.10.2",
    "base58>=2.1.0",
    "filelock>=3.0.0",
    "requests>=2.31.0",
    "tqdm>=4.65.0",
    "pydantic>=2.0.0",
]
UNIT_TEST_REQUIREMENTS = ["pytest>=8", "pytest-asyncio>=0.21.0,<1.0", "pytest-mock>=3.10.0"]

#: The vendored copy of merobox's workflow-examples and unit tests
#: (MIT, see LICENSE there), at the v0.6.62 tag.
VENDORED = HERE / "v0.6.62"

ROOT = HERE.parents[1]


def shared_node() -> Path:
    """The directory of the real node and core's apps built for it
    (merod, kv_store.wasm, blobs.wasm): ``CALIMERO_SHARED_NODE``, else
    ``../shared/node`` from the project root (``../../shared/node`` from a
    worktree one level deeper)."""
    env = os.environ.get("CALIMERO_SHARED_NODE")
    if env:
        return Path(env)
    for up in (ROOT.parent, ROOT.parent.parent):
        if (up / "shared" / "node").is_dir():
            return up / "shared" / "node"
    return ROOT.parent / "shared" / "node"


def default_merod() -> Path | None:
    """The merod binary: ``CALIMERO_MEROD``, else ``merod`` in
    :func:`shared_node`; None when there is none."""
    env = os.environ.get("CALIMERO_MEROD")
    candidate = Path(env) if env else shared_node() / "merod"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate.resolve()
    return None


def can_unshare() -> bool:
    """Whether this user can make a network namespace with only loopback."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    try:
        done = subprocess.run(
            ["unshare", "-rn", "sh", "-c", "ip link set lo up"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def merobox_ports_free() -> bool:
    """Whether the ports merobox gives its nodes by default (swarm 2428+,
    server 2528+, ten nodes) are free on this host's loopback: without a
    network namespace, its nodes would share them with anything else."""
    import socket

    for port in [*range(2428, 2438), *range(2528, 2538)]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


# ------------------------------------------------------------------ the venv


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
        check=True,
        timeout=900,
    )


def ensure_venv(root: Path, client: Path, *, unit_tests: bool = False) -> Path:
    """A virtualenv at ``root`` with merobox (without its client), its other
    requirements and ``client`` (a wheel). Reused when it already has them;
    the client is reinstalled when the wheel changed. Returns its python."""
    python = root / "bin" / "python"
    stamp = root / "merobox-harness.json"
    want = {
        "merobox": MEROBOX_VERSION,
        "requirements": MEROBOX_REQUIREMENTS + (UNIT_TEST_REQUIREMENTS if unit_tests else []),
    }
    have = json.loads(stamp.read_text()) if stamp.exists() else {}
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    if {k: have.get(k) for k in want} != want:
        _pip(python, *want["requirements"])
        _pip(python, "--no-deps", f"merobox=={MEROBOX_VERSION}")
        have = dict(want)
    client_id = f"{client.resolve()}:{client.stat().st_mtime_ns}:{client.stat().st_size}"
    if have.get("client") != client_id:
        _pip(python, "--no-deps", "--force-reinstall", str(client))
        have["client"] = client_id
    stamp.write_text(json.dumps(have))
    return python


# ------------------------------------------------------------- a workflow run


@dataclass
class Step:
    name: str
    type: str
    outcome: str = "not reached"  # completed | failed
    expected_failures: list[str] = field(default_factory=list)


@dataclass
class WorkflowRun:
    workflow: str
    passed: bool
    seconds: float
    steps: list[Step]
    tail: str  # the end of merobox's output, for a failure's reason
    log: str = ""

    def summary(self) -> str:
        done = sum(s.outcome == "completed" for s in self.steps)
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict} {self.workflow} ({done}/{len(self.steps)} steps, {self.seconds:.0f} s)"


_EXECUTING = re.compile(r"^Executing (.+) \(([\w-]+)\)\.\.\.$")
_COMPLETED = re.compile(r"^✓ Step '(.+)' completed$")
_FAILED = re.compile(r"^❌ Step '(.+)' failed")
_EXPECTED = re.compile(r"^✓ Expected failure occurred: (.*)$")


def parse_steps(output: str) -> list[Step]:
    """The top-level steps merobox ran, in order, and how each ended."""
    steps: list[Step] = []
    for line in output.splitlines():
        line = line.strip()
        if m := _EXECUTING.match(line):
            steps.append(Step(m.group(1), m.group(2)))
        elif steps and (m := _COMPLETED.match(line)) and m.group(1) == steps[-1].name:
            steps[-1].outcome = "completed"
        elif steps and (m := _FAILED.match(line)) and m.group(1) == steps[-1].name:
            steps[-1].outcome = "failed"
        elif steps and (m := _EXPECTED.match(line)):
            steps[-1].expected_failures.append(m.group(1))
    return steps


def _prepare_workdir(work: Path, workflows: Path) -> None:
    """``work/workflow-examples`` as the workflows expect it (they name
    ``workflow-examples/res/kv_store.wasm`` from the working directory),
    with core's apps built for the node."""
    target = work / "workflow-examples"
    shutil.copytree(workflows, target, dirs_exist_ok=True)
    res = target / "res"
    res.mkdir(exist_ok=True)
    for app in ("kv_store.wasm", "blobs.wasm"):
        source = shared_node() / app
        if source.is_file() and not (res / app).exists():
            shutil.copy(source, res / app)


def _sandbox_pids(sandbox: Path) -> list[int]:
    registry = sandbox / "nodes.json"
    if not registry.exists():
        return []
    nodes = json.loads(registry.read_text())
    return [pid for node in nodes.values() for pid in node.get("pids", [])]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def stop_sandbox_nodes(sandbox: Path, merod: Path) -> None:
    """Stops the merod processes this sandbox started, by pid (and only
    those still running the sandbox's merod)."""
    pids = []
    for pid in _sandbox_pids(sandbox):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if Path(exe).resolve() == merod.resolve():
            pids.append(pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def run_workflow(
    python: Path,
    workflow: str,
    *,
    workflows: Path,
    merod: Path,
    work: Path,
    timeout: float = 600,
    netns: bool | None = None,
    call_log: Path | None = None,
) -> WorkflowRun:
    """Runs ``workflow-examples/<workflow>`` with merobox in ``python``'s
    venv, natively against ``merod`` (through the sandbox wrapper), in a
    fresh working directory ``work``. With ``call_log``, every call merobox
    makes into the client is appended there (``calllog/sitecustomize.py``)."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    _prepare_workdir(work, workflows)
    home = work / "home"
    home.mkdir()
    sandbox = work / "sandbox"
    shim = work / "merod"
    shim.write_text(
        f'#!/bin/sh\nexec {python} {HERE / "merod_sandbox.py"} "$@"\n',
    )
    shim.chmod(0o755)
    merobox = python.parent / "merobox"
    env = {
        "PATH": f"{python.parent}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home),
        "MEROD_SANDBOX_REAL": str(merod),
        "MEROD_SANDBOX_DIR": str(sandbox),
        # the account merobox's embedded-auth workflows log in with
        "MEROD_SANDBOX_ADMIN": "alice:password123",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "COLUMNS": "400",
        "TERM": "dumb",
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
    }
    if call_log is not None:
        env["PYTHONPATH"] = str(HERE / "calllog")
        env["CALIMERO_CALL_LOG"] = str(call_log)
    cmd = [
        str(merobox),
        "bootstrap",
        "run",
        f"workflow-examples/{workflow}",
        "--no-docker",
        "--e2e-mode",
        "--binary-path",
        str(shim),
    ]
    if netns is None:
        netns = can_unshare()
    if netns:
        quoted = " ".join(f"'{c}'" for c in cmd)
        ip = shutil.which("ip") or "ip"
        cmd = ["unshare", "-rn", "sh", "-c", f"{ip} link set lo up && exec {quoted}"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
        output, code = done.stdout.decode("utf-8", "replace"), done.returncode
    except subprocess.TimeoutExpired as e:
        output = (e.stdout or b"").decode(
            "utf-8", "replace"
        ) + f"\n[harness: timed out after {timeout} s]"
        code = -1
    finally:
        stop_sandbox_nodes(sandbox, merod)
    seconds = time.monotonic() - started
    passed = code == 0 and "Workflow completed successfully" in output
    if passed:  # the nodes' stores and logs are only wanted after a failure
        shutil.rmtree(work / "data", ignore_errors=True)
    return WorkflowRun(
        workflow=workflow,
        passed=passed,
        seconds=seconds,
        steps=parse_steps(output),
        tail="\n".join(output.splitlines()[-25:]),
        log=output,
    )


# ------------------------------------------------------------ merobox's tests


def run_unit_tests(
    python: Path, tests: Path, work: Path, select: list[str]
) -> subprocess.CompletedProcess[str]:
    """merobox's own unit tests (vendored at ``tests``), with the real
    ``calimero_client_py`` of the venv importable: their conftest stubs it
    with a MagicMock, ours (``unit_conftest.py``) does not, and checks that
    every call they make on a client mock binds to our ``Client``."""
    if work.exists():
        shutil.rmtree(work)
    (work / "tests").mkdir(parents=True)
    for name in select:
        shutil.copy(tests / name, work / "tests" / name)
    shutil.copy(HERE / "unit_conftest.py", work / "tests" / "conftest.py")
    env = dict(os.environ, HOME=str(work), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


# ---------------------------------------------------------------- the command


def _run(ns: argparse.Namespace) -> int:
    merod = Path(ns.merod).resolve() if ns.merod else default_merod()
    if merod is None:
        print("no merod: pass --merod or set CALIMERO_MEROD", file=sys.stderr)
        return 2
    workflows = Path(ns.workflows).resolve()
    names = ns.workflow or sorted(p.name for p in workflows.glob("*.yml"))
    python = ensure_venv(Path(ns.venv).resolve(), Path(ns.client).resolve())
    results = []
    for name in names:
        run = run_workflow(
            python,
            name,
            workflows=workflows,
            merod=merod,
            work=Path(ns.work).resolve() / name.removesuffix(".yml"),
            timeout=ns.timeout,
            call_log=Path(ns.call_log).resolve() if ns.call_log else None,
        )
        print(run.summary(), flush=True)
        if not run.passed:
            print("    " + run.tail.replace("\n", "\n    "), flush=True)
        results.append(run)
    if ns.out:
        Path(ns.out).write_text(
            json.dumps([{**asdict(r), "log": r.log} for r in results], indent=1)
        )
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed, {len(results)} run")
    return 0


def _count(failures: list[str] | int) -> int:
    return failures if isinstance(failures, int) else len(failures)


def reference_record(runs: list[WorkflowRun | dict]) -> list[dict]:
    """What a comparison needs of a run (no logs, expected failures counted):
    the form of ``official-0.6.31.json``."""
    out = []
    for run in runs:
        r = asdict(run) if isinstance(run, WorkflowRun) else run
        out.append(
            {
                "workflow": r["workflow"],
                "passed": r["passed"],
                "seconds": round(r["seconds"]),
                "steps": [
                    {
                        "name": s["name"],
                        "type": s["type"],
                        "outcome": s["outcome"],
                        "expected_failures": _count(s["expected_failures"]),
                    }
                    for s in r["steps"]
                ],
            }
        )
    return out


def compare(reference: list[dict], candidate: list[dict]) -> list[str]:
    """Where ``candidate`` does worse than ``reference``: a workflow that
    passed there and fails here, a step that completed there and not here,
    or a step that met a different number of expected failures. (A step
    that failed there and completes here is not a difference: the
    reference's node had a bad moment.)"""
    problems = []
    mine = {r["workflow"]: r for r in candidate}
    for ref in reference:
        got = mine.get(ref["workflow"])
        if got is None:
            problems.append(f"{ref['workflow']}: not run")
            continue
        if ref["passed"] and not got["passed"]:
            problems.append(f"{ref['workflow']}: passes on the reference, fails here")
        for i, step in enumerate(ref["steps"]):
            other = got["steps"][i] if i < len(got["steps"]) else None
            if other is None or other["name"] != step["name"]:
                if ref["passed"]:
                    problems.append(f"{ref['workflow']}: step {i + 1} {step['name']!r} not reached")
                break
            if step["outcome"] == "completed" and other["outcome"] != "completed":
                problems.append(
                    f"{ref['workflow']}: step {i + 1} {step['name']!r}: "
                    f"{step['outcome']} there, {other['outcome']} here"
                )
            elif step["outcome"] == other["outcome"] == "completed" and _count(
                other["expected_failures"]
            ) != _count(step["expected_failures"]):
                problems.append(
                    f"{ref['workflow']}: step {i + 1} {step['name']!r}: "
                    f"{_count(step['expected_failures'])} expected failures there, "
                    f"{_count(other['expected_failures'])} here"
                )
    return problems


def _compare(ns: argparse.Namespace) -> int:
    reference = json.loads(Path(ns.reference).read_text())
    candidate = json.loads(Path(ns.candidate).read_text())
    mine = {r["workflow"]: r for r in candidate}
    print(f"{'workflow':58} {'reference':>14} {'candidate':>14}")
    for ref in reference:
        got = mine.get(ref["workflow"], {"passed": False, "steps": []})

        def cell(r: dict) -> str:
            done = sum(s["outcome"] == "completed" for s in r["steps"])
            return f"{'pass' if r['passed'] else 'FAIL'} {done}/{len(r['steps'])}"

        print(f"{ref['workflow']:58} {cell(ref):>14} {cell(got):>14}")
    problems = compare(reference, candidate)
    for p in problems:
        print("DIFF", p)
    print(f"{len(problems)} differences")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run workflows with one client")
    run.add_argument("--client", required=True, help="the calimero-client-py wheel to install")
    run.add_argument("--venv", default="build/merobox-venv", help="the virtualenv to use/make")
    run.add_argument("--merod", help="the merod binary (default ../shared/node/merod)")
    run.add_argument(
        "--workflows",
        default=str(VENDORED / "workflow-examples"),
        help="merobox's workflow-examples directory",
    )
    run.add_argument("--work", default="build/merobox-work")
    run.add_argument("--timeout", type=float, default=600)
    run.add_argument("--out", help="write the results as JSON")
    run.add_argument("--call-log", help="append every client call merobox makes here (JSON lines)")
    run.add_argument("workflow", nargs="*", help="file names (default: every .yml)")
    run.set_defaults(func=_run)
    cmp = sub.add_parser("compare", help="compare two runs step by step")
    cmp.add_argument("reference")
    cmp.add_argument("candidate")
    cmp.set_defaults(func=_compare)
    ns = parser.parse_args(argv)
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
