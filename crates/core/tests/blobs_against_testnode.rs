//! Blob streaming in the core, against the test node in-process: every
//! upload source, every download form, the counters, the SHA-256 check and
//! the size cap.

use std::sync::Arc;

use calimero_client_core::blobs::{Transfer, UploadSource, MAX_BLOB_BYTES};
use calimero_client_core::endpoints::find;
use calimero_client_core::{ArgValue, Config, Connection, ErrorKind};
use serde_json::Value;

async fn start() -> Connection {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(calimero_testnode::serve(listener, Default::default()));
    // `prepare` builds for the release known now, without a probe: pin the
    // test node's (rc.25).
    let config = Config {
        node_version: Some(calimero_client_core::Release(25)),
        ..Config::default()
    };
    Connection::new(&format!("http://{addr}"), None, config).unwrap()
}

fn prepared(
    conn: &Connection,
    name: &str,
    args: &[Option<ArgValue>],
) -> calimero_client_core::request::Prepared {
    let (_, endpoint) = find(name).unwrap();
    let mut args = args.to_vec();
    args.resize(endpoint.args.len(), None);
    conn.prepare(endpoint, &args).unwrap()
}

fn blob_id(reply: &calimero_client_core::Reply) -> String {
    let v: Value = serde_json::from_slice(&reply.body).unwrap();
    v["data"]["blob_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn uploads_from_bytes_files_and_channels_and_downloads_back() {
    let conn = start().await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();

    let t = Transfer::new(None);
    let source = UploadSource::Bytes(bytes::Bytes::from(data.clone()));
    let reply = conn
        .upload(
            prepared(&conn, "upload_blob", &[]),
            source,
            Some(data.len() as u64),
            Arc::clone(&t),
        )
        .await
        .unwrap();
    let id = blob_id(&reply);
    assert_eq!(
        (t.done(), t.total()),
        (data.len() as u64, Some(data.len() as u64))
    );

    let path = std::env::temp_dir().join(format!("core-blob-{}.bin", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    let (source, size) = UploadSource::open(&path).unwrap();
    let reply = conn
        .upload(
            prepared(&conn, "upload_blob", &[]),
            source,
            Some(size),
            Transfer::new(None),
        )
        .await
        .unwrap();
    assert_eq!(blob_id(&reply), id);

    let (tx, source) = UploadSource::channel(2);
    let feeder = {
        let data = data.clone();
        tokio::spawn(async move {
            for piece in data.chunks(100_000) {
                tx.send(bytes::Bytes::copy_from_slice(piece)).await.unwrap();
            }
        })
    };
    let reply = conn
        .upload(
            prepared(&conn, "upload_blob", &[]),
            source,
            None,
            Transfer::new(None),
        )
        .await
        .unwrap();
    feeder.await.unwrap();
    assert_eq!(blob_id(&reply), id);

    let get = || prepared(&conn, "download_blob", &[Some(ArgValue::Str(id.clone()))]);
    let t = Transfer::new(None);
    let dl = conn.download(get(), Arc::clone(&t)).await.unwrap();
    assert_eq!(dl.size, Some(data.len() as u64));
    assert_eq!(dl.info.blob_id.as_deref(), Some(id.as_str()));
    assert_eq!(dl.into_vec().await.unwrap(), data);
    assert_eq!(t.done(), data.len() as u64);

    let out = std::env::temp_dir().join(format!("core-blob-out-{}.bin", std::process::id()));
    let dl = conn.download(get(), Transfer::new(None)).await.unwrap();
    assert_eq!(dl.save(&out).await.unwrap(), data.len() as u64);
    assert_eq!(std::fs::read(&out).unwrap(), data);
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_blob_known_to_be_too_big_is_refused_before_sending() {
    let conn = start().await;
    let err = conn
        .upload(
            prepared(&conn, "upload_blob", &[]),
            UploadSource::Bytes(bytes::Bytes::new()),
            Some(MAX_BLOB_BYTES + 1),
            Transfer::new(None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().starts_with("data: "), "{err}");
}

#[tokio::test]
async fn an_unknown_blob_is_not_found() {
    let conn = start().await;
    let missing = "EMtpXdHZQLiqyPVVAzJWbnishYR1gPTvKKtWD3e2V6zo";
    let err = conn
        .download(
            prepared(
                &conn,
                "download_blob",
                &[Some(ArgValue::Str(missing.into()))],
            ),
            Transfer::new(None),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}
