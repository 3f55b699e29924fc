//! The scale-out store: MongoDB (or any server speaking its wire protocol). A collection per [`Collection`];
//! each document is `{org_id, id, doc, updated_at}` with a unique index on `(org_id, id)`, so the JSON the
//! platform stores comes back unchanged whatever its keys are.

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{ClientOptions, IndexOptions};
use mongodb::{Client, Database, IndexModel};
use serde_json::Value;

use crate::call_logs::{
    seek_segments, CallFacts, CallLogPage, CallLogQuery, CallLogSort, CallStats, CallStatus, Direction, FilterField,
    KeyField, Segment, SegmentRange, SortValue, ValueClass,
};
use crate::{Collection, Record, Result, StoreError, Written};

/// The collection of change counters of [`crate::ROUTING_COLLECTIONS`].
const REVISIONS: &str = "revisions";

/// The database used when the URI names none (the original VoicEra's name too).
pub const DEFAULT_DATABASE: &str = "voicera";

/// The MongoDB backend of [`crate::Store`]: one document per record (`org_id`, `id`, `doc`) in a collection per
/// [`Collection`], unique by (`org_id`, `id`). Cheap to clone (the driver's handle is shared).
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    /// Whether the indexes exist (the unique (`org_id`, `id`) key above all, which [`Self::insert_if_absent`]
    /// relies on): until then every write makes them first, so a store that came up empty after the node
    /// started never takes a duplicate.
    indexes_ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl MongoStore {
    /// Connects to `uri`; the database is `database`, else the URI's path, else [`DEFAULT_DATABASE`]. Indexes
    /// are created if missing. Fails within the driver's server-selection timeout when nothing answers.
    pub async fn connect(uri: &str, database: Option<&str>) -> Result<MongoStore> {
        let db = database_at(uri, database).await?;
        let store = MongoStore { db, indexes_ready: Default::default() };
        store.ensure_indexes().await?;
        Ok(store)
    }

    /// [`MongoStore::connect`] for a node that must start while the server is away (its calls' records then
    /// wait in the spool): a server that cannot be reached (server selection fails) is no error; the store
    /// is returned and its indexes are made in the background once the server answers (retried with
    /// back-off from 500 ms to 30 s). A bad URI or any other error still fails.
    pub async fn connect_or_later(uri: &str, database: Option<&str>) -> Result<MongoStore> {
        let db = database_at(uri, database).await?;
        let store = MongoStore { db, indexes_ready: Default::default() };
        // The start waits seconds, not the driver's whole server-selection timeout: writes make the indexes
        // themselves until they exist.
        let attempt = tokio::time::timeout(std::time::Duration::from_secs(5), store.ensure_indexes()).await;
        let unreachable =
            |err: &mongodb::error::Error| matches!(*err.kind, mongodb::error::ErrorKind::ServerSelection { .. });
        match attempt {
            Ok(Ok(())) => Ok(store),
            Ok(Err(err)) if !matches!(&err, StoreError::Mongo(e) if unreachable(e)) => Err(err),
            Ok(Err(_)) | Err(_) => {
                tracing::error!(
                    database = store.database_name(),
                    "MongoDB unreachable at start (or slower than 5 s): call records spool until it answers"
                );
                let later = store.clone();
                tokio::spawn(async move {
                    let mut delay = std::time::Duration::from_millis(500);
                    loop {
                        tokio::time::sleep(delay).await;
                        match later.ensure_indexes().await {
                            Ok(()) => {
                                tracing::info!(database = later.database_name(), "MongoDB answers: indexes ready");
                                return;
                            }
                            Err(StoreError::Mongo(err))
                                if matches!(*err.kind, mongodb::error::ErrorKind::ServerSelection { .. }) =>
                            {
                                tracing::debug!(%err, "MongoDB still unreachable")
                            }
                            // Not a server that is away: retrying will not help (writes try again themselves).
                            Err(err) => {
                                tracing::error!(%err, "MongoDB answers but its indexes cannot be made");
                                return;
                            }
                        }
                        delay = (delay * 2).min(std::time::Duration::from_secs(30));
                    }
                });
                Ok(store)
            }
        }
    }

    /// Pings the server and makes the indexes the store relies on (the unique key, the history's orders).
    async fn ensure_indexes(&self) -> Result<()> {
        let store = self;
        store.ping().await?;
        for collection in Collection::ALL {
            let index = IndexModel::builder()
                .keys(doc! {"org_id": 1, "id": 1})
                .options(IndexOptions::builder().unique(true).name("org_id_id".to_string()).build())
                .build();
            store.db.collection::<Document>(collection.name()).create_index(index).await?;
        }
        // A provider's webhook finds its dialled call by the dial id alone (`find_id`), on any node.
        let index =
            IndexModel::builder().keys(doc! {"id": 1}).options(IndexOptions::builder().name("id".to_string()).build());
        store.db.collection::<Document>(Collection::CampaignDials.name()).create_index(index.build()).await?;
        // The call history's sort orders per tenant, each with the id that breaks its ties (an index is read
        // either way: one serves newest and oldest first, one longest first; shortest first breaks ties newest
        // first, so it has its own), and the agent and busy filters ahead of the creation order.
        let call_logs = store.db.collection::<Document>(Collection::CallLogs.name());
        // Replaced by `org_longest` (which has the id); gone already on a database made since.
        if let Err(err) = call_logs.drop_index("org_duration").await {
            tracing::debug!(%err, "no index org_duration to drop");
        }
        for (name, keys) in [
            ("org_created", doc! {"org_id": 1, "doc.created_at": -1, "id": -1}),
            ("org_longest", doc! {"org_id": 1, "doc.duration": -1, "doc.created_at": -1, "id": -1}),
            ("org_shortest", doc! {"org_id": 1, "doc.duration": 1, "doc.created_at": -1, "id": -1}),
            ("org_agent", doc! {"org_id": 1, "doc.agent_type": 1, "doc.created_at": -1}),
            ("org_busy", doc! {"org_id": 1, "doc.call_busy": 1, "doc.created_at": -1, "id": -1}),
        ] {
            let index =
                IndexModel::builder().keys(keys).options(IndexOptions::builder().name(name.to_string()).build());
            call_logs.create_index(index.build()).await?;
        }
        self.indexes_ready.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// Makes the indexes if they are not known to exist yet (a store that was away at connect): a write
    /// waits for them rather than land without its unique key.
    async fn indexes_first(&self) -> Result<()> {
        if self.indexes_ready.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        self.ensure_indexes().await
    }

    /// The database in use, for logs.
    pub fn database_name(&self) -> &str {
        self.db.name()
    }

    /// Whether the server answers a `ping` (readiness).
    pub async fn ping(&self) -> Result<()> {
        self.db.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    fn collection(&self, collection: Collection) -> mongodb::Collection<Document> {
        self.db.collection(collection.name())
    }

    /// [`crate::Store::put`] on MongoDB.
    pub async fn put(&self, collection: Collection, record: &Record) -> Result<Written> {
        self.indexes_first().await?;
        let key = doc! {"org_id": &record.org_id, "id": &record.id};
        let old = self.collection(collection).find_one(key.clone()).await?;
        let written = match old {
            Some(old) if stored_doc(collection, &old)?.as_ref() == Some(&record.doc) => return Ok(Written::Unchanged),
            Some(_) => Written::Updated,
            None => Written::Inserted,
        };
        let replacement = to_stored(collection, record, mongodb::bson::DateTime::now())?;
        self.collection(collection).replace_one(key, replacement).upsert(true).await?;
        Ok(written)
    }

    /// [`crate::Store::put_many`] on MongoDB: one unordered `insert_many`; the documents whose id was taken
    /// (duplicate-key errors) are then replaced one by one, so a reload is an upsert.
    pub async fn put_many(&self, collection: Collection, records: &[Record]) -> Result<u64> {
        let stored = to_stored_all(collection, records)?;
        let handle = self.collection(collection);
        for index in insert_all_but_taken(&handle, &stored).await? {
            // `insert_all_but_taken` keeps only places inside the batch (`stored` and `records` are index-aligned).
            let (Some(replacement), Some(record)) = (stored.get(index), records.get(index)) else { continue };
            let key = doc! {"org_id": &record.org_id, "id": &record.id};
            handle.replace_one(key, replacement).upsert(true).await?;
        }
        Ok(records.len() as u64)
    }

    /// [`crate::Store::replace_if`] on MongoDB: one `replaceOne` whose filter holds the expected value, which
    /// the server applies atomically (a missing field matches `null`, as in SQLite).
    pub async fn replace_if(
        &self,
        collection: Collection,
        record: &Record,
        field: &str,
        expected: &Value,
    ) -> Result<bool> {
        self.indexes_first().await?;
        let expected = mongodb::bson::to_bson(expected).map_err(|e| invalid(collection, record, e))?;
        let mut filter = doc! {"org_id": &record.org_id, "id": &record.id};
        filter.insert(format!("doc.{field}"), expected);
        let replacement = to_stored(collection, record, mongodb::bson::DateTime::now())?;
        let result = self.collection(collection).replace_one(filter, replacement).await?;
        Ok(result.matched_count > 0)
    }

    /// [`crate::Store::list_newest_where`] on MongoDB.
    pub async fn list_newest_where(
        &self,
        collection: Collection,
        org_id: &str,
        field_equals: Option<(&str, &str)>,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        let mut filter = doc! {"org_id": org_id};
        if let Some((field, value)) = field_equals {
            filter.insert(format!("doc.{field}"), value);
        }
        self.list_ordered(collection, filter, skip, limit, -1).await
    }

    /// [`crate::Store::list_page`] on MongoDB.
    pub async fn list_page(
        &self,
        collection: Collection,
        org_id: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        self.list_ordered(collection, doc! {"org_id": org_id}, skip, limit, 1).await
    }

    /// A page of `filter`'s documents by id (`order` 1 ascending, -1 descending), with the filter's total.
    async fn list_ordered(
        &self,
        collection: Collection,
        filter: Document,
        skip: u64,
        limit: u64,
        order: i32,
    ) -> Result<(Vec<Record>, u64)> {
        self.page(collection, filter, doc! {"id": order}, skip, limit).await
    }

    /// A page of `filter`'s documents in `sort` order, skipping `skip`, with the filter's total.
    async fn page(
        &self,
        collection: Collection,
        filter: Document,
        sort: Document,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        let handle = self.collection(collection);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let docs: Vec<Document> =
            handle.find(filter.clone()).sort(sort).skip(skip).limit(limit).await?.try_collect().await?;
        let total = handle.count_documents(filter).await?;
        let records = docs.iter().map(|d| to_record(collection, d)).collect::<Result<Vec<_>>>()?;
        Ok((records, total))
    }

    /// [`crate::Store::list_finished_before`] on MongoDB: one filter (the fallback time where the time is
    /// missing or null), a key cursor on the (`org_id`, `id`) index.
    pub async fn list_finished_before(
        &self,
        collection: Collection,
        query: &crate::FinishedBefore,
    ) -> Result<Vec<Record>> {
        let (time, fallback) = (format!("doc.{}", query.time_field), format!("doc.{}", query.fallback_time_field));
        let (after_org, after_id) = query.after.clone().unwrap_or_default();
        let mut timed = Document::new();
        timed.insert(time.as_str(), doc! {"$lt": query.before.as_str()});
        let mut untimed = Document::new();
        // `null` matches a missing field too.
        untimed.insert(time.as_str(), Bson::Null);
        untimed.insert(fallback.as_str(), doc! {"$lt": query.before.as_str()});
        let filter = doc! {"$and": [
            {"doc.status": {"$in": query.statuses.clone()}},
            {"$or": [timed, untimed]},
            {"$or": [
                {"org_id": {"$gt": after_org.as_str()}},
                {"org_id": after_org.as_str(), "id": {"$gt": after_id.as_str()}},
            ]},
        ]};
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let docs: Vec<Document> = self
            .collection(collection)
            .find(filter)
            .sort(doc! {"org_id": 1, "id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        docs.iter().map(|d| to_record(collection, d)).collect()
    }

    /// [`crate::Store::list_prefix`] on MongoDB: a range of the (`org_id`, `id`) index.
    pub async fn list_prefix(&self, collection: Collection, org_id: &str, prefix: &str) -> Result<Vec<Record>> {
        self.find(collection, prefix_filter(org_id, prefix), doc! {"id": 1}).await
    }

    /// [`crate::Store::delete_prefix`] on MongoDB.
    pub async fn delete_prefix(&self, collection: Collection, org_id: &str, prefix: &str) -> Result<u64> {
        Ok(self.collection(collection).delete_many(prefix_filter(org_id, prefix)).await?.deleted_count)
    }

    /// [`crate::Store::insert_if_absent`] on MongoDB: an insert that the unique (`org_id`, `id`) index refuses
    /// with a duplicate-key error when the id is taken.
    pub async fn insert_if_absent(&self, collection: Collection, record: &Record) -> Result<bool> {
        self.indexes_first().await?;
        let stored = to_stored(collection, record, mongodb::bson::DateTime::now())?;
        match self.collection(collection).insert_one(stored).await {
            Ok(_) => Ok(true),
            Err(err) if is_duplicate_key(&err) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// [`crate::Store::insert_many_if_absent`] on MongoDB: one unordered `insert_many`; the unique (`org_id`,
    /// `id`) index refuses the taken ids with duplicate-key errors, which name their positions.
    pub async fn insert_many_if_absent(&self, collection: Collection, records: &[Record]) -> Result<Vec<bool>> {
        let stored = to_stored_all(collection, records)?;
        let mut inserted = vec![true; records.len()];
        for index in insert_all_but_taken(&self.collection(collection), &stored).await? {
            if let Some(slot) = inserted.get_mut(index) {
                *slot = false;
            }
        }
        Ok(inserted)
    }

    /// [`crate::Store::delete_expired`] on MongoDB.
    pub async fn delete_expired(&self, collection: Collection, now_secs: i64) -> Result<u64> {
        let filter = doc! {"doc.expires_at": {"$lt": now_secs}};
        Ok(self.collection(collection).delete_many(filter).await?.deleted_count)
    }

    /// [`crate::Store::get`] on MongoDB.
    pub async fn get(&self, collection: Collection, org_id: &str, id: &str) -> Result<Option<Record>> {
        let found = self.collection(collection).find_one(doc! {"org_id": org_id, "id": id}).await?;
        found.map(|d| to_record(collection, &d)).transpose()
    }

    /// [`crate::Store::list`] on MongoDB.
    pub async fn list(&self, collection: Collection, org_id: &str) -> Result<Vec<Record>> {
        self.find(collection, doc! {"org_id": org_id}, doc! {"id": 1}).await
    }

    /// [`crate::Store::list_newest`] on MongoDB.
    pub async fn list_newest(
        &self,
        collection: Collection,
        org_id: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        self.list_newest_where(collection, org_id, None, skip, limit).await
    }

    /// [`crate::Store::find_id`] on MongoDB.
    pub async fn find_id(&self, collection: Collection, id: &str) -> Result<Vec<Record>> {
        self.find(collection, doc! {"id": id}, doc! {"org_id": 1}).await
    }

    /// [`crate::Store::get_many`] on MongoDB: one `$in` query for at most [`crate::GET_MANY_CHUNK`] ids.
    pub async fn get_many(&self, collection: Collection, org_id: &str, ids: Vec<String>) -> Result<Vec<Record>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.find(collection, doc! {"org_id": org_id, "id": {"$in": ids}}, doc! {"id": 1}).await
    }

    /// [`crate::Store::list_all`] on MongoDB.
    pub async fn list_all(&self, collection: Collection) -> Result<Vec<Record>> {
        self.find(collection, doc! {}, doc! {"org_id": 1, "id": 1}).await
    }

    /// The documents counting changes of routing collections: `{_id: <collection>, revision}`.
    fn revisions(&self) -> mongodb::Collection<Document> {
        self.db.collection(REVISIONS)
    }

    /// Counts one more change of `collection` ([`crate::Store::revision`]): one atomic `$inc`, so writes from
    /// many nodes all count.
    pub async fn bump_revision(&self, collection: Collection) -> Result<()> {
        self.revisions()
            .update_one(doc! {"_id": collection.name()}, doc! {"$inc": {"revision": 1_i64}})
            .upsert(true)
            .await?;
        Ok(())
    }

    /// [`crate::Store::revision`] on MongoDB.
    pub async fn revision(&self, collection: Collection) -> Result<u64> {
        let found = self.revisions().find_one(doc! {"_id": collection.name()}).await?;
        let revision = match found.as_ref().and_then(|d| d.get("revision")) {
            Some(Bson::Int64(n)) => *n,
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Double(n)) => *n as i64,
            _ => 0,
        };
        Ok(revision.max(0) as u64)
    }

    async fn find(&self, collection: Collection, filter: Document, sort: Document) -> Result<Vec<Record>> {
        let docs: Vec<Document> = self.collection(collection).find(filter).sort(sort).await?.try_collect().await?;
        docs.iter().map(|d| to_record(collection, d)).collect()
    }

    /// [`crate::Store::delete`] on MongoDB.
    pub async fn delete(&self, collection: Collection, org_id: &str, id: &str) -> Result<bool> {
        let result = self.collection(collection).delete_one(doc! {"org_id": org_id, "id": id}).await?;
        Ok(result.deleted_count > 0)
    }

    /// [`crate::Store::query_call_logs`] on MongoDB: the total by `countDocuments`, the page by `find` on the
    /// order's index. A page after a key ([`CallLogQuery::after`]) seeks the index ([`seek_segments`]: one
    /// `find` of the stretches after the key); a page by offset skips from whichever end of the order is nearer
    /// (the last page is read backwards).
    pub async fn query_call_logs(&self, query: &CallLogQuery) -> Result<CallLogPage> {
        let filter = call_log_filter(query);
        let calls = self.collection(Collection::CallLogs);
        let total = calls.count_documents(filter.clone()).await?;
        let limit = query.limit.min(i64::MAX as u64 - 1);
        let (docs, more) = match &query.after {
            Some(key) => {
                // The stretches after the key are disjoint and each an index range in the order: one `find` of
                // their union, which the server answers by merging the ranges' index scans (one round trip),
                // one past the page to know whether more follow.
                let after: Vec<Document> =
                    seek_segments(query.sort, key, MONGO_CLASSES).iter().map(segment_filter).collect();
                let mut docs: Vec<Document> = calls
                    .find(doc! {"$and": [filter, {"$or": after}]})
                    .sort(call_log_order(query.sort, false))
                    .limit((limit + 1) as i64)
                    .await?
                    .try_collect()
                    .await?;
                let more = docs.len() as u64 > limit;
                docs.truncate(limit as usize);
                (docs, more)
            }
            None if query.offset >= total || limit == 0 => (Vec::new(), query.offset < total),
            None => {
                let end = query.offset.saturating_add(limit).min(total);
                // Calls after the page; fewer than before it: skip from the far end, backwards.
                let backwards = total - end < query.offset;
                let (skip, take) = if backwards { (total - end, end - query.offset) } else { (query.offset, limit) };
                let mut docs: Vec<Document> = calls
                    .find(filter)
                    .sort(call_log_order(query.sort, backwards))
                    .skip(skip)
                    .limit(take as i64)
                    .await?
                    .try_collect()
                    .await?;
                if backwards {
                    docs.reverse();
                }
                (docs, end < total)
            }
        };
        let records = docs.iter().map(|d| to_record(Collection::CallLogs, d)).collect::<Result<Vec<_>>>()?;
        Ok(CallLogPage { records, total, more })
    }

    /// [`crate::Store::call_stats`] on MongoDB: one pass over a cursor of the matching calls, each projected
    /// to the few fields analytics reads.
    pub async fn call_stats(&self, query: &CallLogQuery) -> Result<CallStats> {
        let projection = doc! {
            "_id": 0, "doc.agent_type": 1, "doc.start_time_utc": 1, "doc.created_at": 1, "doc.duration": 1,
            "doc.call_busy": 1, "doc.end_time_utc": 1, "doc.latency_metrics.turns": 1, "doc.turns": 1,
        };
        let mut cursor =
            self.collection(Collection::CallLogs).find(call_log_filter(query)).projection(projection).await?;
        let mut stats = CallStats::default();
        while let Some(stored) = cursor.try_next().await? {
            let doc = stored.get("doc").map(bson_to_json).unwrap_or(Value::Null);
            stats.add(CallFacts::from_doc(&doc));
        }
        Ok(stats)
    }

    /// [`crate::Store::rename_agent`] on MongoDB.
    pub async fn rename_agent(&self, org_id: &str, agent_id: &str, new_name: &str) -> Result<u64> {
        let mut changed = 0;
        for collection in crate::AGENT_REFERENCES {
            let filter = doc! {"org_id": org_id, "doc.agent_id": agent_id, "doc.agent_type": {"$ne": new_name}};
            let update = doc! {"$set": {"doc.agent_type": new_name, "updated_at": mongodb::bson::DateTime::now()}};
            changed += self.collection(collection).update_many(filter, update).await?.modified_count;
        }
        Ok(changed)
    }

    /// [`crate::Store::call_log_values`] on MongoDB.
    pub async fn call_log_values(&self, org_id: &str, field: FilterField) -> Result<Vec<String>> {
        let values = self
            .collection(Collection::CallLogs)
            .distinct(format!("doc.{}", field.name()), doc! {"org_id": org_id})
            .await?;
        Ok(values.into_iter().filter_map(|v| if let Bson::String(s) = v { Some(s) } else { None }).collect())
    }

    /// [`crate::Store::call_logs_in_progress_on`] on MongoDB.
    pub async fn call_logs_in_progress_on(&self, node_id: &str) -> Result<Vec<Record>> {
        let filter = doc! {"doc.node_id": node_id, "doc.status": "in-progress"};
        self.find(Collection::CallLogs, filter, doc! {"org_id": 1, "id": 1}).await
    }

    /// [`crate::Store::count`] on MongoDB.
    pub async fn count(&self, collection: Collection) -> Result<u64> {
        Ok(self.collection(collection).count_documents(doc! {}).await?)
    }
}

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    match error.kind.as_ref() {
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        // Some servers (and bulk paths) report it as a command error.
        mongodb::error::ErrorKind::Command(command) => command.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// `record` as stored: its org, id and document, and when it was written (`now`).
fn to_stored(collection: Collection, record: &Record, now: mongodb::bson::DateTime) -> Result<Document> {
    let body = mongodb::bson::to_bson(&record.doc).map_err(|e| invalid(collection, record, e))?;
    Ok(doc! {"org_id": &record.org_id, "id": &record.id, "doc": body, "updated_at": now})
}

/// `records` as stored, all written now.
fn to_stored_all(collection: Collection, records: &[Record]) -> Result<Vec<Document>> {
    let now = mongodb::bson::DateTime::now();
    records.iter().map(|record| to_stored(collection, record, now)).collect()
}

/// A value of `record` BSON cannot hold: the record is refused, named.
fn invalid(collection: Collection, record: &Record, error: mongodb::bson::ser::Error) -> StoreError {
    StoreError::Invalid(format!("{} {}/{}: {error}", collection.name(), record.org_id, record.id))
}

/// Inserts `stored` in one unordered `insert_many`; the positions of those whose (`org_id`, `id`) was taken
/// (duplicate-key errors: the others went in). Any other failure is the error.
async fn insert_all_but_taken(handle: &mongodb::Collection<Document>, stored: &[Document]) -> Result<Vec<usize>> {
    let Err(error) = handle.insert_many(stored.iter()).ordered(false).await else { return Ok(Vec::new()) };
    let mongodb::error::ErrorKind::InsertMany(failure) = error.kind.as_ref() else {
        return Err(error.into());
    };
    if failure.write_concern_error.is_some() {
        return Err(error.into());
    }
    let mut taken = Vec::new();
    for write_error in failure.write_errors.iter().flatten() {
        // A duplicate key names the document by its place in the batch; a place outside it (a server's answer
        // that makes no sense) fails the call with the server's error, never a panic at the caller's index.
        if write_error.code != DUPLICATE_KEY || write_error.index >= stored.len() {
            return Err(error.into());
        }
        taken.push(write_error.index);
    }
    Ok(taken)
}

/// The tenant's documents whose id starts with `prefix`: the ids from `prefix` up to (not including) `prefix`
/// with its last character's successor, a range the index serves (no regular expression).
fn prefix_filter(org_id: &str, prefix: &str) -> Document {
    let mut end: Vec<char> = prefix.chars().collect();
    let upper = end.pop().map(|last| {
        let next = char::from_u32(last as u32 + 1).unwrap_or(char::MAX);
        end.push(next);
        end.into_iter().collect::<String>()
    });
    match upper {
        Some(upper) => doc! {"org_id": org_id, "id": {"$gte": prefix, "$lt": upper}},
        None => doc! {"org_id": org_id},
    }
}

/// The filter of a call-log query over the stored `{org_id, id, doc}` documents.
fn call_log_filter(query: &CallLogQuery) -> Document {
    let mut clauses = vec![doc! {"org_id": &query.org_id}];
    for (field, value) in [
        ("doc.agent_type", &query.agent_type),
        ("doc.agent_id", &query.agent_id),
        ("doc.from_number", &query.from_number),
        ("doc.to_number", &query.to_number),
    ] {
        if let Some(value) = value {
            clauses.push(doc! {field: value});
        }
    }
    if let Some(number) = &query.number {
        clauses.push(doc! {"$or": [{"doc.from_number": number}, {"doc.to_number": number}]});
    }
    if let Some(inbound) = query.inbound {
        clauses.push(doc! {"doc.inbound": inbound});
    }
    // `$ne: true` also matches a missing field; `$in: [null, ""]` matches missing, null and empty.
    match query.status {
        Some(CallStatus::Busy) => clauses.push(doc! {"doc.call_busy": true}),
        Some(CallStatus::Completed) => {
            clauses.push(doc! {"doc.call_busy": {"$ne": true}, "doc.end_time_utc": {"$nin": [Bson::Null, ""]}})
        }
        Some(CallStatus::InProgress) => {
            clauses.push(doc! {"doc.call_busy": {"$ne": true}, "doc.end_time_utc": {"$in": [Bson::Null, ""]}})
        }
        None => {}
    }
    let mut range = Document::new();
    if let Some(from) = &query.from_time {
        range.insert("$gte", from);
    }
    if let Some(to) = &query.to_time {
        range.insert("$lte", to);
    }
    if !range.is_empty() {
        // The call's start time, else its creation time.
        clauses.push(doc! {"$or": [
            {"doc.start_time_utc": range.clone()},
            {"doc.start_time_utc": {"$in": [Bson::Null]}, "doc.created_at": range},
        ]});
    }
    if query.with_latency {
        clauses.push(doc! {"doc.latency_metrics.turns.0": {"$exists": true}});
    }
    doc! {"$and": clauses}
}

/// The kinds of value MongoDB orders a sort field by: null (or missing), numbers, strings, then the rest
/// (objects, arrays, booleans, ...).
const MONGO_CLASSES: &[ValueClass] = &[ValueClass::Null, ValueClass::Number, ValueClass::Text, ValueClass::Other];

fn key_path(field: KeyField) -> String {
    format!("doc.{}", field.name())
}

/// `sort`'s order over the stored documents (`backwards`: every direction reversed).
fn call_log_order(sort: CallLogSort, backwards: bool) -> Document {
    let sign = |d: Direction| match if backwards { d.reversed() } else { d } {
        Direction::Ascending => 1,
        Direction::Descending => -1,
    };
    let mut order = Document::new();
    for (field, direction) in sort.key_fields() {
        order.insert(key_path(*field), sign(*direction));
    }
    order.insert("id", sign(sort.id_direction()));
    order
}

fn sort_bson(value: &SortValue) -> Bson {
    match value {
        SortValue::Null => Bson::Null,
        SortValue::Number(n) => Bson::Double(*n),
        SortValue::Text(t) => Bson::String(t.clone()),
    }
}

/// A seek segment as a filter. Comparisons are type-bracketed (`$gt: 5` matches numbers only), so a bound
/// keeps to its value's kind; a whole kind is a `$type` (null: `null`, which also matches a missing field).
fn segment_filter(segment: &Segment) -> Document {
    let mut clauses: Vec<Document> = Vec::new();
    for (field, value) in &segment.equal {
        let mut clause = Document::new();
        clause.insert(key_path(*field), sort_bson(value));
        clauses.push(clause);
    }
    let range = match &segment.range {
        SegmentRange::Id { after, direction } => {
            let op = if *direction == Direction::Ascending { "$gt" } else { "$lt" };
            let mut bound = Document::new();
            bound.insert(op, after.as_str());
            doc! {"id": bound}
        }
        SegmentRange::Class { field, class, after } => {
            let condition = match (class, after) {
                (ValueClass::Null, _) => Bson::Null,
                (_, Some((value, direction))) => {
                    let op = if *direction == Direction::Ascending { "$gt" } else { "$lt" };
                    let mut bound = Document::new();
                    bound.insert(op, sort_bson(value));
                    Bson::Document(bound)
                }
                (ValueClass::Number, None) => Bson::Document(doc! {"$type": "number"}),
                (ValueClass::Text, None) => Bson::Document(doc! {"$type": "string"}),
                (ValueClass::Other, None) => {
                    Bson::Document(doc! {"$exists": true, "$not": {"$type": ["null", "number", "string"]}})
                }
            };
            let mut clause = Document::new();
            clause.insert(key_path(*field), condition);
            clause
        }
    };
    clauses.push(range);
    doc! {"$and": clauses}
}

/// The database a URI leads to (`database` overrides the URI's path).
pub async fn database_at(uri: &str, database: Option<&str>) -> Result<Database> {
    let options = ClientOptions::parse(uri).await?;
    let name = database
        .map(str::to_string)
        .or_else(|| options.default_database.clone())
        .unwrap_or_else(|| DEFAULT_DATABASE.to_string());
    let client = Client::with_options(options)?;
    Ok(client.database(&name))
}

fn key_of(stored: &Document) -> (String, String) {
    let field = |k: &str| stored.get_str(k).unwrap_or_default().to_string();
    (field("org_id"), field("id"))
}

/// The platform's JSON document inside a stored one.
fn stored_doc(collection: Collection, stored: &Document) -> Result<Option<Value>> {
    match stored.get("doc") {
        None => Ok(None),
        Some(body) => {
            let value = body.clone().into_relaxed_extjson();
            if value.is_object() {
                Ok(Some(value))
            } else {
                let (org_id, id) = key_of(stored);
                Err(StoreError::Invalid(format!(
                    "{} {org_id}/{id}: the stored `doc` is not an object",
                    collection.name()
                )))
            }
        }
    }
}

fn to_record(collection: Collection, stored: &Document) -> Result<Record> {
    let (org_id, id) = key_of(stored);
    let doc = stored_doc(collection, stored)?.ok_or_else(|| {
        StoreError::Invalid(format!("{} {org_id}/{id}: the stored document has no `doc`", collection.name()))
    })?;
    Ok(Record { org_id, id, doc })
}

/// Converts a BSON value from a foreign database (the original VoicEra's) to JSON: dates as [`crate::utc_text`],
/// object ids as hex, numbers as numbers, binary as base64, anything else in MongoDB's relaxed extended JSON.
pub fn bson_to_json(value: &Bson) -> Value {
    match value {
        Bson::DateTime(t) => Value::String(crate::utc_text(t.timestamp_millis())),
        Bson::ObjectId(id) => Value::String(id.to_hex()),
        Bson::Document(d) => Value::Object(d.iter().map(|(k, v)| (k.clone(), bson_to_json(v))).collect()),
        Bson::Array(items) => Value::Array(items.iter().map(bson_to_json).collect()),
        Bson::Decimal128(d) => {
            d.to_string().parse::<f64>().map(Value::from).unwrap_or_else(|_| Value::String(d.to_string()))
        }
        other => other.clone().into_relaxed_extjson(),
    }
}
