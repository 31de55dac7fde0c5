//! `.mpk` application bundles: a gzip-compressed tar holding `manifest.json`
//! and the artifacts it names, read as the node reads them, and written for
//! the test node's own registry and for tests.
//!
//! What the node checks (core rc.25 `crates/node/primitives/src/client/
//! application/bundle.rs`, `crates/bundle/src/{lib,signature}.rs`; rc.32+
//! `install.rs`, index id 71321588689) and the stand-in keeps:
//! * a blob is a bundle when its tar has a `manifest.json` entry; anything
//!   else is "not a signed application bundle";
//! * `package` and `appVersion` non-empty; the top-level `wasm` artifact
//!   present in the archive and matching its SHA-256 `hash` (any case);
//! * a `signature` object with `algorithm`, `publicKey` and `signature`.
//!
//! What it does not: the Ed25519 signature over the canonical manifest is
//! not verified, nor `minRuntimeVersion` [inferred relaxation: a stand-in
//! cannot hold the publisher keys; tests sign nothing]. The signer id is the
//! manifest's `signature.publicKey`, and the application id derives from
//! (package, signer) as `ApplicationId::for_bundle` does, so a new version
//! of a package installs under the same id.

use std::io::Read;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::ids::Id;

/// How much of a bundle the stand-in decompresses (the node's
/// `MAX_ARCHIVE_BYTES`).
const MAX_ARCHIVE_BYTES: u64 = 512 * 1024 * 1024;

/// The signer id of the bundles the test node writes itself.
pub const TESTNODE_SIGNER: &str = "did:key:z6MkTestnodeDevelopmentKey";

/// A bundle that passed the stand-in's checks.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub package: String,
    pub app_version: String,
    pub signer_id: String,
    pub wasm: Vec<u8>,
}

impl Bundle {
    /// `ApplicationId::for_bundle(package, signer)`: stable across versions.
    pub fn application_id(&self) -> Id {
        Id::digest(&[
            b"calimero-testnode:bundle:",
            self.package.as_bytes(),
            b"\0",
            self.signer_id.as_bytes(),
        ])
    }
}

fn entries(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let decoder = GzDecoder::new(data).take(MAX_ARCHIVE_BYTES);
    let mut archive = tar::Archive::new(decoder);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let Ok(path) = entry.path() else { continue };
        let path = path.to_string_lossy().trim_start_matches("./").to_owned();
        let mut bytes = Vec::new();
        let _ = entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        out.push((path, bytes));
    }
    Ok(out)
}

/// Whether `data` is a bundle archive: a tar entry at `manifest.json`
/// (`is_bundle_blob`).
pub fn is_bundle(data: &[u8]) -> bool {
    entries(data).is_ok_and(|e| e.iter().any(|(path, _)| path == "manifest.json"))
}

/// Opens a bundle, with the node's messages for what the stand-in checks.
pub fn open(data: &[u8]) -> Result<Bundle, String> {
    let files = entries(data)?;
    let file = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path.trim_start_matches("./"))
            .map(|(_, bytes)| bytes)
    };
    let manifest_bytes = file("manifest.json").ok_or("manifest.json not found in bundle")?;
    let manifest: Value = serde_json::from_slice(manifest_bytes)
        .map_err(|e| format!("failed to parse manifest.json as JSON: {e}"))?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let package = text(&manifest, "package")
        .ok_or("failed to parse manifest.json: missing field `package`")?;
    let app_version = text(&manifest, "appVersion")
        .ok_or("failed to parse manifest.json: missing field `appVersion`")?;
    if package.is_empty() {
        return Err("bundle manifest 'package' field is empty".to_owned());
    }
    if app_version.is_empty() {
        return Err("bundle manifest 'appVersion' field is empty".to_owned());
    }
    let signature = manifest
        .get("signature")
        .ok_or("manifest is missing required 'signature' field")?;
    for field in ["algorithm", "publicKey", "signature"] {
        if text(signature, field).is_none() {
            return Err(format!("signature missing '{field}' field"));
        }
    }
    let signer_id = text(signature, "publicKey").unwrap_or_default();
    let artifact = manifest.get("wasm").ok_or(
        "bundle manifest declares no wasm artifact: expected a top-level 'wasm' or a non-empty \
         'services' list",
    )?;
    let path = text(artifact, "path").unwrap_or_default();
    let hash = text(artifact, "hash").unwrap_or_default();
    let wasm = file(&path).ok_or_else(|| {
        format!("bundle artifact '{path}' named in the manifest is missing from the archive")
    })?;
    let actual = hex::encode(Sha256::digest(wasm));
    if !actual.eq_ignore_ascii_case(&hash) {
        return Err(format!(
            "bundle artifact '{path}' failed its integrity check: manifest hash {hash}, actual {actual}"
        ));
    }
    Ok(Bundle {
        package,
        app_version,
        signer_id,
        wasm: wasm.clone(),
    })
}

/// The wasm the test node puts in the bundles it writes: a module header and
/// a marker naming the package, plus the ABI section name when `abi` (see
/// `routes::applications::ABI_SECTION`).
pub fn stand_in_wasm(package: &str, version: &str, abi: bool) -> Vec<u8> {
    let mut wasm = b"\0asm\x01\0\0\0 calimero-testnode ".to_vec();
    wasm.extend_from_slice(format!("{package}@{version}").as_bytes());
    if abi {
        wasm.extend_from_slice(b" calimero_abi_v1");
    }
    wasm
}

/// Writes a bundle of `wasm` as `package@version`, signed (in form) by
/// `signer` or, with `signer == None`, with no `signature` at all.
pub fn write(package: &str, version: &str, wasm: &[u8], signer: Option<&str>) -> Vec<u8> {
    let mut manifest = json!({
        "version": "1.0",
        "package": package,
        "appVersion": version,
        "minRuntimeVersion": "0.1.0",
        "wasm": {
            "path": "app.wasm",
            "hash": hex::encode(Sha256::digest(wasm)),
            "size": wasm.len(),
        },
    });
    if let Some(signer) = signer {
        manifest["signature"] = json!({
            "algorithm": "ed25519",
            "publicKey": signer,
            "signature": hex::encode([0u8; 64]),
        });
    }
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, bytes) in [("manifest.json", &manifest[..]), ("app.wasm", wasm)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        // Writing into memory cannot fail.
        let _ = builder.append_data(&mut header, path, bytes);
    }
    builder
        .into_inner()
        .and_then(flate2::write::GzEncoder::finish)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_bundles_open() {
        let wasm = stand_in_wasm("com.example.kv", "1.2.0", true);
        let data = write("com.example.kv", "1.2.0", &wasm, Some(TESTNODE_SIGNER));
        assert!(is_bundle(&data));
        let bundle = open(&data).unwrap();
        assert_eq!(bundle.package, "com.example.kv");
        assert_eq!(bundle.app_version, "1.2.0");
        assert_eq!(bundle.wasm, wasm);
        let next = open(&write(
            "com.example.kv",
            "1.3.0",
            b"x",
            Some(TESTNODE_SIGNER),
        ))
        .unwrap();
        assert_eq!(next.application_id(), bundle.application_id());
    }

    #[test]
    fn refusals_carry_the_nodes_messages() {
        assert!(!is_bundle(b"\0asm\x01\0\0\0"));
        let unsigned = write("p", "1.0.0", b"w", None);
        assert!(is_bundle(&unsigned));
        assert_eq!(
            open(&unsigned).unwrap_err(),
            "manifest is missing required 'signature' field"
        );
        let empty = write("", "1.0.0", b"w", Some("k"));
        assert_eq!(
            open(&empty).unwrap_err(),
            "bundle manifest 'package' field is empty"
        );
    }
}
