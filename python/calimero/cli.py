"""The ``calimero-client-py`` command: every ``Client`` method as a
subcommand, made from the same endpoint table.

    calimero-client-py --node-url http://127.0.0.1:2528 list-contexts
    calimero-client-py call CONTEXT_ID get --args '{"key": "k"}'

Exit codes: 0 success, 1 the node or the network failed, 2 bad usage or
bad arguments. Errors are one line on stderr (a traceback with --debug).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, NoReturn

from . import ENDPOINTS, ClientError, __version__, create_client, create_connection
from .calimero_client_py import BlobChunks

DEFAULT_NODE_URL = "http://127.0.0.1:2528"

_KIND_HELP = {
    "base58_id": "base58 id",
    "hex_id": "64-hex id",
    "base58_or_hex_id": "base58 or 64-hex id",
    "hash": "base58 or hex hash",
    "url": "http(s) URL",
    "node_path": "path on the node",
    "uint": "integer",
    "json_text": "JSON text",
    "bytes": "text (sent as bytes)",
    "alias": "alias (A-Z a-z 0-9 . _ -, at most 50)",
    "hex": "hex text",
    "uint32": "integer",
    "role": "Admin, Member or ReadOnly",
    "members": 'JSON list, e.g. \'[{"identity": "<hex>", "role": "Member"}]\'',
    "hex_id_list": "JSON list of 64-hex ids",
    "str_list": "a value (repeat the option for more)",
    "metadata": 'JSON object, e.g. \'{"name": "n", "data": {"k": "v"}}\'',
    "upload": "path of the file to upload",
    "local_path": "local file path",
}

# Arguments the command line cannot give (a Python callable).
_SKIPPED_KINDS = {"progress"}


def _command(name: str) -> str:
    return name.replace("_", "-")


def _convert(name: str, kind: str, text: Any) -> Any:
    if kind in ("uint", "uint32"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name}: expected an integer, got {text!r}") from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="calimero-client-py",
        description="Talk to a Calimero node (merod) from the command line.",
        epilog="Example: calimero-client-py --node-url http://127.0.0.1:2528 list-contexts",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--node-url",
        default=os.environ.get("CALIMERO_NODE_URL", DEFAULT_NODE_URL),
        help="the node's URL (env CALIMERO_NODE_URL; default %(default)s)",
    )
    parser.add_argument(
        "--node-name",
        default=os.environ.get("CALIMERO_NODE_NAME"),
        help="name tokens are cached under (env CALIMERO_NODE_NAME)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="request timeout in seconds (default 60)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print compact JSON (default: indented JSON)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    auth = sub.add_parser(
        "detect-auth-mode",
        help="whether the node requires authentication",
        description="Prints 'none' or 'required'.",
        epilog="Example: calimero-client-py detect-auth-mode",
    )
    auth.set_defaults(endpoint=None)

    for endpoint in ENDPOINTS:
        summary = endpoint["doc"].split(". ")[0].rstrip(".")
        positional = [a for a in endpoint["args"] if a["required"]]
        example = " ".join(
            ["calimero-client-py", _command(endpoint["name"])]
            + [a["name"].upper() for a in positional]
        )
        cmd = sub.add_parser(
            _command(endpoint["name"]),
            help=summary,
            description=f"{endpoint['doc']}\n\nNode route: {endpoint['verb']} {endpoint['path']}",
            epilog=f"Example: {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.set_defaults(endpoint=endpoint)
        for arg in endpoint["args"]:
            kind = arg["kind"]
            helptext = _KIND_HELP.get(kind, "text")
            if kind in _SKIPPED_KINDS:
                continue
            if kind == "choice":
                helptext = " or ".join(arg["choices"])
            if kind == "str_list":
                cmd.add_argument(
                    "--" + _command(arg["name"]), dest=arg["name"], action="append", help=helptext
                )
            elif kind == "bool":
                cmd.add_argument(
                    "--" + _command(arg["name"]),
                    dest=arg["name"],
                    action=argparse.BooleanOptionalAction,
                    default=None,
                )
            elif arg["required"]:
                cmd.add_argument(arg["name"], metavar=arg["name"].upper(), help=helptext)
            else:
                cmd.add_argument("--" + _command(arg["name"]), dest=arg["name"], help=helptext)
    return parser


def _fail(message: str, code: int) -> NoReturn:
    print(f"calimero-client-py: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _print(result: Any, compact: bool) -> None:
    if isinstance(result, BlobChunks):
        with result:
            for chunk in result:
                sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
    elif isinstance(result, bytes):
        sys.stdout.buffer.write(result)
        sys.stdout.buffer.flush()
    elif isinstance(result, str) and not compact:
        print(result)
    else:
        print(json.dumps(result, indent=None if compact else 2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        connection = create_connection(ns.node_url, ns.node_name, timeout=ns.timeout)
        if ns.endpoint is None:
            result: Any = str(connection.detect_auth_mode())
        else:
            kwargs = {}
            for arg in ns.endpoint["args"]:
                if arg["kind"] in _SKIPPED_KINDS:
                    continue
                value = getattr(ns, arg["name"])
                if value is not None and arg["kind"] != "bool":
                    value = _convert(arg["name"], arg["kind"], value)
                kwargs[arg["name"]] = value
            client = create_client(connection)
            result = getattr(client, ns.endpoint["name"])(**kwargs)
        _print(result, ns.json)
    except ClientError as e:
        if ns.debug:
            raise
        _fail(str(e), 1)
    except (ValueError, TypeError, OSError) as e:
        # OSError here is a local file (a missing upload, an unwritable path).
        if ns.debug:
            raise
        _fail(str(e), 2)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
