"""What an account with no node signs for a relay, built here for the tests:
rc.83's creation and governance warrants, the delegable governance ops, and
presence statements.

The client has no signer for these (it signs request proofs and data
warrants only), and the test node must not sign what it verifies, so this
is a third implementation: Ed25519 after RFC 8032 section 5.1 (pure Python,
slow and not constant-time; for tests only), and the byte layouts of core's
``crates/account/src/{creation,governance}.rs`` and ``crates/node/primitives
/src/presence.rs`` as mero-js ``src/warrant/`` encodes them. Core pins the
layouts with byte vectors (``creation_wire_fixture.rs``,
``governance_wire_fixture.rs``, presence ``statement_vector_is_stable``);
tests/test_node_releases.py checks these encoders reproduce them."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

# ---------------------------------------------------------------- Ed25519

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)

_Point = tuple[int, int, int, int]


def _recover_x(y: int, sign: int) -> int:
    xx = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(xx, (_P + 3) // 8, _P)
    if (x * x - xx) % _P:
        x = x * _SQRT_M1 % _P
    return _P - x if x % 2 != sign else x


_BY = 4 * pow(5, _P - 2, _P) % _P
_BX = _recover_x(_BY, 0)
_BASE: _Point = (_BX, _BY, 1, _BX * _BY % _P)


def _add(a: _Point, b: _Point) -> _Point:
    """Extended twisted Edwards addition (RFC 8032 5.1.4)."""
    pa = (a[1] - a[0]) * (b[1] - b[0]) % _P
    pb = (a[1] + a[0]) * (b[1] + b[0]) % _P
    pc = 2 * a[3] * b[3] * _D % _P
    pd = 2 * a[2] * b[2] % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(scalar: int, point: _Point) -> _Point:
    out: _Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            out = _add(out, point)
        point = _add(point, point)
        scalar >>= 1
    return out


def _encode(point: _Point) -> bytes:
    zi = pow(point[2], _P - 2, _P)
    x, y = point[0] * zi % _P, point[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(secret: bytes) -> tuple[int, bytes]:
    digest = hashlib.sha512(secret).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, digest[32:]


def public_key(secret: bytes) -> bytes:
    a, _ = _expand(secret)
    return _encode(_mul(a, _BASE))


def sign(secret: bytes, message: bytes) -> bytes:
    a, prefix = _expand(secret)
    key = _encode(_mul(a, _BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _encode(_mul(r, _BASE))
    k = int.from_bytes(hashlib.sha512(big_r + key + message).digest(), "little") % _L
    return big_r + ((r + k * a) % _L).to_bytes(32, "little")


# ------------------------------------------------------------- encodings


def domain_hash(domain: str, *parts: bytes) -> bytes:
    """core's `domain_hash`: SHA-256 over the domain and each part, each
    preceded by its length as a u64 LE."""
    sha = hashlib.sha256()
    for part in (domain.encode(), *parts):
        sha.update(struct.pack("<Q", len(part)))
        sha.update(part)
    return sha.digest()


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def u64(n: int) -> bytes:
    return struct.pack("<Q", n)


def b32(value: str | bytes) -> bytes:
    out = bytes.fromhex(value) if isinstance(value, str) else value
    assert len(out) == 32, value
    return out


def node_json(value: Any) -> bytes:
    """The bytes a node hashes for JSON it received: serde_json's compact
    output, object keys in order."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def _label(value: str | None) -> tuple[bytes, bytes, bytes]:
    """(preimage tag, preimage bytes, borsh) of an `Option<String>`."""
    if value is None:
        return b"\x00", b"", b"\x00"
    raw = value.encode()
    return b"\x01", raw, b"\x01" + u32(len(raw)) + raw


def _heads(heads: list[bytes]) -> tuple[list[bytes], bytes]:
    """(preimage parts: u64 count then the heads, borsh: u32 count then the heads)."""
    return [u64(len(heads)), *heads], u32(len(heads)) + b"".join(heads)


def creation_warrant(
    secret: bytes,
    *,
    group: str | bytes,
    seed: str | bytes,
    author_account: str | bytes,
    executor: str | bytes,
    executor_key: str | bytes,
    application_id: str | bytes,
    init_args: bytes,
    nonce: int,
    not_after: int,
    service_name: str | None = None,
    name: str | None = None,
    account_heads: tuple[bytes, ...] = (),
    governance_floor: tuple[bytes, ...] = (),
) -> str:
    """A signed `ContextCreationWarrant`, hex borsh. `init_args` are the
    bytes the node will hash (see :func:`node_json`)."""
    device = public_key(secret)
    init_hash = domain_hash("calimero.context-creation.init.v1", init_args)
    service = _label(service_name)
    label = _label(name)
    fixed = [b32(group), b32(seed), b32(author_account), device, b32(executor)]
    fixed += [b32(executor_key), b32(application_id)]
    account_pre, account_wire = _heads(list(account_heads))
    floor_pre, floor_wire = _heads(list(governance_floor))
    preimage = domain_hash(
        "calimero.context-creation-warrant.v1",
        *fixed,
        service[0],
        service[1],
        label[0],
        label[1],
        init_hash,
        *account_pre,
        *floor_pre,
        u64(nonce),
        u64(not_after),
    )
    wire = b"".join(fixed) + service[2] + label[2] + init_hash + account_wire + floor_wire
    return (wire + u64(nonce) + u64(not_after) + sign(secret, preimage)).hex()


#: `GovernanceOpKind`.
GROUP, ROOT = 0, 1
#: `GroupMemberRole` discriminants a member's op may name.
ROLES = {"Admin": 0, "Member": 1, "ReadOnly": 2}


def member_added_op(member: str, role: str) -> tuple[int, bytes]:
    return GROUP, b"\x01" + b32(member) + bytes([ROLES[role]])


def member_removed_op(member: str) -> tuple[int, bytes]:
    """In delegable form: the post-state hash zero, the list empty."""
    return GROUP, b"\x02" + b32(member) + bytes(32) + u32(0)


def member_role_set_op(member: str, role: str) -> tuple[int, bytes]:
    return GROUP, b"\x04" + b32(member) + bytes([ROLES[role]])


def group_created_op(group: str, parent: str, restricted: bool, admin: str) -> tuple[int, bytes]:
    return ROOT, b"\x00" + b32(group) + b32(parent) + bytes([restricted]) + b32(admin)


def governance_warrant(
    secret: bytes,
    *,
    scope: str | bytes,
    op: tuple[int, bytes],
    author_account: str | bytes,
    executor: str | bytes,
    executor_key: str | bytes,
    nonce: int,
    not_after: int,
    account_heads: tuple[bytes, ...] = (),
    governance_floor: tuple[bytes, ...] = (),
) -> str:
    """A signed `GovernanceWarrant` over `op` (kind, delegable bytes), hex borsh."""
    kind, op_bytes = op
    op_hash = domain_hash("calimero.governance-warrant.op.v1", bytes([kind]), op_bytes)
    fixed = [b32(scope), bytes([kind]), b32(author_account), public_key(secret)]
    fixed += [b32(executor), b32(executor_key), op_hash]
    account_pre, account_wire = _heads(list(account_heads))
    floor_pre, floor_wire = _heads(list(governance_floor))
    preimage = domain_hash(
        "calimero.governance-warrant.v1",
        *fixed,
        *account_pre,
        *floor_pre,
        u64(nonce),
        u64(not_after),
    )
    wire = b"".join(fixed) + account_wire + floor_wire + u64(nonce) + u64(not_after)
    return (wire + sign(secret, preimage)).hex()


def presence_statement(
    context: str | bytes, author: bytes, seq: int, sent_at_ms: int, state: bytes | None
) -> bytes:
    """The bytes an author signs for a presence update (raw, not hashed)."""
    borsh = b"\x00" if state is None else b"\x01" + u32(len(state)) + state
    return (
        b"calimero/presence/1"
        + b32(context)
        + author
        + u64(seq)
        + u64(sent_at_ms)
        + hashlib.sha256(borsh).digest()
    )


def presence_signature(
    secret: bytes, context: str, seq: int, sent_at_ms: int, state: bytes | None
) -> str:
    message = presence_statement(context, public_key(secret), seq, sent_at_ms, state)
    return sign(secret, message).hex()
