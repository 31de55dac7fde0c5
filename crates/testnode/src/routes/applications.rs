//! Application install, listing, ABI, versions.
//!
//! Install per release: rc.25–30 from a public URL (`{url, hash?,
//! metadata, package?, version?}`) or a node-local path (raw wasm or
//! `.mpk`); rc.31+ by registry coordinates `{package, version}` from the
//! node's own registry (`--publish`, `POST /_testnode/registry`); rc.32+ the
//! dev install takes `{path}` and only a bundle (see `crate::bundle`).
//! core: crates/server/src/admin/handlers/applications/*.rs,
//! crates/node/primitives/src/client/application/{install.rs,query.rs},
//! crates/node/primitives/src/client/application.rs (`list_application_versions`),
//! crates/node/primitives/src/client/blob.rs (`add_blob` hash check).

use std::io::ErrorKind;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppRouter;
use crate::bundle;
use crate::error::{
    data, json_text, path_id, query, validate, ApiError, ApiResult, Validate, ValidatedJson,
    ValidationError,
};
use crate::ids::{Id, PathString};
use crate::state::{App, AppState, ApplicationJson, BlobDigest};
use crate::Config;

/// Largest artifact a URL install accepts.
const MAX_INSTALL_BYTES: u64 = 512 * 1024 * 1024;
/// How much of a failing registry's body is quoted back.
const MAX_ERROR_BODY_LEN: usize = 256;
const MAX_INSTALL_REDIRECTS: usize = 10;

pub fn routes() -> AppRouter {
    Router::new()
        .route("/install-application", post(install_application))
        .route("/install-dev-application", post(install_from_path))
        .route("/applications", get(list))
        .route(
            "/applications/{application_id}",
            get(get_one).delete(uninstall),
        )
        .route("/applications/{application_id}/abi", get(abi))
        .route("/applications/{application_id}/versions", get(versions))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallDevRequest {
    path: PathString,
    metadata: Vec<u8>,
    package: Option<String>,
    version: Option<String>,
}

impl Validate for InstallDevRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::safe_path(&self.path.0, "path", &mut errors);
        check_common(
            &self.metadata,
            self.package.as_deref(),
            self.version.as_deref(),
            &mut errors,
        );
        errors
    }
}

/// rc.32+: `{path}` alone (core `InstallDevApplicationRequest`, index id
/// 59157838922; other keys ignored until rc.38 makes the body strict).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallBundleRequest {
    path: PathString,
}

impl Validate for InstallBundleRequest {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::safe_path(&self.path.0, "path", &mut errors);
        errors
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallUrlRequest {
    url: url::Url,
    hash: Option<Id>,
    metadata: Vec<u8>,
    package: Option<String>,
    version: Option<String>,
}

impl Validate for InstallUrlRequest {
    fn validate(&self, config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        validate::url(&self.url, "url", config.allow_private_urls, &mut errors);
        check_common(
            &self.metadata,
            self.package.as_deref(),
            self.version.as_deref(),
            &mut errors,
        );
        errors
    }
}

/// rc.31+ (core#3652): install by registry coordinates; the body is
/// `deny_unknown_fields`, so the rc.25 URL body is refused with serde's
/// "unknown field `url`, expected `package` or `version`" (recorded on a
/// live rc.32, swift `rc32-install-application-url-refused.json`).
/// core: `InstallApplicationRequest` (index id 59157838922),
/// `install_application.rs` (index id 59474688810, validation tests).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InstallCoordinates {
    package: String,
    version: String,
}

impl Validate for InstallCoordinates {
    fn validate(&self, _config: &Config) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        for (field, value, max) in [
            ("package", &self.package, validate::MAX_PACKAGE_NAME_LENGTH),
            ("version", &self.version, validate::MAX_VERSION_LENGTH),
        ] {
            if value.is_empty() {
                errors.push(ValidationError::EmptyField { field });
            } else {
                validate::optional_string_length(Some(value), field, max, &mut errors);
            }
        }
        errors
    }
}

/// The checks both install routes share: metadata size, package and
/// version lengths.
fn check_common(
    metadata: &[u8],
    package: Option<&str>,
    version: Option<&str>,
    errors: &mut Vec<ValidationError>,
) {
    validate::bytes_size(metadata, "metadata", validate::MAX_METADATA_SIZE, errors);
    validate::optional_string_length(
        package,
        "package",
        validate::MAX_PACKAGE_NAME_LENGTH,
        errors,
    );
    validate::optional_string_length(version, "version", validate::MAX_VERSION_LENGTH, errors);
}

fn carries_abi(content: &[u8]) -> bool {
    content.windows(ABI_SECTION.len()).any(|w| w == ABI_SECTION)
}

/// Stores the bytecode blob and writes (or overwrites) the application row.
fn install(
    state: &AppState,
    content: Bytes,
    source: String,
    metadata: Vec<u8>,
    package: Option<String>,
    version: Option<String>,
) -> Id {
    // The id depends on the bytecode only, so the same wasm always installs
    // under the same id (the real node also hashes source and metadata).
    let id = Id::digest(&[b"app:", &content]);
    let digest = BlobDigest::of(&content);
    let bytecode = digest.0;
    let app = App {
        id,
        bytecode,
        size: content.len() as u64,
        source,
        metadata,
        package: package.unwrap_or_else(|| "unknown".to_owned()),
        version: version.unwrap_or_else(|| "0.0.0".to_owned()),
        bundle_version: None,
        abi: carries_abi(&content),
    };
    let mut node = state.node();
    let _ = node.add_blob(content, digest);
    let _ = node.apps.insert(id, app);
    id
}

/// Installs a verified bundle: the archive is the stored bytecode blob, the
/// id derives from (package, signer), and a new version of a package
/// overwrites its row (core `install_bundle`, index id 71321588689).
fn install_bundle(state: &AppState, archive: Bytes, source: String) -> Result<Id, ApiError> {
    let bundle = bundle::open(&archive).map_err(install_failed)?;
    let id = bundle.application_id();
    // `to_metadata_json`: the manifest's package and version.
    let metadata = serde_json::to_vec(&json!({
        "package": bundle.package,
        "version": bundle.app_version,
    }))
    .unwrap_or_default();
    let digest = BlobDigest::of(&archive);
    let app = App {
        id,
        bytecode: digest.0,
        size: archive.len() as u64,
        source,
        metadata,
        package: bundle.package.clone(),
        version: bundle.app_version.clone(),
        bundle_version: Some(bundle.app_version.clone()),
        abi: carries_abi(&bundle.wasm),
    };
    let mut node = state.node();
    let _ = node.add_blob(archive, digest);
    let _ = node.apps.insert(id, app);
    Ok(id)
}

fn installed(id: Id) -> Response {
    data(json!({ "applicationId": id }))
}

/// Failures of the install handlers are plain-text 500s carrying the error.
fn install_failed(message: impl Into<String>) -> ApiError {
    ApiError::internal_text(message)
}

/// A file on the node's disk: its canonical path and bytes, or the node's
/// plain-text 500s.
async fn read_node_file(path: &str) -> Result<(std::path::PathBuf, Vec<u8>), ApiError> {
    let not_found = |shown: &str| install_failed(format!("application file not found at {shown}"));
    let canonical = match tokio::fs::canonicalize(path).await {
        Ok(canonical) => canonical,
        Err(err) if err.kind() == ErrorKind::NotFound => return Err(not_found(path)),
        Err(err) => return Err(install_failed(err.to_string())),
    };
    let shown = canonical.display().to_string();
    match tokio::fs::read(&canonical).await {
        Ok(content) => Ok((canonical, content)),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(not_found(&shown)),
        Err(err) => Err(install_failed(err.to_string())),
    }
}

fn file_source(canonical: &std::path::Path) -> Result<String, ApiError> {
    url::Url::from_file_path(canonical)
        .map(|u| u.to_string())
        .map_err(|()| install_failed("non-absolute path"))
}

async fn install_from_path(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    if state.config.release.bundles_only() {
        let ValidatedJson(req) =
            ValidatedJson::<InstallBundleRequest>::from_request(req, &state).await?;
        let (canonical, content) = read_node_file(&req.path.0).await?;
        if !bundle::is_bundle(&content) {
            return Err(install_failed(format!(
                "not a signed application bundle: {}",
                canonical.display()
            )));
        }
        let source = file_source(&canonical)?;
        return install_bundle(&state, Bytes::from(content), source).map(installed);
    }
    let ValidatedJson(req) = ValidatedJson::<InstallDevRequest>::from_request(req, &state).await?;
    let (canonical, content) = read_node_file(&req.path.0).await?;
    let source = file_source(&canonical)?;
    if canonical.extension().is_some_and(|ext| ext == "mpk") {
        return install_bundle(&state, Bytes::from(content), source).map(installed);
    }
    let id = install(
        &state,
        Bytes::from(content),
        source,
        req.metadata,
        req.package,
        req.version,
    );
    Ok(installed(id))
}

async fn install_application(State(state): State<Arc<AppState>>, req: Request) -> ApiResult {
    if !state.config.release.install_by_coordinates() {
        let ValidatedJson(req) =
            ValidatedJson::<InstallUrlRequest>::from_request(req, &state).await?;
        return install_from_url(&state, req).await;
    }
    let ValidatedJson(req) = ValidatedJson::<InstallCoordinates>::from_request(req, &state).await?;
    let Some(archive) = state.registry_bundle(&req.package, &req.version) else {
        // The node's 502 for coordinates its `[registry]` (Http mode) has
        // not published, as plain text (core `not_found_message`).
        return Err(ApiError::Text(
            StatusCode::BAD_GATEWAY,
            format!(
                "the configured Http source has no application published at {}@{}",
                req.package, req.version
            ),
        ));
    };
    if !bundle::is_bundle(&archive) {
        return Err(install_failed(format!(
            "not a signed application bundle: {}@{}",
            req.package, req.version
        )));
    }
    let opened = bundle::open(&archive).map_err(install_failed)?;
    if opened.package != req.package || opened.app_version != req.version {
        return Err(install_failed(format!(
            "registry artifact is {}@{}, not the {}@{} that was requested",
            opened.package, opened.app_version, req.package, req.version
        )));
    }
    // The source a coordinate install records [inferred: the node writes a
    // blob-share marker whose text was not read].
    let source = format!("registry:{}@{}", req.package, req.version);
    install_bundle(&state, archive, source).map(installed)
}

async fn install_from_url(state: &AppState, req: InstallUrlRequest) -> ApiResult {
    let content = fetch(&req.url, state.config.allow_private_urls).await?;
    if let Some(expected) = req.hash {
        // Checked against the content hash, not the blob id.
        if Id::digest(&[&content]) != expected {
            return Err(install_failed("fatal: blob hash mismatch"));
        }
    }
    if req.url.path().ends_with(".mpk") {
        return install_bundle(state, content, req.url.to_string()).map(installed);
    }
    // A URL install ignores the request's package/version (raw wasm).
    let id = install(
        state,
        content,
        req.url.to_string(),
        req.metadata,
        None,
        None,
    );
    Ok(installed(id))
}

fn http_client(allow_private: bool) -> Result<reqwest::Client, ApiError> {
    static PROVIDER: OnceLock<()> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        // Another component may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(300))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            let blocked = attempt
                .url()
                .host()
                .is_none_or(|host| validate::host_is_blocked(&host));
            if !matches!(attempt.url().scheme(), "http" | "https") {
                attempt.error("redirect to a non-http(s) scheme is blocked")
            } else if !allow_private && blocked {
                attempt.error("redirect to a non-public address is blocked")
            } else if attempt.previous().len() >= MAX_INSTALL_REDIRECTS {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|err| install_failed(err.to_string()))
}

/// Downloads the artifact the way the node does (status check, size cap).
async fn fetch(url: &url::Url, allow_private: bool) -> Result<Bytes, ApiError> {
    let response = http_client(allow_private)?
        .get(url.as_str())
        .send()
        .await
        .map_err(|err| install_failed(err.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .text()
            .await
            .unwrap_or_else(|_| "<unreadable body>".to_owned());
        let truncated: String = body.chars().take(MAX_ERROR_BODY_LEN).collect();
        return Err(install_failed(format!(
            "Registry returned HTTP {status} for {url}: {truncated}"
        )));
    }
    let declared = response.content_length();
    if let Some(len) = declared.filter(|len| *len > MAX_INSTALL_BYTES) {
        return Err(install_failed(format!(
            "application artifact too large: {len} bytes exceeds limit of {MAX_INSTALL_BYTES}"
        )));
    }
    let mut response = response;
    let mut buf = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| install_failed(err.to_string()))?
    {
        if (buf.len() + chunk.len()) as u64 > MAX_INSTALL_BYTES {
            return Err(install_failed(format!(
                "application artifact exceeded size limit of {MAX_INSTALL_BYTES} bytes"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    if declared.is_some_and(|len| len != buf.len() as u64) {
        return Err(install_failed("fatal: blob size mismatch"));
    }
    Ok(Bytes::from(buf))
}

async fn list(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    struct Apps<'a> {
        apps: Vec<ApplicationJson<'a>>,
    }

    let node = state.node();
    data(Apps {
        apps: node.apps.values().map(App::to_json).collect(),
    })
}

async fn get_one(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = path_id(&raw_id)?;
    let node = state.node();
    let app = node
        .apps
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Application not found"))?;
    #[derive(Serialize)]
    struct One<'a> {
        application: ApplicationJson<'a>,
    }

    Ok(data(One {
        application: app.to_json(),
    }))
}

/// Deleting a row that is not there still succeeds.
async fn uninstall(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    let id = path_id(&raw_id)?;
    let _ = state.node().apps.remove(&id);
    Ok(data(json!({ "applicationId": id })))
}

/// A raw-wasm application has one version: its row's blob, when retained.
async fn versions(State(state): State<Arc<AppState>>, Path(raw_id): Path<String>) -> ApiResult {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct VersionEntry<'a> {
        version: &'a str,
        blob_id: Id,
        size: u64,
        package: &'a str,
    }

    let id = path_id(&raw_id)?;
    let node = state.node();
    let app = node.apps.get(&id).ok_or_else(ApiError::internal)?;
    let entries: Vec<VersionEntry<'_>> = node
        .blobs
        .get(&app.bytecode)
        .map(|blob| VersionEntry {
            version: app.semver().unwrap_or_default(),
            blob_id: app.bytecode,
            size: blob.size(),
            package: &app.package,
        })
        .into_iter()
        .collect();
    Ok(data(entries))
}

#[derive(Deserialize)]
struct AbiQuery {
    service_name: Option<String>,
}

/// The custom-section name a real application carries its ABI in
/// (core: crates/server/src/admin/handlers/applications/get_application_abi.rs).
/// Every application here behaves as the kv-store, but only one whose bytes
/// contain this name "has" the ABI; others answer 400 like a real node does
/// for an application built without one.
pub const ABI_SECTION: &[u8] = b"calimero_abi_v1";

/// The kv-store ABI, for applications that embed one (see [`ABI_SECTION`]).
async fn abi(
    State(state): State<Arc<AppState>>,
    Path(raw_id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> ApiResult {
    let id = path_id(&raw_id)?;
    let q: AbiQuery = query(raw_query.as_deref())?;
    {
        let node = state.node();
        let app = node
            .apps
            .get(&id)
            .ok_or_else(|| ApiError::not_found("Application not found"))?;
        if q.service_name.is_some() {
            return Err(ApiError::bad_request(
                "application has no named services; omit service_name",
            ));
        }
        if !node.blobs.contains_key(&app.bytecode) {
            return Err(ApiError::not_found("Application bytecode not found"));
        }
        if !app.abi {
            return Err(ApiError::bad_request(
                "application has no usable embedded ABI (absent or malformed); rebuild it with \
                 `cargo mero build`",
            ));
        }
    }
    Ok(json_text(format!("{{\"data\":{}}}", kv_store_abi())))
}

/// The kv-store's `wasm-abi/1` manifest, compacted once (keeping key order).
fn kv_store_abi() -> &'static str {
    static ABI: OnceLock<String> = OnceLock::new();
    ABI.get_or_init(|| minify_json(include_str!("../kv_store_abi.json")))
}

/// Drops whitespace outside strings.
fn minify_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_is_valid_compact_json() {
        let abi = kv_store_abi();
        assert!(!abi.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(abi).unwrap();
        assert_eq!(value["schema_version"], "wasm-abi/1");
        assert!(abi.starts_with("{\"schema_version\""));
    }
}
