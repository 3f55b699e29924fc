//! `knowledge` documents and `/rag/retrieve`. An upload (multipart `file`: PDF up to 25 MB, plain text or
//! Markdown) goes to the blob store's `knowledge` bucket as the original did with MinIO (S3 when configured,
//! else the filesystem under the data dir): `<org>/<document id>/original.<ext>` and its extracted text
//! `<org>/<document id>/text.txt`; the store keeps the metadata (`object_url`, `text_url`, size, status). As
//! the original's ingestion was a background task, the upload answers at once with the record as written,
//! `processing`; the document lists so while it is stored and its text read, then `ready` (with its passage
//! count) or `failed` (with the reason: e.g. a PDF without a text layer, or a blob store that refused it).
//! Clients poll `GET /knowledge` for the outcome. A node processes a few documents at once
//! ([`crate::ApiConfig::knowledge_processing_slots`]); an upload beyond them is refused (429 `busy`, with
//! `Retry-After`) before its body is read. Processing that panics or outlives
//! [`crate::ApiConfig::knowledge_processing_timeout`] ends `failed` with the reason. A document deleted while it
//! is processed stays deleted (the outcome is written only over a record still `processing`), and the objects
//! written for it are removed: by the delete (the known keys of its kind, whatever the record said) or by the
//! outcome that finds no record.
//! Documents uploaded before (files under `<data>/knowledge/<org>/`) are still read and deleted there.
//! Retrieval ranks the org's ready documents' passages with the same BM25 index the agents' `knowledge_lookup`
//! tool uses ([`voicera_conversation::knowledge`]), answering the original's `chunks` shape.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use voicera_blob::{BlobStore, Bucket};
use voicera_conversation::knowledge::KnowledgeBase;
use voicera_store::{Collection, Record};

use super::upload::{self, UploadLimit};
use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::knowledge_texts::KnowledgeTexts;
use crate::state::ApiState;

/// Largest document accepted (the original's PDF limit, for every kind).
pub const MAX_DOCUMENT_BYTES: usize = 25 * 1024 * 1024;

/// How long a document may say `processing`: reading a 25 MB PDF takes seconds, so one still processing after
/// this was being read by a node that stopped (its task died with it), and is listed as `failed`.
pub const PROCESSING_LIMIT_MS: i64 = 10 * 60 * 1000;

/// The upload route's body limit: the document plus room for the multipart framing and the other fields.
pub const UPLOAD_BODY_LIMIT: usize = MAX_DOCUMENT_BYTES + 64 * 1024;

/// The kinds of document the knowledge base reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// `application/pdf`, `.pdf`: text read from its pages.
    Pdf,
    /// `text/plain`, `.txt`.
    Text,
    /// `text/markdown`, `.md`, `.markdown`.
    Markdown,
}

impl DocumentKind {
    /// The kind by file extension, else by the part's content type.
    pub fn of(filename: &str, content_type: Option<&str>) -> Option<DocumentKind> {
        let extension = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        match extension.as_deref() {
            Some("pdf") => return Some(DocumentKind::Pdf),
            Some("txt" | "text") => return Some(DocumentKind::Text),
            Some("md" | "markdown") => return Some(DocumentKind::Markdown),
            _ => {}
        }
        let essence = content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some("application/pdf") => Some(DocumentKind::Pdf),
            Some("text/plain") => Some(DocumentKind::Text),
            Some("text/markdown" | "text/x-markdown") => Some(DocumentKind::Markdown),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "pdf",
            DocumentKind::Text => "txt",
            DocumentKind::Markdown => "md",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            DocumentKind::Pdf => "application/pdf",
            DocumentKind::Text => "text/plain",
            DocumentKind::Markdown => "text/markdown",
        }
    }
}

/// A document's text, or why there is none (the record's `error_message`).
pub fn extract_text(kind: DocumentKind, bytes: &[u8]) -> Result<String, String> {
    let text = match kind {
        DocumentKind::Pdf => {
            if !bytes.starts_with(b"%PDF-") {
                return Err("not a PDF (it does not start with %PDF-)".into());
            }
            let document = lopdf::Document::load_mem(bytes).map_err(|e| format!("the PDF does not parse: {e}"))?;
            let pages: Vec<u32> = document.get_pages().keys().copied().collect();
            document.extract_text(&pages).map_err(|e| format!("no text could be read from the PDF: {e}"))?
        }
        DocumentKind::Text | DocumentKind::Markdown => {
            String::from_utf8(bytes.to_vec()).map_err(|_| "the text is not UTF-8".to_string())?
        }
    };
    if text.trim().is_empty() {
        return Err(match kind {
            DocumentKind::Pdf => "the PDF has no text layer (a scanned document?); text recognition is not supported",
            _ => "the document is empty",
        }
        .into());
    }
    Ok(text)
}

fn unsupported(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail).at("file")
}

/// What the knowledge upload accepts.
const DOCUMENT: UploadLimit = UploadLimit { max_bytes: MAX_DOCUMENT_BYTES, what: "a knowledge document" };

/// A tenant's directory name (and key prefix): org ids are generated hex, but an imported one may be anything.
fn org_segment(org_id: &str) -> String {
    let safe = org_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') && !org_id.is_empty();
    if safe {
        org_id.to_string()
    } else {
        let digest = Sha256::digest(org_id.as_bytes());
        format!("org-{}", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>())
    }
}

/// Where an org's documents were kept before the blob store (still read and deleted there).
fn org_dir(root: &FsPath, org_id: &str) -> PathBuf {
    root.join(org_segment(org_id))
}

/// The keys of a document's original and its extracted text in the `knowledge` bucket.
fn object_keys(org_id: &str, document_id: &str, kind: DocumentKind) -> (String, String) {
    let prefix = format!("{}/{document_id}", org_segment(org_id));
    (format!("{prefix}/original.{}", kind.extension()), format!("{prefix}/text.txt"))
}

/// A document's extracted text: from `cache` when it holds this version, else from the blob store
/// (`text_url`, then kept in `cache`), else from the file an older upload kept.
async fn read_text(
    blobs: &dyn BlobStore,
    cache: &KnowledgeTexts,
    documents_dir: &FsPath,
    record: &Record,
) -> Option<Arc<str>> {
    match record.doc.get("text_url").and_then(Value::as_str) {
        Some(url) => {
            // The record's last write is the text's version: a document changed on any node misses.
            let version = record.doc.get("updated_at").and_then(Value::as_str).unwrap_or_default();
            if let Some(text) = cache.get(url, version) {
                return Some(text);
            }
            let read = voicera_blob::get_url(blobs, url, None).await;
            let mut reader = match read {
                Ok(read) => read.reader,
                Err(err) => {
                    tracing::warn!(%err, document = %record.id, "a knowledge document's text cannot be read");
                    return None;
                }
            };
            let mut text = String::new();
            reader.read_to_string(&mut text).await.ok()?;
            let text: Arc<str> = Arc::from(text);
            cache.insert(url, version, Arc::clone(&text));
            Some(text)
        }
        None => {
            let path = org_dir(documents_dir, &record.org_id).join(format!("{}.txt", record.id));
            tokio::fs::read_to_string(path).await.ok().map(Arc::from)
        }
    }
}

fn new_document_id() -> String {
    rand::random::<[u8; 12]>().iter().map(|b| format!("{b:02x}")).collect()
}

fn view(record: &Record) -> Value {
    let mut doc = record.doc.clone();
    if let Some(map) = doc.as_object_mut() {
        map.insert("document_id".into(), json!(record.id));
        map.insert("org_id".into(), json!(record.org_id));
    }
    doc
}

/// Seconds a client refused for want of a processing slot is told to wait: a document takes seconds.
const BUSY_RETRY_SECS: u64 = 5;

/// `POST /knowledge/upload`: multipart `file` (and the original's `org_id`, which must be the caller's).
pub async fn upload(
    caller: Caller,
    State(state): State<ApiState>,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Member, "upload knowledge documents")?;
    let blobs = std::sync::Arc::clone(&state.resources()?.blobs);
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(unsupported("send the document as multipart/form-data with a `file` part"));
    }
    // A slot before the body is read: the bytes and the blocking thread reading them are what is bounded.
    let permit = Arc::clone(&state.0.knowledge_processing).try_acquire_owned().map_err(|_| {
        let mut busy = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "this server is processing as many knowledge documents as it may; try again shortly",
        )
        .at("file");
        busy.retry_after_secs = Some(BUSY_RETRY_SECS);
        busy
    })?;
    let mut multipart = upload::multipart(request, &state).await?;
    let mut file: Option<(String, DocumentKind, Vec<u8>)> = None;
    while let Some(mut field) = DOCUMENT.next_field(&mut multipart).await? {
        match field.name() {
            Some("file") => {
                let filename = field.file_name().unwrap_or("document").trim().to_string();
                let kind = DocumentKind::of(&filename, field.content_type()).ok_or_else(|| {
                    unsupported(format!("{filename:?} is not a PDF, a text file or Markdown (.pdf, .txt, .md)"))
                })?;
                let bytes = DOCUMENT.file_bytes(&mut field).await?;
                file = Some((filename, kind, bytes));
            }
            Some("org_id") => {
                let org = DOCUMENT.field_text(field).await?;
                if !org.trim().is_empty() && org.trim() != caller.org_id {
                    return Err(ApiError::forbidden("org_id is not your org").at("org_id"));
                }
            }
            _ => {}
        }
    }
    let (filename, kind, bytes) = file.ok_or_else(|| ApiError::invalid("file", "the upload has no `file` part"))?;
    let now = voicera_store::utc_text(state.now());
    let record = Record {
        org_id: caller.org_id.clone(),
        id: new_document_id(),
        doc: json!({"original_filename": filename, "content_type": kind.content_type(), "size_bytes": bytes.len(),
                    "status": "processing", "chunk_count": 0, "embedding_model": "bm25", "error_message": null,
                    "uploaded_by": caller.email, "created_at": now, "updated_at": now}),
    };
    state.store().put(Collection::KnowledgeDocuments, &record).await?;
    // Its own task, not this request's: the answer does not wait for a 25 MB PDF's text, and a client that
    // hangs up does not leave the document `processing` for ever. Spawned before anything else can fail, so a
    // stored record always has a task that settles it.
    tokio::spawn(supervise(state.clone(), record.clone(), kind, bytes, blobs, permit));
    // The document is stored and being processed: an audit write that fails now is logged, not answered as a
    // failed upload the client would repeat.
    if let Err(err) = crate::audit::record(&state, &caller, "upload_knowledge_document", &record.id).await {
        tracing::error!(%err, document = %record.id, "the upload of a knowledge document was not audited");
    }
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// Runs [`process`] in a task of its own, within the configured time, holding `permit` (the processing slot)
/// until it and any text reading it started are done; a processing that panics, fails to record its outcome
/// or takes too long leaves the document `failed` with the reason rather than `processing`.
async fn supervise(
    state: ApiState,
    record: Record,
    kind: DocumentKind,
    bytes: Vec<u8>,
    blobs: Arc<dyn BlobStore>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let limit = state.config().knowledge_processing_timeout;
    let permit = Arc::new(permit);
    let mut task = tokio::spawn(process(state.clone(), record.clone(), kind, bytes, blobs, Arc::clone(&permit)));
    let failure = match tokio::time::timeout(limit, &mut task).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(err))) => Some(format!("processing failed: {}", err.detail)),
        Ok(Err(join)) => {
            tracing::error!(err = %join, document = %record.id, "processing a knowledge document stopped");
            Some("processing stopped on an internal error; upload it again".to_string())
        }
        Err(_) => {
            task.abort();
            Some(format!("processing took longer than {} s; upload it again", limit.as_secs()))
        }
    };
    if let Some(reason) = failure {
        tracing::warn!(document = %record.id, %reason, "a knowledge document failed");
        if let Err(err) = record_failed(&state, &record, &reason).await {
            tracing::error!(%err, document = %record.id, "a knowledge document's failure could not be recorded");
        }
    }
    drop(permit);
}

/// Records `record` `failed` with `reason`, over the record only while it is still `processing` (a deleted or
/// settled document is left as it is); whether it was written.
async fn record_failed(state: &ApiState, record: &Record, reason: &str) -> Result<bool, ApiError> {
    let mut failed = record.clone();
    if let Some(doc) = failed.doc.as_object_mut() {
        doc.insert("status".into(), json!("failed"));
        doc.insert("error_message".into(), json!(reason));
        doc.insert("updated_at".into(), json!(voicera_store::utc_text(state.now())));
    }
    let processing = json!("processing");
    Ok(state.store().replace_if(Collection::KnowledgeDocuments, &failed, "status", &processing).await?)
}

/// Reads the document's text, keeps the document in the blob store (and its text beside it) and records the
/// outcome over the `processing` record; when the document was deleted meanwhile, removes what it wrote
/// instead. `slot` is held by the text reading too, which outlives this future when it is aborted.
async fn process(
    state: ApiState,
    mut record: Record,
    kind: DocumentKind,
    bytes: Vec<u8>,
    blobs: std::sync::Arc<dyn BlobStore>,
    slot: Arc<tokio::sync::OwnedSemaphorePermit>,
) -> Result<(), ApiError> {
    let id = record.id.clone();
    let bucket = blobs.bucket_name(Bucket::Knowledge);
    let (original_key, text_key) = object_keys(&record.org_id, &id, kind);
    let size = bytes.len();
    // The text first, from the bytes lent to the blocking thread and handed back: one copy of the document.
    let (bytes, extracted) = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let extracted = extract_text(kind, &bytes).map(|text| {
            let passages = KnowledgeBase::from_documents([(id.as_str(), text.as_str())]).passages();
            (text, passages)
        });
        (bytes, extracted)
    })
    .await
    .map_err(|e| ApiError::internal("processing a knowledge document", e))?;
    let stored = blobs.put_bytes(&bucket, &original_key, bytes).await;
    let original_kept = stored.is_ok();
    let outcome = match (stored, extracted) {
        (Err(e), _) => Err(format!("the document could not be stored: {e}")),
        (Ok(()), Err(reason)) => Err(reason),
        (Ok(()), Ok((text, passages))) => match blobs.put_bytes(&bucket, &text_key, text.into_bytes()).await {
            Ok(()) => Ok(passages),
            Err(e) => Err(format!("the text could not be stored: {e}")),
        },
    };
    if let Some(doc) = record.doc.as_object_mut() {
        doc.insert("size_bytes".into(), json!(size));
        match outcome {
            Ok(passages) => {
                doc.insert("status".into(), json!("ready"));
                doc.insert("chunk_count".into(), json!(passages));
                doc.insert("object_url".into(), json!(blobs.url(&bucket, &original_key)));
                doc.insert("text_url".into(), json!(blobs.url(&bucket, &text_key)));
            }
            Err(reason) => {
                doc.insert("status".into(), json!("failed"));
                doc.insert("error_message".into(), json!(reason));
                // The original, when it was stored, stays linked so deleting the record removes it.
                if original_kept {
                    doc.insert("object_url".into(), json!(blobs.url(&bucket, &original_key)));
                }
            }
        }
        doc.insert("updated_at".into(), json!(voicera_store::utc_text(state.now())));
    }
    let processing = json!("processing");
    if !state.store().replace_if(Collection::KnowledgeDocuments, &record, "status", &processing).await? {
        // Deleted while it was processed (the delete found no objects yet): nothing may point at these.
        for key in [&original_key, &text_key] {
            if let Err(err) = blobs.delete(&bucket, key).await {
                tracing::warn!(%err, document = %record.id, "an object of a deleted knowledge document stays");
            }
        }
    }
    Ok(())
}

/// `GET /knowledge`: the org's documents, newest first; a JSON array, as the original answered. A document
/// `processing` for longer than [`PROCESSING_LIMIT_MS`] is recorded `failed` first.
pub async fn list(caller: Caller, State(state): State<ApiState>) -> Result<Json<Vec<Value>>, ApiError> {
    let mut records = Vec::new();
    for record in state.store().list(Collection::KnowledgeDocuments, &caller.org_id).await? {
        records.extend(fail_if_abandoned(&state, record).await?);
    }
    let created = |r: &Record| r.doc.get("created_at").and_then(Value::as_str).unwrap_or_default().to_string();
    records.sort_by_key(|r| std::cmp::Reverse(created(r)));
    Ok(Json(records.iter().map(view).collect()))
}

/// `record`, recorded `failed` when it has been `processing` for longer than [`PROCESSING_LIMIT_MS`]; as stored
/// now when its outcome was written meanwhile (None when it was deleted meanwhile).
async fn fail_if_abandoned(state: &ApiState, record: Record) -> Result<Option<Record>, ApiError> {
    let processing = json!("processing");
    if record.doc.get("status") != Some(&processing) {
        return Ok(Some(record));
    }
    let since = record.doc.get("updated_at").and_then(Value::as_str).and_then(super::live::parse_utc_ms);
    if since.is_some_and(|since| state.now() - since < PROCESSING_LIMIT_MS) {
        return Ok(Some(record));
    }
    let mut failed = record.clone();
    if let Some(doc) = failed.doc.as_object_mut() {
        doc.insert("status".into(), json!("failed"));
        let reason = "processing stopped before the text was read (the node reading it stopped); upload it again";
        doc.insert("error_message".into(), json!(reason));
        doc.insert("updated_at".into(), json!(voicera_store::utc_text(state.now())));
    }
    if state.store().replace_if(Collection::KnowledgeDocuments, &failed, "status", &processing).await? {
        return Ok(Some(failed));
    }
    Ok(state.store().get(Collection::KnowledgeDocuments, &record.org_id, &record.id).await?)
}

/// `DELETE /knowledge/{document_id}`: the record and its files.
pub async fn remove(
    caller: Caller,
    State(state): State<ApiState>,
    Path(document_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Member, "delete knowledge documents")?;
    let store = state.store();
    let record = store
        .get(Collection::KnowledgeDocuments, &caller.org_id, &document_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no knowledge document {document_id:?} in your org")))?;
    let documents_dir = state.resources()?.documents_dir.clone();
    let blobs = std::sync::Arc::clone(&state.resources()?.blobs);
    store.delete(Collection::KnowledgeDocuments, &caller.org_id, &record.id).await?;
    // The objects a document of its kind has, whatever the record said when it was read: a document read here
    // while `processing` (no URLs yet) may have been settled `ready`, its objects written, before the delete
    // above; one deleted before that removes its own objects when its outcome finds no record.
    let bucket = blobs.bucket_name(Bucket::Knowledge);
    let content_type = record.doc.get("content_type").and_then(Value::as_str);
    let kinds = match DocumentKind::of("", content_type) {
        Some(kind) => vec![kind],
        None => vec![DocumentKind::Pdf, DocumentKind::Text, DocumentKind::Markdown],
    };
    let mut objects: Vec<(String, String)> = Vec::new();
    for kind in kinds {
        let (original_key, text_key) = object_keys(&record.org_id, &record.id, kind);
        for key in [original_key, text_key] {
            if !objects.iter().any(|(_, k)| *k == key) {
                objects.push((bucket.clone(), key));
            }
        }
    }
    // URLs the record names elsewhere (another bucket name at the time it was written).
    for url in ["object_url", "text_url"].iter().filter_map(|k| record.doc.get(*k).and_then(Value::as_str)) {
        match voicera_blob::parse_blob_url(url) {
            Ok(parsed) if !objects.iter().any(|(b, k)| *b == parsed.bucket && *k == parsed.key) => {
                objects.push((parsed.bucket, parsed.key));
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, %url, "a deleted knowledge document names an unreadable object URL"),
        }
    }
    let texts = &state.resources()?.knowledge_texts;
    for (bucket, key) in &objects {
        texts.forget(&blobs.url(bucket, key));
        // Deleting a missing object is no error; a store that is away leaves an orphan object (logged), never a
        // record pointing at nothing.
        if let Err(err) = blobs.delete(bucket, key).await {
            tracing::warn!(%err, %key, "a deleted knowledge document's object could not be removed");
        }
    }
    let dir = org_dir(&documents_dir, &caller.org_id);
    for extension in ["pdf", "txt", "md"] {
        // An older upload's files; absent ones are fine.
        let _ = tokio::fs::remove_file(dir.join(format!("{}.{extension}", record.id))).await;
    }
    // The document is gone: an audit write that fails now is logged, not answered as a failed delete.
    if let Err(err) = crate::audit::record(&state, &caller, "delete_knowledge_document", &record.id).await {
        tracing::error!(%err, document = %record.id, "the delete of a knowledge document was not audited");
    }
    Ok(Json(json!({"status": "success", "message": "document deleted", "document_id": record.id, "deleted": true})))
}

/// `POST /rag/retrieve`: the original's body.
#[derive(Deserialize)]
pub struct RetrieveBody {
    question: String,
    top_k: Option<u64>,
    document_ids: Option<Vec<String>>,
    org_id: Option<String>,
}

/// `POST /rag/retrieve`: the passages of the org's ready documents (or of `document_ids`) that best answer
/// `question`, best first. `distance` is `1 / (1 + BM25 score)`: lower is nearer, as the original's cosine
/// distance was.
pub async fn retrieve(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<RetrieveBody>,
) -> Result<Json<Value>, ApiError> {
    if body.org_id.as_deref().is_some_and(|o| !o.trim().is_empty() && o.trim() != caller.org_id) {
        return Err(ApiError::forbidden("org_id is not your org").at("org_id"));
    }
    let top_k = body.top_k.unwrap_or(5);
    if !(1..=10).contains(&top_k) {
        return Err(ApiError::invalid("top_k", "top_k is 1 to 10"));
    }
    if body.question.trim().is_empty() {
        return Err(ApiError::invalid("question", "ask a question"));
    }
    let documents_dir = state.resources()?.documents_dir.clone();
    let blobs = std::sync::Arc::clone(&state.resources()?.blobs);
    let cache = Arc::clone(&state.resources()?.knowledge_texts);
    let records = state.store().list(Collection::KnowledgeDocuments, &caller.org_id).await?;
    let wanted = |r: &Record| body.document_ids.as_ref().is_none_or(|ids| ids.contains(&r.id));
    let ready: Vec<Record> =
        records.into_iter().filter(|r| wanted(r) && r.doc.get("status") == Some(&json!("ready"))).collect();
    let mut texts: Vec<(String, Arc<str>)> = Vec::with_capacity(ready.len());
    for record in &ready {
        if let Some(text) = read_text(blobs.as_ref(), &cache, &documents_dir, record).await {
            texts.push((record.id.clone(), text));
        }
    }
    let question = body.question;
    let chunks = tokio::task::spawn_blocking(move || -> Vec<Value> {
        let base = KnowledgeBase::from_documents(texts.iter().map(|(id, text)| (id.as_str(), &**text)));
        let filename = |id: &str| {
            ready
                .iter()
                .find(|r| r.id == id)
                .and_then(|r| r.doc.get("original_filename").cloned())
                .unwrap_or(Value::Null)
        };
        base.lookup(&question, top_k as usize)
            .into_iter()
            .map(|(passage, score)| {
                let digest = Sha256::digest(passage.text.as_bytes());
                let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                json!({
                    "chunk_id": format!("{}:{short}", passage.source),
                    "document_id": passage.source,
                    "source_filename": filename(&passage.source),
                    "text": passage.text,
                    "distance": 1.0 / (1.0 + f64::from(score)),
                })
            })
            .collect()
    })
    .await
    .map_err(|e| ApiError::internal("retrieving passages", e))?;
    Ok(Json(json!({"chunks": chunks})))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob store that counts the reads it passes on to a filesystem store.
    #[derive(Debug)]
    struct CountingReads {
        inner: voicera_blob::FsBlobStore,
        gets: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl BlobStore for CountingReads {
        fn describe(&self) -> String {
            self.inner.describe()
        }
        fn bucket_name(&self, bucket: Bucket) -> String {
            self.inner.bucket_name(bucket)
        }
        fn url(&self, bucket: &str, key: &str) -> String {
            self.inner.url(bucket, key)
        }
        async fn ensure_buckets(&self) -> Result<(), voicera_blob::BlobError> {
            self.inner.ensure_buckets().await
        }
        async fn put_stream(
            &self,
            bucket: &str,
            key: &str,
            body: voicera_blob::BlobReader,
        ) -> Result<(), voicera_blob::BlobError> {
            self.inner.put_stream(bucket, key, body).await
        }
        async fn get(
            &self,
            bucket: &str,
            key: &str,
            range: Option<voicera_blob::ByteRange>,
        ) -> Result<voicera_blob::BlobRead, voicera_blob::BlobError> {
            self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.get(bucket, key, range).await
        }
        async fn head(
            &self,
            bucket: &str,
            key: &str,
        ) -> Result<Option<voicera_blob::BlobMeta>, voicera_blob::BlobError> {
            self.inner.head(bucket, key).await
        }
        async fn delete(&self, bucket: &str, key: &str) -> Result<(), voicera_blob::BlobError> {
            self.inner.delete(bucket, key).await
        }
        async fn list(
            &self,
            bucket: &str,
            prefix: &str,
        ) -> Result<Vec<voicera_blob::BlobMeta>, voicera_blob::BlobError> {
            self.inner.list(bucket, prefix).await
        }
        fn signed_get_url(
            &self,
            bucket: &str,
            key: &str,
            ttl: std::time::Duration,
            now: std::time::SystemTime,
        ) -> Result<String, voicera_blob::BlobError> {
            self.inner.signed_get_url(bucket, key, ttl, now)
        }
    }

    #[tokio::test]
    async fn a_second_retrieval_reads_the_text_from_the_cache_until_the_document_changes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = CountingReads { inner: voicera_blob::FsBlobStore::new(dir.path()), gets: Default::default() };
        let gets = || blobs.gets.load(std::sync::atomic::Ordering::SeqCst);
        blobs.put_bytes("knowledge", "org/doc1/text.txt", b"Refunds take five days.".to_vec()).await.unwrap();
        let record = Record {
            org_id: "org".into(),
            id: "doc1".into(),
            doc: json!({"text_url": blobs.url("knowledge", "org/doc1/text.txt"), "updated_at": "2026-12-06T00:00:00.000Z"}),
        };
        let cache = KnowledgeTexts::new(1024);
        let first = read_text(&blobs, &cache, dir.path(), &record).await.unwrap();
        assert_eq!(&*first, "Refunds take five days.");
        assert_eq!(gets(), 1);
        let second = read_text(&blobs, &cache, dir.path(), &record).await.unwrap();
        assert_eq!(&*second, "Refunds take five days.");
        assert_eq!(gets(), 1, "the second retrieval does not read the blob store");
        // The document rewritten (on any node): its record's version moves on and the new text is read.
        blobs.put_bytes("knowledge", "org/doc1/text.txt", b"Refunds take two days.".to_vec()).await.unwrap();
        let mut changed = record.clone();
        changed.doc["updated_at"] = json!("2026-12-06T01:00:00.000Z");
        assert_eq!(&*read_text(&blobs, &cache, dir.path(), &changed).await.unwrap(), "Refunds take two days.");
        assert_eq!(gets(), 2);
        // Deleted on this node: forgotten at once.
        cache.forget(changed.doc["text_url"].as_str().unwrap());
        assert_eq!(cache.bytes(), 0);
        // A cache too small for the text still answers, from the store each time.
        let tiny = KnowledgeTexts::new(4);
        read_text(&blobs, &tiny, dir.path(), &changed).await.unwrap();
        read_text(&blobs, &tiny, dir.path(), &changed).await.unwrap();
        assert_eq!(gets(), 4);
    }

    #[test]
    fn kinds_come_from_the_extension_then_the_content_type() {
        assert_eq!(DocumentKind::of("Policy.PDF", None), Some(DocumentKind::Pdf));
        assert_eq!(DocumentKind::of("notes.md", Some("application/octet-stream")), Some(DocumentKind::Markdown));
        assert_eq!(DocumentKind::of("blob", Some("text/plain; charset=utf-8")), Some(DocumentKind::Text));
        assert_eq!(DocumentKind::of("photo.png", Some("image/png")), None);
        assert_eq!(DocumentKind::of("doc.docx", None), None);
    }

    #[test]
    fn text_that_is_empty_or_not_utf8_fails_with_a_reason() {
        assert_eq!(extract_text(DocumentKind::Text, "नमस्ते".as_bytes()).unwrap(), "नमस्ते");
        assert_eq!(extract_text(DocumentKind::Markdown, b"  \n").unwrap_err(), "the document is empty");
        assert_eq!(extract_text(DocumentKind::Text, &[0xff, 0xfe]).unwrap_err(), "the text is not UTF-8");
        assert!(extract_text(DocumentKind::Pdf, b"hello").unwrap_err().starts_with("not a PDF"));
    }
}
