//! The S3 store against a real S3 server: s3s-fs (installed by scripts/setup.sh; `S3S_FS` names another
//! binary), started per test on 127.0.0.1 with an OS-chosen port and a temporary directory.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use voicera_blob::{get_url, BlobError, BlobRead, BlobStore, Bucket, ByteRange, S3BlobStore, S3Config, PART_SIZE};

const ACCESS_KEY: &str = "voicera-test";
const SECRET_KEY: &str = "voicera-test-secret";

/// A running s3s-fs, killed on drop.
struct S3Server {
    child: Child,
    endpoint: String,
    _root: tempfile::TempDir,
}

impl S3Server {
    fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let binary = std::env::var("S3S_FS").unwrap_or_else(|_| {
            let cargo_bin = std::env::var("CARGO_HOME")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|_| std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"))
                .join("bin/s3s-fs");
            if cargo_bin.exists() {
                cargo_bin.display().to_string()
            } else {
                "s3s-fs".into()
            }
        });
        let mut child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", "0", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary} ({e}): run scripts/setup.sh to install s3s-fs"));
        // It logs its bound address once listening: "server is running at http://127.0.0.1:PORT".
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let endpoint = loop {
            let line = lines.next().expect("s3s-fs exited before listening").unwrap();
            if let Some(at) = line.find("running at ") {
                break line[at + "running at ".len()..].trim().to_string();
            }
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, endpoint, _root: root }
    }

    fn config(&self, prefix: &str) -> S3Config {
        S3Config::new(&self.endpoint, None, Some(prefix), ACCESS_KEY, SECRET_KEY, None).unwrap()
    }

    async fn store(&self, prefix: &str) -> Arc<dyn BlobStore> {
        let store = Arc::new(S3BlobStore::new(self.config(prefix)).unwrap());
        store.ensure_buckets().await.unwrap();
        store
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn read_all(read: BlobRead) -> Vec<u8> {
    let mut out = Vec::new();
    let mut reader = read.reader;
    reader.read_to_end(&mut out).await.unwrap();
    out
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_with_ranges_heads_and_deletes() {
    let server = S3Server::start();
    let store = server.store("t1-").await;
    let bucket = store.bucket_name(Bucket::Recordings);
    assert_eq!(bucket, "t1-recordings");
    let body = pattern(100_000);
    store.put_bytes(&bucket, "2026-11-25/a b.wav", body.clone()).await.unwrap();

    assert_eq!(read_all(store.get(&bucket, "2026-11-25/a b.wav", None).await.unwrap()).await, body);
    let range = store.get(&bucket, "2026-11-25/a b.wav", Some(ByteRange::Inclusive(1000, 1999))).await.unwrap();
    assert_eq!((range.start, range.end, range.total_len), (1000, 2000, 100_000));
    assert_eq!(read_all(range).await, &body[1000..2000]);
    let suffix = store.get(&bucket, "2026-11-25/a b.wav", Some(ByteRange::Suffix(16))).await.unwrap();
    assert_eq!((suffix.start, suffix.end), (99_984, 100_000));
    assert_eq!(read_all(suffix).await, &body[99_984..]);

    let meta = store.head(&bucket, "2026-11-25/a b.wav").await.unwrap().unwrap();
    assert_eq!(meta.len, 100_000);
    let age = SystemTime::now().duration_since(meta.modified).unwrap_or_default();
    assert!(age < Duration::from_secs(300), "modified {age:?} ago");
    assert!(store.head(&bucket, "missing").await.unwrap().is_none());
    assert!(store.get(&bucket, "missing", None).await.unwrap_err().is_not_found());

    store.delete(&bucket, "2026-11-25/a b.wav").await.unwrap();
    assert!(store.head(&bucket, "2026-11-25/a b.wav").await.unwrap().is_none());
    store.delete(&bucket, "2026-11-25/a b.wav").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_objects_go_up_in_parts_and_read_back_whole() {
    let server = S3Server::start();
    let store = server.store("").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.wav");
    // Two full parts and a short one.
    let body = pattern(2 * PART_SIZE + 12_345);
    std::fs::write(&path, &body).unwrap();
    let url = voicera_blob::upload_file(store.as_ref(), "recordings", "2026/big.wav", &path).await.unwrap();
    assert_eq!(url, "s3://recordings/2026/big.wav");

    let whole = read_all(get_url(store.as_ref(), &url, None).await.unwrap()).await;
    assert_eq!(whole.len(), body.len());
    assert_eq!(Sha256::digest(&whole), Sha256::digest(&body));
    // A range across the first part boundary.
    let at = PART_SIZE as u64 - 10;
    let across = store.get("recordings", "2026/big.wav", Some(ByteRange::Inclusive(at, at + 19))).await.unwrap();
    assert_eq!(read_all(across).await, &body[at as usize..at as usize + 20]);
    // Records imported from the original keep minio:// links; they read from the same server.
    let minio =
        get_url(store.as_ref(), "minio://recordings/2026/big.wav", Some(ByteRange::From(body.len() as u64 - 5)));
    assert_eq!(read_all(minio.await.unwrap()).await, &body[body.len() - 5..]);
    // And none of the upload's parts linger as objects.
    let listed = store.list("recordings", "").await.unwrap();
    assert_eq!(
        listed.iter().map(|m| (m.key.as_str(), m.len)).collect::<Vec<_>>(),
        [("2026/big.wav", body.len() as u64)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_by_prefix_and_retention() {
    let server = S3Server::start();
    let store = server.store("").await;
    for key in ["org1/2026-01-01/a", "org1/2026-01-02/b", "org10/x", "org2/y"] {
        store.put_bytes("transcripts", key, key.as_bytes().to_vec()).await.unwrap();
    }
    let keys = |list: Vec<voicera_blob::BlobMeta>| list.into_iter().map(|m| m.key).collect::<Vec<_>>();
    assert_eq!(keys(store.list("transcripts", "org1/").await.unwrap()), ["org1/2026-01-01/a", "org1/2026-01-02/b"]);
    assert_eq!(keys(store.list("transcripts", "org1").await.unwrap()).len(), 3);
    assert!(store.list("knowledge", "").await.unwrap().is_empty());

    let now = SystemTime::now();
    assert_eq!(store.delete_older_than("transcripts", "org1/", now - Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(store.delete_older_than("transcripts", "org1/", now + Duration::from_secs(3600)).await.unwrap(), 2);
    assert_eq!(keys(store.list("transcripts", "").await.unwrap()), ["org10/x", "org2/y"]);
}

/// A plain HTTP GET of a URL (no client library, no credentials): status and body.
fn plain_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    use std::io::Write;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response[split + 4..].to_vec();
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(&body) } else { body })
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 2 + size + 2..];
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_links_work_with_plain_http_and_expire() {
    let server = S3Server::start();
    let store = server.store("").await;
    let body = pattern(5000);
    store.put_bytes("recordings", "calls/x y.wav", body.clone()).await.unwrap();

    let link =
        store.signed_get_url("recordings", "calls/x y.wav", Duration::from_secs(300), SystemTime::now()).unwrap();
    let (status, got) = tokio::task::spawn_blocking(move || plain_get(&link)).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(got, body);

    // Signed two hours ago for one minute: expired.
    let past = SystemTime::now() - Duration::from_secs(7200);
    let expired = store.signed_get_url("recordings", "calls/x y.wav", Duration::from_secs(60), past).unwrap();
    let (status, _) = tokio::task::spawn_blocking(move || plain_get(&expired)).await.unwrap();
    assert_eq!(status, 403, "an expired link is refused");

    // A link for one object does not open another.
    let other =
        store.signed_get_url("recordings", "calls/x y.wav", Duration::from_secs(300), SystemTime::now()).unwrap();
    let tampered = other.replace("x%20y.wav", "x%20z.wav");
    let (status, _) = tokio::task::spawn_blocking(move || plain_get(&tampered)).await.unwrap();
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_refused_and_buckets_are_created_once() {
    let server = S3Server::start();
    let store = server.store("p-").await;
    // A second node starting against the same server finds the buckets there.
    server.store("p-").await.put_bytes("p-knowledge", "doc.txt", b"hello".to_vec()).await.unwrap();
    assert_eq!(store.head("p-knowledge", "doc.txt").await.unwrap().unwrap().len, 5);

    let mut bad = server.config("p-");
    bad.secret_key = "wrong".into();
    let dir = tempfile::tempdir().unwrap();
    let refused = voicera_blob::open(dir.path(), Some(&bad)).await.unwrap_err();
    assert!(
        matches!(refused, BlobError::S3Status { status: 403, .. }),
        "a node with wrong keys does not start: {refused}"
    );
    let bad = S3BlobStore::new(bad).unwrap();
    match bad.put_bytes("p-knowledge", "doc.txt", b"x".to_vec()).await {
        Err(BlobError::S3Status { status: 403, code, .. }) => assert_eq!(code, "SignatureDoesNotMatch"),
        other => panic!("expected 403 SignatureDoesNotMatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_transport_error() {
    let server = S3Server::start();
    let config = server.config("");
    drop(server);
    let store = S3BlobStore::new(config.clone()).unwrap();
    let err = store.put_bytes("recordings", "k", vec![1, 2, 3]).await.unwrap_err();
    assert!(matches!(err, BlobError::S3Transport { .. }), "{err}");
    // A node still starts: its recordings wait on disk for the server.
    let dir = tempfile::tempdir().unwrap();
    assert!(voicera_blob::open(dir.path(), Some(&config)).await.is_ok());
}
