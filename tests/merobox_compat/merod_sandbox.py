"""merod, kept on this machine: what merobox runs as ``--binary-path``.

merobox's binary mode runs ``merod --home H --node N init --server-port P
--swarm-port S`` and then ``merod --home H --node N run``. Left alone, merod
would listen on every interface, dial the public bootstrap nodes and
announce itself over mDNS on the local network, and on some starts ask
GitHub for a newer release. This wrapper runs the real merod
(``MEROD_SANDBOX_REAL``) so that none of that happens:

- ``init`` listens on 127.0.0.1 only (swarm and server);
- before every ``run`` (merobox rewrites config.toml between the two),
  ``bootstrap.nodes`` is set to the other nodes of this sandbox, on
  loopback, ``discovery.mdns`` to false and the swarm to 127.0.0.1, with
  ``merod config``: nodes find each other through these addresses instead
  of mDNS;
- merod runs with ``HTTPS_PROXY``/``HTTP_PROXY`` pointing at a closed
  loopback port, so the release check cannot leave the machine;
- an ``init --auth-mode embedded`` gets the admin account of
  ``MEROD_SANDBOX_ADMIN`` (``user:password``): rc.25 refuses an embedded
  init without one, and merobox's auth workflows log in as that user.

Every node of a sandbox is recorded in ``MEROD_SANDBOX_DIR/nodes.json``
(name, peer id, swarm port, the pids it ran as), so that the test can stop
exactly the processes it started. Anything else (``--version``, ``config``)
is passed through unchanged.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REAL = os.environ["MEROD_SANDBOX_REAL"]
REGISTRY = Path(os.environ["MEROD_SANDBOX_DIR"]) / "nodes.json"
CLOSED_PROXY = "http://127.0.0.1:9"


def option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def offline_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        env[name] = CLOSED_PROXY
    env["NO_PROXY"] = env["no_proxy"] = ""
    return env


def read_config(path: Path) -> tuple[str, int]:
    """The node's peer id and swarm TCP port."""
    text = path.read_text()
    peer = re.search(r'(?m)^peer_id\s*=\s*"([^"]+)"', text)
    port = re.search(r"/ip4/[0-9.]+/tcp/(\d+)", text.split("[swarm]", 1)[1])
    if not peer or not port:
        raise SystemExit(f"merod_sandbox: no peer id or swarm port in {path}")
    return peer.group(1), int(port.group(1))


def update_registry(change) -> dict:
    REGISTRY.parent.mkdir(parents=True, exist_ok=True)
    with open(REGISTRY.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        nodes = json.loads(REGISTRY.read_text()) if REGISTRY.exists() else {}
        change(nodes)
        tmp = REGISTRY.with_suffix(".tmp")
        tmp.write_text(json.dumps(nodes, indent=2))
        tmp.replace(REGISTRY)
        return nodes


def main() -> int:
    args = sys.argv[1:]
    home, node = option(args, "--home"), option(args, "--node") or option(args, "-n")
    if "init" in args and home and node:
        at = args.index("init") + 1
        extra = []
        if option(args, "--swarm-host") is None:
            extra += ["--swarm-host", "127.0.0.1"]
        if option(args, "--server-host") is None:
            extra += ["--server-host", "127.0.0.1"]
        admin = os.environ.get("MEROD_SANDBOX_ADMIN")
        if option(args, "--auth-mode") == "embedded" and admin and "--admin-user" not in args:
            # rc.25 refuses an embedded-auth init without an admin account
            user, password = admin.split(":", 1)
            secret = REGISTRY.parent / f"{node}.admin-password"
            REGISTRY.parent.mkdir(parents=True, exist_ok=True)
            secret.write_text(password)
            extra += ["--admin-user", user, "--admin-password-file", str(secret)]
        code = subprocess.call([REAL, *args[:at], *extra, *args[at:]], env=offline_env())
        if code == 0:
            config = Path(home) / node / "config.toml"
            peer, port = read_config(config)
            update_registry(
                lambda nodes: nodes.setdefault(node, {"pids": []}).update(
                    peer_id=peer, swarm_port=port, home=home
                )
            )
        return code
    if "run" in args and home and node:
        config = Path(home) / node / "config.toml"
        peer, port = read_config(config)

        def register(nodes: dict) -> None:
            entry = nodes.setdefault(node, {"pids": []})
            entry.update(peer_id=peer, swarm_port=port, home=home)
            entry["pids"].append(os.getpid())  # exec keeps the pid

        nodes = update_registry(register)
        peers = [
            f"/ip4/127.0.0.1/tcp/{other['swarm_port']}/p2p/{other['peer_id']}"
            for name, other in sorted(nodes.items())
            if name != node and "peer_id" in other
        ]
        subprocess.run(
            [
                REAL,
                "--home",
                home,
                "--node",
                node,
                "config",
                f"bootstrap.nodes={json.dumps(peers)}",
                "discovery.mdns=false",
                "swarm.listen="
                + json.dumps([f"/ip4/127.0.0.1/tcp/{port}", f"/ip4/127.0.0.1/udp/{port}/quic-v1"]),
            ],
            check=True,
            env=offline_env(),
            stdout=subprocess.DEVNULL,
        )
        os.execve(REAL, [REAL, *args], offline_env())
    os.execve(REAL, [REAL, *args], offline_env())
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
