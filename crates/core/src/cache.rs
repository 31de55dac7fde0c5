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
