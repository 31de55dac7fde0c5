//! Delegable governance ops, in the borsh bytes a governance warrant
//! commits to, and that commitment: `H("calimero.governance-warrant.op.v1",
//! [kind, op bytes])` with kind 0 for a group op, 1 for a root op.
//!
//! Discriminants are the variants' positions in core's `GroupOp` and
//! `RootOp` (`crates/governance-types/src/lib.rs`); removals, leaves and
//! cascade deletes are in their delegable form (post-state cleared). Pinned
//! by core's `delegable_governance_op_vectors_for_non_rust_encoders_are_stable`,
//! which mero-js `governance-op-vectors.test.ts` mirrors.

use super::wire::{domain_hash, Writer};

pub(crate) const OP_DOMAIN: &[u8] = b"calimero.governance-warrant.op.v1";

/// Which log an op is published on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// A `GroupOp`, on the group's own log.
    Group = 0,
    /// A `RootOp`, on the namespace log.
    Root = 1,
}

/// An encoded op and its plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GovernanceOp {
    pub kind: OpKind,
    pub bytes: Vec<u8>,
}

impl GovernanceOp {
    /// The commitment a governance warrant carries.
    pub fn hash(&self) -> [u8; 32] {
        domain_hash(OP_DOMAIN, &[&[self.kind as u8], &self.bytes])
    }
}

/// A member role (`GroupMemberRole`): Admin 0, Member 1, ReadOnly 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin = 0,
    Member = 1,
    ReadOnly = 2,
}

/// Metadata: an optional name and string pairs (a `BTreeMap`, so written in
/// key-byte order whatever order they come in).
pub struct Metadata<'a> {
    pub name: Option<&'a str>,
    pub data: &'a [(&'a str, &'a str)],
}

fn op(kind: OpKind, tag: u8, f: impl FnOnce(&mut Writer)) -> GovernanceOp {
    let mut w = Writer::default();
    w.u8(tag);
    f(&mut w);
    GovernanceOp { kind, bytes: w.0 }
}

fn metadata(w: &mut Writer, m: &Metadata<'_>) {
    match m.name {
        None => w.u8(0),
        Some(n) => w.u8(1).string(n.as_bytes()),
    };
    let mut data: Vec<&(&str, &str)> = m.data.iter().collect();
    data.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    w.u32(u32::try_from(data.len()).unwrap_or(u32::MAX));
    for (k, v) in data {
        w.string(k.as_bytes()).string(v.as_bytes());
    }
}

pub fn member_added(member: &[u8; 32], role: Role) -> GovernanceOp {
    op(OpKind::Group, 1, |w| {
        w.raw(member).u8(role as u8);
    })
}
pub fn member_removed(member: &[u8; 32]) -> GovernanceOp {
    op(OpKind::Group, 2, |w| {
        w.raw(member).raw(&[0; 32]).u32(0);
    })
}
pub fn member_left(member: &[u8; 32]) -> GovernanceOp {
    op(OpKind::Group, 3, |w| {
        w.raw(member).raw(&[0; 32]).u32(0);
    })
}
pub fn member_role_set(member: &[u8; 32], role: Role) -> GovernanceOp {
    op(OpKind::Group, 4, |w| {
        w.raw(member).u8(role as u8);
    })
}
pub fn member_capability_set(member: &[u8; 32], capabilities: u32) -> GovernanceOp {
    op(OpKind::Group, 5, |w| {
        w.raw(member).u32(capabilities);
    })
}
pub fn default_capabilities_set(capabilities: u32) -> GovernanceOp {
    op(OpKind::Group, 6, |w| {
        w.u32(capabilities);
    })
}
pub fn context_detached(context: &[u8; 32]) -> GovernanceOp {
    op(OpKind::Group, 9, |w| {
        w.raw(context);
    })
}
pub fn subgroup_visibility_set(open: bool) -> GovernanceOp {
    op(OpKind::Group, 10, |w| {
        w.u8(if open { 0 } else { 1 });
    })
}
pub fn group_metadata_set(m: &Metadata<'_>) -> GovernanceOp {
    op(OpKind::Group, 11, |w| metadata(w, m))
}
pub fn member_metadata_set(member: &[u8; 32], m: &Metadata<'_>) -> GovernanceOp {
    op(OpKind::Group, 12, |w| {
        w.raw(member);
        metadata(w, m);
    })
}
pub fn context_metadata_set(context: &[u8; 32], m: &Metadata<'_>) -> GovernanceOp {
    op(OpKind::Group, 13, |w| {
        w.raw(context);
        metadata(w, m);
    })
}
pub fn context_capability_granted(context: &[u8; 32], member: &[u8; 32], cap: u8) -> GovernanceOp {
    op(OpKind::Group, 16, |w| {
        w.raw(context).raw(member).u8(cap);
    })
}
pub fn context_capability_revoked(context: &[u8; 32], member: &[u8; 32], cap: u8) -> GovernanceOp {
    op(OpKind::Group, 17, |w| {
        w.raw(context).raw(member).u8(cap);
    })
}
pub fn group_reparented(child: &[u8; 32], new_parent: &[u8; 32]) -> GovernanceOp {
    op(OpKind::Root, 1, |w| {
        w.raw(child).raw(new_parent);
    })
}
pub fn group_deleted(root_group: &[u8; 32]) -> GovernanceOp {
    op(OpKind::Root, 2, |w| {
        w.raw(root_group).u32(0).u32(0);
    })
}
/// `credential` is the author's `AccountProof<DeviceCert>` bytes, inline.
pub fn member_joined_open(member: &[u8; 32], group: &[u8; 32], credential: &[u8]) -> GovernanceOp {
    op(OpKind::Root, 7, |w| {
        w.raw(member).raw(group).raw(credential);
    })
}
