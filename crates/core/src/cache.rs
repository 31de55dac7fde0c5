//! Where JWT tokens are cached: `~/.merobox/auth_cache/{slug}-{hash}.json`,
//! exactly as merobox and the official client name the file
//! (node-api.md 2.6), so that each finds the tokens the others wrote.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// `~/.merobox/auth_cache` (`./.merobox/auth_cache` without a home).
pub fn token_cache_dir() -> PathBuf {
    dirs::home_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".merobox")
        .join("auth_cache")
}

/// The file name for `node_name`: the name with every character outside
/// `[A-Za-z0-9._-]` replaced by `_`, cut to 64 characters, then `-`, then the
/// first 12 hex digits of SHA-256 of the name, then `.json`.
pub fn token_cache_file_name(node_name: &str) -> String {
    let slug: String = node_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let digest = hex::encode(Sha256::digest(node_name.as_bytes()));
    format!("{slug}-{}.json", &digest[..12])
}

/// The cache file of `node_name`.
pub fn token_cache_path(node_name: &str) -> PathBuf {
    token_cache_dir().join(token_cache_file_name(node_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_match_merobox() {
        // sha256("https://example.com") = 100680ad546ce6a577f42f52df33b4cfdca756859e664b8d7de329b150d09ce9
        assert_eq!(
            token_cache_file_name("https://example.com"),
            "https___example.com-100680ad546c.json"
        );
        assert_eq!(
            token_cache_file_name("node-1"),
            format!(
                "node-1-{}.json",
                &hex::encode(Sha256::digest(b"node-1"))[..12]
            )
        );
        let long = "a".repeat(100);
        let name = token_cache_file_name(&long);
        assert_eq!(name.len(), 64 + 1 + 12 + 5);
        assert_eq!(
            token_cache_file_name("nœud"),
            format!(
                "n_ud-{}.json",
                &hex::encode(Sha256::digest("nœud".as_bytes()))[..12]
            )
        );
    }
}

/// The tokens a cache file holds. merobox writes more fields (`node_url`,
/// `auth_method`, `username`, ...); only `access_token` is required.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
pub struct CachedTokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// Shows whether tokens are present, never the tokens.
impl std::fmt::Debug for CachedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTokens")
            .field("access_token", &"<hidden>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<hidden>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Reads the cache file of `node_name`. A missing, empty, unreadable or
/// malformed file reads as no tokens: it never fails a call.
pub fn read_cached_tokens(node_name: &str) -> Option<CachedTokens> {
    read_tokens_file(&token_cache_path(node_name))
}

/// Reads tokens from a cache file (see [`read_cached_tokens`]).
pub fn read_tokens_file(path: &std::path::Path) -> Option<CachedTokens> {
    let text = std::fs::read(path).ok()?;
    let tokens: CachedTokens = serde_json::from_slice(&text).ok()?;
    (!tokens.access_token.is_empty()).then_some(tokens)
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn merobox_files_are_read_and_bad_ones_ignored() {
        let dir = std::env::temp_dir().join(format!("calimero-cache-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.json");
        std::fs::write(
            &file,
            br#"{"access_token":"a","node_url":"http://n","auth_method":"user_password","refresh_token":"r","expires_at":5,"username":"admin"}"#,
        )
        .unwrap();
        let t = read_tokens_file(&file).unwrap();
        assert_eq!(
            (
                t.access_token.as_str(),
                t.refresh_token.as_deref(),
                t.expires_at
            ),
            ("a", Some("r"), Some(5))
        );
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"refresh_token":"r"}"#,
            br#"{"access_token":""}"#,
        ] {
            std::fs::write(&file, bad).unwrap();
            assert_eq!(read_tokens_file(&file), None);
        }
        assert_eq!(read_tokens_file(&dir.join("missing.json")), None);
        std::fs::write(
            &file,
            br#"{"access_token":"secret-a","refresh_token":"secret-r"}"#,
        )
        .unwrap();
        let shown = format!("{:?}", read_tokens_file(&file).unwrap());
        assert!(!shown.contains("secret"), "{shown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
