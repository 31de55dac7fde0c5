//! rc.83's root-guarded owner operations and account sealing:
//! `POST /groups/{id}/transfer-ownership {newOwner, rootProof?}`,
//! `POST /groups/{id}/owner-delete {rootProof?}`,
//! `POST /namespaces/{id}/admin {newAdmin, rootProof?}`,
//! `PUT|DELETE /groups/{id}/settings/tee-authoring-policy`,
//! `POST /groups/{id}/accounts/{account}/seal {plaintext}`.
//!
//! Sources: core `service.rs` (index id 70883150803: routes, and
//! `owner_guard_status`: a missing proof 403, a stale counter 409, a bad
//! proof 400), the wire fixtures `groups/transfer_ownership.req.json`,
//! `groups/owner_delete.req.json`, `namespaces/change_admin.req.json`;
//! swift `Rc83SurfaceTests.swift` (bodies, `{}` answers, 409 "stale
//! owner-op counter"). The handlers answer `RootGuardedOpApiResponse {}`
//! (research `wire-rc83.md` §9.5).
//!
//! The stand-in: the owner of a group is its creator's account; this node
//! holds its own account root (`holdsAccountRoot`), so it signs the owner
//! op itself and needs no `rootProof` for groups it owns. A `rootProof`,
//! when given, must be hex (else 400) and is otherwise not checked
//! [inferred]. Each op bumps the group's `ownerOpCounter`. Refusal texts
//! are [inferred] after the `MembershipError` variants they stand for.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::groups::{authorised, empty, group_mut, parse_account, parse_group_id, readable};
use crate::error::{data, ApiError, ApiResult, Strict, Validate, ValidatedJson, ValidationError};
use crate::ids::{HexId, Id};
use crate::state::{AppState, Node, Role};
use crate::Config;

/// `rootProof`: optional, non-empty hex (undecodable → 400, core
/// `root_proof.rs`, index id 71105271794) [inferred texts].
fn check_root_proof(proof: Option<&String>, errors: &mut Vec<ValidationError>) {
    if let Some(proof) = proof {
        if proof.is_empty() {
            errors.push(ValidationError::EmptyField { field: "rootProof" });
        } else if hex::decode(proof).is_err() {
            errors.push(ValidationError::InvalidHexEncoding {
                field: "rootProof",
                reason: "not valid hex".to_owned(),
            });
        }
    }
}

/// A 64-hex account from a body field, with the handler's own 400.
fn account_field(raw: &str, field: &str) -> Result<Id, ApiError> {
    Id::parse_hex(raw)
        .map_err(|_| ApiError::bad_request(format!("{field} must be 64 hex chars (32 bytes)")))
}

/// The node must own the group (`MembershipError::OnlyOwnerCan…`, 403).
fn require_owner(node: &Node, id: &Id, what: &str) -> Result<(), ApiError> {
    let group = readable(node, id)?;
    if node.account() == Some(group.owner) {
        Ok(())
    } else {
        Err(ApiError::Json(
            StatusCode::FORBIDDEN,
            format!(
                "only the owner of group {} can {what}; this node's account is not its owner",
                id.to_hex()
            ),
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferOwnershipRequest {
    new_owner: String,
    #[serde(default)]
    root_proof: Option<String>,
}

impl Validate for TransferOwnershipRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        check_root_proof(self.root_proof.as_ref(), &mut errors);
        errors
    }
}

/// The new owner must be a direct admin of the group (`TransferTargetNot…`,
/// 409).
pub async fn transfer_ownership(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<TransferOwnershipRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let new_owner = account_field(&req.new_owner, "newOwner")?;
    let mut node = state.node();
    require_owner(&node, &id, "transfer its ownership")?;
    let group = group_mut(&mut node, &id)?;
    match group.members.get(&new_owner).map(|r| r.role) {
        None => {
            return Err(ApiError::Json(
                StatusCode::CONFLICT,
                format!(
                    "transfer target {} is not a member of group {}",
                    new_owner.to_hex(),
                    id.to_hex()
                ),
            ))
        }
        Some(role) if role != Role::Admin => {
            return Err(ApiError::Json(
                StatusCode::CONFLICT,
                format!(
                    "transfer target {} is not an admin of group {}; make it an admin first",
                    new_owner.to_hex(),
                    id.to_hex()
                ),
            ))
        }
        Some(_) => {}
    }
    group.owner = new_owner;
    group.owner_op_counter += 1;
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RootGuardedRequest {
    #[serde(default)]
    root_proof: Option<String>,
}

impl Validate for RootGuardedRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        check_root_proof(self.root_proof.as_ref(), &mut errors);
        errors
    }
}

/// Deletes the group and everything below it (its contexts stay,
/// unregistered); a namespace root goes with its whole tree.
pub async fn owner_delete(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(_req): ValidatedJson<RootGuardedRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    require_owner(&node, &id, "delete it")?;
    let doomed = node.subtree(id);
    for gid in &doomed {
        let _ = node.groups.remove(gid);
    }
    for context in node.contexts.values_mut() {
        if context.group.is_some_and(|g| doomed.contains(&g)) {
            context.group = None;
        }
    }
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeAdminRequest {
    new_admin: String,
    #[serde(default)]
    root_proof: Option<String>,
}

impl Validate for ChangeAdminRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        check_root_proof(self.root_proof.as_ref(), &mut errors);
        errors
    }
}

/// `POST /namespaces/{id}/admin`: makes a member of the namespace its admin
/// (a non-member is 409).
pub async fn change_admin(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<ChangeAdminRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let new_admin = account_field(&req.new_admin, "newAdmin")?;
    let mut node = state.node();
    if node.groups.get(&id).is_some_and(|g| g.parent.is_some()) {
        return Err(ApiError::bad_request(
            "namespace_id must reference a root group (namespace)",
        ));
    }
    require_owner(&node, &id, "change its admin")?;
    let group = group_mut(&mut node, &id)?;
    let Some(row) = group.members.get_mut(&new_admin) else {
        return Err(ApiError::Json(
            StatusCode::CONFLICT,
            format!(
                "{} is not a member of namespace {}",
                new_admin.to_hex(),
                id.to_hex()
            ),
        ));
    };
    row.role = Role::Admin;
    group.owner_op_counter += 1;
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthoringPolicyRequest {
    allowed_mrtd: Vec<String>,
    #[serde(default)]
    root_proof: Option<String>,
}

impl Validate for AuthoringPolicyRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        if self.allowed_mrtd.is_empty() {
            errors.push(ValidationError::EmptyField {
                field: "allowedMrtd",
            });
        }
        check_root_proof(self.root_proof.as_ref(), &mut errors);
        errors
    }
}

/// Only on a namespace root (`NamespaceError::TeeAuthoringPolicyNotOnSubgroup`,
/// 400) [inferred text].
fn namespace_root(node: &Node, id: &Id) -> Result<(), ApiError> {
    if readable(node, id)?.parent.is_some() {
        return Err(ApiError::bad_request(format!(
            "the TEE authoring policy is set on a namespace, not on subgroup {}",
            id.to_hex()
        )));
    }
    Ok(())
}

pub async fn set_authoring_policy(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    ValidatedJson(req): ValidatedJson<AuthoringPolicyRequest>,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    let mut node = state.node();
    namespace_root(&node, &id)?;
    require_owner(&node, &id, "set its TEE authoring policy")?;
    let group = group_mut(&mut node, &id)?;
    group.authoring_policy = Some(req.allowed_mrtd);
    group.owner_op_counter += 1;
    group.touch();
    Ok(empty())
}

/// `DELETE`: no body, or `{rootProof}`.
pub async fn disable_authoring_policy(
    State(state): State<Arc<AppState>>,
    Path(raw): Path<String>,
    body: Bytes,
) -> ApiResult {
    let id = parse_group_id(&raw)?;
    if !body.is_empty() {
        let Strict(req) = serde_json::from_slice::<Strict<RootGuardedRequest>>(&body)
            .map_err(|err| ApiError::bad_request(format!("Invalid JSON data: {err}")))?;
        let errors = req.validate(&state.config);
        if !errors.is_empty() {
            return Err(ApiError::bad_request(crate::error::join_validation_errors(
                &errors,
            )));
        }
    }
    let mut node = state.node();
    namespace_root(&node, &id)?;
    require_owner(&node, &id, "disable its TEE authoring policy")?;
    let group = group_mut(&mut node, &id)?;
    group.authoring_policy = None;
    group.owner_op_counter += 1;
    group.touch();
    Ok(empty())
}

#[derive(Deserialize)]
pub struct SealRequest {
    plaintext: String,
}

impl Validate for SealRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        if hex::decode(&self.plaintext).is_err() {
            vec![ValidationError::InvalidHexEncoding {
                field: "plaintext",
                reason: "not valid hex".to_owned(),
            }]
        } else {
            Vec::new()
        }
    }
}

/// `POST /groups/{id}/accounts/{account}/seal`: seals `plaintext` to a
/// member account's root (swift `Rc83SurfaceTests.swift`:
/// `{"data":{"accountRootEpoch","ephemeralPublicKey","nonce","ciphertext"}}`).
/// The stand-in's envelope is not real encryption [inferred: epoch 1, a
/// fresh 32-byte key, a 12-byte nonce, ciphertext = keystream XOR plaintext
/// plus a 16-byte tag]. A non-member account is `MemberNotFound` (404 from
/// rc.44).
pub async fn seal_to_account(
    State(state): State<Arc<AppState>>,
    Path((raw, account)): Path<(String, String)>,
    ValidatedJson(req): ValidatedJson<SealRequest>,
) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sealed {
        account_root_epoch: u64,
        ephemeral_public_key: HexId,
        nonce: String,
        ciphertext: String,
    }

    let id = parse_group_id(&raw)?;
    let account = parse_account(&account)?;
    let node = state.node();
    authorised(&node, &id, 0).or_else(|err| {
        // Members may seal too; only non-readers are refused.
        if node.my_row(&id).is_some() {
            Ok(())
        } else {
            Err(err)
        }
    })?;
    let group = readable(&node, &id)?;
    if !group.members.contains_key(&account) {
        return Err(super::groups::member_not_found(&account, &id));
    }
    let plaintext = hex::decode(&req.plaintext).unwrap_or_default();
    let ephemeral = Id::random();
    let nonce: [u8; 12] = rand::random();
    let mut ciphertext = Vec::with_capacity(plaintext.len() + 16);
    for (i, byte) in plaintext.iter().enumerate() {
        let pad = Id::digest(&[&ephemeral.0, &nonce, &(i as u64).to_le_bytes()]);
        ciphertext.push(byte ^ pad.0[0]);
    }
    ciphertext.extend_from_slice(&Id::digest(&[&account.0, &ciphertext]).0[..16]);
    Ok(data(Sealed {
        account_root_epoch: 1,
        ephemeral_public_key: HexId(ephemeral),
        nonce: hex::encode(nonce),
        ciphertext: hex::encode(ciphertext),
    }))
}
