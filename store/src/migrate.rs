//! `voicera migrate --from-mongodb URI`: imports an original VoicEra database into this platform's [`Store`].
//!
//! The original's documents already use snake_case names that the API keeps, so a document comes across with
//! its fields as they are (dates as RFC 3339 text, the MongoDB `_id` kept as `legacy_id`) and these changes:
//! - each lands in its tenant (`org_id`) under a stable id (email, agent id, number digits, call id, ...), so a
//!   second run updates in place and reports what changed;
//! - provider keys (`Integrations`, `CustomLLMIntegrations`) are sealed with the master key, with a masked hint;
//!   the original stored them in plain text;
//! - bcrypt password hashes are kept (`password_hash`, `password_scheme`) so users log in with their passwords;
//!   live password-reset tokens are dropped;
//! - references by agent name (`agent_type`) gain the agent's id (`agent_id`).
//!
//! Vestigial collections (Campaigns, Audience, ...) and the raw CSV uploads in GridFS are reported, not imported.
//! A document that cannot be imported (no tenant, no id) is listed with the reason; the others still are.
//! The source database is only read.

use std::collections::{BTreeMap, HashMap};

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, Document};
use serde_json::{Map, Value};

use crate::mongo::bson_to_json;
use crate::secret::{is_sealed, mask, MasterKey};
use crate::{hex, Collection, Record, Result, Store, Written, RESERVED_AGENT_IDS};

/// The original's collections this import reads, in order (agents first: others refer to them by name).
const SOURCES: &[(&str, Collection)] = &[
    ("AgentConfig", Collection::Agents),
    ("UserTable", Collection::Users),
    ("Members", Collection::Members),
    ("PhoneNumber", Collection::PhoneNumbers),
    ("Integrations", Collection::Integrations),
    ("CustomLLMIntegrations", Collection::CustomLlms),
    ("CallLogs", Collection::CallLogs),
    ("KnowledgeDocuments", Collection::KnowledgeDocuments),
    ("Batches", Collection::Batches),
    ("BatchContacts", Collection::BatchContacts),
];

/// Collections of the original that are deliberately not imported, and why.
const NOT_IMPORTED: &[(&str, &str)] = &[
    ("Campaigns", "vestigial in VoicEra (metadata only, never executed)"),
    ("Audience", "vestigial in VoicEra (metadata only, never executed)"),
    ("batch_csv_files.files", "raw CSV uploads; their rows are imported from BatchContacts"),
    ("batch_csv_files.chunks", "raw CSV uploads; their rows are imported from BatchContacts"),
];

/// How an import runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The source database (default: the URI's, else `voicera`).
    pub database: Option<String>,
    /// Read and map everything, write nothing.
    pub dry_run: bool,
}

/// What one source collection gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The source collection's name in the original database.
    pub source: &'static str,
    /// Where its documents went.
    pub target: Collection,
    /// Documents read from the source.
    pub read: u64,
    /// Documents that were new to the target.
    pub inserted: u64,
    /// Documents that replaced a different stored one.
    pub updated: u64,
    /// Documents already stored as they are (a repeated import changes nothing).
    pub unchanged: u64,
    /// Documents left out; the reasons are in [`Report::rejected`].
    pub rejected: u64,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The source database's name.
    pub database: String,
    /// One entry per source collection that was read.
    pub imported: Vec<Imported>,
    /// Source collections left out: name, documents, why.
    pub not_imported: Vec<(String, u64, String)>,
    /// Documents that could not be imported: `<collection> <_id>: <reason>`.
    pub rejected: Vec<String>,
    /// Changes an operator should know about (renamed agents, dropped reset tokens, ...).
    pub notes: Vec<String>,
    /// Nothing was written: the report says what an import would do.
    pub dry_run: bool,
}

impl Report {
    /// Human-readable summary, one line per collection.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for i in &self.imported {
            out.push_str(&format!(
                "  {:<22} → {:<20} {} read: {} new, {} updated, {} unchanged{}{}\n",
                i.source,
                i.target.name(),
                i.read,
                i.inserted,
                i.updated,
                i.unchanged,
                if i.rejected > 0 { format!(", {} rejected", i.rejected) } else { String::new() },
                if self.dry_run { " (would be written)" } else { "" },
            ));
        }
        for (name, count, why) in &self.not_imported {
            out.push_str(&format!("  not imported: {name} ({count} documents): {why}\n"));
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        for line in &self.rejected {
            out.push_str(&format!("  rejected: {line}\n"));
        }
        out
    }
}

/// A mapped document before it is written: its secrets still in plain text, sealed at write time (reusing the
/// stored seal when the secret is unchanged, so a re-run reports the record unchanged).
struct Mapped {
    record: Record,
    /// Field of `record.doc` → plain secret.
    secrets: Vec<(&'static str, String)>,
}

/// Per-tenant agent names → ids, from `AgentConfig`.
type AgentIds = HashMap<(String, String), String>;

/// Imports the database at `uri` into `target`.
pub async fn from_mongodb(uri: &str, target: &Store, key: &MasterKey, options: &Options) -> Result<Report> {
    let source = crate::mongo::database_at(uri, options.database.as_deref()).await?;
    source.run_command(mongodb::bson::doc! {"ping": 1}).await?;
    let mut report = Report { database: source.name().to_string(), dry_run: options.dry_run, ..Report::default() };
    let names = source.list_collection_names().await?;

    let mut agent_ids = AgentIds::new();
    let mut dropped_reset_tokens = 0u64;
    for &(name, collection) in SOURCES {
        let mut imported =
            Imported { source: name, target: collection, read: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0 };
        if names.iter().any(|n| n == name) {
            let mut cursor = source.collection::<Document>(name).find(mongodb::bson::doc! {}).await?;
            while let Some(doc) = cursor.try_next().await? {
                imported.read += 1;
                let legacy_id = doc.get("_id").map(|v| bson_to_json(v).to_string()).unwrap_or_default();
                if doc.contains_key("reset_token") {
                    dropped_reset_tokens += 1;
                }
                match map(name, &doc, &mut agent_ids, &mut report.notes) {
                    Ok(mapped) => match write(target, collection, mapped, key, options.dry_run).await? {
                        Written::Inserted => imported.inserted += 1,
                        Written::Updated => imported.updated += 1,
                        Written::Unchanged => imported.unchanged += 1,
                    },
                    Err(reason) => {
                        imported.rejected += 1;
                        report.rejected.push(format!("{name} {legacy_id}: {reason}"));
                    }
                }
            }
        }
        report.imported.push(imported);
    }
    if dropped_reset_tokens > 0 {
        report.notes.push(format!(
            "{dropped_reset_tokens} users had password-reset tokens; they were not imported (request a new reset)"
        ));
    }
    if report.imported.iter().any(|i| i.source == "KnowledgeDocuments" && i.read > 0) {
        report.notes.push(
            "knowledge documents keep their metadata; their text and vectors lived in VoicEra's Chroma directory, \
             so upload the files again to make them searchable"
                .into(),
        );
    }
    for name in &names {
        if name.starts_with("system.") || SOURCES.iter().any(|(s, _)| s == name) {
            continue;
        }
        let count = source.collection::<Document>(name).count_documents(mongodb::bson::doc! {}).await?;
        let why = NOT_IMPORTED
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.to_string())
            .unwrap_or_else(|| "not a VoicEra collection this version knows".to_string());
        report.not_imported.push((name.clone(), count, why));
    }
    report.not_imported.sort();
    Ok(report)
}

/// Seals the secrets (or keeps the stored seal of an unchanged one) and stores the record.
async fn write(
    target: &Store,
    collection: Collection,
    mapped: Mapped,
    key: &MasterKey,
    dry_run: bool,
) -> Result<Written> {
    let Mapped { mut record, secrets } = mapped;
    let existing = target.get(collection, &record.org_id, &record.id).await?;
    for (field, plain) in secrets {
        let context = format!("{}/{}/{}", collection.name(), record.org_id, record.id);
        let kept = existing
            .as_ref()
            .and_then(|e| e.doc.get(field))
            .and_then(Value::as_str)
            .filter(|sealed| is_sealed(sealed) && key.open(sealed, &context).ok().as_deref() == Some(plain.as_str()))
            .map(str::to_string);
        let sealed = match kept {
            Some(sealed) => sealed,
            None => key.seal(&plain, &context)?,
        };
        if let Some(doc) = record.doc.as_object_mut() {
            doc.insert(field.to_string(), Value::String(sealed));
        }
    }
    if dry_run {
        return Ok(match existing {
            None => Written::Inserted,
            Some(e) if e.doc == record.doc => Written::Unchanged,
            Some(_) => Written::Updated,
        });
    }
    target.put(collection, &record).await
}

/// Maps one source document, or says why it cannot be imported.
fn map(source: &str, doc: &Document, agent_ids: &mut AgentIds, notes: &mut Vec<String>) -> Result<Mapped, String> {
    let mut fields: Map<String, Value> = doc.iter().map(|(k, v)| (k.clone(), bson_to_json(v))).collect();
    if let Some(id) = fields.remove("_id") {
        fields.insert("legacy_id".into(), id);
    }
    let org_id = match fields.remove("org_id") {
        Some(Value::String(org)) if !org.trim().is_empty() => org,
        Some(other) if !other.is_null() => return Err(format!("org_id is not text ({other})")),
        _ => return Err("no org_id (tenant)".into()),
    };
    let text = |fields: &Map<String, Value>, key: &str| -> Option<String> {
        fields.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    };
    let required = |fields: &Map<String, Value>, key: &str| text(fields, key).ok_or_else(|| format!("no {key}"));
    let mut secrets = Vec::new();

    let id = match source {
        "AgentConfig" => {
            let name = required(&fields, "agent_type")?;
            let id = agent_id(text(&fields, "agent_id").as_deref().unwrap_or(&name));
            let id = if RESERVED_AGENT_IDS.contains(&id.as_str()) {
                let renamed = format!("{id}_agent");
                notes.push(format!(
                    "agent {name:?} of org {org_id}: id {id:?} is a built-in service here, imported as {renamed:?}"
                ));
                renamed
            } else {
                id
            };
            if text(&fields, "agent_id").as_deref() != Some(id.as_str()) {
                fields.insert("agent_id".into(), Value::String(id.clone()));
            }
            agent_ids.insert((org_id.clone(), name), id.clone());
            id
        }
        "UserTable" => {
            let email = required(&fields, "email")?.to_lowercase();
            fields.insert("email".into(), Value::String(email.clone()));
            for token in ["reset_token", "reset_token_expires", "reset_token_used"] {
                fields.remove(token);
            }
            fields.insert(
                "role".into(),
                Value::String(if is_true(fields.get("is_member")) { "member" } else { "owner" }.into()),
            );
            match password_hash(doc) {
                Some(hash) => {
                    fields.remove("password");
                    fields.insert("password_hash".into(), Value::String(hash));
                    fields.insert("password_scheme".into(), Value::String("bcrypt".into()));
                }
                None => {
                    fields.remove("password");
                    fields.insert("password_reset_required".into(), Value::Bool(true));
                    notes.push(format!("user {email}: the stored password is not a bcrypt hash; they must reset it"));
                }
            }
            email
        }
        "Members" => required(&fields, "email")?.to_lowercase(),
        "PhoneNumber" => {
            let number = required(&fields, "phone_number")?;
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            if digits.len() < 3 {
                return Err(format!("phone_number {number:?} has too few digits"));
            }
            digits
        }
        "Integrations" => {
            let provider = required(&fields, "model")?;
            take_secret(&mut fields, &mut secrets, "api_key")?;
            provider
        }
        "CustomLLMIntegrations" => {
            take_secret(&mut fields, &mut secrets, "api_key")?;
            required(&fields, "legacy_id")?
        }
        "CallLogs" => required(&fields, "meeting_id")?,
        "KnowledgeDocuments" => required(&fields, "document_id")?,
        "Batches" => required(&fields, "batch_id")?,
        "BatchContacts" => {
            let batch = required(&fields, "batch_id")?;
            let row = fields.get("row_number").and_then(Value::as_i64).ok_or("no row_number")?;
            format!("{batch}:{row}")
        }
        other => return Err(format!("no mapping for {other}")),
    };
    // References by agent name gain the agent's id.
    if source != "AgentConfig" {
        if let Some(name) = text(&fields, "agent_type") {
            if let Some(agent) = agent_ids.get(&(org_id.clone(), name)) {
                fields.insert("agent_id".into(), Value::String(agent.clone()));
            }
        }
    }
    Ok(Mapped { record: Record { org_id, id, doc: Value::Object(fields) }, secrets })
}

/// Moves a secret field out of `fields` (to be sealed) and leaves a masked hint beside it.
fn take_secret(
    fields: &mut Map<String, Value>,
    secrets: &mut Vec<(&'static str, String)>,
    key: &'static str,
) -> Result<(), String> {
    match fields.remove(key) {
        Some(Value::String(secret)) if !secret.is_empty() => {
            fields.insert(format!("{key}_hint"), Value::String(mask(&secret)));
            secrets.push((key, secret));
            Ok(())
        }
        // Nothing to seal: no key, or an empty one.
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(other) => Err(format!("{key} is not text ({})", kind(&other))),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
}

/// The user's bcrypt hash, stored by the original as text or as the bytes `bcrypt.hashpw` returns.
fn password_hash(doc: &Document) -> Option<String> {
    let hash = match doc.get("password")? {
        Bson::String(s) => s.clone(),
        Bson::Binary(b) => String::from_utf8(b.bytes.clone()).ok()?,
        _ => return None,
    };
    let bcrypt = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) && hash.len() == 60;
    bcrypt.then_some(hash)
}

/// An agent id callers can dial: the original's slug (name lowercased, spaces → `_`), with anything but ASCII
/// letters, digits, `-` and `_` replaced by `_`. A name with no ASCII letter or digit (`ग्राहक सेवा`) gets
/// `agent_` and a short hash of it instead, the same on every run.
pub fn agent_id(name: &str) -> String {
    let id: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    if id.chars().any(|c| c.is_ascii_alphanumeric()) {
        id
    } else {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(name.trim().as_bytes());
        format!("agent_{}", hex(&digest[..4]))
    }
}

/// Documents per target collection after an import (for the CLI's closing line).
pub async fn totals(target: &Store) -> Result<BTreeMap<&'static str, u64>> {
    let mut totals = BTreeMap::new();
    for collection in Collection::ALL {
        totals.insert(collection.name(), target.count(collection).await?);
    }
    Ok(totals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime};

    fn mapped(source: &str, doc: Document) -> Result<Mapped, String> {
        map(source, &doc, &mut AgentIds::new(), &mut Vec::new())
    }

    #[test]
    fn agent_ids_are_dialable_slugs() {
        assert_eq!(agent_id("Sales Agent"), "sales_agent");
        let hindi = agent_id("ग्राहक सेवा");
        assert!(hindi.starts_with("agent_") && hindi.len() == 14, "{hindi}");
        assert_eq!(hindi, agent_id("ग्राहक सेवा"), "stable across runs");
        assert_ne!(hindi, agent_id("बिक्री"));
        assert_eq!(agent_id("a.b@c"), "a_b_c");
        assert!(agent_id("  ").starts_with("agent_"));
    }

    #[test]
    fn users_keep_bcrypt_hashes_and_lose_reset_tokens() {
        let hash = format!("$2b$12${}", &"N9qo8uLOickgx2ZMRZoMye".repeat(3)[..53]);
        assert_eq!(hash.len(), 60);
        let bytes = Binary { subtype: BinarySubtype::Generic, bytes: hash.as_bytes().to_vec() };
        let user = mapped(
            "UserTable",
            doc! {"_id": ObjectId::new(), "email": "Asha@Example.com", "password": bytes, "org_id": "a1b2c3", "is_member": true,
                  "reset_token": "t", "reset_token_expires": DateTime::from_millis(0), "created_at": DateTime::from_millis(1_700_000_000_000)},
        )
        .unwrap();
        assert_eq!(user.record.id, "asha@example.com");
        assert_eq!(user.record.org_id, "a1b2c3");
        let d = &user.record.doc;
        assert_eq!(d["password_hash"], hash);
        assert_eq!(d["password_scheme"], "bcrypt");
        assert_eq!(d["role"], "member");
        assert_eq!(d["created_at"], "2023-11-14T22:13:20.000Z");
        assert!(
            d.get("password").is_none() && d.get("reset_token").is_none() && d.get("reset_token_expires").is_none()
        );

        let mut notes = Vec::new();
        let plain = map(
            "UserTable",
            &doc! {"email": "x@y.z", "password": "hunter2", "org_id": "o"},
            &mut AgentIds::new(),
            &mut notes,
        )
        .unwrap();
        assert_eq!(plain.record.doc["password_reset_required"], true);
        assert!(plain.record.doc.get("password").is_none(), "a plain-text password is never stored");
        assert!(notes[0].contains("not a bcrypt hash"));
    }

    #[test]
    fn secrets_are_taken_out_for_sealing_with_a_hint() {
        let m = mapped("Integrations", doc! {"org_id": "o", "model": "OpenAI", "api_key": "sk-proj-0123456789abcd"})
            .unwrap();
        assert_eq!(m.record.id, "OpenAI");
        assert!(m.record.doc.get("api_key").is_none());
        assert_eq!(m.record.doc["api_key_hint"], "••••abcd");
        assert_eq!(m.secrets, vec![("api_key", "sk-proj-0123456789abcd".to_string())]);
        let err = mapped("Integrations", doc! {"org_id": "o", "model": "OpenAI", "api_key": 5}).err().unwrap();
        assert_eq!(err, "api_key is not text (a number)");
    }

    #[test]
    fn references_by_agent_name_gain_the_agent_id_and_reserved_ids_are_renamed() {
        let mut ids = AgentIds::new();
        let mut notes = Vec::new();
        let agent =
            map("AgentConfig", &doc! {"org_id": "o", "agent_type": "Demo", "agent_id": "demo"}, &mut ids, &mut notes)
                .unwrap();
        assert_eq!(agent.record.id, "demo_agent");
        assert_eq!(agent.record.doc["agent_id"], "demo_agent");
        assert!(notes[0].contains("built-in service"));
        let number = map(
            "PhoneNumber",
            &doc! {"org_id": "o", "phone_number": "+91 80000 00001", "agent_type": "Demo"},
            &mut ids,
            &mut notes,
        )
        .unwrap();
        assert_eq!(number.record.id, "918000000001");
        assert_eq!(number.record.doc["agent_id"], "demo_agent");
        // Another tenant's agent of the same name is not this one.
        let elsewhere =
            map("CallLogs", &doc! {"org_id": "p", "meeting_id": "m1", "agent_type": "Demo"}, &mut ids, &mut notes)
                .unwrap();
        assert!(elsewhere.record.doc.get("agent_id").is_none());
    }

    #[test]
    fn documents_without_tenant_or_id_are_rejected_with_the_reason() {
        assert_eq!(mapped("CallLogs", doc! {"meeting_id": "m"}).err().unwrap(), "no org_id (tenant)");
        assert_eq!(mapped("CallLogs", doc! {"org_id": 5, "meeting_id": "m"}).err().unwrap(), "org_id is not text (5)");
        assert_eq!(mapped("CallLogs", doc! {"org_id": "o"}).err().unwrap(), "no meeting_id");
        assert_eq!(mapped("BatchContacts", doc! {"org_id": "o", "batch_id": "b"}).err().unwrap(), "no row_number");
        assert_eq!(
            mapped("PhoneNumber", doc! {"org_id": "o", "phone_number": "n/a"}).err().unwrap(),
            "phone_number \"n/a\" has too few digits"
        );
        let contact = mapped("BatchContacts", doc! {"org_id": "o", "batch_id": "b", "row_number": 7}).unwrap();
        assert_eq!(contact.record.id, "b:7");
    }
}
