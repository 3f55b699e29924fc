//! Storage for VoiceERA-rs. The control plane and the media nodes keep agents, numbers, integrations and call
//! history in one [`Store`]: an embedded SQLite file under the data dir by default ([`sqlite`]), or MongoDB when
//! `VOICERA_MONGODB_URI` is set ([`mongo`]), for scale-out. Both hold the same documents: JSON objects keyed by
//! tenant (`org_id`) and id within a [`Collection`], so code above never knows which one it has.
//!
//! Provider keys and other credentials are sealed with the node's master key before they are stored
//! ([`secret`]). [`migrate`] imports an original VoicEra database (MongoDB) without losing a field.
//!
//! Crate map: `lib.rs` the `Store` and its records · `sqlite.rs` · `mongo.rs` · `call_logs.rs` the call history's
//! filtered, sorted pages · `secret.rs` master key, sealing, masking, derived keys · `migrate.rs` the original's
//! collections mapped onto ours.

#![forbid(unsafe_code)]

pub mod call_logs;
pub mod migrate;
pub mod mongo;
pub mod one_use;
pub mod secret;
pub mod sqlite;

use std::path::Path;

use serde_json::Value;

/// Collections whose documents name an agent (`agent_type`) beside its id (`agent_id`).
pub const AGENT_REFERENCES: [Collection; 4] =
    [Collection::PhoneNumbers, Collection::CallLogs, Collection::Batches, Collection::BatchContacts];

/// Collections whose changes alter call routing (which agent an id or a number leads to, and the provider keys
/// an org's agents call with). Every write to them
/// through [`Store`] bumps the collection's revision ([`Store::revision`]) after it lands, so a node polling
/// one small counter learns that it must reload, however many nodes share the store.
pub const ROUTING_COLLECTIONS: [Collection; 3] =
    [Collection::Agents, Collection::PhoneNumbers, Collection::Integrations];

/// Agent ids the platform keeps for its built-in services (`echo`, and the `bench` and `demo` agents): a
/// configured agent may not take one, and an imported agent with one of them is renamed.
pub const RESERVED_AGENT_IDS: &[&str] = &["echo", "bench", "demo"];

/// What went wrong in storage. Each variant names the operation's target, so a log line is enough to act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused an operation (open, query, write) on the database file.
    #[error("SQLite {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The MongoDB driver failed: connection, server selection, a command, a duplicate key.
    #[error("MongoDB: {0}")]
    Mongo(#[from] mongodb::error::Error),
    /// A stored document no longer parses; the store holds it but cannot hand it out.
    #[error("{collection} {org_id}/{id}: the stored document is not valid JSON: {source}")]
    Corrupt {
        /// The collection's name.
        collection: &'static str,
        /// The tenant the document belongs to.
        org_id: String,
        /// The document's id.
        id: String,
        /// Where the JSON breaks.
        source: serde_json::Error,
    },
    /// The caller asked for something the store does not keep (no id, not an object, a bad URI, ...).
    #[error("{0}")]
    Invalid(String),
    /// The master key that seals secrets is missing, malformed or unreadable.
    #[error("master key: {0}")]
    Key(String),
    /// A sealed secret does not open with the master key (another key, or tampered with).
    #[error("sealed secret: {0}")]
    Seal(String),
    /// A blocking storage task panicked or was cancelled before it answered.
    #[error("storage task failed: {0}")]
    Task(String),
}

/// Ids per query of [`Store::get_many`]: under SQLite's default limit of 32,766 bound parameters with room
/// to spare, and a MongoDB filter far below its 16 MB document limit (1,000 numbers are ~20 KB).
pub const GET_MANY_CHUNK: usize = 1000;

/// The store's result: every operation fails with a [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The kinds of document the platform keeps. Every document belongs to a tenant (`org_id`) and is unique by
/// `id` within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    /// Accounts; `id` is the lowercased email (unique across tenants: the API checks before it inserts).
    Users,
    /// Invitations to a tenant; `id` is the invited email.
    Members,
    /// Agents; `id` is the agent id callers and streams address.
    Agents,
    /// Phone numbers; `id` is the number's digits.
    PhoneNumbers,
    /// Provider credentials (sealed); `id` is the provider's name as the console shows it (`OpenAI`, ...).
    Integrations,
    /// OpenAI-compatible servers an agent may think with (key sealed).
    CustomLlms,
    /// Call history; `id` is the call id (the provider's call UUID or the SIP Call-ID).
    CallLogs,
    /// Knowledge-base documents.
    KnowledgeDocuments,
    /// Outbound campaigns (the original's "batches").
    Batches,
    /// A campaign's contacts; `id` is `<batch_id>:<row_number>`.
    BatchContacts,
    /// Tenants; `org_id` and `id` are both the org id (the original had none: an org was a shared string).
    Orgs,
    /// Login sessions: one rotating refresh-token family each; `id` is the family id.
    RefreshTokens,
    /// API keys for scripts; `id` is the key's public id (part of the key text), the secret stored hashed.
    ApiKeys,
    /// The audit log: one document per change made through the API; `id` sorts by time (`<unix ms, 13
    /// digits>-<random>`), so the newest come first in descending id order.
    AuditLog,
    /// Invitations to join an org: `id` is the invite's public id (part of the link), the secret stored hashed.
    Invites,
    /// Password-reset requests: `id` is the request's public id (part of the emailed token), the secret stored
    /// hashed.
    PasswordResets,
    /// Customer webhook endpoints: `id` is the endpoint's id (`we_…`), the signing secret sealed.
    WebhookEndpoints,
    /// The webhook delivery log: one document per delivery (an event to one endpoint) with its attempts; `id`
    /// sorts by time (`<unix ms, 13 digits>-<random>`), newest first in descending id order.
    WebhookDeliveries,
    /// Webhook deliveries still to be attempted (small: delivered and dead ones leave it); `id` is the
    /// delivery's id. Nodes claim an entry with a lease ([`Store::replace_if`]) before sending, so several
    /// nodes sharing a store never send one attempt twice.
    WebhookQueue,
    /// One-use tokens already spent (provider stream tokens, browser and WebRTC session tokens), shared by every
    /// node so that a token spent on one is refused on all: `id` names what the token was for, `doc.expires_at`
    /// (unix seconds) is when it stops mattering and may be removed ([`Store::delete_expired`]).
    UsedTokens,
    /// An org's do-not-call list: `id` is the number in E.164; campaigns never dial a listed number.
    DoNotCall,
    /// A campaign's live-call slots, shared by every node dialling it: `id` is `<batch_id>:<slot>` (slot
    /// `0..max_live_calls`). A node holds a slot (a lease in the document, see `voicera_dialer::slots`) for each
    /// call it has up, so the campaign's limit holds across nodes. Claimed with [`Store::insert_if_absent`] or
    /// [`Store::put_if_version`].
    CampaignSlots,
    /// Campaign calls placed through a provider's REST API, shared by every node: `id` is the call's dial id
    /// (128 random bits, in the answer, stream and status URLs). Any node the provider reaches finds the call
    /// by it ([`Store::find_id`]: the webhook does not name the org), checks the agent and account, and
    /// appends what it saw (stream start and end, status callbacks, machine detection) by compare-and-set on
    /// `version`; the placing node reads those events and keeps the call's lease (see `voicera_dialer::dials`).
    /// `doc.expires_at` (unix seconds) lets a dead node's documents be swept ([`Store::delete_expired`]).
    CampaignDials,
    /// A campaign's call-rate state, one document per campaign (`id` is the batch id): the earliest time the
    /// next call may start, claimed by compare-and-set on `version` so `calls_per_second` holds across every
    /// node dialling it (see `voicera_dialer::pacing`).
    CampaignPacing,
}

impl Collection {
    /// Every collection, for creating tables/indexes and for imports and counts that walk them all.
    pub const ALL: [Collection; 24] = [
        Collection::Users,
        Collection::Members,
        Collection::Agents,
        Collection::PhoneNumbers,
        Collection::Integrations,
        Collection::CustomLlms,
        Collection::CallLogs,
        Collection::KnowledgeDocuments,
        Collection::Batches,
        Collection::BatchContacts,
        Collection::Orgs,
        Collection::RefreshTokens,
        Collection::ApiKeys,
        Collection::AuditLog,
        Collection::Invites,
        Collection::PasswordResets,
        Collection::WebhookEndpoints,
        Collection::WebhookDeliveries,
        Collection::WebhookQueue,
        Collection::UsedTokens,
        Collection::DoNotCall,
        Collection::CampaignSlots,
        Collection::CampaignDials,
        Collection::CampaignPacing,
    ];

    /// Table / collection name, the same in both backends.
    pub fn name(self) -> &'static str {
        match self {
            Collection::Users => "users",
            Collection::Members => "members",
            Collection::Agents => "agents",
            Collection::PhoneNumbers => "phone_numbers",
            Collection::Integrations => "integrations",
            Collection::CustomLlms => "custom_llms",
            Collection::CallLogs => "call_logs",
            Collection::KnowledgeDocuments => "knowledge_documents",
            Collection::Batches => "batches",
            Collection::BatchContacts => "batch_contacts",
            Collection::Orgs => "orgs",
            Collection::RefreshTokens => "refresh_tokens",
            Collection::ApiKeys => "api_keys",
            Collection::AuditLog => "audit_log",
            Collection::Invites => "invites",
            Collection::PasswordResets => "password_resets",
            Collection::WebhookEndpoints => "webhook_endpoints",
            Collection::WebhookDeliveries => "webhook_deliveries",
            Collection::WebhookQueue => "webhook_queue",
            Collection::UsedTokens => "used_tokens",
            Collection::DoNotCall => "do_not_call",
            Collection::CampaignSlots => "campaign_slots",
            Collection::CampaignDials => "campaign_dials",
            Collection::CampaignPacing => "campaign_pacing",
        }
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The tenant that owns the document; every read and write is scoped by it.
    pub org_id: String,
    /// The document's key, unique within the tenant (each [`Collection`] says what it is).
    pub id: String,
    /// A JSON object.
    pub doc: Value,
}

impl Record {
    fn check(&self, collection: Collection) -> Result<()> {
        if self.org_id.is_empty() || self.id.is_empty() {
            return Err(StoreError::Invalid(format!(
                "{}: a document needs an org_id and an id (got {:?}/{:?})",
                collection.name(),
                self.org_id,
                self.id
            )));
        }
        if !self.doc.is_object() {
            return Err(StoreError::Invalid(format!(
                "{} {}/{}: a document must be a JSON object",
                collection.name(),
                self.org_id,
                self.id
            )));
        }
        Ok(())
    }
}

/// A page of [`Store::list_finished_before`]: documents of every tenant whose `status` is one of `statuses`
/// and whose time (`time_field`, else `fallback_time_field` where the document has none or null) is text
/// before `before`, in (org, id) order from just after `after`. A sweeper pages through a log of any size
/// with memory for one page, deleting as it goes (a key cursor, so deletions do not shift the pages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FinishedBefore {
    /// The `status` values that count as finished.
    pub statuses: Vec<String>,
    /// The top-level text field holding when the document finished (`finished_at`).
    pub time_field: String,
    /// The field read when `time_field` is missing or null (`created_at`, older documents).
    pub fallback_time_field: String,
    /// Stored-time text ([`utc_text`]): documents strictly before it match.
    pub before: String,
    /// The last (org, id) of the previous page; `None` for the first page.
    pub after: Option<(String, String)>,
    /// Documents per page (at least 1).
    pub limit: u64,
}

impl FinishedBefore {
    fn check(&self, collection: Collection) -> Result<()> {
        let plain = |f: &str| !f.is_empty() && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain(&self.time_field) || !plain(&self.fallback_time_field) {
            return Err(StoreError::Invalid(format!(
                "{}: cannot filter on the time fields {:?}/{:?}",
                collection.name(),
                self.time_field,
                self.fallback_time_field
            )));
        }
        if self.limit == 0 {
            return Err(StoreError::Invalid(format!("{}: a page of at least one document", collection.name())));
        }
        Ok(())
    }
}

/// What a [`Store::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// No document had this id: a new one was stored.
    Inserted,
    /// A different document had this id and was replaced.
    Updated,
    /// The same document was already stored.
    Unchanged,
}

/// The platform's storage: embedded SQLite or MongoDB. Cheap to clone (both hold shared handles).
#[derive(Clone)]
pub enum Store {
    /// The embedded database file: one node, no server to run.
    Sqlite(sqlite::SqliteStore),
    /// A MongoDB deployment: several nodes share it (and an original VoicEra database can be used in place).
    Mongo(mongo::MongoStore),
}

impl Store {
    /// The store a node is configured for: MongoDB when `mongodb_uri` is given, else `<data_dir>/voicera.db`.
    pub async fn open(data_dir: &Path, mongodb_uri: Option<&str>) -> Result<Store> {
        match mongodb_uri {
            Some(uri) => Ok(Store::Mongo(mongo::MongoStore::connect(uri, None).await?)),
            None => Ok(Store::Sqlite(sqlite::SqliteStore::open(&data_dir.join(sqlite::FILE_NAME)).await?)),
        }
    }

    /// [`Store::open`] for a node that takes calls: a MongoDB server that cannot be reached at start does not
    /// stop it ([`mongo::MongoStore::connect_or_later`]); `/health` says the store is away, and call records
    /// wait in the spool until it answers.
    pub async fn open_or_later(data_dir: &Path, mongodb_uri: Option<&str>) -> Result<Store> {
        match mongodb_uri {
            Some(uri) => Ok(Store::Mongo(mongo::MongoStore::connect_or_later(uri, None).await?)),
            None => Store::open(data_dir, None).await,
        }
    }

    /// Where the documents live, for logs (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(s) => format!("SQLite {}", s.path().display()),
            Store::Mongo(m) => format!("MongoDB database {:?}", m.database_name()),
        }
    }

    /// Whether the store answers (readiness).
    pub async fn ping(&self) -> Result<()> {
        match self {
            Store::Sqlite(s) => s.ping().await,
            Store::Mongo(m) => m.ping().await,
        }
    }

    /// Inserts or replaces a document.
    pub async fn put(&self, collection: Collection, record: &Record) -> Result<Written> {
        record.check(collection)?;
        let written = match self {
            Store::Sqlite(s) => s.put(collection, record).await?,
            Store::Mongo(m) => m.put(collection, record).await?,
        };
        if written != Written::Unchanged {
            self.changed(collection).await?;
        }
        Ok(written)
    }

    /// Inserts or replaces many documents of one collection at once: one SQLite transaction, or one MongoDB
    /// `insert_many` (documents whose id is taken are then replaced one by one). A 100,000-contact list loads in
    /// seconds this way, where as many [`Store::put`]s would take minutes. How many documents were written.
    pub async fn put_many(&self, collection: Collection, records: &[Record]) -> Result<u64> {
        for record in records {
            record.check(collection)?;
        }
        if records.is_empty() {
            return Ok(0);
        }
        let written = match self {
            Store::Sqlite(s) => s.put_many(collection, records).await?,
            Store::Mongo(m) => m.put_many(collection, records).await?,
        };
        self.changed(collection).await?;
        Ok(written)
    }

    /// A conditional write, for state that several nodes change (a campaign contact's lease): with
    /// `expected_version` `Some(v)`, replaces the document only if the stored one's top-level `version` field is
    /// still `v` (compare-and-set); with `None`, inserts it only if no document has its id (insert-if-absent).
    /// Whether it was written: `false` means another writer got there first, and the caller re-reads.
    pub async fn put_if_version(
        &self,
        collection: Collection,
        record: &Record,
        expected_version: Option<u64>,
    ) -> Result<bool> {
        // Both are the general primitives below: a compare-and-set on `version`, or insert-if-absent.
        match expected_version {
            Some(version) => self.replace_if(collection, record, "version", &Value::from(version)).await,
            None => self.insert_if_absent(collection, record).await,
        }
    }

    /// A tenant's documents among `ids`, by id, in one query (`id IN (…)` / `$in`) for each
    /// [`GET_MANY_CHUNK`] ids: which of an upload's numbers are on the do-not-call list, without reading the
    /// list. Ids with no document are left out; a repeated id is returned once.
    pub async fn get_many(&self, collection: Collection, org_id: &str, ids: &[String]) -> Result<Vec<Record>> {
        let mut found = Vec::new();
        for chunk in ids.chunks(GET_MANY_CHUNK) {
            let mut chunk = chunk.to_vec();
            chunk.sort_unstable();
            chunk.dedup();
            found.extend(match self {
                Store::Sqlite(s) => s.get_many(collection, org_id, chunk).await?,
                Store::Mongo(m) => m.get_many(collection, org_id, chunk).await?,
            });
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        Ok(found)
    }

    /// A tenant's documents whose id starts with `prefix`, by id (a campaign's contacts: `"<batch_id>:"`).
    pub async fn list_prefix(&self, collection: Collection, org_id: &str, prefix: &str) -> Result<Vec<Record>> {
        match self {
            Store::Sqlite(s) => s.list_prefix(collection, org_id, prefix).await,
            Store::Mongo(m) => m.list_prefix(collection, org_id, prefix).await,
        }
    }

    /// Removes a tenant's documents whose id starts with `prefix`; how many there were.
    pub async fn delete_prefix(&self, collection: Collection, org_id: &str, prefix: &str) -> Result<u64> {
        if prefix.is_empty() {
            return Err(StoreError::Invalid(format!("{}: delete_prefix needs a prefix", collection.name())));
        }
        let deleted = match self {
            Store::Sqlite(s) => s.delete_prefix(collection, org_id, prefix).await?,
            Store::Mongo(m) => m.delete_prefix(collection, org_id, prefix).await?,
        };
        if deleted > 0 {
            self.changed(collection).await?;
        }
        Ok(deleted)
    }

    /// Bumps the revision of a routing collection after a write to it landed (never before: a node that sees
    /// the new revision must read the new documents).
    async fn changed(&self, collection: Collection) -> Result<()> {
        if !ROUTING_COLLECTIONS.contains(&collection) {
            return Ok(());
        }
        match self {
            Store::Sqlite(s) => s.bump_revision(collection).await,
            Store::Mongo(m) => m.bump_revision(collection).await,
        }
    }

    /// How many times a routing collection ([`ROUTING_COLLECTIONS`]) has changed through any node: one small
    /// read, which nodes poll to learn that their routing snapshot is stale. 0 for a collection never written
    /// (and for the others, which keep no revision).
    pub async fn revision(&self, collection: Collection) -> Result<u64> {
        if !ROUTING_COLLECTIONS.contains(&collection) {
            return Ok(0);
        }
        match self {
            Store::Sqlite(s) => s.revision(collection).await,
            Store::Mongo(m) => m.revision(collection).await,
        }
    }

    /// Replaces a stored document only if its top-level `field` currently equals `expected` (a missing field
    /// counts as `null`): a compare-and-set, atomic in both backends, so two nodes racing to claim or update
    /// one document (a webhook delivery's lease) cannot both win. Whether it was replaced; `false` also when
    /// no document has this id.
    pub async fn replace_if(
        &self,
        collection: Collection,
        record: &Record,
        field: &str,
        expected: &Value,
    ) -> Result<bool> {
        record.check(collection)?;
        let replaced = match self {
            Store::Sqlite(s) => s.replace_if(collection, record, field, expected).await?,
            Store::Mongo(m) => m.replace_if(collection, record, field, expected).await?,
        };
        if replaced {
            self.changed(collection).await?;
        }
        Ok(replaced)
    }

    /// Stores `record` only if no document has its (`org_id`, `id`); whether it did. Atomic in both backends (a
    /// unique key, not a read then a write), so of any number of nodes claiming one id at once exactly one gets
    /// `true`: what one-use tokens are spent with ([`one_use::OneUseIds`]).
    pub async fn insert_if_absent(&self, collection: Collection, record: &Record) -> Result<bool> {
        record.check(collection)?;
        let inserted = match self {
            Store::Sqlite(s) => s.insert_if_absent(collection, record).await?,
            Store::Mongo(m) => m.insert_if_absent(collection, record).await?,
        };
        if inserted {
            self.changed(collection).await?;
        }
        Ok(inserted)
    }

    /// Stores each of `records` whose (`org_id`, `id`) no document has, leaving taken ids as they are (one
    /// SQLite transaction of `INSERT OR IGNORE`, or one unordered MongoDB `insert_many` whose duplicate keys are
    /// the taken ids): whether each was stored, in order. Adding many keys this way never reads what is there
    /// (a do-not-call list of a million numbers is not loaded to add ten).
    pub async fn insert_many_if_absent(&self, collection: Collection, records: &[Record]) -> Result<Vec<bool>> {
        for record in records {
            record.check(collection)?;
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let inserted = match self {
            Store::Sqlite(s) => s.insert_many_if_absent(collection, records).await?,
            Store::Mongo(m) => m.insert_many_if_absent(collection, records).await?,
        };
        if inserted.iter().any(|i| *i) {
            self.changed(collection).await?;
        }
        Ok(inserted)
    }

    /// Removes the documents of `collection`, all tenants, whose `expires_at` (a number, unix seconds) is before
    /// `now_secs`; how many. Documents without `expires_at` stay.
    pub async fn delete_expired(&self, collection: Collection, now_secs: u64) -> Result<u64> {
        let now = i64::try_from(now_secs).unwrap_or(i64::MAX);
        let deleted = match self {
            Store::Sqlite(s) => s.delete_expired(collection, now).await?,
            Store::Mongo(m) => m.delete_expired(collection, now).await?,
        };
        if deleted > 0 {
            self.changed(collection).await?;
        }
        Ok(deleted)
    }

    /// A tenant's document by id, or `None`.
    pub async fn get(&self, collection: Collection, org_id: &str, id: &str) -> Result<Option<Record>> {
        match self {
            Store::Sqlite(s) => s.get(collection, org_id, id).await,
            Store::Mongo(m) => m.get(collection, org_id, id).await,
        }
    }

    /// One page of a tenant's documents in descending id order (newest first where ids sort by time, as in
    /// [`Collection::AuditLog`]), skipping `skip`, and the tenant's total in the collection.
    pub async fn list_newest(
        &self,
        collection: Collection,
        org_id: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        match self {
            Store::Sqlite(s) => s.list_newest(collection, org_id, skip, limit).await,
            Store::Mongo(m) => m.list_newest(collection, org_id, skip, limit).await,
        }
    }

    /// One page of a tenant's documents in ascending id order (a do-not-call list by number), skipping `skip`,
    /// and the tenant's total in the collection.
    pub async fn list_page(
        &self,
        collection: Collection,
        org_id: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        match self {
            Store::Sqlite(s) => s.list_page(collection, org_id, skip, limit).await,
            Store::Mongo(m) => m.list_page(collection, org_id, skip, limit).await,
        }
    }

    /// [`Store::list_newest`] of only the documents whose top-level text `field` equals `value` (a webhook
    /// endpoint's deliveries), with their total. `field` is a plain name (letters, digits, `_`).
    pub async fn list_newest_where(
        &self,
        collection: Collection,
        org_id: &str,
        field: &str,
        value: &str,
        skip: u64,
        limit: u64,
    ) -> Result<(Vec<Record>, u64)> {
        if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::Invalid(format!("{}: cannot filter on the field {field:?}", collection.name())));
        }
        let filter = Some((field, value));
        match self {
            Store::Sqlite(s) => s.list_newest_where(collection, org_id, filter, skip, limit).await,
            Store::Mongo(m) => m.list_newest_where(collection, org_id, filter, skip, limit).await,
        }
    }

    /// A tenant's documents of one collection, by id.
    pub async fn list(&self, collection: Collection, org_id: &str) -> Result<Vec<Record>> {
        match self {
            Store::Sqlite(s) => s.list(collection, org_id).await,
            Store::Mongo(m) => m.list(collection, org_id).await,
        }
    }

    /// Documents with this id in any tenant (a login looks a user up by email before it knows the tenant).
    pub async fn find_id(&self, collection: Collection, id: &str) -> Result<Vec<Record>> {
        match self {
            Store::Sqlite(s) => s.find_id(collection, id).await,
            Store::Mongo(m) => m.find_id(collection, id).await,
        }
    }

    /// Every document of a collection, all tenants, by tenant and id (the routing snapshot of agents and
    /// numbers; not for collections that grow with traffic).
    pub async fn list_all(&self, collection: Collection) -> Result<Vec<Record>> {
        match self {
            Store::Sqlite(s) => s.list_all(collection).await,
            Store::Mongo(m) => m.list_all(collection).await,
        }
    }

    /// One page of the finished documents of `collection` (all tenants) older than a time, filtered and
    /// ordered in the store ([`FinishedBefore`]): a delivery-log sweep reads a page at a time, never the log.
    pub async fn list_finished_before(&self, collection: Collection, query: &FinishedBefore) -> Result<Vec<Record>> {
        query.check(collection)?;
        match self {
            Store::Sqlite(s) => s.list_finished_before(collection, query).await,
            Store::Mongo(m) => m.list_finished_before(collection, query).await,
        }
    }

    /// Removes a document; whether it existed.
    pub async fn delete(&self, collection: Collection, org_id: &str, id: &str) -> Result<bool> {
        let existed = match self {
            Store::Sqlite(s) => s.delete(collection, org_id, id).await?,
            Store::Mongo(m) => m.delete(collection, org_id, id).await?,
        };
        if existed {
            self.changed(collection).await?;
        }
        Ok(existed)
    }

    /// One page of a tenant's call history, filtered and sorted in the store.
    pub async fn query_call_logs(&self, query: &call_logs::CallLogQuery) -> Result<call_logs::CallLogPage> {
        match self {
            Store::Sqlite(s) => s.query_call_logs(query).await,
            Store::Mongo(m) => m.query_call_logs(query).await,
        }
    }

    /// The analytics of a tenant's calls matching `query` (its sort and page are ignored), in one pass.
    pub async fn call_stats(&self, query: &call_logs::CallLogQuery) -> Result<call_logs::CallStats> {
        match self {
            Store::Sqlite(s) => s.call_stats(query).await,
            Store::Mongo(m) => m.call_stats(query).await,
        }
    }

    /// Writes an agent's new name (`agent_type`) into the tenant's documents that refer to the agent by id
    /// (numbers, call history, campaigns and their contacts), as the original's rename cascaded; how many
    /// documents changed.
    pub async fn rename_agent(&self, org_id: &str, agent_id: &str, new_name: &str) -> Result<u64> {
        let changed = match self {
            Store::Sqlite(s) => s.rename_agent(org_id, agent_id, new_name).await?,
            Store::Mongo(m) => m.rename_agent(org_id, agent_id, new_name).await?,
        };
        if changed > 0 {
            // The numbers' documents name the agent too.
            self.changed(Collection::PhoneNumbers).await?;
        }
        Ok(changed)
    }

    /// The distinct non-empty text values of a call-log field in a tenant's history, sorted.
    pub async fn call_log_values(&self, org_id: &str, field: call_logs::FilterField) -> Result<Vec<String>> {
        let mut values = match self {
            Store::Sqlite(s) => s.call_log_values(org_id, field).await?,
            Store::Mongo(m) => m.call_log_values(org_id, field).await?,
        };
        values.retain(|v| !v.trim().is_empty());
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// Documents in a collection, all tenants.
    pub async fn count(&self, collection: Collection) -> Result<u64> {
        match self {
            Store::Sqlite(s) => s.count(collection).await,
            Store::Mongo(m) => m.count(collection).await,
        }
    }
}

/// Unix milliseconds now: the control plane's wall clock (store writes, spool ages, webhook and record times;
/// the call side's twin is `voicera_conversation::recorder::unix_ms`, a crate this one is not below). A clock
/// before 1970 reads 0.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// A time as stored documents write it: RFC 3339 UTC with milliseconds, always the same width
/// (`2024-11-19T07:06:40.000Z`), so text order is time order in both backends.
pub fn utc_text(unix_millis: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_millis) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        // Beyond year 9999 (no VoicEra date is): the number itself.
        .unwrap_or_else(|| unix_millis.to_string())
}

/// Lower-case hex of `bytes` (key fingerprints, key files, derived ids).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// Conformance tests every backend passes; the MongoDB run is in `tests/mongodb.rs`.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod conformance {
    use super::*;
    use serde_json::json;

    fn record(org: &str, id: &str, doc: Value) -> Record {
        Record { org_id: org.into(), id: id.into(), doc }
    }

    /// Puts, gets, lists, isolates tenants, deletes; panics on the first difference.
    pub async fn run(store: &Store) {
        let agent = record("org1", "sales", json!({"name": "Sales", "config": {"language": "Hindi", "top_k": 3}}));
        assert_eq!(store.put(Collection::Agents, &agent).await.unwrap(), Written::Inserted);
        assert_eq!(store.put(Collection::Agents, &agent).await.unwrap(), Written::Unchanged);
        let changed = record("org1", "sales", json!({"name": "Sales 2", "config": {"language": "Hindi", "top_k": 3}}));
        assert_eq!(store.put(Collection::Agents, &changed).await.unwrap(), Written::Updated);
        assert_eq!(store.get(Collection::Agents, "org1", "sales").await.unwrap(), Some(changed.clone()));

        // The same id in another tenant is another document, and each tenant sees only its own.
        let other = record("org2", "sales", json!({"name": "Other tenant"}));
        store.put(Collection::Agents, &other).await.unwrap();
        store.put(Collection::Agents, &record("org1", "support", json!({"name": "Support"}))).await.unwrap();
        let ids: Vec<String> =
            store.list(Collection::Agents, "org1").await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["sales", "support"]);
        assert_eq!(store.list(Collection::Agents, "org2").await.unwrap(), vec![other.clone()]);
        assert_eq!(store.get(Collection::Agents, "org2", "support").await.unwrap(), None);
        assert_eq!(store.find_id(Collection::Agents, "sales").await.unwrap().len(), 2);
        assert_eq!(store.count(Collection::Agents).await.unwrap(), 3);
        // Collections are separate.
        assert_eq!(store.count(Collection::Users).await.unwrap(), 0);

        assert!(store.delete(Collection::Agents, "org1", "support").await.unwrap());
        assert!(!store.delete(Collection::Agents, "org1", "support").await.unwrap());
        assert_eq!(store.count(Collection::Agents).await.unwrap(), 2);

        // Documents keep what JSON can say: unicode, nesting, large integers, floats, nulls.
        let rich = record(
            "org1",
            "हिन्दी-agent",
            json!({"prompt": "नमस्ते 👋 \"quoted\"", "n": 9007199254740993_i64, "f": 0.3, "none": null, "list": [1, {"a": []}]}),
        );
        store.put(Collection::Agents, &rich).await.unwrap();
        assert_eq!(store.get(Collection::Agents, "org1", "हिन्दी-agent").await.unwrap(), Some(rich));

        // A document that is not an object, or has no tenant, is refused with a message naming it.
        let err = store.put(Collection::Agents, &record("org1", "x", json!([1]))).await.unwrap_err();
        assert!(err.to_string().contains("must be a JSON object"), "{err}");
        let err = store.put(Collection::Agents, &record("", "x", json!({}))).await.unwrap_err();
        assert!(err.to_string().contains("needs an org_id"), "{err}");

        // Pages newest first (descending id), with the tenant's total.
        for i in 0..5 {
            let entry = record("org1", &format!("{:013}-{i}", 1_732_000_000_000_i64 + i), json!({"n": i}));
            store.put(Collection::AuditLog, &entry).await.unwrap();
        }
        store.put(Collection::AuditLog, &record("org2", "9999999999999-x", json!({"n": 99}))).await.unwrap();
        let (page, total) = store.list_newest(Collection::AuditLog, "org1", 1, 2).await.unwrap();
        let ns: Vec<&Value> = page.iter().map(|r| &r.doc["n"]).collect();
        assert_eq!((ns, total), (vec![&json!(3), &json!(2)], 5));
        let (page, _) = store.list_newest(Collection::AuditLog, "org1", 4, 10).await.unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(store.list_newest(Collection::AuditLog, "org3", 0, 10).await.unwrap(), (vec![], 0));
        store.ping().await.unwrap();
        revisions(store).await;
        bulk_and_conditional_writes(store).await;
        compare_and_set(store).await;
        insert_if_absent(store).await;
        insert_many_if_absent_and_pages(store).await;
        finished_before(store).await;
        campaign_slots(store).await;
        campaign_dials(store).await;
        campaign_pacing(store).await;
        get_many(store).await;
    }

    /// The dial registry's use of the store: a dial registered by one node is found by its id alone from any
    /// node (the webhook does not name the org), and notes appended at once by many nodes (compare-and-set on
    /// `version`, re-read on a lost race) are all kept, in one order.
    async fn campaign_dials(store: &Store) {
        let coll = Collection::CampaignDials;
        let dial = record("org1", "5f0e", json!({"agent": "caller", "notes": [], "version": 1, "expires_at": 10}));
        assert!(store.insert_if_absent(coll, &dial).await.unwrap());
        assert!(!store.insert_if_absent(coll, &dial).await.unwrap(), "a dial id is registered once");
        let found = store.find_id(coll, "5f0e").await.unwrap();
        assert_eq!(found, vec![dial.clone()], "found without its org");
        assert!(store.find_id(coll, "5f0").await.unwrap().is_empty(), "by the whole id only");
        let mut writers = Vec::new();
        for node in 0..8 {
            let store = store.clone();
            writers.push(tokio::spawn(async move {
                for _ in 0..50 {
                    let current = store.find_id(coll, "5f0e").await.unwrap().pop().unwrap();
                    let version = current.doc["version"].as_u64().unwrap();
                    let mut next = current.clone();
                    next.doc["notes"].as_array_mut().unwrap().push(json!({"node": node}));
                    next.doc["version"] = json!(version + 1);
                    if store.put_if_version(coll, &next, Some(version)).await.unwrap() {
                        return true;
                    }
                }
                false
            }));
        }
        for writer in writers {
            assert!(writer.await.unwrap(), "every note is recorded after a few re-reads");
        }
        let stored = store.get(coll, "org1", "5f0e").await.unwrap().unwrap();
        let mut nodes: Vec<u64> =
            stored.doc["notes"].as_array().unwrap().iter().map(|n| n["node"].as_u64().unwrap()).collect();
        assert_eq!(stored.doc["version"], json!(9));
        nodes.sort_unstable();
        assert_eq!(nodes, (0..8).collect::<Vec<u64>>(), "no note lost to a concurrent writer");
        // A dead node's dial lapses and is swept; a live one stays.
        store.put(coll, &record("org2", "77aa", json!({"expires_at": 1_000_000}))).await.unwrap();
        assert_eq!(store.delete_expired(coll, 500).await.unwrap(), 1);
        assert_eq!(store.find_id(coll, "5f0e").await.unwrap(), vec![]);
        assert!(store.delete(coll, "org2", "77aa").await.unwrap());
    }

    /// The campaign-wide pacing claim: nodes claiming the same start at once (insert-if-absent for the
    /// first, compare-and-set on `version` after) get it exactly once, round after round.
    async fn campaign_pacing(store: &Store) {
        let coll = Collection::CampaignPacing;
        for round in 0..5_u64 {
            let read = store.get(coll, "org1", "b1").await.unwrap();
            let mut racers = Vec::new();
            for node in 0..8 {
                let (store, read) = (store.clone(), read.clone());
                racers.push(tokio::spawn(async move {
                    let next =
                        record("org1", "b1", json!({"next_at_us": round * 1000, "version": round + 1, "node": node}));
                    let expected = read.map(|r| r.doc["version"].as_u64().unwrap());
                    store.put_if_version(coll, &next, expected).await.unwrap()
                }));
            }
            let mut won = 0;
            for racer in racers {
                won += usize::from(racer.await.unwrap());
            }
            assert_eq!(won, 1, "round {round}: one start for eight claims on one read");
        }
        let stored = store.get(coll, "org1", "b1").await.unwrap().unwrap();
        assert_eq!((stored.doc["version"].as_u64(), stored.doc["next_at_us"].as_u64()), (Some(5), Some(4000)));
        assert!(store.delete(coll, "org1", "b1").await.unwrap());
    }

    /// [`Store::get_many`]: a tenant's documents among many ids, by id, across chunks, each once.
    async fn get_many(store: &Store) {
        let coll = Collection::DoNotCall;
        let listed: Vec<Record> =
            (0..1_500).step_by(3).map(|i| record("org9", &format!("+1555{i:07}"), json!({"n": i}))).collect();
        store.put_many(coll, &listed).await.unwrap();
        store.put(coll, &record("org8", "+15550000001", json!({}))).await.unwrap();
        let mut asked: Vec<String> = (0..2_500).map(|i| format!("+1555{i:07}")).collect();
        asked.push("+15550000003".into());
        let found = store.get_many(coll, "org9", &asked).await.unwrap();
        let ids: Vec<&str> = found.iter().map(|r| r.id.as_str()).collect();
        let expected: Vec<String> = (0..1_500).step_by(3).map(|i| format!("+1555{i:07}")).collect();
        assert_eq!(ids, expected, "every listed number once, in id order, nobody else's");
        assert_eq!(found[1].doc["n"], json!(3));
        assert!(store.get_many(coll, "org8", &asked[..1]).await.unwrap().is_empty());
        assert!(store.get_many(coll, "org9", &[]).await.unwrap().is_empty());
        assert_eq!(store.delete_prefix(coll, "org9", "+1555").await.unwrap(), 500);
        assert!(store.delete(coll, "org8", "+15550000001").await.unwrap());
    }

    /// [`Store::list_finished_before`]: filtered by status and time (the fallback where the time is missing
    /// or null), all tenants, in (org, id) pages that deleting between pages does not shift.
    pub async fn finished_before(store: &Store) {
        let coll = Collection::WebhookDeliveries;
        let at = |day: u32| format!("2026-11-{day:02}T00:00:00.000Z");
        // Earlier parts of the suite left documents of their own here: none matches, and they stay.
        let before = store.count(coll).await.unwrap();
        for (org, id, doc) in [
            ("org1", "d1", json!({"status": "delivered", "finished_at": at(1), "created_at": at(1)})),
            ("org1", "d2", json!({"status": "failed", "finished_at": at(2), "created_at": at(1)})),
            ("org1", "d3", json!({"status": "delivered", "finished_at": at(20), "created_at": at(1)})),
            ("org1", "d4", json!({"status": "pending", "created_at": at(1)})),
            ("org1", "d5", json!({"status": "delivered", "created_at": at(3)})),
            ("org1", "d6", json!({"status": "cancelled", "finished_at": null, "created_at": at(4)})),
            ("org2", "d1", json!({"status": "delivered", "finished_at": at(5)})),
            ("org2", "d2", json!({"status": "delivered", "finished_at": 5})),
            ("org2", "d3", json!({"status": "delivered"})),
        ] {
            store.put(coll, &record(org, id, doc)).await.unwrap();
        }
        let query = |after: Option<(&str, &str)>, limit: u64| FinishedBefore {
            statuses: vec!["delivered".into(), "failed".into(), "cancelled".into()],
            time_field: "finished_at".into(),
            fallback_time_field: "created_at".into(),
            before: at(10),
            after: after.map(|(o, i)| (o.to_string(), i.to_string())),
            limit,
        };
        let keys = |page: &[Record]| page.iter().map(|r| (r.org_id.clone(), r.id.clone())).collect::<Vec<_>>();
        let key = |o: &str, i: &str| (o.to_string(), i.to_string());
        let all = store.list_finished_before(coll, &query(None, 100)).await.unwrap();
        assert_eq!(
            keys(&all),
            [key("org1", "d1"), key("org1", "d2"), key("org1", "d5"), key("org1", "d6"), key("org2", "d1")],
            "finished before the time (else created before it), not pending, a number is no time"
        );
        // Pages of two, deleting each page before reading the next: nothing skipped, nothing twice.
        let mut seen = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = store
                .list_finished_before(coll, &query(after.as_ref().map(|(o, i)| (o.as_str(), i.as_str())), 2))
                .await
                .unwrap();
            assert!(page.len() <= 2);
            for r in &page {
                assert!(store.delete(coll, &r.org_id, &r.id).await.unwrap());
            }
            seen.extend(keys(&page));
            match page.last() {
                Some(last) if page.len() == 2 => after = Some((last.org_id.clone(), last.id.clone())),
                _ => break,
            }
        }
        assert_eq!(seen, keys(&all));
        assert_eq!(store.count(coll).await.unwrap(), before + 4, "the pending, recent and untimed ones stay");
        let bad = FinishedBefore { time_field: "a.b".into(), ..query(None, 1) };
        assert!(store.list_finished_before(coll, &bad).await.is_err());
        assert!(store.list_finished_before(coll, &query(None, 0)).await.is_err());
        for (org, id) in [("org1", "d3"), ("org1", "d4"), ("org2", "d2"), ("org2", "d3")] {
            store.delete(coll, org, id).await.unwrap();
        }
    }

    /// Live-call slots: of many claimers racing for `limit` slot ids (insert-if-absent, then compare-and-set on
    /// `version` to take over a lapsed one), each slot goes to exactly one, and a batch's prefix lists its own
    /// slots only (`b1:` is not `b10:`).
    async fn campaign_slots(store: &Store) {
        let limit = 3;
        let mut racers = Vec::new();
        for node in 0..8 {
            let store = store.clone();
            racers.push(tokio::spawn(async move {
                for slot in 0..limit {
                    let claim = record("org1", &format!("b1:{slot}"), json!({"node": node, "version": 1}));
                    if store.insert_if_absent(Collection::CampaignSlots, &claim).await.unwrap() {
                        return Some(slot);
                    }
                }
                None
            }));
        }
        let mut won = Vec::new();
        for racer in racers {
            if let Some(slot) = racer.await.unwrap() {
                won.push(slot);
            }
        }
        won.sort_unstable();
        assert_eq!(won, [0, 1, 2], "each slot to exactly one claimer");
        store.put(Collection::CampaignSlots, &record("org1", "b10:0", json!({"version": 1}))).await.unwrap();
        let listed: Vec<String> = store
            .list_prefix(Collection::CampaignSlots, "org1", "b1:")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(listed, ["b1:0", "b1:1", "b1:2"]);
        // A lapsed slot is taken over by compare-and-set on the version read: two takeovers, one winner.
        let a = record("org1", "b1:1", json!({"node": "a", "version": 2}));
        let b = record("org1", "b1:1", json!({"node": "b", "version": 2}));
        let (a, b) = tokio::join!(
            store.put_if_version(Collection::CampaignSlots, &a, Some(1)),
            store.put_if_version(Collection::CampaignSlots, &b, Some(1))
        );
        assert!(a.unwrap() ^ b.unwrap(), "one takeover wins");
        assert_eq!(store.delete_prefix(Collection::CampaignSlots, "org1", "b1:").await.unwrap(), 3);
        assert!(store.delete(Collection::CampaignSlots, "org1", "b10:0").await.unwrap());
    }

    /// `put_many` loads many documents at once (replacing those it finds), `put_if_version` writes only over
    /// the version read (or only where nothing is), and prefixes select and delete a campaign's contacts.
    async fn bulk_and_conditional_writes(store: &Store) {
        let contact = |batch: &str, row: usize, version: u64| {
            record("org1", &format!("{batch}:{row}"), json!({"row_number": row, "version": version}))
        };
        let many: Vec<Record> = (0..2_000).map(|row| contact("b1", row, 0)).collect();
        assert_eq!(store.put_many(Collection::BatchContacts, &many).await.unwrap(), 2_000);
        assert_eq!(store.put_many(Collection::BatchContacts, &[]).await.unwrap(), 0);
        // A second load over some of the same ids replaces them and adds the rest.
        let again: Vec<Record> = (1_990..2_010).map(|row| contact("b1", row, 7)).collect();
        assert_eq!(store.put_many(Collection::BatchContacts, &again).await.unwrap(), 20);
        store.put(Collection::BatchContacts, &contact("b10", 1, 0)).await.unwrap();
        store.put(Collection::BatchContacts, &record("org2", "b1:1", json!({"version": 0}))).await.unwrap();
        let b1 = store.list_prefix(Collection::BatchContacts, "org1", "b1:").await.unwrap();
        assert_eq!(b1.len(), 2_010, "another batch's and another org's contacts are not listed");
        assert_eq!(store.get(Collection::BatchContacts, "org1", "b1:1995").await.unwrap().unwrap().doc["version"], 7);
        let bad = [contact("b1", 1, 0), record("org1", "", json!({}))];
        assert!(store.put_many(Collection::BatchContacts, &bad).await.is_err(), "checked before anything is written");

        // Compare-and-set on the version: the first writer wins, the second learns it lost.
        let claimed = contact("b1", 5, 1);
        assert!(store.put_if_version(Collection::BatchContacts, &claimed, Some(0)).await.unwrap());
        assert!(!store.put_if_version(Collection::BatchContacts, &contact("b1", 5, 1), Some(0)).await.unwrap());
        assert_eq!(store.get(Collection::BatchContacts, "org1", "b1:5").await.unwrap(), Some(claimed));
        assert!(store.put_if_version(Collection::BatchContacts, &contact("b1", 5, 2), Some(1)).await.unwrap());
        assert!(!store.put_if_version(Collection::BatchContacts, &contact("b1", 99_999, 1), Some(0)).await.unwrap());
        assert_eq!(store.get(Collection::BatchContacts, "org1", "b1:99999").await.unwrap(), None);
        // Insert-if-absent.
        assert!(store.put_if_version(Collection::BatchContacts, &contact("b2", 1, 0), None).await.unwrap());
        assert!(!store.put_if_version(Collection::BatchContacts, &contact("b2", 1, 9), None).await.unwrap());
        assert_eq!(store.get(Collection::BatchContacts, "org1", "b2:1").await.unwrap().unwrap().doc["version"], 0);

        assert_eq!(store.delete_prefix(Collection::BatchContacts, "org1", "b1:").await.unwrap(), 2_010);
        assert!(store.list_prefix(Collection::BatchContacts, "org1", "b1:").await.unwrap().is_empty());
        assert_eq!(store.list_prefix(Collection::BatchContacts, "org1", "b10:").await.unwrap().len(), 1);
        assert_eq!(store.list_prefix(Collection::BatchContacts, "org2", "b1:").await.unwrap().len(), 1);
        assert!(store.delete_prefix(Collection::BatchContacts, "org1", "").await.is_err());
    }

    /// `replace_if` replaces only when the field holds what the caller saw, so of two racing claims one wins.
    async fn compare_and_set(store: &Store) {
        let entry = record("org1", "d1", json!({"rev": 0, "due_ms": 5}));
        let claim = record("org1", "d1", json!({"rev": 1, "due_ms": 5, "lease_owner": "node-a"}));
        assert!(!store.replace_if(Collection::WebhookQueue, &claim, "rev", &json!(0)).await.unwrap(), "no document");
        store.put(Collection::WebhookQueue, &entry).await.unwrap();
        assert!(store.replace_if(Collection::WebhookQueue, &claim, "rev", &json!(0)).await.unwrap());
        let late = record("org1", "d1", json!({"rev": 1, "due_ms": 5, "lease_owner": "node-b"}));
        assert!(!store.replace_if(Collection::WebhookQueue, &late, "rev", &json!(0)).await.unwrap(), "stale rev");
        assert_eq!(store.get(Collection::WebhookQueue, "org1", "d1").await.unwrap(), Some(claim.clone()));
        // Another tenant's document with the same id is not touched.
        let other = record("org2", "d1", json!({"rev": 1}));
        assert!(!store.replace_if(Collection::WebhookQueue, &other, "rev", &json!(1)).await.unwrap());
        // A missing field compares as null; strings compare as strings.
        let owned = record("org1", "d1", json!({"rev": 2, "lease_owner": "node-a"}));
        assert!(!store.replace_if(Collection::WebhookQueue, &owned, "absent", &json!("x")).await.unwrap());
        assert!(store.replace_if(Collection::WebhookQueue, &owned, "absent", &Value::Null).await.unwrap());
        let freed = record("org1", "d1", json!({"rev": 3}));
        assert!(store.replace_if(Collection::WebhookQueue, &freed, "lease_owner", &json!("node-a")).await.unwrap());
        assert_eq!(store.get(Collection::WebhookQueue, "org1", "d1").await.unwrap(), Some(freed));
        assert!(store.delete(Collection::WebhookQueue, "org1", "d1").await.unwrap());

        // Newest first, filtered on a field, with the filtered total.
        for (i, endpoint) in ["we_a", "we_b", "we_a", "we_a"].iter().enumerate() {
            let delivery = record("org1", &format!("170000000000{i}-x"), json!({"endpoint_id": endpoint, "n": i}));
            store.put(Collection::WebhookDeliveries, &delivery).await.unwrap();
        }
        store
            .put(Collection::WebhookDeliveries, &record("org2", "1800000000000-x", json!({"endpoint_id": "we_a"})))
            .await
            .unwrap();
        let (page, total) =
            store.list_newest_where(Collection::WebhookDeliveries, "org1", "endpoint_id", "we_a", 1, 5).await.unwrap();
        let ns: Vec<&Value> = page.iter().map(|r| &r.doc["n"]).collect();
        assert_eq!((ns, total), (vec![&json!(2), &json!(0)], 3));
        let (page, total) =
            store.list_newest_where(Collection::WebhookDeliveries, "org1", "endpoint_id", "we_c", 0, 5).await.unwrap();
        assert_eq!((page.len(), total), (0, 0));
        assert!(store.list_newest_where(Collection::WebhookDeliveries, "org1", "a'b", "x", 0, 5).await.is_err());
    }

    /// Insert-if-absent stores a document only under a free key; expired documents go, others stay.
    async fn insert_if_absent(store: &Store) {
        let spent = record("_platform", "token-1", json!({"expires_at": 1_300}));
        assert!(store.insert_if_absent(Collection::UsedTokens, &spent).await.unwrap(), "a free key");
        let again = record("_platform", "token-1", json!({"expires_at": 9_999}));
        assert!(!store.insert_if_absent(Collection::UsedTokens, &again).await.unwrap(), "a taken key");
        assert_eq!(store.get(Collection::UsedTokens, "_platform", "token-1").await.unwrap(), Some(spent));
        let elsewhere = record("org1", "token-1", json!({"expires_at": 1_500}));
        assert!(store.insert_if_absent(Collection::UsedTokens, &elsewhere).await.unwrap(), "keys are per tenant");
        let no_expiry = record("org1", "token-2", json!({"note": "kept"}));
        assert!(store.insert_if_absent(Collection::UsedTokens, &no_expiry).await.unwrap());
        assert!(store.insert_if_absent(Collection::UsedTokens, &record("", "x", json!({}))).await.is_err());
        assert_eq!(store.delete_expired(Collection::UsedTokens, 1_300).await.unwrap(), 0, "not before expiry");
        assert_eq!(store.delete_expired(Collection::UsedTokens, 1_301).await.unwrap(), 1);
        assert_eq!(store.delete_expired(Collection::UsedTokens, 99_999).await.unwrap(), 1);
        let left: Vec<String> =
            store.list_all(Collection::UsedTokens).await.unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(left, ["token-2"], "documents without an expiry stay");
        assert!(store.delete(Collection::UsedTokens, "org1", "token-2").await.unwrap());
    }

    /// Many keys added at once without reading what is there; ascending pages with the total.
    async fn insert_many_if_absent_and_pages(store: &Store) {
        let listed = record("org1", "+15551000002", json!({"reason": "first"}));
        assert!(store.insert_if_absent(Collection::DoNotCall, &listed).await.unwrap());
        let batch: Vec<Record> = ["+15551000003", "+15551000002", "+15551000001", "+15551000004"]
            .iter()
            .map(|n| record("org1", n, json!({"reason": "batch"})))
            .collect();
        let inserted = store.insert_many_if_absent(Collection::DoNotCall, &batch).await.unwrap();
        assert_eq!(inserted, [true, false, true, true]);
        let kept = store.get(Collection::DoNotCall, "org1", "+15551000002").await.unwrap().unwrap();
        assert_eq!(kept.doc["reason"], "first", "a taken id keeps its document");
        assert_eq!(store.insert_many_if_absent(Collection::DoNotCall, &batch).await.unwrap(), [false; 4]);
        assert!(store.insert_many_if_absent(Collection::DoNotCall, &[]).await.unwrap().is_empty());
        assert!(store.insert_many_if_absent(Collection::DoNotCall, &[record("", "x", json!({}))]).await.is_err());
        let other = record("org2", "+15551000001", json!({}));
        assert_eq!(store.insert_many_if_absent(Collection::DoNotCall, &[other]).await.unwrap(), [true]);

        let ids = |page: &[Record]| page.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        let (page, total) = store.list_page(Collection::DoNotCall, "org1", 0, 3).await.unwrap();
        assert_eq!((ids(&page), total), (vec!["+15551000001".into(), "+15551000002".into(), "+15551000003".into()], 4));
        let (page, total) = store.list_page(Collection::DoNotCall, "org1", 3, 3).await.unwrap();
        assert_eq!((ids(&page), total), (vec!["+15551000004".to_string()], 4));
        let (page, total) = store.list_page(Collection::DoNotCall, "org1", 9, 3).await.unwrap();
        assert_eq!((page.len(), total), (0, 4));
        assert_eq!(store.delete_prefix(Collection::DoNotCall, "org1", "+1555").await.unwrap(), 4);
        assert_eq!(store.delete_prefix(Collection::DoNotCall, "org2", "+1555").await.unwrap(), 1);
    }

    /// Every landed write to a routing collection bumps its revision; no-op writes and other collections do not.
    async fn revisions(store: &Store) {
        let agents = store.revision(Collection::Agents).await.unwrap();
        assert!(agents > 0, "the writes above were counted");
        assert_eq!(store.revision(Collection::PhoneNumbers).await.unwrap(), 0);
        let number = record("org1", "918000000001", json!({"phone_number": "+918000000001", "agent_id": "sales"}));
        store.put(Collection::PhoneNumbers, &number).await.unwrap();
        assert_eq!(store.revision(Collection::PhoneNumbers).await.unwrap(), 1);
        store.put(Collection::PhoneNumbers, &number).await.unwrap();
        assert_eq!(store.revision(Collection::PhoneNumbers).await.unwrap(), 1, "an unchanged document is no change");
        assert_eq!(store.rename_agent("org1", "sales", "Sales 3").await.unwrap(), 1);
        assert_eq!(store.revision(Collection::PhoneNumbers).await.unwrap(), 2, "a rename rewrites the number");
        assert!(store.delete(Collection::PhoneNumbers, "org1", "918000000001").await.unwrap());
        assert!(!store.delete(Collection::PhoneNumbers, "org1", "918000000001").await.unwrap());
        assert_eq!(store.revision(Collection::PhoneNumbers).await.unwrap(), 3, "a delete of nothing is no change");
        store.put(Collection::Users, &record("org1", "a@b.c", json!({}))).await.unwrap();
        assert_eq!(store.revision(Collection::Users).await.unwrap(), 0);
        assert_eq!(store.revision(Collection::Agents).await.unwrap(), agents);

        // All tenants' documents at once, by tenant then id.
        let all: Vec<(String, String)> =
            store.list_all(Collection::Agents).await.unwrap().into_iter().map(|r| (r.org_id, r.id)).collect();
        assert_eq!(
            all,
            [
                ("org1".to_string(), "sales".to_string()),
                ("org1".into(), "हिन्दी-agent".into()),
                ("org2".into(), "sales".into())
            ]
        );
    }
}

/// A SecantusDB server (MongoDB wire protocol, from PyPI) on a loopback port for tests; killed on drop.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod testing {
    use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use mongodb::bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime, Document};

    pub const OPENAI_KEY: &str = "sk-proj-ORIGINALplaintextKEY0042";
    pub const VOBIZ_TOKEN: &str = "vobiz-token-9f8e7d6c5b4a";
    pub const CUSTOM_KEY: &str = "vllm-key-abcdef123456";

    /// A bcrypt-shaped hash (60 characters).
    pub fn bcrypt(tag: char) -> String {
        format!("$2b$12${}", tag.to_string().repeat(53))
    }

    /// Writes an original VoicEra database into `database` at `uri`, with the document shapes its backend writes
    /// (pymongo: datetimes, ObjectIds, bcrypt hashes as bytes or text, nested agent configs), including one
    /// call log without a tenant (a crashed voice server's) and a vestigial Campaigns collection. 15 documents
    /// are importable.
    pub async fn seed_original(uri: &str, database: &str) {
        let db = crate::mongo::database_at(uri, Some(database)).await.unwrap();
        let now = DateTime::from_millis(1_732_000_000_000);
        let insert = |name: &'static str, docs: Vec<Document>| {
            let db = db.clone();
            async move { db.collection::<Document>(name).insert_many(docs).await.unwrap() }
        };
        let hash_bytes = Binary { subtype: BinarySubtype::Generic, bytes: bcrypt('a').into_bytes() };
        insert(
            "UserTable",
            vec![
                doc! {"_id": ObjectId::new(), "email": "Asha@Example.com", "password": hash_bytes, "name": "Asha", "org_id": "a1b2c3",
                      "company_name": "Acme", "is_member": false, "created_at": now,
                      "reset_token": "tok", "reset_token_expires": now, "reset_token_used": false},
                doc! {"email": "ravi@example.com", "password": bcrypt('b'), "name": "Ravi", "org_id": "a1b2c3", "company_name": "Acme",
                      "is_member": true, "created_at": now},
            ],
        )
        .await;
        insert("Members", vec![doc! {"email": "ravi@example.com", "org_id": "a1b2c3", "created_at": now}]).await;
        let agent_config = doc! {
            "interaction_mode": "conversational",
            "system_prompt": "आप एक सहायक हैं। Be brief.",
            "greeting_message": "नमस्ते! How can I help?",
            "language": "Hindi",
            "llm_model": {"name": "OpenAI", "model": "gpt-4o-mini", "args": {"temperature": 0.2}},
            "stt_model": {"name": "deepgram", "model": "nova-2", "keywords": ["Acme"]},
            "tts_model": {"name": "cartesia", "args": {"model": "sonic-2", "voice_id": "v-123"}, "speed": 1.1},
            "ignore_user_speech_before_greeting": true,
            "interruption_min_words": 1,
            "call_timeout_seconds": 600,
            "hold_messages": ["एक क्षण", "One moment"],
            "knowledge_base_enabled": true,
            "knowledge_document_ids": ["doc-1"],
            "knowledge_top_k": 3,
        };
        insert(
            "AgentConfig",
            vec![
                doc! {"agent_type": "Sales Agent", "agent_id": "sales_agent", "org_id": "a1b2c3", "agent_category": "voicera_telephony",
                      "phone_number": "+918000000001", "telephony_provider": "Vobiz", "vobiz_app_id": "app-77",
                      "vobiz_answer_url": "https://old.example/answer?agent_id=sales_agent", "created_at": now, "updated_at": now,
                      "agent_config": agent_config.clone()},
                doc! {"agent_type": "Demo", "agent_id": "demo", "org_id": "a1b2c3", "agent_config": {"system_prompt": "x"}},
                doc! {"agent_type": "Sales Agent", "agent_id": "sales_agent", "org_id": "ffffff", "agent_config": {"system_prompt": "other"}},
            ],
        )
        .await;
        insert(
            "PhoneNumber",
            vec![doc! {"phone_number": "+918000000001", "provider": "Vobiz", "agent_type": "Sales Agent", "org_id": "a1b2c3",
                       "last_link_action": "attached", "last_link_agent_type": "Sales Agent", "last_link_by_email": "asha@example.com",
                       "last_link_at": now, "created_at": now, "updated_at": now}],
        )
        .await;
        insert(
            "Integrations",
            vec![
                doc! {"org_id": "a1b2c3", "model": "OpenAI", "api_key": OPENAI_KEY, "created_at": now, "updated_at": now},
                doc! {"org_id": "a1b2c3", "model": "VobizAuthToken", "api_key": VOBIZ_TOKEN, "created_at": now, "updated_at": now},
            ],
        )
        .await;
        insert(
            "CustomLLMIntegrations",
            vec![doc! {"org_id": "a1b2c3", "name": "Our vLLM", "base_url": "http://10.0.0.5:8003/v1", "api_key": CUSTOM_KEY, "model": "Qwen/Qwen3-8B"}],
        )
        .await;
        insert(
            "CallLogs",
            vec![
                doc! {"meeting_id": "CA-1111", "agent_type": "Sales Agent", "org_id": "a1b2c3", "inbound": true,
                      "from_number": "+919900000001", "to_number": "+918000000001", "created_at": now, "start_time_utc": now,
                      "end_time_utc": DateTime::from_millis(1_732_000_042_500), "call_busy": false, "duration": 42.5,
                      "recording_url": "minio://recordings/CA-1111.wav", "transcript_url": "minio://transcripts/CA-1111.txt",
                      "transcript_content": "[2024-11-19T07:06:40Z] user: नमस्ते\n[2024-11-19T07:06:41Z] assistant: Hello!",
                      "latency_metrics": {"turns": [{"turn_index": 1, "user_text_preview": "नमस्ते", "stt_ms": 180, "llm_ttfb_ms": 420, "tts_first_chunk_ms": 150}],
                                          "summary": {"turn_count": 1, "avg_stt_ms": 180.0}},
                      "agent_config": agent_config},
                // Written by a crashed voice server: no tenant. Reported, not imported.
                doc! {"meeting_id": "CA-2222", "agent_type": "Sales Agent"},
            ],
        )
        .await;
        insert(
            "KnowledgeDocuments",
            vec![doc! {"document_id": "doc-1", "org_id": "a1b2c3", "original_filename": "pricing.pdf", "status": "ready", "chunk_count": 12,
                       "embedding_model": "text-embedding-3-small"}],
        )
        .await;
        insert(
            "Batches",
            vec![doc! {"batch_id": "b-1", "org_id": "a1b2c3", "batch_name": "November", "agent_type": "Sales Agent", "concurrency": 5,
                       "status": "completed", "execution_status": "completed", "total_contacts": 2, "valid_contacts": 1, "invalid_contacts": 1}],
        )
        .await;
        insert(
            "BatchContacts",
            vec![
                doc! {"batch_id": "b-1", "org_id": "a1b2c3", "agent_type": "Sales Agent", "row_number": 2, "contact_number": "+919900000002",
                      "is_valid": true, "status": "called", "dynamic_fields": {"name": "Meera", "plan": "gold"}},
                doc! {"batch_id": "b-1", "org_id": "a1b2c3", "agent_type": "Sales Agent", "row_number": 3, "contact_number": "12",
                      "is_valid": false, "status": "invalid", "error_message": "invalid number"},
            ],
        )
        .await;
        insert("Campaigns", vec![doc! {"name": "old", "org_id": "a1b2c3"}]).await;
    }

    pub struct SecantusServer {
        child: Child,
        pub uri: String,
    }

    impl SecantusServer {
        /// Starts `secantusd-py` (on PATH, or in the workspace's `.venv` made by scripts/setup.sh) with in-memory
        /// storage and waits until it accepts connections.
        pub fn start() -> SecantusServer {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
            SecantusServer::start_on(port)
        }

        /// [`SecantusServer::start`] on `port` (a server that comes up where a node already looks for it).
        pub fn start_on(port: u16) -> SecantusServer {
            let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/secantusd-py");
            let program = if venv.exists() { venv } else { PathBuf::from("secantusd-py") };
            let child = Command::new(&program)
                .args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--storage-path",
                    ":memory:",
                    "--log-level",
                    "WARNING",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("{}: {e} (scripts/setup.sh installs SecantusDB into .venv)", program.display())
                });
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let deadline = Instant::now() + Duration::from_secs(30);
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                assert!(Instant::now() < deadline, "SecantusDB did not listen on {addr} within 30 s");
                std::thread::sleep(Duration::from_millis(100));
            }
            SecantusServer {
                child,
                uri: format!("mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=5000"),
            }
        }
    }

    impl Drop for SecantusServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_fixed_width_utc_text() {
        assert_eq!(super::utc_text(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::utc_text(1_732_000_042_500), "2024-11-19T07:07:22.500Z");
        assert_eq!(super::utc_text(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(super::utc_text(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(super::utc_text(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }
}
