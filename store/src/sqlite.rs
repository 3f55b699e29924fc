//! The embedded store: one SQLite file (`<data-dir>/voicera.db`, WAL mode), a table per [`Collection`] with the
//! document as JSON text. SQLite calls block, so each runs on tokio's blocking pool behind one connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension};

use crate::call_logs::{
    seek_segments, CallLogPage, CallLogQuery, CallLogSort, CallStats, CallStatus, Direction, FilterField, KeyField,
    Segment, SegmentRange, SortValue, ValueClass,
};
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
            add_call_log_columns(&conn).map_err(err)?;
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
            c.execute(&upsert_sql(table), params![org, id, doc.to_string(), unix_millis()])?;
            Ok(written)
        })
        .await
    }

    /// [`crate::Store::put_many`] on SQLite: one transaction.
    pub async fn put_many(&self, collection: Collection, records: &[Record]) -> Result<u64> {
        let table = collection.name();
        let rows: Vec<(String, String, String)> =
            records.iter().map(|r| (r.org_id.clone(), r.id.clone(), r.doc.to_string())).collect();
        self.with(move |c| {
            let tx = c.unchecked_transaction()?;
            let now = unix_millis();
            {
                let mut insert = tx.prepare_cached(&upsert_sql(table))?;
                for (org, id, doc) in &rows {
                    insert.execute(params![org, id, doc, now])?;
                }
            }
            tx.commit()?;
            Ok(rows.len() as u64)
        })
        .await
    }

    /// [`crate::Store::replace_if`] on SQLite: read, compare and write in one immediate transaction (the write
    /// lock is taken first, so another process on the same file cannot interleave).
    pub async fn replace_if(
        &self,
        collection: Collection,
        record: &Record,
        field: &str,
        expected: &serde_json::Value,
    ) -> Result<bool> {
        let table = collection.name();
        let (org, id, doc) = (record.org_id.clone(), record.id.clone(), record.doc.to_string());
        let (field, expected) = (field.to_string(), expected.clone());
        self.with(move |c| {
            let tx = rusqlite::Transaction::new_unchecked(c, rusqlite::TransactionBehavior::Immediate)?;
            let old: Option<String> = tx
                .query_row(&format!("SELECT doc FROM {table} WHERE org_id = ?1 AND id = ?2"), params![org, id], |r| {
                    r.get(0)
                })
                .optional()?;
            let Some(old) = old else { return Ok(false) };
            let current = serde_json::from_str::<serde_json::Value>(&old)
                .ok()
                .and_then(|d| d.get(&field).cloned())
                .unwrap_or(serde_json::Value::Null);
            if current != expected {
                return Ok(false);
            }
            tx.execute(
                &format!("UPDATE {table} SET doc = ?3, updated_at = ?4 WHERE org_id = ?1 AND id = ?2"),
                params![org, id, doc, unix_millis()],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    /// [`crate::Store::list_newest_where`] on SQLite.
    pub async fn list_newest_where(
        &self,
        collection: Collection,
        org_id: &str,
        field_equals: Option<(&str, &str)>,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        self.list_ordered(collection, org_id, field_equals, skip, limit, "DESC").await
    }

    /// [`crate::Store::list_page`] on SQLite.
    pub async fn list_page(
        &self,
        collection: Collection,
        org_id: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        self.list_ordered(collection, org_id, None, skip, limit, "ASC").await
    }

    /// A page in `order` (`ASC` or `DESC`) of id, optionally filtered on one field, with the filtered total.
    async fn list_ordered(
        &self,
        collection: Collection,
        org_id: &str,
        field_equals: Option<(&str, &str)>,
        skip: u64,
        limit: u64,
        order: &'static str,
    ) -> Result<(Vec<Record>, u64)> {
        let table = collection.name();
        let org = org_id.to_string();
        // Without a filter the condition compares a constant with itself (a JSON path and value both bound).
        let (path, value) = match field_equals {
            Some((field, value)) => (format!("$.{field}"), value.to_string()),
            None => ("$".to_string(), String::new()),
        };
        let filtered = field_equals.is_some();
        let condition =
            if filtered { "org_id = ?1 AND json_extract(doc, ?2) = ?3" } else { "org_id = ?1 AND ?2 = ?2 AND ?3 = ?3" };
        let (skip, limit) = (i64::try_from(skip).unwrap_or(i64::MAX), i64::try_from(limit).unwrap_or(i64::MAX));
        let (rows, total) = self
            .with(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT org_id, id, doc FROM {table} WHERE {condition} ORDER BY id {order} LIMIT ?4 OFFSET ?5"
                ))?;
                let rows = stmt
                    .query_map(params![org, path, value, limit, skip], row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let total: i64 = c.query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {condition}"),
                    params![org, path, value],
                    |r| r.get(0),
                )?;
                Ok((rows, total))
            })
            .await?;
        let records = rows.into_iter().map(|r| parse(collection, r)).collect::<Result<Vec<_>>>()?;
        Ok((records, u64::try_from(total).unwrap_or(0)))
    }

    /// [`crate::Store::list_finished_before`] on SQLite: the statuses as a JSON array (`json_each`), the
    /// time as text, a key cursor on the primary key.
    pub async fn list_finished_before(
        &self,
        collection: Collection,
        query: &crate::FinishedBefore,
    ) -> Result<Vec<Record>> {
        let table = collection.name();
        let statuses = serde_json::to_string(&query.statuses)
            .map_err(|e| StoreError::Invalid(format!("{table}: statuses: {e}")))?;
        let (time, fallback) = (format!("$.{}", query.time_field), format!("$.{}", query.fallback_time_field));
        let before = query.before.clone();
        let (after_org, after_id) = query.after.clone().unwrap_or_default();
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = self
            .with(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT org_id, id, doc FROM {table} \
                     WHERE json_extract(doc, '$.status') IN (SELECT value FROM json_each(?1)) \
                     AND typeof(COALESCE(json_extract(doc, ?2), json_extract(doc, ?3))) = 'text' \
                     AND COALESCE(json_extract(doc, ?2), json_extract(doc, ?3)) < ?4 \
                     AND (org_id > ?5 OR (org_id = ?5 AND id > ?6)) \
                     ORDER BY org_id, id LIMIT ?7"
                ))?;
                let rows = stmt
                    .query_map(params![statuses, time, fallback, before, after_org, after_id, limit], row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(rows)
            })
            .await?;
        rows.into_iter().map(|r| parse(collection, r)).collect()
    }

    /// [`crate::Store::list_prefix`] on SQLite: a range of the primary key.
    pub async fn list_prefix(&self, collection: Collection, org_id: &str, prefix: &str) -> Result<Vec<Record>> {
        let table = collection.name();
        let (org, prefix) = (org_id.to_string(), prefix.to_string());
        let rows = self
            .with(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT org_id, id, doc FROM {table}
                     WHERE org_id = ?1 AND id >= ?2 AND substr(id, 1, length(?2)) = ?2 ORDER BY id"
                ))?;
                let rows = stmt.query_map(params![org, prefix], row)?.collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .await?;
        rows.into_iter().map(|r| parse(collection, r)).collect()
    }

    /// [`crate::Store::delete_prefix`] on SQLite.
    pub async fn delete_prefix(&self, collection: Collection, org_id: &str, prefix: &str) -> Result<u64> {
        let table = collection.name();
        let (org, prefix) = (org_id.to_string(), prefix.to_string());
        self.with(move |c| {
            c.execute(
                &format!("DELETE FROM {table} WHERE org_id = ?1 AND id >= ?2 AND substr(id, 1, length(?2)) = ?2"),
                params![org, prefix],
            )
        })
        .await
        .map(|n| n as u64)
    }

    /// [`crate::Store::insert_if_absent`] on SQLite: `INSERT OR IGNORE` on the (`org_id`, `id`) key.
    pub async fn insert_if_absent(&self, collection: Collection, record: &Record) -> Result<bool> {
        let table = collection.name();
        let (org, id, doc) = (record.org_id.clone(), record.id.clone(), record.doc.to_string());
        self.with(move |c| {
            c.execute(
                &format!("INSERT OR IGNORE INTO {table} (org_id, id, doc, updated_at) VALUES (?1, ?2, ?3, ?4)"),
                params![org, id, doc, unix_millis()],
            )
        })
        .await
        .map(|inserted| inserted == 1)
    }

    /// [`crate::Store::insert_many_if_absent`] on SQLite: one transaction of `INSERT OR IGNORE`.
    pub async fn insert_many_if_absent(&self, collection: Collection, records: &[Record]) -> Result<Vec<bool>> {
        let table = collection.name();
        let rows: Vec<(String, String, String)> =
            records.iter().map(|r| (r.org_id.clone(), r.id.clone(), r.doc.to_string())).collect();
        self.with(move |c| {
            let tx = c.unchecked_transaction()?;
            let now = unix_millis();
            let mut inserted = Vec::with_capacity(rows.len());
            {
                let mut insert = tx.prepare_cached(&format!(
                    "INSERT OR IGNORE INTO {table} (org_id, id, doc, updated_at) VALUES (?1, ?2, ?3, ?4)"
                ))?;
                for (org, id, doc) in &rows {
                    inserted.push(insert.execute(params![org, id, doc, now])? == 1);
                }
            }
            tx.commit()?;
            Ok(inserted)
        })
        .await
    }

    /// [`crate::Store::delete_expired`] on SQLite.
    pub async fn delete_expired(&self, collection: Collection, now_secs: i64) -> Result<u64> {
        let table = collection.name();
        self.with(move |c| {
            c.execute(
                &format!(
                    "DELETE FROM {table} WHERE json_type(doc, '$.expires_at') IN ('integer', 'real')
                       AND json_extract(doc, '$.expires_at') < ?1"
                ),
                params![now_secs],
            )
        })
        .await
        .map(|n| n as u64)
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

    /// [`crate::Store::list_newest`] on SQLite.
    pub async fn list_newest(
        &self,
        collection: Collection,
        org_id: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        self.list_newest_where(collection, org_id, None, skip, limit).await
    }

    /// [`crate::Store::find_id`] on SQLite.
    pub async fn find_id(&self, collection: Collection, id: &str) -> Result<Vec<Record>> {
        self.select(collection, "id = ?1 ORDER BY org_id", id).await
    }

    /// [`crate::Store::get_many`] on SQLite: one `IN` query for at most [`crate::GET_MANY_CHUNK`] ids.
    pub async fn get_many(&self, collection: Collection, org_id: &str, ids: Vec<String>) -> Result<Vec<Record>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let table = collection.name();
        let org = org_id.to_string();
        let rows = self
            .with(move |c| {
                let marks = (2..ids.len() + 2).map(|n| format!("?{n}")).collect::<Vec<_>>().join(",");
                let mut stmt = c.prepare(&format!(
                    "SELECT org_id, id, doc FROM {table} WHERE org_id = ?1 AND id IN ({marks}) ORDER BY id"
                ))?;
                let params = std::iter::once(org).chain(ids);
                let rows =
                    stmt.query_map(rusqlite::params_from_iter(params), row)?.collect::<rusqlite::Result<Vec<_>>>();
                rows
            })
            .await?;
        rows.into_iter().map(|r| parse(collection, r)).collect()
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

    /// [`crate::Store::query_call_logs`] on SQLite: the total and the page's keys from an index, then the
    /// page's documents by key. A page after a key ([`CallLogQuery::after`]) is found by seeking the order's
    /// index ([`seek_segments`]), so the last page costs what the first does; a page by offset is counted
    /// through the index from whichever end of the order is nearer (the last page is read backwards).
    pub async fn query_call_logs(&self, query: &CallLogQuery) -> Result<CallLogPage> {
        let (condition, params) = call_log_condition(query);
        let kept_total = kept_total_sql(query);
        let sort = query.sort;
        let (limit, offset) = (query.limit.min(i64::MAX as u64 - 1) as i64, query.offset.min(i64::MAX as u64) as i64);
        let after = query.after.clone();
        let org = query.org_id.clone();
        let (rows, total, more) = self
            .with(move |c| {
                // One read transaction: the total and the page see the same calls.
                let tx = c.unchecked_transaction()?;
                let total: i64 = match &kept_total {
                    Some((sql, kept_params)) => {
                        tx.query_row(sql, rusqlite::params_from_iter(kept_params.iter()), |r| r.get(0))?
                    }
                    None => {
                        tx.query_row(&count_sql(&condition), rusqlite::params_from_iter(params.iter()), |r| r.get(0))?
                    }
                };
                let select_ids = |sql: &str, params: &[SqlValue]| -> rusqlite::Result<Vec<String>> {
                    let mut stmt = tx.prepare_cached(sql)?;
                    let ids = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| r.get::<_, String>(0))?;
                    ids.collect()
                };
                let (ids, more) = match &after {
                    Some(key) => {
                        // One past the page, to know whether more follow.
                        let mut ids = Vec::new();
                        for segment in seek_segments(sort, key, SQLITE_CLASSES) {
                            let wanted = limit + 1 - ids.len() as i64;
                            if wanted <= 0 {
                                break;
                            }
                            let mut segment_params = params.clone();
                            let clause = segment_clause(&segment, &mut segment_params);
                            segment_params.push(SqlValue::Integer(wanted));
                            let sql = page_sql(&condition, &clause, sort, false, segment_params.len(), None);
                            ids.extend(select_ids(&sql, &segment_params)?);
                        }
                        let more = ids.len() as i64 > limit;
                        ids.truncate(limit as usize);
                        (ids, more)
                    }
                    None if offset >= total => (Vec::new(), false),
                    None => {
                        let end = offset.saturating_add(limit).min(total);
                        // Calls after the page; fewer than before it: count from the far end, backwards.
                        let backwards = total - end < offset;
                        let (skip, take) = if backwards { (total - end, end - offset) } else { (offset, limit) };
                        let mut page_params = params.clone();
                        page_params.push(SqlValue::Integer(take));
                        page_params.push(SqlValue::Integer(skip));
                        let n = page_params.len();
                        let sql = page_sql(&condition, "", sort, backwards, n - 1, Some(n));
                        let mut ids = select_ids(&sql, &page_params)?;
                        if backwards {
                            ids.reverse();
                        }
                        (ids, end < total)
                    }
                };
                let mut doc =
                    tx.prepare_cached("SELECT org_id, id, doc FROM call_logs WHERE org_id = ?1 AND id = ?2")?;
                let mut rows = Vec::with_capacity(ids.len());
                for id in &ids {
                    if let Some(found) = doc.query_row(params![org, id], row).optional()? {
                        rows.push(found);
                    }
                }
                Ok((rows, total, more))
            })
            .await?;
        let records = rows.into_iter().map(|r| parse(Collection::CallLogs, r)).collect::<Result<Vec<_>>>()?;
        Ok(CallLogPage { records, total: total.max(0) as u64, more })
    }

    /// [`crate::Store::call_stats`] on SQLite: grouped by agent and day in the query, from the indexed columns
    /// (the turn latencies too: `cl_latencies`), so no document is parsed.
    pub async fn call_stats(&self, query: &CallLogQuery) -> Result<CallStats> {
        let (condition, params) = call_log_condition(query);
        self.with(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT CASE WHEN typeof(cl_agent) = 'text' THEN cl_agent END,
                        CASE WHEN typeof(cl_time) = 'text' AND length(cl_time) >= 10 THEN substr(cl_time, 1, 10) END,
                        COUNT(*), SUM(connected), SUM(CASE WHEN connected THEN duration ELSE 0 END),
                        group_concat(cl_latencies)
                 FROM (SELECT cl_agent, cl_time, cl_latencies,
                              CASE WHEN typeof(cl_duration) IN ('integer', 'real') THEN cl_duration ELSE 0 END AS duration,
                              (cl_busy != 1 AND (cl_ended != ''
                                 OR (typeof(cl_duration) IN ('integer', 'real') AND cl_duration > 0))) AS connected
                       FROM call_logs WHERE {condition})
                 GROUP BY 1, 2"
            ))?;
            let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
            let mut stats = CallStats::default();
            while let Some(row) = rows.next()? {
                let latencies: Option<String> = row.get(5)?;
                let latencies: Vec<f64> =
                    latencies.iter().flat_map(|l| l.split(',')).filter_map(|v| v.parse().ok()).collect();
                let (calls, connected, secs): (i64, i64, f64) = (row.get(2)?, row.get(3)?, row.get(4)?);
                stats.add_group(row.get(0)?, row.get(1)?, calls as u64, connected as u64, secs, &latencies);
            }
            Ok(stats)
        })
        .await
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
        let org = org_id.to_string();
        let column = match field {
            FilterField::AgentType => "cl_agent",
            FilterField::FromNumber => "cl_from",
            FilterField::ToNumber => "cl_to",
        };
        self.with(move |c| {
            // A loose index scan: one index seek per distinct value, not a pass over every call.
            let mut stmt = c.prepare(&format!(
                "WITH RECURSIVE seen(value) AS (
                     SELECT MIN({column}) FROM call_logs WHERE org_id = ?1 AND {column} >= ''
                     UNION ALL
                     SELECT (SELECT MIN({column}) FROM call_logs WHERE org_id = ?1 AND {column} > seen.value)
                     FROM seen WHERE seen.value IS NOT NULL
                 )
                 SELECT value FROM seen WHERE typeof(value) = 'text'"
            ))?;
            let values = stmt.query_map(params![org], |r| r.get::<_, String>(0))?.collect();
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

/// The call-log fields the history sorts, filters and counts by, as columns beside the document, kept equal to
/// it by triggers on every insert and change of `doc` (whoever writes: a put, a rename, an import). Indexed,
/// so a page and its total are read from an index alone, never parsing a document: SQLite reads neither an
/// indexed `json_extract` expression nor a virtual generated column back from an index. `cl_latencies` holds
/// the call's turn latencies as `ms,ms,...` ([`turn_latencies_sql`]), so analytics parses no document either.
fn call_log_columns() -> [(&'static str, String); 13] {
    [
        ("cl_created", "json_extract(doc, '$.created_at')".into()),
        ("cl_duration", "json_extract(doc, '$.duration')".into()),
        ("cl_agent", "json_extract(doc, '$.agent_type')".into()),
        ("cl_agent_id", "json_extract(doc, '$.agent_id')".into()),
        ("cl_from", "json_extract(doc, '$.from_number')".into()),
        ("cl_to", "json_extract(doc, '$.to_number')".into()),
        // JSON true/false extract as 1/0.
        ("cl_inbound", "json_extract(doc, '$.inbound')".into()),
        ("cl_busy", "COALESCE(json_extract(doc, '$.call_busy'), 0)".into()),
        ("cl_ended", "COALESCE(json_extract(doc, '$.end_time_utc'), '')".into()),
        // The call's start time, else its creation time.
        (
            "cl_time",
            "COALESCE(NULLIF(json_extract(doc, '$.start_time_utc'), ''), json_extract(doc, '$.created_at'))".into(),
        ),
        ("cl_turns", "COALESCE(json_array_length(doc, '$.latency_metrics.turns'), 0)".into()),
        ("cl_latencies", turn_latencies_sql()),
        // The History tab's status as one value ([`CallStatus`]: 0 busy, 1 completed, 2 in progress), so a
        // status is an index's equality prefix rather than a test of two columns on every call. From the
        // document (an UPDATE's expressions see the row's old columns), by the same rule as `cl_busy`/`cl_ended`.
        (
            "cl_status",
            "CASE WHEN COALESCE(json_extract(doc, '$.call_busy'), 0) = 1 THEN 0 \
             WHEN COALESCE(json_extract(doc, '$.end_time_utc'), '') != '' THEN 1 ELSE 2 END"
                .into(),
        ),
    ]
}

/// [`crate::call_logs::turn_latency_ms`] in SQL, over a document's turns (the original's
/// `latency_metrics.turns`, else this server's `turns`): their latencies joined by commas, or NULL.
fn turn_latencies_sql() -> String {
    let num = |key: &str| {
        format!(
            "(CASE WHEN json_type(value, '$.{key}') IN ('integer', 'real') AND json_extract(value, '$.{key}') >= 0 \
             THEN json_extract(value, '$.{key}') END)"
        )
    };
    let total = format!("COALESCE({}, {})", num("end_to_end_ms"), num("end_of_speech_to_audio_ms"));
    let stt = num("stt_ms");
    let llm = format!("COALESCE({}, {})", num("llm_ttfb_ms"), num("llm_first_token_ms"));
    let tts = format!("COALESCE({}, {})", num("tts_first_chunk_ms"), num("tts_first_audio_ms"));
    let latency = format!(
        "CASE WHEN {total} IS NOT NULL THEN {total} WHEN COALESCE({stt}, {llm}, {tts}) IS NULL THEN NULL \
         ELSE COALESCE({stt}, 0) + COALESCE({llm}, 0) + COALESCE({tts}, 0) END"
    );
    let path = "CASE WHEN COALESCE(json_array_length(doc, '$.latency_metrics.turns'), 0) > 0 \
                THEN '$.latency_metrics.turns' WHEN json_type(doc, '$.turns') = 'array' THEN '$.turns' \
                ELSE '$.no_turns' END";
    format!("(SELECT group_concat({latency}) FROM json_each(doc, {path}) WHERE type = 'object')")
}

/// The filtered columns, as the wide indexes carry them after their keys (those not led by the duration carry it
/// too, so that a seek in duration order is answered from the index).
const FACETS: &str = "cl_agent, cl_agent_id, cl_from, cl_to, cl_inbound, cl_status, cl_time, cl_turns";
const CREATED: &str = "cl_created";
const DURATION: &str = "cl_duration";

/// The call-log indexes: per tenant in each sort order, alone (narrow: an unfiltered count or deep page skips
/// through fewer pages) and with every filtered column (covering any filter), by status (equality prefix)
/// in the creation order, and by each drop-down field and the time window (with every filtered column too).
/// SQLite reads an index either way, so one serves newest and oldest first, and one longest first (read
/// backwards); shortest first breaks ties newest first, so it has its own (`cl_created DESC`, wide only:
/// unfiltered it skips through more pages than a narrow one would, and one index fewer is written per call).
fn call_log_indexes() -> [(&'static str, String); 10] {
    [
        ("call_logs_newest", "org_id, cl_created, id".into()),
        ("call_logs_longest", "org_id, cl_duration, cl_created, id".into()),
        ("call_logs_by_created", format!("org_id, cl_created, id, {FACETS}, cl_duration")),
        ("call_logs_by_duration", format!("org_id, cl_duration, cl_created, id, {FACETS}")),
        ("call_logs_by_shortest", format!("org_id, cl_duration, cl_created DESC, id DESC, {FACETS}")),
        ("call_logs_by_status", format!("org_id, cl_status, cl_created, id, {FACETS}, cl_duration")),
        ("call_logs_by_agent", format!("org_id, cl_agent, cl_created, id, {FACETS}, cl_duration")),
        ("call_logs_by_from", format!("org_id, cl_from, cl_created, id, {FACETS}, cl_duration")),
        ("call_logs_by_to", format!("org_id, cl_to, cl_created, id, {FACETS}, cl_duration")),
        ("call_logs_by_time", format!("org_id, cl_time, cl_created, id, {FACETS}, cl_duration")),
    ]
}

/// A write of a whole document: an update in place when the key exists (an `UPDATE`, so the call-log
/// triggers see the old row; `INSERT OR REPLACE` would delete it without firing a delete trigger, and the
/// totals would count the call twice).
fn upsert_sql(table: &str) -> String {
    format!(
        "INSERT INTO {table} (org_id, id, doc, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (org_id, id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at"
    )
}

/// The calls of each tenant by status and direction, kept by the call-log triggers in the writing transaction,
/// so the History tab's total (unfiltered, or by status and direction: what its pager shows on every page) is
/// read from a few rows instead of counted over the tenant's index entries (8–12 ms at 100,000 calls).
/// `inbound` is 1, 0, or -1 for a call whose `inbound` is neither true nor false (in no direction's total).
const CALL_LOG_TOTALS: &str = "CREATE TABLE IF NOT EXISTS call_log_totals (
         org_id TEXT NOT NULL,
         status INTEGER NOT NULL,
         inbound INTEGER NOT NULL,
         calls INTEGER NOT NULL,
         PRIMARY KEY (org_id, status, inbound)
     ) WITHOUT ROWID;";

/// `call_log_totals.inbound` of a row's `cl_inbound` (compared as the `inbound` filter compares it).
fn totals_direction(column: &str) -> String {
    format!("CASE {column} WHEN 1 THEN 1 WHEN 0 THEN 0 ELSE -1 END")
}

/// `column = expression, …` of every [`call_log_columns`], their document read from `{row}doc` (`NEW.` in a
/// trigger, `""` for the row an `UPDATE` is at).
fn column_assignments(row: &str) -> String {
    call_log_columns()
        .iter()
        .map(|(name, expression)| format!("{name} = {}", expression.replace("(doc,", &format!("({row}doc,"))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The triggers that keep the [`call_log_columns`] and [`CALL_LOG_TOTALS`]: a document written sets its
/// row's columns and counts the row in; a document changed counts the old row out first; a row deleted is
/// counted out.
fn call_log_triggers() -> String {
    let set_new = column_assignments("NEW.");
    let set_columns = format!("UPDATE call_logs SET {set_new} WHERE org_id = NEW.org_id AND id = NEW.id;");
    // `WHERE` before `ON CONFLICT`: without it SQLite would read `ON` as a join's.
    let count_in = format!(
        "INSERT INTO call_log_totals (org_id, status, inbound, calls)
             SELECT org_id, cl_status, {}, 1 FROM call_logs WHERE org_id = NEW.org_id AND id = NEW.id
             ON CONFLICT (org_id, status, inbound) DO UPDATE SET calls = calls + 1;",
        totals_direction("cl_inbound")
    );
    let count_out = format!(
        "UPDATE call_log_totals SET calls = calls - 1
             WHERE org_id = OLD.org_id AND status = OLD.cl_status AND inbound = {};",
        totals_direction("OLD.cl_inbound")
    );
    format!(
        "CREATE TRIGGER IF NOT EXISTS call_logs_fields_on_insert AFTER INSERT ON call_logs BEGIN
             {set_columns}
             {count_in}
         END;
         CREATE TRIGGER IF NOT EXISTS call_logs_fields_on_update AFTER UPDATE OF doc ON call_logs BEGIN
             {count_out}
             {set_columns}
             {count_in}
         END;
         CREATE TRIGGER IF NOT EXISTS call_logs_totals_on_delete AFTER DELETE ON call_logs BEGIN
             {count_out}
         END;"
    )
}

/// Adds the [`call_log_columns`] a database lacks, the [`CALL_LOG_TOTALS`], and (re)makes the triggers that
/// keep them and the [`call_log_indexes`]. When a column or the totals were missing (a database of an earlier
/// version), the triggers and the wide indexes are made anew, in one transaction, the columns filled and the
/// totals counted for the calls already stored. Replaces the expression indexes of earlier versions.
fn add_call_log_columns(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_xinfo('call_logs')")?;
    let existing = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    drop(stmt);
    let has_totals: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'call_log_totals')",
        [],
        |r| r.get(0),
    )?;
    let columns = call_log_columns();
    let missing: Vec<&str> =
        columns.iter().map(|(name, _)| *name).filter(|name| !existing.iter().any(|e| e == name)).collect();
    let indexes = call_log_indexes();
    let create_indexes = indexes
        .iter()
        .map(|(name, columns)| format!("CREATE INDEX IF NOT EXISTS {name} ON call_logs ({columns});"))
        .collect::<Vec<_>>()
        .join("\n");
    let triggers = call_log_triggers();
    if missing.is_empty() && has_totals {
        return conn.execute_batch(&format!("{triggers}\n{create_indexes}"));
    }
    // Another process may write meanwhile: no call lands between the old triggers and the new.
    let mut upgrade = String::from("BEGIN IMMEDIATE;\n");
    for name in &missing {
        upgrade.push_str(&format!("ALTER TABLE call_logs ADD COLUMN {name};\n"));
    }
    upgrade.push_str(
        "DROP TRIGGER IF EXISTS call_logs_fields_on_insert;
         DROP TRIGGER IF EXISTS call_logs_fields_on_update;
         DROP TRIGGER IF EXISTS call_logs_totals_on_delete;
         DROP INDEX IF EXISTS call_logs_created;
         DROP INDEX IF EXISTS call_logs_duration;\n",
    );
    if !missing.is_empty() {
        // The wide indexes carry the filtered columns, which may have changed.
        for (name, columns) in &indexes {
            if columns.contains(FACETS) {
                upgrade.push_str(&format!("DROP INDEX IF EXISTS {name};\n"));
            }
        }
        upgrade.push_str(&format!("UPDATE call_logs SET {};\n", column_assignments("")));
    }
    upgrade.push_str(&format!(
        "{CALL_LOG_TOTALS}
         DELETE FROM call_log_totals;
         INSERT INTO call_log_totals (org_id, status, inbound, calls)
             SELECT org_id, cl_status, {}, COUNT(*) FROM call_logs GROUP BY 1, 2, 3;
         {triggers}
         {create_indexes}
         COMMIT;",
        totals_direction("cl_inbound")
    ));
    conn.execute_batch(&upgrade).inspect_err(|_| {
        let _ = conn.execute_batch("ROLLBACK");
    })
}

/// The WHERE clause of a call-log query and its parameters (`?1`, `?2`, ... in order).
fn call_log_condition(query: &CallLogQuery) -> (String, Vec<SqlValue>) {
    let mut clauses = vec!["org_id = ?1".to_string()];
    let mut params = vec![SqlValue::Text(query.org_id.clone())];
    let mut equal = |field: &str, value: &Option<String>, clauses: &mut Vec<String>| {
        if let Some(value) = value {
            params.push(SqlValue::Text(value.clone()));
            clauses.push(format!("{field} = ?{}", params.len()));
        }
    };
    equal("cl_agent", &query.agent_type, &mut clauses);
    equal("cl_agent_id", &query.agent_id, &mut clauses);
    equal("cl_from", &query.from_number, &mut clauses);
    equal("cl_to", &query.to_number, &mut clauses);
    if let Some(number) = &query.number {
        params.push(SqlValue::Text(number.clone()));
        let n = params.len();
        clauses.push(format!("(cl_from = ?{n} OR cl_to = ?{n})"));
    }
    for (bound, op) in [(&query.from_time, ">="), (&query.to_time, "<=")] {
        if let Some(bound) = bound {
            params.push(SqlValue::Text(bound.clone()));
            clauses.push(format!("cl_time {op} ?{}", params.len()));
        }
    }
    if let Some(inbound) = query.inbound {
        clauses.push(format!("cl_inbound = {}", i32::from(inbound)));
    }
    if let Some(status) = query.status {
        clauses.push(format!("cl_status = {}", status_code(status)));
    }
    if query.with_latency {
        clauses.push("cl_turns > 0".into());
    }
    (clauses.join(" AND "), params)
}

/// The kinds of value SQLite orders a sort field's column by (`NULL < numbers < text`; JSON objects and
/// arrays extract as text, booleans as numbers).
const SQLITE_CLASSES: &[ValueClass] = &[ValueClass::Null, ValueClass::Number, ValueClass::Text];

fn key_column(field: KeyField) -> &'static str {
    match field {
        KeyField::Created => CREATED,
        KeyField::Duration => DURATION,
    }
}

fn sql_direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Ascending => "ASC",
        Direction::Descending => "DESC",
    }
}

/// `sort`'s ORDER BY (`backwards`: every direction reversed).
fn order_sql(sort: CallLogSort, backwards: bool) -> String {
    let turn = |d: Direction| if backwards { d.reversed() } else { d };
    let mut terms: Vec<String> =
        sort.key_fields().iter().map(|(f, d)| format!("{} {}", key_column(*f), sql_direction(turn(*d)))).collect();
    terms.push(format!("id {}", sql_direction(turn(sort.id_direction()))));
    terms.join(", ")
}

/// `cl_status` of a status (as [`call_log_columns`] computes it).
fn status_code(status: CallStatus) -> i32 {
    match status {
        CallStatus::Busy => 0,
        CallStatus::Completed => 1,
        CallStatus::InProgress => 2,
    }
}

/// The total of a query filtered at most by status and direction, read from [`CALL_LOG_TOTALS`]; `None` for
/// any other filter (counted over an index: [`count_sql`]).
fn kept_total_sql(query: &CallLogQuery) -> Option<(String, Vec<SqlValue>)> {
    let CallLogQuery {
        org_id,
        agent_type: None,
        agent_id: None,
        from_number: None,
        to_number: None,
        number: None,
        inbound,
        status,
        from_time: None,
        to_time: None,
        with_latency: false,
        ..
    } = query
    else {
        return None;
    };
    let mut sql = String::from("SELECT COALESCE(SUM(calls), 0) FROM call_log_totals WHERE org_id = ?1");
    if let Some(status) = status {
        sql.push_str(&format!(" AND status = {}", status_code(*status)));
    }
    if let Some(inbound) = inbound {
        sql.push_str(&format!(" AND inbound = {}", i32::from(*inbound)));
    }
    Some((sql, vec![SqlValue::Text(org_id.clone())]))
}

/// The total's query. Unfiltered, the planner (without statistics) may count a wide index; the narrowest is
/// cheapest.
fn count_sql(condition: &str) -> String {
    let source = if condition == "org_id = ?1" { "call_logs INDEXED BY call_logs_newest" } else { "call_logs" };
    format!("SELECT COUNT(*) FROM {source} WHERE {condition}")
}

/// A page's ids: `condition` (and `clause`, a seek segment's), in `sort`'s order, `LIMIT ?{limit}` and, by
/// offset, `OFFSET ?{offset}`. Unfiltered, the narrow index of the order where there is one (the planner,
/// without statistics, takes a wide one, whose skips read more pages).
fn page_sql(
    condition: &str,
    clause: &str,
    sort: CallLogSort,
    backwards: bool,
    limit: usize,
    offset: Option<usize>,
) -> String {
    let clause = if clause.is_empty() { String::new() } else { format!(" AND {clause}") };
    let offset = offset.map(|n| format!(" OFFSET ?{n}")).unwrap_or_default();
    let source = match sort {
        _ if condition != "org_id = ?1" => "call_logs",
        CallLogSort::Latest | CallLogSort::Oldest => "call_logs INDEXED BY call_logs_newest",
        CallLogSort::Longest => "call_logs INDEXED BY call_logs_longest",
        CallLogSort::Shortest => "call_logs",
    };
    let order = order_sql(sort, backwards);
    format!("SELECT id FROM {source} WHERE {condition}{clause} ORDER BY {order} LIMIT ?{limit}{offset}")
}

/// A seek segment's condition, its values appended to `params`. Each kind of value is a range of the
/// column (numbers sort below `''`, every text at or above it), so each segment is one index range.
fn segment_clause(segment: &Segment, params: &mut Vec<SqlValue>) -> String {
    let bind = |value: &SortValue, params: &mut Vec<SqlValue>| {
        params.push(match value {
            SortValue::Null => SqlValue::Null,
            SortValue::Number(n) => SqlValue::Real(*n),
            SortValue::Text(t) => SqlValue::Text(t.clone()),
        });
        format!("?{}", params.len())
    };
    let mut clauses = Vec::new();
    for (field, value) in &segment.equal {
        let column = key_column(*field);
        clauses.push(match value {
            SortValue::Null => format!("{column} IS NULL"),
            other => format!("{column} = {}", bind(other, params)),
        });
    }
    clauses.push(match &segment.range {
        SegmentRange::Id { after, direction } => {
            let op = if *direction == Direction::Ascending { ">" } else { "<" };
            format!("id {op} {}", bind(&SortValue::Text(after.clone()), params))
        }
        SegmentRange::Class { field, class, after } => {
            let column = key_column(*field);
            match (class, after) {
                (ValueClass::Null, _) => format!("{column} IS NULL"),
                (ValueClass::Number, None) => format!("{column} < ''"),
                (ValueClass::Number, Some((v, Direction::Ascending))) => {
                    format!("{column} > {} AND {column} < ''", bind(v, params))
                }
                (ValueClass::Number, Some((v, Direction::Descending))) => format!("{column} < {}", bind(v, params)),
                (ValueClass::Text, None) => format!("{column} >= ''"),
                (ValueClass::Text, Some((v, Direction::Ascending))) => format!("{column} > {}", bind(v, params)),
                (ValueClass::Text, Some((v, Direction::Descending))) => {
                    format!("{column} < {} AND {column} >= ''", bind(v, params))
                }
                // SQLite has no values beyond text here (no blobs are stored).
                (ValueClass::Other, _) => "0".to_string(),
            }
        }
    });
    clauses.join(" AND ")
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
    i64::try_from(crate::unix_ms()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call_logs::CallLogKey;

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
    async fn one_use_ids_are_spent_once_across_two_handles_on_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let a = crate::Store::Sqlite(SqliteStore::open(&path).await.unwrap());
        let b = crate::Store::Sqlite(SqliteStore::open(&path).await.unwrap());
        crate::one_use::conformance(&a, &b).await;
    }

    #[tokio::test]
    async fn calls_stored_before_the_indexed_columns_existed_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE call_logs (org_id TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL,
                                     PRIMARY KEY (org_id, id)) WITHOUT ROWID;
             CREATE INDEX call_logs_created ON call_logs (org_id, json_extract(doc, '$.created_at'), id);
             INSERT INTO call_logs VALUES ('o', 'old', '{\"agent_type\": \"Sales\", \"created_at\": \"2024-11-19T07:00:00.000Z\", \"call_busy\": true}', 0);",
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&path).await.unwrap();
        let query = CallLogQuery {
            org_id: "o".into(),
            agent_type: Some("Sales".into()),
            status: Some(CallStatus::Busy),
            limit: 10,
            ..CallLogQuery::default()
        };
        let page = store.query_call_logs(&query).await.unwrap();
        assert_eq!((page.total, page.records[0].id.as_str()), (1, "old"));
        // A later change of the document reaches the columns (the trigger), and a reopen adds nothing twice.
        drop(store);
        let store = SqliteStore::open(&path).await.unwrap();
        let doc = serde_json::json!({"agent_type": "Support", "created_at": "2024-11-19T07:00:00.000Z"});
        store.put(Collection::CallLogs, &Record { org_id: "o".into(), id: "old".into(), doc }).await.unwrap();
        assert_eq!(store.query_call_logs(&query).await.unwrap().total, 0);
        let query = CallLogQuery { agent_type: Some("Support".into()), status: None, ..query };
        assert_eq!(store.query_call_logs(&query).await.unwrap().total, 1);
    }

    /// Every total the kept totals answer (any status, any direction, per org) against a count of the rows.
    async fn assert_kept_totals_match_counts(store: &SqliteStore, what: &str) {
        let statuses = [None, Some(CallStatus::Busy), Some(CallStatus::Completed), Some(CallStatus::InProgress)];
        for org in ["o", "p"] {
            for status in statuses {
                for inbound in [None, Some(true), Some(false)] {
                    let query =
                        CallLogQuery { org_id: org.into(), status, inbound, limit: 1, ..CallLogQuery::default() };
                    let (kept, _) = kept_total_sql(&query).expect("a status/direction query reads the kept totals");
                    let (condition, params) = call_log_condition(&query);
                    let counted: i64 = store
                        .with(move |c| {
                            c.query_row(&count_sql(&condition), rusqlite::params_from_iter(params), |r| r.get(0))
                        })
                        .await
                        .unwrap();
                    let total = store.query_call_logs(&query).await.unwrap().total;
                    assert_eq!(total as i64, counted, "{what}: {org} {status:?} {inbound:?} ({kept})");
                }
            }
        }
    }

    fn call(org: &str, id: &str, doc: serde_json::Value) -> Record {
        Record { org_id: org.into(), id: id.into(), doc }
    }

    #[tokio::test]
    async fn the_kept_totals_follow_every_kind_of_write() {
        use serde_json::json;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(FILE_NAME)).await.unwrap();
        let logs = Collection::CallLogs;
        let ringing = |inbound: serde_json::Value| json!({"agent_id": "a1", "agent_type": "Sales", "inbound": inbound});
        store.put(logs, &call("o", "c1", ringing(json!(true)))).await.unwrap();
        assert_kept_totals_match_counts(&store, "one call in progress").await;
        let batch: Vec<Record> = (2..8)
            .map(|n| {
                let doc = match n % 3 {
                    0 => json!({"inbound": false, "call_busy": true}),
                    1 => json!({"inbound": true, "end_time_utc": "2024-11-19T07:00:00Z"}),
                    _ => json!({"inbound": "yes"}),
                };
                call(if n == 7 { "p" } else { "o" }, &format!("c{n}"), doc)
            })
            .collect();
        store.put_many(logs, &batch).await.unwrap();
        assert_kept_totals_match_counts(&store, "a batch").await;
        // The same call again, ended: counted out as in progress, in as completed; the same document again: no change.
        let ended =
            json!({"agent_id": "a1", "agent_type": "Sales", "inbound": true, "end_time_utc": "2024-11-19T07:01:00Z"});
        store.put(logs, &call("o", "c1", ended.clone())).await.unwrap();
        store.put(logs, &call("o", "c1", ended)).await.unwrap();
        assert_kept_totals_match_counts(&store, "a call ended").await;
        store.put_many(logs, &batch[..2]).await.unwrap();
        assert_kept_totals_match_counts(&store, "a batch written again").await;
        store.put(logs, &call("o", "c2", json!({"inbound": false}))).await.unwrap();
        assert_kept_totals_match_counts(&store, "a direction and status changed").await;
        assert!(!store.insert_if_absent(logs, &call("o", "c2", json!({"call_busy": true}))).await.unwrap());
        assert!(store.insert_if_absent(logs, &call("o", "c9", json!({"call_busy": true}))).await.unwrap());
        assert_kept_totals_match_counts(&store, "inserts if absent").await;
        assert!(store
            .replace_if(logs, &call("o", "c9", json!({"call_busy": false, "inbound": true})), "call_busy", &json!(true))
            .await
            .unwrap());
        assert_eq!(store.rename_agent("o", "a1", "Support").await.unwrap(), 1);
        assert_kept_totals_match_counts(&store, "a replace and a rename").await;
        assert!(store.delete(logs, "o", "c1").await.unwrap());
        assert_eq!(store.delete_prefix(logs, "o", "c").await.unwrap(), 6);
        assert_kept_totals_match_counts(&store, "deletes").await;
        let unfiltered = CallLogQuery { org_id: "p".into(), limit: 1, ..CallLogQuery::default() };
        assert_eq!(store.query_call_logs(&unfiltered).await.unwrap().total, 1, "the other org's call stays");
    }

    #[tokio::test]
    async fn a_database_of_the_version_before_the_kept_totals_counts_its_calls_once_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let store = SqliteStore::open(&path).await.unwrap();
        let docs = [serde_json::json!({"inbound": true}), serde_json::json!({"call_busy": true, "inbound": false})];
        for (n, doc) in docs.iter().cycle().take(5).enumerate() {
            store.put(Collection::CallLogs, &call("o", &format!("c{n}"), doc.clone())).await.unwrap();
        }
        drop(store);
        // The earlier version: no totals table, triggers that keep only the columns.
        let conn = Connection::open(&path).unwrap();
        let set_columns = column_assignments("NEW.");
        conn.execute_batch(&format!(
            "DROP TABLE call_log_totals;
             DROP TRIGGER call_logs_fields_on_insert;
             DROP TRIGGER call_logs_fields_on_update;
             DROP TRIGGER call_logs_totals_on_delete;
             CREATE TRIGGER call_logs_fields_on_insert AFTER INSERT ON call_logs BEGIN
                 UPDATE call_logs SET {set_columns} WHERE org_id = NEW.org_id AND id = NEW.id;
             END;
             INSERT INTO call_logs (org_id, id, doc, updated_at) VALUES ('o', 'old', '{{\"inbound\": true}}', 0);"
        ))
        .unwrap();
        drop(conn);
        for reopen in ["upgraded", "reopened"] {
            let store = SqliteStore::open(&path).await.unwrap();
            assert_kept_totals_match_counts(&store, reopen).await;
            let unfiltered = CallLogQuery { org_id: "o".into(), limit: 1, ..Default::default() };
            assert_eq!(store.query_call_logs(&unfiltered).await.unwrap().total, 6, "{reopen}");
        }
        let store = SqliteStore::open(&path).await.unwrap();
        store.put(Collection::CallLogs, &call("o", "new", docs[1].clone())).await.unwrap();
        store.delete(Collection::CallLogs, "o", "old").await.unwrap();
        assert_kept_totals_match_counts(&store, "written after the upgrade").await;
    }

    /// EXPLAIN QUERY PLAN of `sql`, its rows' details joined by `; `.
    fn plan(conn: &Connection, sql: &str, params: &[SqlValue]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<rusqlite::Result<Vec<_>>>().unwrap().join("; ")
    }

    #[tokio::test]
    async fn every_sort_order_with_or_without_a_status_is_read_from_one_index_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        drop(SqliteStore::open(&path).await.unwrap());
        let conn = Connection::open(&path).unwrap();
        let keys = [
            (CallLogSort::Latest, vec![SortValue::Text("2024-11-19T07:00:00.000Z".into())]),
            (CallLogSort::Oldest, vec![SortValue::Null]),
            (CallLogSort::Longest, vec![SortValue::Number(30.0), SortValue::Text("2024-11-19T07:00:00.000Z".into())]),
            (CallLogSort::Shortest, vec![SortValue::Number(30.0), SortValue::Text("2024-11-19T07:00:00.000Z".into())]),
            (CallLogSort::Shortest, vec![SortValue::Null, SortValue::Null]),
            (CallLogSort::Longest, vec![SortValue::Text("7".into()), SortValue::Number(1.0)]),
        ];
        let statuses = [None, Some(CallStatus::Busy), Some(CallStatus::Completed), Some(CallStatus::InProgress)];
        for (sort, values) in keys {
            for (status, inbound) in statuses.iter().flat_map(|s| [(*s, None), (*s, Some(true))]) {
                let query = CallLogQuery { org_id: "o".into(), sort, status, inbound, ..CallLogQuery::default() };
                let (condition, params) = call_log_condition(&query);
                let what = format!("{sort:?} {status:?} {inbound:?}");
                let counted = plan(&conn, &count_sql(&condition), &params);
                assert!(counted.contains("COVERING INDEX"), "{what}: count: {counted}");
                let mut sqls = Vec::new();
                for backwards in [false, true] {
                    let mut p = params.clone();
                    p.extend([SqlValue::Integer(50), SqlValue::Integer(1000)]);
                    sqls.push((page_sql(&condition, "", sort, backwards, p.len() - 1, Some(p.len())), p));
                }
                let key = CallLogKey { values: values.clone(), id: "CA-1".into() };
                for segment in seek_segments(sort, &key, SQLITE_CLASSES) {
                    let mut p = params.clone();
                    let clause = segment_clause(&segment, &mut p);
                    p.push(SqlValue::Integer(51));
                    sqls.push((page_sql(&condition, &clause, sort, false, p.len(), None), p));
                }
                for (sql, p) in sqls {
                    let planned = plan(&conn, &sql, &p);
                    assert!(
                        planned.contains("COVERING INDEX") && !planned.contains("TEMP B-TREE"),
                        "{what}: {sql}: {planned}"
                    );
                }
            }
        }
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
