//! Identifier and argument validation, done before any I/O.
//!
//! The node encodes ids differently per resource (node-api.md 0.1):
//! contexts, applications, blobs and public keys are base58 strings of 32
//! bytes; groups, namespaces, accounts, devices and app keys are 64 hex
//! characters; aliases are `[A-Za-z0-9._-]{1,50}`.

use crate::error::Error;

/// Longest alias the node accepts (core: crates/primitives/src/alias.rs).
pub const MAX_ALIAS_LEN: usize = 50;

/// `value` quoted for an error message, cut at 60 characters: a message
/// stays short whatever it is about.
pub fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(60).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    format!("{s:?}")
}

/// A base58 string that decodes to exactly 32 bytes.
pub fn base58_32(argument: &str, value: &str) -> Result<[u8; 32], Error> {
    let expected = "expected a base58 string of 32 bytes";
    if value.is_empty() {
        return Err(Error::invalid(
            argument,
            format!("{expected}, got an empty string"),
        ));
    }
    if value.len() > 64 {
        return Err(Error::invalid(
            argument,
            format!("{expected}, got {} characters", value.len()),
        ));
    }
    if let Some(out) = recent::get(value) {
        return Ok(out);
    }
    let mut out = [0u8; 32];
    match bs58::decode(value).onto(&mut out) {
        Ok(32) => {
            recent::put(value, &out);
            Ok(out)
        }
        Ok(n) => Err(Error::invalid(
            argument,
            format!("{expected}, got {} ({n} bytes)", shown(value)),
        )),
        Err(bs58::decode::Error::BufferTooSmall) => Err(Error::invalid(
            argument,
            format!("{expected}, got {} (more than 32 bytes)", shown(value)),
        )),
        Err(e) => Err(Error::invalid(
            argument,
            format!("{expected}, got {} ({e})", shown(value)),
        )),
    }
}

/// The base58 ids this thread decoded last. A program sends the same
/// few ids again and again (its context, its executor key), and bs58's
/// decode is quadratic in the text: about 5,600 instructions for a 32-byte
/// id, a tenth of a whole JSON-RPC call's client-side work (callgrind,
/// benches/RESULTS.md). Only valid ids are kept, so an error is always
/// the decoder's own.
mod recent {
    use std::cell::RefCell;

    /// A 32-byte id is 32 to 44 base58 characters.
    const MAX_TEXT: usize = 44;
    const SLOTS: usize = 8;

    type Slot = Option<([u8; MAX_TEXT], u8, [u8; 32])>;

    thread_local! {
        /// Direct-mapped by the text's first and last characters.
        static RECENT: RefCell<[Slot; SLOTS]> = const { RefCell::new([None; SLOTS]) };
    }

    fn slot(text: &[u8]) -> usize {
        (usize::from(text[0]) ^ (usize::from(text[text.len() - 1]) * 7)) % SLOTS
    }

    pub(super) fn get(text: &str) -> Option<[u8; 32]> {
        let text = text.as_bytes();
        if text.is_empty() || text.len() > MAX_TEXT {
            return None;
        }
        RECENT
            .try_with(|recent| match &recent.borrow()[slot(text)] {
                Some((kept, len, bytes)) if &kept[..usize::from(*len)] == text => Some(*bytes),
                _ => None,
            })
            .ok()
            .flatten()
    }

    pub(super) fn put(text: &str, bytes: &[u8; 32]) {
        let text = text.as_bytes();
        if text.is_empty() || text.len() > MAX_TEXT {
            return;
        }
        let mut kept = [0u8; MAX_TEXT];
        kept[..text.len()].copy_from_slice(text);
        let _ = RECENT.try_with(|recent| {
            recent.borrow_mut()[slot(text)] = Some((kept, text.len() as u8, *bytes));
        });
    }
}

/// 64 hexadecimal characters (32 bytes).
pub fn hex_32(argument: &str, value: &str) -> Result<[u8; 32], Error> {
    let expected = "expected 64 hexadecimal characters (32 bytes)";
    if value.len() != 64 {
        return Err(Error::invalid(
            argument,
            format!(
                "{expected}, got {} ({} characters)",
                shown(value),
                value.chars().count()
            ),
        ));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out)
        .map_err(|_| Error::invalid(argument, format!("{expected}, got {}", shown(value))))?;
    Ok(out)
}

/// Either encoding of a 32-byte id (the node accepts both for context ids
/// under groups, and for group member identities).
pub fn base58_or_hex_32(argument: &str, value: &str) -> Result<[u8; 32], Error> {
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex_32(argument, value);
    }
    base58_32(argument, value).map_err(|_| {
        Error::invalid(
            argument,
            format!(
                "expected a base58 string of 32 bytes or 64 hexadecimal characters, got {}",
                shown(value)
            ),
        )
    })
}

/// Hexadecimal text of an even length from `min` to `max` characters.
pub fn hex_text(argument: &str, value: &str, min: usize, max: usize) -> Result<(), Error> {
    let length = if min == max {
        format!("{min}")
    } else {
        format!("{min} to {max}")
    };
    let ok = (min..=max).contains(&value.len())
        && value.len() % 2 == 0
        && value.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            argument,
            format!(
                "expected {length} hexadecimal characters (an even number), got {}",
                shown(value)
            ),
        ))
    }
}

/// An alias: 1 to 50 of `A-Z a-z 0-9 . _ -`.
pub fn alias(argument: &str, value: &str) -> Result<(), Error> {
    let ok_chars = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if value.is_empty() || value.len() > MAX_ALIAS_LEN || !ok_chars {
        return Err(Error::invalid(
            argument,
            format!(
                "expected 1 to {MAX_ALIAS_LEN} characters of A-Z a-z 0-9 . _ -, got {}",
                shown(value)
            ),
        ));
    }
    Ok(())
}

/// A non-empty string without control characters, at most `max` bytes.
pub fn text(argument: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid(argument, "expected a non-empty string"));
    }
    if value.len() > max {
        return Err(Error::invalid(
            argument,
            format!("expected at most {max} bytes, got {}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(
            argument,
            format!("control characters are not allowed, got {}", shown(value)),
        ));
    }
    Ok(())
}

/// Longest bearer token accepted (a node's JWTs are well under 1 KiB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A bearer token as it goes into an `Authorization` header: 1 to
/// [`MAX_TOKEN_LEN`] visible ASCII characters (a JWT is base64url and dots).
/// The message never shows the token.
pub fn token(argument: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > MAX_TOKEN_LEN {
        return Err(Error::invalid(
            argument,
            format!(
                "expected a token of 1 to {MAX_TOKEN_LEN} characters, got {}",
                value.len()
            ),
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(
            argument,
            "expected a token of visible ASCII characters (no spaces, control or non-ASCII \
             characters)",
        ));
    }
    Ok(())
}

/// An http(s) URL of at most 2048 bytes (the node's own limits,
/// core: crates/server/primitives/src/validation.rs).
pub fn http_url(argument: &str, value: &str) -> Result<url::Url, Error> {
    if value.len() > 2048 {
        return Err(Error::invalid(
            argument,
            "expected a URL of at most 2048 bytes",
        ));
    }
    let url = url::Url::parse(value).map_err(|e| {
        Error::invalid(
            argument,
            format!("expected an http(s) URL, got {} ({e})", shown(value)),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            argument,
            format!(
                "expected an http or https URL, got scheme {}",
                shown(url.scheme())
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(
            argument,
            format!("expected a URL with a host, got {}", shown(value)),
        ));
    }
    Ok(url)
}

/// A path on the node's own disk: non-empty, at most 4096 bytes, no `..`.
pub fn node_path(argument: &str, value: &str) -> Result<(), Error> {
    text(argument, value, 4096)?;
    if value.split(['/', '\\']).any(|c| c == "..") {
        return Err(Error::invalid(argument, "'..' is not allowed in the path"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: &str = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo";
    const NS: &str = "699c99ea0a2997fb0826b12f6689df76d58763d2fb794f9a2d147f2e580794d1";

    #[test]
    fn base58_ids() {
        assert!(base58_32("context_id", CTX).is_ok());
        assert!(base58_32("context_id", "11111111111111111111111111111111").is_ok());
        for bad in [
            "",
            "abc",
            "0OIl",
            &"z".repeat(70),
            NS,
            "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zoEMtp",
        ] {
            let err = base58_32("context_id", bad).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.starts_with("context_id: expected a base58 string of 32 bytes"),
                "{msg}"
            );
        }
    }

    #[test]
    fn remembered_ids_decode_as_the_decoder_does() {
        // Ids that share a slot (same first and last character) and ids in
        // every slot, decoded twice: the second answer is the remembered
        // one and must be the decoder's, for each id in turn.
        let mut ids: Vec<String> = (0u8..40)
            .map(|i| bs58::encode([i.wrapping_mul(37); 32]).into_string())
            .collect();
        ids.push(CTX.to_owned());
        ids.push("EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo".replace("pX", "Xp"));
        for round in 0..2 {
            for id in &ids {
                let mut want = [0u8; 32];
                let ok = bs58::decode(id).onto(&mut want) == Ok(32);
                match base58_32("context_id", id) {
                    Ok(got) => assert!(ok && got == want, "{id} (round {round})"),
                    Err(_) => assert!(!ok, "{id} (round {round})"),
                }
            }
        }
        // A bad id is never remembered: it fails every time.
        for _ in 0..2 {
            assert!(
                base58_32("context_id", "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6z0").is_err()
            );
        }
    }

    #[test]
    fn hex_ids() {
        assert!(hex_32("group_id", NS).is_ok());
        assert!(hex_32("group_id", &NS.to_uppercase()).is_ok());
        for bad in ["", "abc", CTX, &"g".repeat(64), &"a".repeat(66)] {
            let msg = hex_32("group_id", bad).unwrap_err().to_string();
            assert!(
                msg.starts_with("group_id: expected 64 hexadecimal"),
                "{msg}"
            );
        }
    }

    #[test]
    fn either_encoding() {
        assert!(base58_or_hex_32("context_id", CTX).is_ok());
        assert!(base58_or_hex_32("context_id", NS).is_ok());
        assert!(base58_or_hex_32("context_id", "nope").is_err());
    }

    #[test]
    fn aliases() {
        assert!(alias("alias", "kv-store_1.0").is_ok());
        assert!(alias("alias", &"a".repeat(50)).is_ok());
        for bad in ["", "has space", "é", &"a".repeat(51), "a/b"] {
            assert!(alias("alias", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_paths() {
        assert!(http_url("url", "https://example.com/app.wasm").is_ok());
        assert!(http_url("url", "file:///x.wasm").is_err());
        assert!(http_url("url", "not a url").is_err());
        assert!(node_path("path", "/srv/app.wasm").is_ok());
        assert!(node_path("path", "/srv/../etc/passwd").is_err());
        assert!(node_path("path", "").is_err());
        assert!(text("method", "get\n", 256).is_err());
    }

    #[test]
    fn tokens() {
        assert!(token("access_token", "eyJh.eyJz.c2ln").is_ok());
        for bad in ["", "a b", "a\nb", "é", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            let msg = token("access_token", bad).unwrap_err().to_string();
            assert!(msg.starts_with("access_token: expected a token"), "{msg}");
            assert!(bad.len() < 2 || !msg.contains(bad), "{msg}");
        }
    }
}
