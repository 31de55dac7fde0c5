//! The device credential: borsh `AccountProof<DeviceCert>`, the account
//! root's certificate over a device's keys, with the genesis that names the
//! account and the root-key handoffs that reach the signing epoch.
//!
//! Layout (core `crates/account/src/{signed,account,device,root_key}.rs`;
//! swift `Account/DeviceCredential.swift`):
//!
//! ```text
//! u8 genesis_version (= 2) ‖ root_pk[32]
//! u32 n ‖ n × (account[32] ‖ u32 from_epoch ‖ new_root_pk[32] ‖ sig[64])
//! account[32] ‖ device[32] ‖ sign_pk[32] ‖ kem_pk[32] ‖ u32 key_epoch ‖ u32 device_epoch ‖ sig[64]
//! ```
//!
//! `account = H("calimero.account.genesis.v1", [version ‖ root_pk])`; the
//! certificate is signed by the root key at `key_epoch` over
//! `H("calimero.device.cert.v1", [account, device, sign_pk, kem_pk,
//! u32le key_epoch, u32le device_epoch])`; handoff `i` by the key of epoch `i`
//! over `H("calimero.account.handoff.v1", [account, u32le from_epoch, new_pk])`.

use serde_json::{json, Value};

use super::keys::verify;
use super::wire::{domain_hash, Reader, Writer};
use crate::error::Error;

pub const ACCOUNT_GENESIS_VERSION: u8 = 2;
pub(crate) const ACCOUNT_ID_DOMAIN: &[u8] = b"calimero.account.genesis.v1";
pub(crate) const DEVICE_ID_DOMAIN: &[u8] = b"calimero.device.id.v1";
pub(crate) const DEVICE_CERT_DOMAIN: &[u8] = b"calimero.device.cert.v1";
pub(crate) const HANDOFF_DOMAIN: &[u8] = b"calimero.account.handoff.v1";
/// Most root-key handoffs a credential may carry (core `MAX_ROOT_KEY_HANDOFFS`).
pub const MAX_HANDOFFS: usize = 1024;

/// One root-key rollover, signed by the outgoing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub account: [u8; 32],
    pub from_epoch: u32,
    pub new_root_key: [u8; 32],
    pub signature: [u8; 64],
}

/// A parsed device credential. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCredential {
    pub genesis_version: u8,
    pub root_key: [u8; 32],
    pub chain: Vec<Handoff>,
    pub account: [u8; 32],
    pub device: [u8; 32],
    pub sign_key: [u8; 32],
    pub kem_key: [u8; 32],
    pub key_epoch: u32,
    pub device_epoch: u32,
    pub signature: [u8; 64],
}

/// The account a root key names: `H("calimero.account.genesis.v1", [2 ‖ root_pk])`.
pub fn account_for_root(version: u8, root_key: &[u8; 32]) -> [u8; 32] {
    let mut genesis = Vec::with_capacity(33);
    genesis.push(version);
    genesis.extend_from_slice(root_key);
    domain_hash(ACCOUNT_ID_DOMAIN, &[&genesis])
}

/// A device id as core's `DeviceId::mint` derives it in the releases whose
/// vectors this module reproduces: `H("calimero.device.id.v1", [account,
/// nonce16])`. (Later core spells it `nonce16 ‖ H(...)[..16]`, so that a
/// verifier can tell an id minted for the account; the two spellings differ
/// between releases, so [`DeviceCredential::verify`] checks neither: the
/// certificate's signature covers the id either way.)
pub fn device_id(account: &[u8; 32], nonce: &[u8; 16]) -> [u8; 32] {
    domain_hash(DEVICE_ID_DOMAIN, &[account, nonce])
}

/// A device id as later core mints it: `nonce16 ‖ H("calimero.device.id.v1",
/// [account, nonce16])[..16]` (swift `Account/DeviceCredential.swift`; the
/// vectors of mero-js `src/request/caller-proof.test.ts`).
pub fn device_id_with_nonce(account: &[u8; 32], nonce: &[u8; 16]) -> [u8; 32] {
    let tail = device_id(account, nonce);
    let mut id = [0u8; 32];
    id[..16].copy_from_slice(nonce);
    id[16..].copy_from_slice(&tail[..16]);
    id
}

/// What the root key signs to certify a device.
pub fn cert_signing_payload(
    account: &[u8; 32],
    device: &[u8; 32],
    sign_key: &[u8; 32],
    kem_key: &[u8; 32],
    key_epoch: u32,
    device_epoch: u32,
) -> [u8; 32] {
    domain_hash(
        DEVICE_CERT_DOMAIN,
        &[
            account,
            device,
            sign_key,
            kem_key,
            &key_epoch.to_le_bytes(),
            &device_epoch.to_le_bytes(),
        ],
    )
}

impl Handoff {
    pub fn signing_payload(&self) -> [u8; 32] {
        domain_hash(
            HANDOFF_DOMAIN,
            &[
                &self.account,
                &self.from_epoch.to_le_bytes(),
                &self.new_root_key,
            ],
        )
    }
}

impl DeviceCredential {
    /// Parses the borsh bytes; refuses truncated or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader::new(bytes);
        let credential = Self::read(&mut r)?;
        r.finish("the credential")?;
        Ok(credential)
    }

    /// Reads one credential from `r` (it is the first field of a
    /// `CallerProof`).
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, String> {
        let genesis_version = r.u8("the genesis version")?;
        let root_key = r.array32("the root key")?;
        let n = r.u32("the handoff count")? as usize;
        if n > MAX_HANDOFFS {
            return Err(format!(
                "the credential carries {n} root-key handoffs, more than {MAX_HANDOFFS}"
            ));
        }
        let mut chain = Vec::with_capacity(n);
        for _ in 0..n {
            chain.push(Handoff {
                account: r.array32("a handoff")?,
                from_epoch: r.u32("a handoff")?,
                new_root_key: r.array32("a handoff")?,
                signature: r.array64("a handoff")?,
            });
        }
        Ok(DeviceCredential {
            genesis_version,
            root_key,
            chain,
            account: r.array32("the account")?,
            device: r.array32("the device id")?,
            sign_key: r.array32("the signing key")?,
            kem_key: r.array32("the KEM key")?,
            key_epoch: r.u32("the key epoch")?,
            device_epoch: r.u32("the device epoch")?,
            signature: r.array64("the certificate signature")?,
        })
    }

    /// From hex (the form pairing and `merod account sign-cert` hand out).
    pub fn from_hex(argument: &str, text: &str) -> Result<Self, Error> {
        let bytes = super::keys::hex_bytes(argument, text, 1 << 20)?;
        Self::decode(&bytes).map_err(|reason| {
            Error::invalid(
                argument,
                format!("not a device credential (borsh AccountProof<DeviceCert>): {reason}"),
            )
        })
    }

    /// The borsh bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        self.write(&mut w);
        w.0
    }

    pub(crate) fn write(&self, w: &mut Writer) {
        w.u8(self.genesis_version).raw(&self.root_key);
        w.u32(u32::try_from(self.chain.len()).unwrap_or(u32::MAX));
        for h in &self.chain {
            w.raw(&h.account)
                .u32(h.from_epoch)
                .raw(&h.new_root_key)
                .raw(&h.signature);
        }
        w.raw(&self.account)
            .raw(&self.device)
            .raw(&self.sign_key)
            .raw(&self.kem_key)
            .u32(self.key_epoch)
            .u32(self.device_epoch)
            .raw(&self.signature);
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.encode())
    }

    /// The account the genesis names (what `verify` compares `account` with).
    pub fn genesis_account(&self) -> [u8; 32] {
        account_for_root(self.genesis_version, &self.root_key)
    }

    /// What the certificate's signature covers.
    pub fn signing_payload(&self) -> [u8; 32] {
        cert_signing_payload(
            &self.account,
            &self.device,
            &self.sign_key,
            &self.kem_key,
            self.key_epoch,
            self.device_epoch,
        )
    }

    /// Whether the credential is internally valid: the genesis names the
    /// account, the handoff chain reaches
    /// `key_epoch`, and the root key of that epoch signed the certificate.
    /// Says nothing about revocation or membership, which only a node knows.
    pub fn verify(&self) -> Result<(), String> {
        if self.genesis_version != ACCOUNT_GENESIS_VERSION {
            return Err(format!(
                "genesis version {} is not the supported {ACCOUNT_GENESIS_VERSION}",
                self.genesis_version
            ));
        }
        let account = self.genesis_account();
        if account != self.account {
            return Err(format!(
                "the certificate names account {} but the genesis names {}",
                hex::encode(self.account),
                hex::encode(account)
            ));
        }
        let needed = self.key_epoch as usize;
        if needed > self.chain.len() {
            return Err(format!(
                "the certificate was signed at root-key epoch {} but the chain reaches {}",
                self.key_epoch,
                self.chain.len()
            ));
        }
        let mut key = self.root_key;
        for (i, h) in self.chain.iter().take(needed).enumerate() {
            if h.from_epoch as usize != i {
                return Err(format!(
                    "handoff {i} rolls epoch {} (expected {i})",
                    h.from_epoch
                ));
            }
            if h.account != account {
                return Err(format!("handoff {i} is for another account"));
            }
            if !verify(&key, &h.signing_payload(), &h.signature) {
                return Err(format!("handoff {i} is not signed by the key of epoch {i}"));
            }
            key = h.new_root_key;
        }
        if !verify(&key, &self.signing_payload(), &self.signature) {
            return Err("the certificate is not signed by the account's root key".into());
        }
        Ok(())
    }

    /// What `DeviceCredential` shows: account, device, keys and epochs (hex).
    pub fn to_json(&self) -> Value {
        json!({
            "account": hex::encode(self.account),
            "device": hex::encode(self.device),
            "signingKey": hex::encode(self.sign_key),
            "kemKey": hex::encode(self.kem_key),
            "rootKey": hex::encode(self.root_key),
            "keyEpoch": self.key_epoch,
            "deviceEpoch": self.device_epoch,
            "handoffs": self.chain.len(),
            "genesisVersion": self.genesis_version,
        })
    }
}
