"""Starting real merod nodes for tests/e2e (the counterpart of testnode.py).

The binary is ``$CALIMERO_MEROD_BIN`` (or ``$CALIMERO_MEROD``, as
tests/merobox_compat names it), else ``../shared/node/merod`` from the
project root (for a git worktree, also from the main checkout's root). Its
directory holds the apps the tests install: ``kv_store.wasm`` and
``blobs.wasm`` (core's apps built at the node's tag).

Every node is a process of the test run, isolated on loopback: HTTP server
and swarm on 127.0.0.1 at free ports, no mDNS, no bootstrap nodes but the
ones given, and GitHub's release check sent to a dead proxy. It is stopped
when its stdin closes (``--exit-on-eof 0``), so a test run that dies takes
its nodes with it; :meth:`RealNode.stop` also removes its home directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The environment every merod process gets: its release check on start
#: (~10% of starts) goes to a closed port instead of GitHub.
LOOPBACK_ENV = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}

#: How long a node may take to answer its health route (the machine can be
#: several times slower than usual).
START_TIMEOUT = 90.0


def _project_roots() -> list[Path]:
    """The project root, then (in a git worktree) the main checkout's root."""
    roots = [ROOT]
    git = ROOT / ".git"
    if git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        match = re.match(r"gitdir:\s*(.+)", git.read_text().strip())
        if match:
            gitdir = Path(match.group(1))
            if not gitdir.is_absolute():
                gitdir = (ROOT / gitdir).resolve()
            for parent in gitdir.parents:
                if parent.name == ".git":
                    roots.append(parent.parent)
                    break
    return roots


def merod_binary() -> tuple[Path | None, str]:
    """(the merod binary, "") or (None, why there is none)."""
    for name in ("CALIMERO_MEROD_BIN", "CALIMERO_MEROD"):  # the second: tests/merobox_compat's
        env = os.environ.get(name)
        if env:
            path = Path(env)
            if path.is_file() and os.access(path, os.X_OK):
                return path, ""
            return None, f"{name}={env} is not an executable file"
    tried = []
    for root in _project_roots():
        path = root.parent / "shared" / "node" / "merod"
        if path.is_file() and os.access(path, os.X_OK):
            return path, ""
        tried.append(str(path))
    return None, (
        f"no merod binary (looked for {' and '.join(tried)}); set CALIMERO_MEROD_BIN to a "
        "merod 0.11.0-rc.25, or CALIMERO_E2E_NODE_URL to a running node"
    )


def app_path(binary: Path, name: str) -> Path | None:
    """An app beside the binary (``kv_store.wasm``, ``blobs.wasm``)."""
    path = binary.parent / name
    return path if path.is_file() else None


def _port_is_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):  # the swarm listens on TCP and QUIC
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port() -> int:
    """A port free for TCP and UDP on 127.0.0.1 (from the kernel's ephemeral
    range; a node that loses the race to another process is restarted on
    other ports)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if _port_is_free(port):
            return port


class NodeStartError(RuntimeError):
    pass


class RealNode:
    """A merod node, initialised in a fresh home directory and running.

    ``auth`` makes it an embedded-auth node with the admin account
    (``username``, ``password``) and access tokens that live
    ``access_ttl`` seconds (the node's ``access_token_expiry``).
    ``bootstrap`` lists multiaddrs of nodes to peer with."""

    def __init__(
        self,
        binary: Path,
        name: str,
        *,
        auth: bool = False,
        username: str = "admin",
        password: str = "e2e-admin-password",
        access_ttl: int | None = None,
        bootstrap: list[str] | None = None,
        sync_interval_ms: int | None = None,
        attempts: int = 3,
    ) -> None:
        self.binary = binary
        self.name = name
        self.auth = auth
        self.username = username
        self.password = password
        self.access_ttl = access_ttl
        self.home = Path(tempfile.mkdtemp(prefix=f"merod-{name}-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, **LOOPBACK_ENV}
        self.env.pop("CALIMERO_HOME", None)
        self.env.pop("RUST_LOG", None)
        error: Exception | None = None
        for _ in range(attempts):
            try:
                self._init(bootstrap or [], sync_interval_ms)
                self._run()
                return
            except NodeStartError as e:  # most likely a port taken meanwhile: try others
                error = e
                self._kill()
                shutil.rmtree(self.home / name, ignore_errors=True)
        self.stop()
        raise NodeStartError(f"merod {name} did not start: {error}")

    # ------------------------------------------------------------------ start

    def _merod(self, *args: str) -> list[str]:
        return [str(self.binary), "--home", str(self.home), "--node", self.name, *args]

    def _init(self, bootstrap: list[str], sync_interval_ms: int | None) -> None:
        self.port = free_port()
        self.swarm_port = free_port()
        while self.swarm_port == self.port:
            self.swarm_port = free_port()
        args = [
            "init",
            "--server-host",
            "127.0.0.1",
            "--server-port",
            str(self.port),
            "--swarm-host",
            "127.0.0.1",
            "--swarm-port",
            str(self.swarm_port),
            "--no-mdns",
        ]
        if self.auth:
            secret = self.home / "admin-password"
            secret.write_text(self.password)
            args += [
                "--auth-mode",
                "embedded",
                "--admin-user",
                self.username,
                "--admin-password-file",
                str(secret),
            ]
        done = subprocess.run(
            self._merod(*args),
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise NodeStartError(f"init failed: {_tail(done.stdout + done.stderr)}")
        config = self.home / self.name / "config.toml"
        text = config.read_text()
        # Never dial the public bootstrap nodes: only the ones given.
        nodes = "".join(f'\n    "{addr}",' for addr in bootstrap) + ("\n" if bootstrap else "")
        text, n = re.subn(
            r"(?ms)^\[bootstrap\]\nnodes = \[.*?\]\n",
            lambda _: f"[bootstrap]\nnodes = [{nodes}]\n",
            text,
        )
        if n != 1:
            raise NodeStartError("config.toml has no [bootstrap] nodes to replace")
        if self.access_ttl is not None:
            # core:crates/auth/src/config.rs, JwtConfig.access_token_expiry (seconds)
            text, n = re.subn(
                r"(?m)^access_token_expiry = \d+$",
                f"access_token_expiry = {self.access_ttl}",
                text,
            )
            if n != 1:
                raise NodeStartError("config.toml has no access_token_expiry to set")
        if sync_interval_ms is not None:
            text = re.sub(r"(?m)^interval_ms = \d+$", f"interval_ms = {sync_interval_ms}", text)
        config.write_text(text)
        match = re.search(r'(?m)^peer_id = "([^"]+)"$', text)
        if not match:
            raise NodeStartError("config.toml has no [identity] peer_id")
        self.peer_id = match.group(1)

    def _run(self) -> None:
        self.log = self.home / f"{self.name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                self._merod("run", "--exit-on-eof", "0"),
                env=self.env,
                stdin=subprocess.PIPE,  # the node exits when this pipe closes
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.home,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise NodeStartError(
                    f"exited with {self.process.returncode}: {_tail(self.log.read_bytes())}"
                )
            try:
                with urllib.request.urlopen(self.url + "/admin-api/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise NodeStartError(
                    f"no answer from {self.url} in {START_TIMEOUT:.0f} s: "
                    f"{_tail(self.log.read_bytes())}"
                )
            time.sleep(0.2)

    # ---------------------------------------------------------------- queries

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def multiaddr(self) -> str:
        """What another node puts in its ``bootstrap.nodes`` to peer with this one."""
        return f"/ip4/127.0.0.1/tcp/{self.swarm_port}/p2p/{self.peer_id}"

    def log_text(self) -> str:
        try:
            return re.sub(r"\x1b\[[0-9;]*m", "", self.log.read_text(errors="replace"))
        except (AttributeError, OSError):
            return ""

    # ------------------------------------------------------------------- stop

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        if process.stdin:
            process.stdin.close()  # --exit-on-eof: the node shuts down
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            pass
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stops the node and removes its home directory (kept when
        ``$CALIMERO_E2E_KEEP_HOME`` is set, for reading its log)."""
        self._kill()
        if os.environ.get("CALIMERO_E2E_KEEP_HOME"):
            print(f"merod {self.name}: home kept at {self.home}")
        else:
            shutil.rmtree(self.home, ignore_errors=True)


def _tail(output: bytes, lines: int = 15) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", output.decode(errors="replace"))
    return "\n".join(text.strip().splitlines()[-lines:])
