//! Ed25519 keys: a secret that never shows and is zeroed when dropped, and
//! the hex spellings every key and id has on this surface.

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::Error;

/// An Ed25519 signing secret (a device key or a session key).
///
/// `Debug` shows only the public key; the 32 secret bytes are zeroed when
/// this is dropped (`ed25519-dalek`'s `ZeroizeOnDrop`), and the hex they
/// were parsed from is zeroed as soon as it is decoded.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// From 64 hex characters (32 bytes), naming `argument` when refused.
    /// The message never repeats the input.
    pub fn from_hex(argument: &str, text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(Error::invalid(
                argument,
                format!(
                    "expected 64 hex characters (an Ed25519 secret of 32 bytes), got {} characters",
                    text.len()
                ),
            ));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, bytes.as_mut_slice())
            .map_err(|_| Error::invalid(argument, "expected 64 hex characters (0-9, a-f)"))?;
        Ok(SecretKey(SigningKey::from_bytes(&bytes)))
    }

    /// From raw bytes (tests, and keys minted here).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(bytes))
    }

    /// The public key, 32 bytes.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// Ed25519 (RFC 8032, deterministic) over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// Whether `signature` is `key`'s Ed25519 signature of `message` (strict:
/// small-order keys and non-canonical signatures are refused).
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(signature);
    key.verify_strict(message, &signature).is_ok() && key.verify(message, &signature).is_ok()
}

/// 64 hex characters as 32 bytes (any case, surrounding space ignored).
pub fn hex32(argument: &str, text: &str) -> Result<[u8; 32], Error> {
    let text = text.trim();
    let mut out = [0u8; 32];
    if text.len() != 64 || hex::decode_to_slice(text, &mut out).is_err() {
        return Err(Error::invalid(
            argument,
            format!(
                "expected 64 hex characters (32 bytes), got {}",
                crate::error::truncate(&format!("{text:?}"), 80)
            ),
        ));
    }
    Ok(out)
}

/// Hex text of any even length as bytes, at most `max` bytes.
pub fn hex_bytes(argument: &str, text: &str, max: usize) -> Result<Vec<u8>, Error> {
    let text = text.trim();
    if text.len() > max * 2 {
        return Err(Error::invalid(
            argument,
            format!(
                "expected at most {max} bytes of hex, got {} characters",
                text.len()
            ),
        ));
    }
    hex::decode(text)
        .map_err(|_| Error::invalid(argument, "expected hex text of an even length (0-9, a-f)"))
}
