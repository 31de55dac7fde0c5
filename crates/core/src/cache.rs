//! Where JWT tokens are cached: `~/.merobox/auth_cache/{slug}-{hash}.json`,
//! exactly as merobox and the official client name the file
//! (node-api.md 2.6), so that each finds the tokens the others wrote.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use crate::auth::Tokens;

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

/// Reads the cache file of `node_name` (see [`read_tokens_file`]).
pub fn read_cached_tokens(node_name: &str) -> Option<Tokens> {
    read_tokens_file(&token_cache_path(node_name))
}

/// Reads tokens from a cache file. Only `access_token` is required;
/// `refresh_token` and `expires_at` are read when present (`expires_at`
/// falls back to the access token's `exp` claim), every other field is
/// ignored. A missing file reads as no tokens; an unreadable, empty, corrupt
/// or truncated one too, with a warning: it never fails a call.
pub fn read_tokens_file(path: &Path) -> Option<Tokens> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            log::warn!(
                target: "calimero::auth",
                "ignoring the token cache {}: it cannot be read ({})",
                path.display(),
                e.kind()
            );
            return None;
        }
    };
    let tokens = parse_tokens(&bytes);
    if tokens.is_none() {
        // Never the parser's message: it can quote the file's content.
        log::warn!(
            target: "calimero::auth",
            "ignoring the token cache {}: it is empty, corrupt or has no access_token",
            path.display()
        );
    }
    tokens
}

/// The tokens of a cache file's content, read leniently: `expires_at` may be
/// an integer or a float; a wrongly typed optional field reads as absent.
fn parse_tokens(bytes: &[u8]) -> Option<Tokens> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let record = value.as_object()?;
    let access_token = record.get("access_token")?.as_str()?;
    if access_token.is_empty() {
        return None;
    }
    let refresh_token = record
        .get("refresh_token")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let expires_at = record.get("expires_at").and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    });
    let mut tokens = Tokens::new(access_token.to_owned(), refresh_token);
    if expires_at.is_some() {
        tokens.expires_at = expires_at;
    }
    Some(tokens)
}

/// What a written cache file says besides the tokens.
#[derive(Debug, Clone, Copy)]
pub struct CacheMeta<'a> {
    /// The node URL the tokens were obtained from (merobox's `node_url`).
    pub node_url: &'a str,
    /// The user who logged in, when known (merobox's `username`).
    pub username: Option<&'a str>,
}

/// Writes `tokens` to the cache file at `path`, in the format merobox and the
/// official client both read (node-api.md 2.6): `access_token`,
/// `refresh_token`, `expires_at`, `token_type`, `metadata` (the official
/// client's `JwtToken`) and `node_url`, `auth_method`, `username` (merobox's
/// `AuthToken`, whose `from_dict` requires `node_url` and `auth_method`).
/// Every other field of an existing file is kept. The write is atomic (a
/// temporary file, fsync, rename); the file is 0600 and its directory 0700.
pub fn write_tokens_file(path: &Path, tokens: &Tokens, meta: CacheMeta<'_>) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("the token cache path has no directory"))?;
    create_private_dir(dir)?;
    let mut record = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| match v {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    use serde_json::Value;
    record.insert(
        "access_token".into(),
        Value::from(tokens.access_token.as_str()),
    );
    record.insert(
        "refresh_token".into(),
        tokens
            .refresh_token
            .as_deref()
            .map_or(Value::Null, Value::from),
    );
    record.insert(
        "expires_at".into(),
        tokens.expires_at.map_or(Value::Null, Value::from),
    );
    record.insert("token_type".into(), Value::from("Bearer"));
    if !record.get("metadata").is_some_and(Value::is_object) {
        record.insert("metadata".into(), Value::Object(Default::default()));
    }
    if !record.get("node_url").is_some_and(Value::is_string) {
        record.insert("node_url".into(), Value::from(meta.node_url));
    }
    if !record.get("auth_method").is_some_and(Value::is_string) {
        record.insert("auth_method".into(), Value::from("user_password"));
    }
    match meta.username {
        Some(user) => {
            record.insert("username".into(), Value::from(user));
        }
        None => {
            record.entry("username").or_insert(Value::Null);
        }
    }
    let text = serde_json::to_vec_pretty(&Value::Object(record)).map_err(std::io::Error::other)?;
    write_atomic(path, &text)
}

/// Removes the cache file at `path`; a missing file is not an error.
pub fn remove_tokens_file(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The lock file next to a cache file (`{name}.json.lock`): processes sharing
/// a cache file take an advisory lock on it while they renew tokens. It does
/// not end in `.json`, so merobox's listing of `*.json` never reads it.
pub fn lock_path(cache_path: &Path) -> PathBuf {
    let mut name = cache_path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    cache_path.with_file_name(name)
}

/// Opens (creating it 0600, in a 0700 directory) the lock file of a cache file.
pub fn open_lock_file(cache_path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = cache_path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(lock_path(cache_path))
}

/// Creates `dir` (and its parents) and makes it 0700, as merobox does.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Temporary file in the same directory, written and fsynced, then renamed
/// over `path`, then the directory fsynced: a reader sees the old file or
/// the new one, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{nanos}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod file_tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "calimero-cache-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn merobox_files_are_read_and_bad_ones_ignored() {
        let dir = temp_dir("read");
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
        std::fs::write(&file, br#"{"access_token":"a","expires_at":7.5}"#).unwrap();
        assert_eq!(read_tokens_file(&file).unwrap().expires_at, Some(7));
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            br#"{"access_token":"abc"#,
            br#"{"refresh_token":"r"}"#,
            br#"{"access_token":""}"#,
            br#"{"access_token":5}"#,
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

    #[test]
    fn writes_keep_unknown_fields_and_are_private() {
        let dir = temp_dir("write").join("auth_cache");
        let file = dir.join("node-abc.json");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            &file,
            br#"{"access_token":"old","node_url":"http://first","auth_method":"user_password","username":"admin","custom":{"x":[1,2]},"metadata":{"k":"v"}}"#,
        )
        .unwrap();
        let tokens = Tokens {
            access_token: "new-a".into(),
            refresh_token: Some("new-r".into()),
            expires_at: Some(42),
        };
        write_tokens_file(
            &file,
            &tokens,
            CacheMeta {
                node_url: "http://second",
                username: None,
            },
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "access_token": "new-a", "refresh_token": "new-r", "expires_at": 42,
                "token_type": "Bearer", "metadata": {"k": "v"},
                "node_url": "http://first", "auth_method": "user_password",
                "username": "admin", "custom": {"x": [1, 2]}
            })
        );
        assert_eq!(read_tokens_file(&file).unwrap(), tokens);
        // no temporary file is left behind
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("node-abc.json")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&file), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        // a corrupt file is replaced by a fresh record
        std::fs::write(&file, b"{\"access_tok").unwrap();
        write_tokens_file(
            &file,
            &tokens,
            CacheMeta {
                node_url: "http://second",
                username: Some("bob"),
            },
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(v["node_url"], "http://second");
        assert_eq!(v["username"], "bob");
        assert_eq!(v["auth_method"], "user_password");
        remove_tokens_file(&file).unwrap();
        remove_tokens_file(&file).unwrap();
        assert!(!file.exists());
        assert_eq!(lock_path(&file).file_name().unwrap(), "node-abc.json.lock");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }
}
