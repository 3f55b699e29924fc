//! The embedded store: one SQLite file (`<data-dir>/voicera.db`, WAL mode), a table per [`Collection`] with the
//! document as JSON text. SQLite calls block, so each runs on tokio's blocking pool behind one connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension};

use crate::call_logs::{CallLogPage, CallLogQuery, CallLogSort, CallStatus, FilterField};
use crate::{Collection, Record, Result, StoreError, Written};

/// The database file inside the data dir.
pub const FILE_NAME: &str = "voicera.db";

/// The SQLite backend of [`crate::Store`]: a table per [`Collection`] keyed by (`org_id`, `id`), the document as
/// JSON text. One connection behind a mutex, used from blocking tasks so the runtime never waits on disk.
#[derive(Clone)]
pub struct SqliteStore {
    path: Arc<PathBuf>,
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and its tables.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let opened = path.clone();
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let err = |source| StoreError::Sqlite { path: opened.display().to_string(), source };
            let conn = Connection::open(&opened).map_err(err)?;
            // WAL: readers never wait for the writer; NORMAL sync is durable across process crashes.
            conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
            conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
            conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
            for collection in Collection::ALL {
                let table = collection.name();
                conn.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS {table} (
                         org_id TEXT NOT NULL,
                         id TEXT NOT NULL,
                         doc TEXT NOT NULL,
                         updated_at INTEGER NOT NULL,
                         PRIMARY KEY (org_id, id)
                     ) WITHOUT ROWID;
                     CREATE INDEX IF NOT EXISTS {table}_id ON {table} (id);"
                ))
                .map_err(err)?;
            }
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS revisions (collection TEXT PRIMARY KEY, revision INTEGER NOT NULL)",
            )
            .map_err(err)?;
            // The call history's two sort orders per tenant: the query's ORDER BY uses these exact expressions.
            conn.execute_batch(&format!(
                "CREATE INDEX IF NOT EXISTS call_logs_created ON call_logs (org_id, {CREATED}, id);
                 CREATE INDEX IF NOT EXISTS call_logs_duration ON call_logs (org_id, {DURATION}, {CREATED});"
            ))
            .map_err(err)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        Ok(SqliteStore { path: Arc::new(path), conn: Arc::new(Mutex::new(conn)) })
    }

    /// The database file, for logs.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the connection in the blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        let path = Arc::clone(&self.path);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave SQLite half-written (each statement is atomic), so a
            // poisoned lock is still a usable connection.
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&conn).map_err(|source| StoreError::Sqlite { path: path.display().to_string(), source })
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Whether the database answers a query (readiness).
    pub async fn ping(&self) -> Result<()> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    /// [`crate::Store::put`] on SQLite.
    pub async fn put(&self, collection: Collection, record: &Record) -> Result<Written> {
        let table = collection.name();
        let (org, id, doc) = (record.org_id.clone(), record.id.clone(), record.doc.clone());
        self.with(move |c| {
            let old: Option<String> = c
                .query_row(&format!("SELECT doc FROM {table} WHERE org_id = ?1 AND id = ?2"), params![org, id], |r| {
                    r.get(0)
                })
                .optional()?;
            let written = match old {
                // Compared as parsed JSON: key order in stored text must not count as a change.
                Some(old) if serde_json::from_str::<serde_json::Value>(&old).ok().as_ref() == Some(&doc) => {
                    return Ok(Written::Unchanged)
                }
                Some(_) => Written::Updated,
                None => Written::Inserted,
            };
            c.execute(
                &format!("INSERT OR REPLACE INTO {table} (org_id, id, doc, updated_at) VALUES (?1, ?2, ?3, ?4)"),
                params![org, id, doc.to_string(), unix_millis()],
            )?;
            Ok(written)
        })
        .await
    }

    /// [`crate::Store::get`] on SQLite.
    pub async fn get(&self, collection: Collection, org_id: &str, id: &str) -> Result<Option<Record>> {
        let table = collection.name();
        let (org, id) = (org_id.to_string(), id.to_string());
        let row = self
            .with(move |c| {
                c.query_row(
                    &format!("SELECT org_id, id, doc FROM {table} WHERE org_id = ?1 AND id = ?2"),
                    params![org, id],
                    row,
                )
                .optional()
            })
            .await?;
        row.map(|r| parse(collection, r)).transpose()
    }

    /// [`crate::Store::list`] on SQLite.
    pub async fn list(&self, collection: Collection, org_id: &str) -> Result<Vec<Record>> {
        self.select(collection, "org_id = ?1 ORDER BY id", org_id).await
    }

    /// [`crate::Store::find_id`] on SQLite.
    pub async fn find_id(&self, collection: Collection, id: &str) -> Result<Vec<Record>> {
        self.select(collection, "id = ?1 ORDER BY org_id", id).await
    }

    /// [`crate::Store::list_all`] on SQLite.
    pub async fn list_all(&self, collection: Collection) -> Result<Vec<Record>> {
        self.select(collection, "?1 = ?1 ORDER BY org_id, id", "").await
    }

    /// Counts one more change of `collection` ([`crate::Store::revision`]).
    pub async fn bump_revision(&self, collection: Collection) -> Result<()> {
        let name = collection.name();
        self.with(move |c| {
            c.execute(
                "INSERT INTO revisions (collection, revision) VALUES (?1, 1)
                 ON CONFLICT (collection) DO UPDATE SET revision = revision + 1",
                params![name],
            )
        })
        .await
        .map(drop)
    }

    /// [`crate::Store::revision`] on SQLite.
    pub async fn revision(&self, collection: Collection) -> Result<u64> {
        let name = collection.name();
        self.with(move |c| {
            c.query_row("SELECT revision FROM revisions WHERE collection = ?1", params![name], |r| r.get::<_, i64>(0))
                .optional()
        })
        .await
        .map(|n| n.unwrap_or(0).max(0) as u64)
    }

    /// The documents of `collection` matching `condition` (one `?1` parameter).
    async fn select(&self, collection: Collection, condition: &'static str, param: &str) -> Result<Vec<Record>> {
        let table = collection.name();
        let param = param.to_string();
        let rows = self
            .with(move |c| {
                let mut stmt = c.prepare(&format!("SELECT org_id, id, doc FROM {table} WHERE {condition}"))?;
                let rows = stmt.query_map(params![param], row)?.collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .await?;
        rows.into_iter().map(|r| parse(collection, r)).collect()
    }

    /// [`crate::Store::delete`] on SQLite.
    pub async fn delete(&self, collection: Collection, org_id: &str, id: &str) -> Result<bool> {
        let table = collection.name();
        let (org, id) = (org_id.to_string(), id.to_string());
        self.with(move |c| c.execute(&format!("DELETE FROM {table} WHERE org_id = ?1 AND id = ?2"), params![org, id]))
            .await
            .map(|n| n > 0)
    }

    /// [`crate::Store::query_call_logs`] on SQLite.
    pub async fn query_call_logs(&self, query: &CallLogQuery) -> Result<CallLogPage> {
        let (condition, params) = call_log_condition(query);
        let order = match query.sort {
            CallLogSort::Latest => format!("{CREATED} DESC, id DESC"),
            CallLogSort::Oldest => format!("{CREATED} ASC, id ASC"),
            CallLogSort::Longest => format!("{DURATION} DESC, {CREATED} DESC, id DESC"),
            CallLogSort::Shortest => format!("{DURATION} ASC, {CREATED} DESC, id DESC"),
        };
        let (limit, offset) = (query.limit.min(i64::MAX as u64) as i64, query.offset.min(i64::MAX as u64) as i64);
        let (rows, total) = self
            .with(move |c| {
                let total: i64 = c.query_row(
                    &format!("SELECT COUNT(*) FROM call_logs WHERE {condition}"),
                    rusqlite::params_from_iter(params.iter()),
                    |r| r.get(0),
                )?;
                let mut page_params = params;
                page_params.push(SqlValue::Integer(limit));
                page_params.push(SqlValue::Integer(offset));
                let n = page_params.len();
                let mut stmt = c.prepare(&format!(
                    "SELECT org_id, id, doc FROM call_logs WHERE {condition} ORDER BY {order} LIMIT ?{} OFFSET ?{n}",
                    n - 1
                ))?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(page_params.iter()), row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok((rows, total))
            })
            .await?;
        let records = rows.into_iter().map(|r| parse(Collection::CallLogs, r)).collect::<Result<Vec<_>>>()?;
        Ok(CallLogPage { records, total: total.max(0) as u64 })
    }

    /// [`crate::Store::rename_agent`] on SQLite.
    pub async fn rename_agent(&self, org_id: &str, agent_id: &str, new_name: &str) -> Result<u64> {
        let (org, id, name) = (org_id.to_string(), agent_id.to_string(), new_name.to_string());
        self.with(move |c| {
            let mut changed = 0;
            for collection in crate::AGENT_REFERENCES {
                changed += c.execute(
                    &format!(
                        "UPDATE {} SET doc = json_set(doc, '$.agent_type', ?3), updated_at = ?4
                         WHERE org_id = ?1 AND json_extract(doc, '$.agent_id') = ?2
                           AND json_extract(doc, '$.agent_type') IS NOT ?3",
                        collection.name()
                    ),
                    params![org, id, name, unix_millis()],
                )?;
            }
            Ok(changed as u64)
        })
        .await
    }

    /// [`crate::Store::call_log_values`] on SQLite.
    pub async fn call_log_values(&self, org_id: &str, field: FilterField) -> Result<Vec<String>> {
        let (org, path) = (org_id.to_string(), format!("$.{}", field.name()));
        self.with(move |c| {
            let mut stmt = c.prepare(
                "SELECT DISTINCT json_extract(doc, ?2) FROM call_logs WHERE org_id = ?1 AND json_type(doc, ?2) = 'text'",
            )?;
            let values = stmt.query_map(params![org, path], |r| r.get::<_, String>(0))?.collect();
            values
        })
        .await
    }

    /// [`crate::Store::call_logs_in_progress_on`] on SQLite.
    pub async fn call_logs_in_progress_on(&self, node_id: &str) -> Result<Vec<Record>> {
        let node = node_id.to_string();
        let rows = self
            .with(move |c| {
                let mut stmt = c.prepare(
                    "SELECT org_id, id, doc FROM call_logs
                     WHERE json_extract(doc, '$.node_id') = ?1 AND json_extract(doc, '$.status') = 'in-progress'
                     ORDER BY org_id, id",
                )?;
                let rows = stmt.query_map(params![node], row)?.collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .await?;
        rows.into_iter().map(|r| parse(Collection::CallLogs, r)).collect()
    }

    /// [`crate::Store::count`] on SQLite.
    pub async fn count(&self, collection: Collection) -> Result<u64> {
        let table = collection.name();
        self.with(move |c| c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0)))
            .await
            .map(|n| n as u64)
    }
}

/// The sort keys, written exactly as the indexes are.
const CREATED: &str = "json_extract(doc, '$.created_at')";
const DURATION: &str = "json_extract(doc, '$.duration')";

/// The WHERE clause of a call-log query and its parameters (`?1`, `?2`, ... in order).
fn call_log_condition(query: &CallLogQuery) -> (String, Vec<SqlValue>) {
    let mut clauses = vec!["org_id = ?1".to_string()];
    let mut params = vec![SqlValue::Text(query.org_id.clone())];
    let mut equal = |field: &str, value: &Option<String>, clauses: &mut Vec<String>| {
        if let Some(value) = value {
            params.push(SqlValue::Text(value.clone()));
            clauses.push(format!("json_extract(doc, '$.{field}') = ?{}", params.len()));
        }
    };
    equal("agent_type", &query.agent_type, &mut clauses);
    equal("agent_id", &query.agent_id, &mut clauses);
    equal("from_number", &query.from_number, &mut clauses);
    equal("to_number", &query.to_number, &mut clauses);
    let time = "COALESCE(json_extract(doc, '$.start_time_utc'), json_extract(doc, '$.created_at'))";
    for (bound, op) in [(&query.from_time, ">="), (&query.to_time, "<=")] {
        if let Some(bound) = bound {
            params.push(SqlValue::Text(bound.clone()));
            clauses.push(format!("{time} {op} ?{}", params.len()));
        }
    }
    // JSON true/false extract as 1/0.
    if let Some(inbound) = query.inbound {
        clauses.push(format!("json_extract(doc, '$.inbound') = {}", i32::from(inbound)));
    }
    let busy = "COALESCE(json_extract(doc, '$.call_busy'), 0) = 1";
    let ended = "COALESCE(json_extract(doc, '$.end_time_utc'), '') != ''";
    match query.status {
        Some(CallStatus::Busy) => clauses.push(busy.into()),
        Some(CallStatus::Completed) => clauses.push(format!("NOT ({busy}) AND {ended}")),
        Some(CallStatus::InProgress) => clauses.push(format!("NOT ({busy}) AND NOT ({ended})")),
        None => {}
    }
    if query.with_latency {
        clauses.push("COALESCE(json_array_length(doc, '$.latency_metrics.turns'), 0) > 0".into());
    }
    (clauses.join(" AND "), params)
}

type Row = (String, String, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn parse(collection: Collection, (org_id, id, text): Row) -> Result<Record> {
    match serde_json::from_str(&text) {
        Ok(doc) => Ok(Record { org_id, id, doc }),
        Err(source) => Err(StoreError::Corrupt { collection: collection.name(), org_id, id, source }),
    }
}

fn unix_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_store_passes_the_conformance_suite_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = crate::Store::Sqlite(SqliteStore::open(&path).await.unwrap());
        crate::conformance::run(&store).await;
        crate::call_logs::conformance::run(&store).await;
        drop(store);
        let reopened = crate::Store::Sqlite(SqliteStore::open(&path).await.unwrap());
        assert_eq!(reopened.count(Collection::Agents).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_corrupt_row_is_reported_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(FILE_NAME)).await.unwrap();
        store
            .with(|c| c.execute("INSERT INTO agents (org_id, id, doc, updated_at) VALUES ('o', 'a', '{broken', 0)", []))
            .await
            .unwrap();
        let err = store.get(Collection::Agents, "o", "a").await.unwrap_err();
        assert!(err.to_string().starts_with("agents o/a: the stored document is not valid JSON"), "{err}");
    }

    #[tokio::test]
    async fn an_unwritable_path_is_a_clear_error() {
        let err = SqliteStore::open(Path::new("/proc/voicera-no/voicera.db")).await.err().unwrap();
        assert!(err.to_string().starts_with("SQLite /proc/voicera-no/voicera.db:"), "{err}");
    }
}
