//! 32-byte identifiers and their wire encodings.
//!
//! Up to rc.26 application, context, blob ids and public keys (the node's
//! `Hash`) travel as base58; from rc.27 as 64 lowercase hex, and a base58
//! one is refused ([`crate::release::Release::hex_ids`]). Group, namespace
//! ids, app keys, accounts and devices are 64-char hex in every release.
//! core: crates/primitives/src/hash.rs at rc.25 (base58 parsing and its error
//! texts) and its rc.27+ form (index id 59326009433: hex only, `InvalidHex`
//! "expected 64 hex characters (32 bytes)", `InvalidLength` "invalid hash
//! length", expecting "a hex encoded hash"),
//! crates/server/src/admin/handlers/groups.rs (`parse_group_id`, `parse_context_id`).

use std::fmt;

use serde::de::Visitor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Longest base58 string that can hold 32 bytes, as the real node computes it.
const MAX_BS58_LEN: usize = 32 * 138 / 100 + 1;

/// A 32-byte id, the node's `Hash`: base58 before rc.27, hex from rc.27
/// (the release of the request being served, [`crate::release::current`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct Id(pub [u8; 32]);

/// Why a base58 id did not parse: wrong decoded length, or a bs58 error.
#[derive(Debug)]
pub enum Bs58IdError {
    Length,
    Decode(bs58::decode::Error),
}

/// Why a hex id did not parse: not hex, or not 32 bytes.
#[derive(Debug)]
pub enum HexIdError {
    NotHex,
    Length,
}

impl Id {
    pub const ZERO: Id = Id([0; 32]);

    pub fn random() -> Self {
        Id(rand::random())
    }

    /// SHA-256 over the concatenation of `parts`.
    pub fn digest(parts: &[&[u8]]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&hasher.finalize());
        Id(out)
    }

    pub fn parse_bs58(s: &str) -> Result<Self, Bs58IdError> {
        if s.len() > MAX_BS58_LEN {
            return Err(Bs58IdError::Decode(bs58::decode::Error::BufferTooSmall));
        }
        let mut bytes = [0u8; 32];
        match bs58::decode(s).onto(&mut bytes) {
            Ok(32) => Ok(Id(bytes)),
            Ok(_) => Err(Bs58IdError::Length),
            Err(err) => Err(Bs58IdError::Decode(err)),
        }
    }

    /// Strict 64-char hex (no other length accepted).
    pub fn parse_hex(s: &str) -> Result<Self, HexIdError> {
        let bytes = hex::decode(s).map_err(|_| HexIdError::NotHex)?;
        bytes.try_into().map(Id).map_err(|_| HexIdError::Length)
    }

    pub fn to_bs58(self) -> String {
        bs58::encode(self.0).into_string()
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// The wire form in the current release: hex from rc.27, else base58.
    pub fn encode(self) -> String {
        if crate::release::current().hex_ids() {
            self.to_hex()
        } else {
            self.to_bs58()
        }
    }

    /// Parses the current release's wire form: the rc.27+ `Hash::from_hex`
    /// (any hex case; `Err` carries its message), else base58 (`Err` carries
    /// the message serde's visitor gives).
    pub fn parse(s: &str) -> Result<Self, String> {
        if crate::release::current().hex_ids() {
            Self::parse_hash_hex(s).map_err(str::to_owned)
        } else {
            Self::parse_bs58(s).map_err(|err| Self::bs58_error_message(s, &err))
        }
    }

    /// The current release's encoding, for handlers that word their own
    /// refusal (blob ids, `context_id` query values, a context in a group
    /// path): hex from rc.27, base58 before (core `hash.rs`, id 59326009433).
    pub fn parse_wire(s: &str) -> Result<Self, ()> {
        if crate::release::current().hex_ids() {
            Self::parse_hash_hex(s).map_err(|_| ())
        } else {
            Self::parse_bs58(s).map_err(|_| ())
        }
    }

    /// `Hash::from_hex` of rc.27+: not hex (or odd length) and wrong decoded
    /// length are the two errors.
    pub fn parse_hash_hex(s: &str) -> Result<Self, &'static str> {
        let bytes = hex::decode(s).map_err(|_| HASH_NOT_HEX)?;
        bytes.try_into().map(Id).map_err(|_| HASH_BAD_LENGTH)
    }

    /// The message serde's `Hash` visitor produces for `s`, as an axum 0.7
    /// `Path` rejection would carry it.
    pub fn bs58_error_message(s: &str, err: &Bs58IdError) -> String {
        match err {
            Bs58IdError::Length => {
                format!("invalid length {}, expected {EXPECTING}", s.len())
            }
            Bs58IdError::Decode(err) => err.to_string(),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

const EXPECTING: &str = "a base58 encoded hash";
const EXPECTING_HEX: &str = "a hex encoded hash";
/// `HashError::InvalidHex` (rc.27+).
pub const HASH_NOT_HEX: &str = "expected 64 hex characters (32 bytes)";
/// `HashError::InvalidLength` (rc.27+).
pub const HASH_BAD_LENGTH: &str = "invalid hash length";

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = Id;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if crate::release::current().hex_ids() {
                    f.write_str(EXPECTING_HEX)
                } else {
                    f.write_str(EXPECTING)
                }
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id, E> {
                if crate::release::current().hex_ids() {
                    return Id::parse_hash_hex(v).map_err(E::custom);
                }
                match Id::parse_bs58(v) {
                    Ok(id) => Ok(id),
                    Err(Bs58IdError::Length) => Err(E::invalid_length(v.len(), &self)),
                    Err(Bs58IdError::Decode(err)) => Err(E::custom(err)),
                }
            }
        }

        deserializer.deserialize_str(IdVisitor)
    }
}

/// A 32-byte value serialised as 64-char hex (accounts, devices, group ids).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct HexId(pub Id);

impl Serialize for HexId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_hex())
    }
}

/// A string that must deserialise from a JSON string (the node's
/// `Utf8PathBuf`, whose visitor expects a "path string").
#[derive(Debug, Clone)]
pub struct PathString(pub String);

impl<'de> Deserialize<'de> for PathString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathVisitor;

        impl Visitor<'_> for PathVisitor {
            type Value = PathString;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("path string")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PathString, E> {
                Ok(PathString(v.to_owned()))
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<PathString, E> {
                std::str::from_utf8(v)
                    .map(|s| PathString(s.to_owned()))
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Bytes(v), &self))
            }
        }

        deserializer.deserialize_string(PathVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_id_is_thirty_two_ones() {
        assert_eq!(Id::ZERO.to_bs58(), "11111111111111111111111111111111");
    }

    #[test]
    fn bs58_round_trip_and_errors() {
        let id = Id::random();
        assert_eq!(Id::parse_bs58(&id.to_bs58()).unwrap(), id);
        let err = Id::parse_bs58("abc").unwrap_err();
        assert_eq!(
            Id::bs58_error_message("abc", &err),
            "invalid length 3, expected a base58 encoded hash"
        );
        let err = Id::parse_bs58("0OIl").unwrap_err();
        assert!(Id::bs58_error_message("0OIl", &err).contains("invalid character"));
    }

    #[test]
    fn the_release_picks_the_encoding() {
        use crate::release::{sync_scope, Release};
        let id = Id([0xab; 32]);
        assert_eq!(id.encode(), id.to_bs58());
        let rc27 = Release::rc(27).unwrap();
        assert_eq!(sync_scope(rc27, || id.encode()), "ab".repeat(32));
        assert_eq!(
            sync_scope(rc27, || serde_json::to_string(&id).unwrap()),
            format!("\"{}\"", "ab".repeat(32))
        );
        assert_eq!(sync_scope(rc27, || Id::parse(&"AB".repeat(32))), Ok(id));
        assert_eq!(
            sync_scope(rc27, || Id::parse(&id.to_bs58())).unwrap_err(),
            HASH_NOT_HEX
        );
        assert_eq!(
            sync_scope(rc27, || Id::parse(&"ab".repeat(31))).unwrap_err(),
            HASH_BAD_LENGTH
        );
        let err = sync_scope(rc27, || serde_json::from_str::<Id>("1").unwrap_err());
        assert_eq!(
            err.to_string(),
            "invalid type: integer `1`, expected a hex encoded hash at line 1 column 1"
        );
    }

    #[test]
    fn hex_parsing_is_strict() {
        assert!(Id::parse_hex(&"ab".repeat(32)).is_ok());
        assert!(matches!(
            Id::parse_hex(&"ab".repeat(31)),
            Err(HexIdError::Length)
        ));
        assert!(matches!(Id::parse_hex("zz"), Err(HexIdError::NotHex)));
    }
}
