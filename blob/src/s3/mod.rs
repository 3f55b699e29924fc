//! The S3 blob store: any S3-compatible server, path-style or virtual-hosted, signed with SigV4
//! ([`sigv4`]). Requests are blocking HTTP (ureq, with rustls) run on tokio's blocking pool; bodies stream
//! both ways: uploads go in parts of [`PART_SIZE`](crate::PART_SIZE) (multipart above one part), downloads
//! through a small channel of chunks.

mod sigv4;
mod xml;

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::{mpsc, oneshot};

use crate::key::{validate_bucket, validate_key};
use crate::{BlobError, BlobMeta, BlobRead, BlobReader, BlobStore, Bucket, ByteRange, S3Config, UrlStyle, PART_SIZE};
#[cfg(feature = "recording")]
pub(crate) use sigv4::civil_from_days;
use sigv4::{Credentials, Request, EMPTY_SHA256};

/// How long to wait for a TCP connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one request may take in all: an 8 MiB part over a slow 1 Mbit/s link takes ~70 s.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Size of the chunks a download is handed over in.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks a download reads ahead of its consumer.
const READ_AHEAD_CHUNKS: usize = 4;
/// The longest a presigned URL may live (SigV4's limit: 7 days).
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Objects on an S3-compatible server.
#[derive(Clone)]
pub struct S3BlobStore {
    config: S3Config,
    creds: Credentials,
    /// `http` or `https`.
    scheme: String,
    /// `host[:port]` of the endpoint.
    host: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore").field("config", &self.config).finish_non_exhaustive()
    }
}

/// One request, addressed: the URL to send to and what to sign.
struct Target {
    url: String,
    host: String,
    path: String,
}

/// A response's status, headers that matter, and body reader.
struct Reply {
    status: u16,
    headers: http_headers::Headers,
    body: ureq::Body,
}

/// The few response headers the store reads, copied out of the response.
mod http_headers {
    #[derive(Default)]
    pub(super) struct Headers {
        pub(super) content_length: Option<u64>,
        pub(super) content_range: Option<String>,
        pub(super) last_modified: Option<String>,
        pub(super) etag: Option<String>,
    }
}

impl S3BlobStore {
    /// A store on the server `config` names (nothing is sent until the first operation).
    pub fn new(config: S3Config) -> Result<Self, BlobError> {
        let (scheme, host) = config
            .endpoint
            .split_once("://")
            .map(|(s, h)| (s.to_string(), h.to_string()))
            .ok_or_else(|| BlobError::UnsupportedUrl(config.endpoint.clone()))?;
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .new_agent();
        let creds = Credentials {
            access_key: config.access_key.clone(),
            secret_key: config.secret_key.clone(),
            region: config.region.clone(),
        };
        Ok(Self { config, creds, scheme, host, agent })
    }

    /// Where a request for `bucket/key` (or the bucket itself, `key` empty) goes.
    fn target(&self, bucket: &str, key: &str, query: &[(&str, &str)]) -> Target {
        let encoded_key = sigv4::uri_encode(key, true);
        let (host, path) = match self.config.url_style {
            UrlStyle::Path if key.is_empty() => (self.host.clone(), format!("/{bucket}")),
            UrlStyle::Path => (self.host.clone(), format!("/{bucket}/{encoded_key}")),
            UrlStyle::VirtualHosted => (format!("{bucket}.{}", self.host), format!("/{encoded_key}")),
        };
        let query = sigv4::canonical_query(query);
        let url = if query.is_empty() {
            format!("{}://{host}{path}", self.scheme)
        } else {
            format!("{}://{host}{path}?{query}", self.scheme)
        };
        Target { url, host, path }
    }

    /// Sends one signed request (blocking): `body` is the whole payload, `extra` unsigned headers.
    fn send(
        &self,
        method: &'static str,
        operation: &'static str,
        (bucket, key): (&str, &str),
        query: &[(&str, &str)],
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> Result<Reply, BlobError> {
        let target = self.target(bucket, key, query);
        let payload_sha256 = if body.is_empty() { EMPTY_SHA256.to_string() } else { sigv4::sha256_hex(body) };
        let request = Request { method, host: &target.host, path: &target.path, query };
        let signed = sigv4::sign(&self.creds, &request, &payload_sha256, SystemTime::now());
        let mut builder = ureq::http::Request::builder().method(method).uri(&target.url).header("host", &target.host);
        for (name, value) in signed.iter().map(|(n, v)| (*n, v.as_str())).chain(extra.iter().copied()) {
            builder = builder.header(name, value);
        }
        let transport = |source: ureq::Error| BlobError::S3Transport {
            operation,
            bucket: bucket.to_string(),
            key: key.to_string(),
            source: Box::new(source),
        };
        let request = builder.body(body.to_vec()).map_err(|e| transport(ureq::Error::from(e)))?;
        let response = self.agent.run(request).map_err(transport)?;
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let headers = http_headers::Headers {
            content_length: header("content-length").and_then(|v| v.parse().ok()),
            content_range: header("content-range"),
            last_modified: header("last-modified"),
            etag: header("etag"),
        };
        let status = response.status().as_u16();
        Ok(Reply { status, headers, body: response.into_body() })
    }

    /// The error for an unexpected status, with the S3 error code from the body.
    fn status_error(operation: &'static str, bucket: &str, key: &str, mut reply: Reply) -> BlobError {
        let text = reply.body.with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
        BlobError::S3Status {
            operation,
            bucket: bucket.to_string(),
            key: key.to_string(),
            status: reply.status,
            code: xml::first(&text, "Code").unwrap_or_default(),
        }
    }

    /// Runs a blocking request on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&S3BlobStore) -> Result<T, BlobError> + Send + 'static,
    ) -> Result<T, BlobError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store)).await.map_err(|_| BlobError::Cancelled)?
    }

    fn ensure_bucket(&self, bucket: &str) -> Result<(), BlobError> {
        let reply = self.send("HEAD", "HeadBucket", (bucket, ""), &[], &[], &[])?;
        match reply.status {
            200 => return Ok(()),
            404 => {}
            _ => return Err(Self::status_error("HeadBucket", bucket, "", reply)),
        }
        let body = if self.config.region == crate::config::DEFAULT_REGION {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                xml::escape(&self.config.region)
            )
            .into_bytes()
        };
        let reply = self.send("PUT", "CreateBucket", (bucket, ""), &[], &body, &[])?;
        match reply.status {
            200 => {
                tracing::info!(bucket, "created S3 bucket");
                Ok(())
            }
            // Another node created it between our HEAD and PUT.
            409 => Ok(()),
            _ => Err(Self::status_error("CreateBucket", bucket, "", reply)),
        }
    }

    fn put_object(&self, bucket: &str, key: &str, body: &[u8]) -> Result<(), BlobError> {
        let reply = self.send("PUT", "PutObject", (bucket, key), &[], body, &[])?;
        match reply.status {
            200 => Ok(()),
            _ => Err(Self::status_error("PutObject", bucket, key, reply)),
        }
    }

    fn create_multipart(&self, bucket: &str, key: &str) -> Result<String, BlobError> {
        let mut reply = self.send("POST", "CreateMultipartUpload", (bucket, key), &[("uploads", "")], &[], &[])?;
        if reply.status != 200 {
            return Err(Self::status_error("CreateMultipartUpload", bucket, key, reply));
        }
        let text = reply.body.read_to_string().unwrap_or_default();
        xml::first(&text, "UploadId").filter(|id| !id.is_empty()).ok_or_else(|| BlobError::S3Protocol {
            operation: "CreateMultipartUpload",
            detail: "no UploadId in the answer".into(),
        })
    }

    fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: &[u8],
    ) -> Result<String, BlobError> {
        let number = number.to_string();
        let query = [("partNumber", number.as_str()), ("uploadId", upload_id)];
        let reply = self.send("PUT", "UploadPart", (bucket, key), &query, body, &[])?;
        if reply.status != 200 {
            return Err(Self::status_error("UploadPart", bucket, key, reply));
        }
        reply.headers.etag.ok_or(BlobError::S3Protocol { operation: "UploadPart", detail: "no ETag".into() })
    }

    fn complete_multipart(&self, bucket: &str, key: &str, upload_id: &str, etags: &[String]) -> Result<(), BlobError> {
        let mut body = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                xml::escape(etag)
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let mut reply = self.send(
            "POST",
            "CompleteMultipartUpload",
            (bucket, key),
            &[("uploadId", upload_id)],
            body.as_bytes(),
            &[],
        )?;
        if reply.status != 200 {
            return Err(Self::status_error("CompleteMultipartUpload", bucket, key, reply));
        }
        // S3 may answer 200 and then report the failure in the body.
        let text = reply.body.read_to_string().unwrap_or_default();
        match xml::first(&text, "Code") {
            Some(code) if text.contains("<Error>") => Err(BlobError::S3Status {
                operation: "CompleteMultipartUpload",
                bucket: bucket.to_string(),
                key: key.to_string(),
                status: 200,
                code,
            }),
            _ => Ok(()),
        }
    }

    fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) {
        match self.send("DELETE", "AbortMultipartUpload", (bucket, key), &[("uploadId", upload_id)], &[], &[]) {
            Ok(reply) if reply.status == 204 || reply.status == 200 => {}
            Ok(reply) => tracing::warn!(bucket, key, status = reply.status, "cannot abort a multipart upload"),
            Err(err) => tracing::warn!(bucket, key, %err, "cannot abort a multipart upload"),
        }
    }

    /// Uploads the parts after the first (already read into `first`) and completes; aborts on failure so the
    /// server drops the parts.
    async fn put_multipart(
        &self,
        bucket: &str,
        key: &str,
        first: Vec<u8>,
        body: &mut BlobReader,
    ) -> Result<(), BlobError> {
        let (b, k) = (bucket.to_string(), key.to_string());
        let upload_id = self.blocking(move |s| s.create_multipart(&b, &k)).await?;
        let result = async {
            let mut etags = Vec::new();
            let mut part = first;
            loop {
                let number = etags.len() as u32 + 1;
                let (b, k, id) = (bucket.to_string(), key.to_string(), upload_id.clone());
                let (etag, buffer) =
                    self.blocking(move |s| s.upload_part(&b, &k, &id, number, &part).map(|etag| (etag, part))).await?;
                etags.push(etag);
                part = buffer;
                if !read_part(body, &mut part).await.map_err(|e| BlobError::io(key, e))? {
                    break;
                }
            }
            let (b, k, id) = (bucket.to_string(), key.to_string(), upload_id.clone());
            self.blocking(move |s| s.complete_multipart(&b, &k, &id, &etags)).await
        }
        .await;
        if result.is_err() {
            let (b, k, id) = (bucket.to_string(), key.to_string(), upload_id.clone());
            let _ = self
                .blocking(move |s| {
                    s.abort_multipart(&b, &k, &id);
                    Ok(())
                })
                .await;
        }
        result
    }

    /// The full bucket names of an S3 listing page and whether more follow.
    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&str>,
    ) -> Result<(Vec<BlobMeta>, Option<String>), BlobError> {
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(token) = token {
            query.push(("continuation-token", token));
        }
        let mut reply = self.send("GET", "ListObjectsV2", (bucket, ""), &query, &[], &[])?;
        if reply.status != 200 {
            return Err(Self::status_error("ListObjectsV2", bucket, "", reply));
        }
        let text =
            reply.body.with_config().limit(16 * 1024 * 1024).read_to_string().map_err(|e| BlobError::S3Transport {
                operation: "ListObjectsV2",
                bucket: bucket.into(),
                key: String::new(),
                source: Box::new(e),
            })?;
        let mut page = Vec::new();
        for contents in xml::elements(&text, "Contents") {
            let protocol = |detail: &str| BlobError::S3Protocol { operation: "ListObjectsV2", detail: detail.into() };
            let key = xml::first(contents, "Key").ok_or_else(|| protocol("an entry without Key"))?;
            let len = xml::first(contents, "Size").and_then(|s| s.parse().ok()).ok_or_else(|| protocol("bad Size"))?;
            let modified = xml::first(contents, "LastModified")
                .and_then(|t| parse_iso8601(&t))
                .ok_or_else(|| protocol("bad LastModified"))?;
            page.push(BlobMeta { key, len, modified });
        }
        let more = xml::first(&text, "IsTruncated").is_some_and(|t| t == "true");
        let next = if more { xml::first(&text, "NextContinuationToken") } else { None };
        Ok((page, next))
    }
}

/// Fills `part` (cleared first) from `body` up to [`PART_SIZE`]; returns whether it read anything.
async fn read_part(body: &mut BlobReader, part: &mut Vec<u8>) -> std::io::Result<bool> {
    part.clear();
    let mut limited = body.take(PART_SIZE as u64);
    limited.read_to_end(part).await?;
    Ok(!part.is_empty())
}

/// `2009-10-12T17:50:30.000Z` (S3's timestamps) as a time.
fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let (date, time) = text.trim().trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.split(['.', '+']).next()?;
    let mut t = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (t.next()??, t.next()??, t.next()??);
    let days = sigv4::days_from_civil(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?);
    let secs = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// `bytes start-end/total` → `(start, end exclusive, total)`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let (span, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let total = total.parse().ok()?;
    let (start, last) = span.split_once('-')?;
    Some((start.parse().ok()?, last.parse::<u64>().ok()? + 1, total))
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn describe(&self) -> String {
        format!("S3 {} (region {}, prefix {:?})", self.config.endpoint, self.config.region, self.config.bucket_prefix)
    }

    fn bucket_name(&self, bucket: Bucket) -> String {
        format!("{}{}", self.config.bucket_prefix, bucket.as_str())
    }

    fn url(&self, bucket: &str, key: &str) -> String {
        format!("s3://{bucket}/{key}")
    }

    async fn ensure_buckets(&self) -> Result<(), BlobError> {
        for bucket in Bucket::ALL {
            let name = self.bucket_name(bucket);
            validate_bucket(&name)?;
            self.blocking(move |s| s.ensure_bucket(&name)).await?;
        }
        Ok(())
    }

    async fn put_stream(&self, bucket: &str, key: &str, mut body: BlobReader) -> Result<(), BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let mut first = Vec::with_capacity(PART_SIZE.min(1024 * 1024));
        read_part(&mut body, &mut first).await.map_err(|e| BlobError::io(key, e))?;
        if first.len() < PART_SIZE {
            // It all fits in one request.
            let (b, k) = (bucket.to_string(), key.to_string());
            return self.blocking(move |s| s.put_object(&b, &k, &first)).await;
        }
        self.put_multipart(bucket, key, first, &mut body).await
    }

    async fn get(&self, bucket: &str, key: &str, range: Option<ByteRange>) -> Result<BlobRead, BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let (meta_tx, meta_rx) = oneshot::channel::<Result<(u64, u64, u64), BlobError>>();
        let (chunk_tx, chunk_rx) = mpsc::channel(READ_AHEAD_CHUNKS);
        let store = self.clone();
        let (bucket, key) = (bucket.to_string(), key.to_string());
        tokio::task::spawn_blocking(move || {
            let range_header = range.map(ByteRange::header_value);
            let extra: Vec<(&str, &str)> = range_header.iter().map(|v| ("range", v.as_str())).collect();
            let reply = match store.send("GET", "GetObject", (&bucket, &key), &[], &[], &extra) {
                Ok(reply) => reply,
                Err(err) => {
                    let _ = meta_tx.send(Err(err));
                    return;
                }
            };
            let span = match reply.status {
                200 => reply.headers.content_length.map(|len| (0, len, len)),
                206 => reply.headers.content_range.as_deref().and_then(parse_content_range),
                404 => {
                    let _ = meta_tx.send(Err(BlobError::NotFound { bucket, key }));
                    return;
                }
                416 => {
                    let total = reply
                        .headers
                        .content_range
                        .as_deref()
                        .and_then(|v| v.strip_prefix("bytes */"))
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0);
                    let _ = meta_tx.send(Err(BlobError::RangeNotSatisfiable { total }));
                    return;
                }
                _ => {
                    let _ = meta_tx.send(Err(Self::status_error("GetObject", &bucket, &key, reply)));
                    return;
                }
            };
            let Some(span) = span else {
                let detail = "no usable Content-Length or Content-Range".to_string();
                let _ = meta_tx.send(Err(BlobError::S3Protocol { operation: "GetObject", detail }));
                return;
            };
            if meta_tx.send(Ok(span)).is_err() {
                return;
            }
            let mut reader = reply.body.into_reader();
            loop {
                let mut chunk = vec![0; READ_CHUNK];
                match reader.read(&mut chunk) {
                    Ok(0) => return,
                    Ok(n) => {
                        chunk.truncate(n);
                        if chunk_tx.blocking_send(Ok(chunk)).is_err() {
                            return; // The reader was dropped.
                        }
                    }
                    Err(e) => {
                        let _ = chunk_tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        let (start, end, total_len) = meta_rx.await.map_err(|_| BlobError::Cancelled)??;
        let reader = ChunkReader { chunks: chunk_rx, current: Vec::new(), at: 0 };
        Ok(BlobRead { reader: Box::pin(reader), total_len, start, end })
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<BlobMeta>, BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let (b, k) = (bucket.to_string(), key.to_string());
        self.blocking(move |s| {
            let reply = s.send("HEAD", "HeadObject", (&b, &k), &[], &[], &[])?;
            match reply.status {
                200 => {
                    let len = reply.headers.content_length.unwrap_or(0);
                    let modified = reply
                        .headers
                        .last_modified
                        .as_deref()
                        .and_then(parse_http_date)
                        .unwrap_or(SystemTime::UNIX_EPOCH);
                    Ok(Some(BlobMeta { key: k, len, modified }))
                }
                404 => Ok(None),
                _ => Err(Self::status_error("HeadObject", &b, &k, reply)),
            }
        })
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let (b, k) = (bucket.to_string(), key.to_string());
        self.blocking(move |s| {
            let reply = s.send("DELETE", "DeleteObject", (&b, &k), &[], &[], &[])?;
            match reply.status {
                200 | 204 | 404 => Ok(()),
                _ => Err(Self::status_error("DeleteObject", &b, &k, reply)),
            }
        })
        .await
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        validate_bucket(bucket)?;
        let (b, p) = (bucket.to_string(), prefix.to_string());
        self.blocking(move |s| {
            let mut all = Vec::new();
            let mut token = None;
            loop {
                let (page, next) = s.list_page(&b, &p, token.as_deref())?;
                all.extend(page);
                match next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
            all.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(all)
        })
        .await
    }

    fn signed_get_url(&self, bucket: &str, key: &str, ttl: Duration, now: SystemTime) -> Result<String, BlobError> {
        validate_bucket(bucket)?;
        validate_key(key)?;
        let target = self.target(bucket, key, &[]);
        let request = Request { method: "GET", host: &target.host, path: &target.path, query: &[] };
        let query = sigv4::presign_query(&self.creds, &request, ttl.min(MAX_PRESIGN).as_secs().max(1), now);
        Ok(format!("{}?{query}", target.url))
    }
}

/// `Wed, 21 Oct 2015 07:28:00 GMT` (the `Last-Modified` form) as a time.
fn parse_http_date(text: &str) -> Option<SystemTime> {
    let mut parts = text.split_whitespace().skip(1);
    let day: u32 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == month_name)? as u32
        + 1;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    parse_iso8601(&format!("{year:04}-{month:02}-{day:02}T{time}Z"))
}

/// An object's bytes as they arrive from the blocking reader.
struct ChunkReader {
    chunks: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
}

impl AsyncRead for ChunkReader {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if self.at < self.current.len() {
                let n = buf.remaining().min(self.current.len() - self.at);
                let at = self.at;
                buf.put_slice(&self.current[at..at + n]);
                self.at += n;
                return Poll::Ready(Ok(()));
            }
            match self.chunks.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_ranges_parse() {
        let t = parse_iso8601("2013-05-24T00:00:01.000Z").unwrap();
        assert_eq!(t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_369_353_601);
        let h = parse_http_date("Fri, 24 May 2013 00:00:01 GMT").unwrap();
        assert_eq!(h, t);
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((100, 200, 1000)));
        assert_eq!(parse_content_range("bytes */1000"), None);
    }

    #[test]
    fn both_url_styles_address_buckets() {
        let config = |style| S3Config::new("http://127.0.0.1:9000", None, None, "a", "b", Some(style)).unwrap();
        let path = S3BlobStore::new(config("path")).unwrap().target("recordings", "a b/c.wav", &[("x", "1")]);
        assert_eq!(path.url, "http://127.0.0.1:9000/recordings/a%20b/c.wav?x=1");
        assert_eq!((path.host.as_str(), path.path.as_str()), ("127.0.0.1:9000", "/recordings/a%20b/c.wav"));
        let virt = S3BlobStore::new(config("virtual-hosted")).unwrap().target("recordings", "c.wav", &[]);
        assert_eq!(virt.url, "http://recordings.127.0.0.1:9000/c.wav");
        assert_eq!(virt.path, "/c.wav");
    }
}
