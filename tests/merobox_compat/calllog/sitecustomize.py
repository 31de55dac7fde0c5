"""Records every call merobox makes into calimero-client-py (test only).

Put on ``PYTHONPATH`` with ``CALIMERO_CALL_LOG`` naming a file: each client
made by ``calimero_client_py.create_client`` is wrapped in a proxy that
appends one JSON line per method call: the method, the types of its
arguments, and what came back (the shape of the answer: its keys to depth
3 and their types) or what was raised (class, whether a RuntimeError, the
message). Works for the official client (a native class) and ours alike,
since merobox gets its clients from ``create_client``.
"""

from __future__ import annotations

import json
import os

_LOG = os.environ.get("CALIMERO_CALL_LOG")


def _shape(value, depth=0):
    if isinstance(value, dict):
        if depth >= 3:
            return "dict"
        return {k: _shape(v, depth + 1) for k, v in sorted(value.items())}
    if isinstance(value, list):
        # one shape for the elements: the union of their keys
        shapes = [_shape(v, depth + 1) for v in value]
        if shapes and all(isinstance(s, dict) for s in shapes):
            merged = {}
            for s in shapes:
                merged.update(s)
            return [dict(sorted(merged.items()))]
        return sorted({json.dumps(s, sort_keys=True) for s in shapes})
    return type(value).__name__


def _write(record):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=str) + "\n")


class _Recorded:
    def __init__(self, inner):
        object.__setattr__(self, "_inner", inner)

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args, **kwargs):
            record = {
                "method": name,
                "args": [type(a).__name__ for a in args],
                "kwargs": {k: type(v).__name__ for k, v in sorted(kwargs.items())},
            }
            try:
                result = attr(*args, **kwargs)
            except BaseException as e:
                record["raised"] = type(e).__name__
                record["runtime_error"] = isinstance(e, RuntimeError)
                record["message"] = str(e)[:300]
                _write(record)
                raise
            record["returned"] = _shape(result)
            _write(record)
            return result

        return call


if _LOG:
    try:
        import calimero_client_py as _module
    except ImportError:  # pragma: no cover
        _module = None
    if _module is not None:
        _create = _module.create_client

        def create_client(connection):
            return _Recorded(_create(connection))

        _module.create_client = create_client
