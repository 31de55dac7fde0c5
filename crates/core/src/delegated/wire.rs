//! The two primitives every signed structure here is built from: the
//! domain-separated SHA-256 (`domain_hash`) and borsh's little-endian
//! layout, written by hand (the structures are few and flat, and writing
//! them field by field keeps the byte order visible next to its source).

use sha2::{Digest, Sha256};

/// `SHA-256(u64le(len(domain)) ‖ domain ‖ Σ(u64le(len(part)) ‖ part))`.
///
/// Every part is length-prefixed, so two different splits of the same bytes
/// never hash alike (core: `calimero_primitives::identity::domain_hash`;
/// mero-js `crypto/internal.ts`; swift `Crypto/Signing.swift`).
pub fn domain_hash(domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update((domain.len() as u64).to_le_bytes());
    h.update(domain);
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A borsh writer: fixed arrays raw, integers little-endian, `String` and
/// `Vec` as a `u32` count then the items, `Option` as a tag byte.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
    pub(crate) fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }
    pub(crate) fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }
    /// A borsh `String` (or `Vec<u8>`): `u32` length, then the bytes.
    pub(crate) fn string(&mut self, bytes: &[u8]) -> &mut Self {
        // Callers bound their strings far below 4 GiB.
        self.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.raw(bytes)
    }
    /// A borsh `Vec<[u8; 32]>`.
    pub(crate) fn hashes(&mut self, items: &[[u8; 32]]) -> &mut Self {
        self.u32(u32::try_from(items.len()).unwrap_or(u32::MAX));
        for item in items {
            self.raw(item);
        }
        self
    }
}

/// A borsh reader over untrusted bytes: every read is bounds-checked and
/// names the field it was reading when the bytes run out.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.at..end];
                self.at = end;
                Ok(out)
            }
            None => Err(format!(
                "ends inside {what} ({} bytes, {} read)",
                self.bytes.len(),
                self.at
            )),
        }
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, String> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, String> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn array32(&mut self, what: &str) -> Result<[u8; 32], String> {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.take(32, what)?);
        Ok(b)
    }

    pub(crate) fn array64(&mut self, what: &str) -> Result<[u8; 64], String> {
        let mut b = [0u8; 64];
        b.copy_from_slice(self.take(64, what)?);
        Ok(b)
    }

    /// A borsh `String` of at most `max` bytes, UTF-8.
    pub(crate) fn string(&mut self, what: &str, max: usize) -> Result<String, String> {
        let len = self.u32(what)? as usize;
        if len > max {
            return Err(format!("{what} is {len} bytes, more than {max}"));
        }
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
    }

    /// A borsh `Vec<[u8; 32]>` of at most `max` items.
    pub(crate) fn hashes(&mut self, what: &str, max: usize) -> Result<Vec<[u8; 32]>, String> {
        let n = self.u32(what)? as usize;
        if n > max {
            return Err(format!("{what} has {n} entries, more than {max}"));
        }
        (0..n).map(|_| self.array32(what)).collect()
    }

    /// Refuses trailing bytes.
    pub(crate) fn finish(&self, what: &str) -> Result<(), String> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(format!(
                "{what} is {} bytes but its fields account for {}",
                self.bytes.len(),
                self.at
            ))
        }
    }
}
