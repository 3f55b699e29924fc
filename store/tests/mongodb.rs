//! The MongoDB backend and the import of an original VoicEra database, against SecantusDB (a MongoDB-wire
//! server from PyPI) on loopback, seeded by `voicera_store::testing::seed_original`.

use mongodb::bson::{doc, Document};
use serde_json::json;
use voicera_store::migrate::{self, Options};
use voicera_store::mongo::{database_at, MongoStore};
use voicera_store::secret::MasterKey;
use voicera_store::sqlite::SqliteStore;
use voicera_store::testing::{bcrypt, seed_original, SecantusServer, CUSTOM_KEY, OPENAI_KEY, VOBIZ_TOKEN};
use voicera_store::{conformance, Collection, Store};

#[tokio::test]
async fn mongodb_store_passes_the_conformance_suite() {
    let server = SecantusServer::start();
    let store = Store::Mongo(MongoStore::connect(&server.uri, Some("conformance")).await.unwrap());
    conformance::run(&store).await;
    voicera_store::call_logs::conformance::run(&store).await;
    assert_eq!(store.describe(), "MongoDB database \"conformance\"");
}

#[tokio::test]
async fn the_call_history_has_an_index_per_sort_order_with_the_tie_breaking_id() {
    let server = SecantusServer::start();
    let db = database_at(&server.uri, Some("history_indexes")).await.unwrap();
    // A database of an earlier version: its longest-first index had no id.
    db.collection::<Document>("call_logs")
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"org_id": 1, "doc.duration": -1, "doc.created_at": -1})
                .options(mongodb::options::IndexOptions::builder().name("org_duration".to_string()).build())
                .build(),
        )
        .await
        .unwrap();
    MongoStore::connect(&server.uri, Some("history_indexes")).await.unwrap();
    let mut keys = std::collections::BTreeMap::new();
    let mut cursor = db.collection::<Document>("call_logs").list_indexes().await.unwrap();
    while cursor.advance().await.unwrap() {
        let index = cursor.deserialize_current().unwrap();
        keys.insert(index.options.and_then(|o| o.name).unwrap_or_default(), index.keys);
    }
    let expected = [
        ("org_created", doc! {"org_id": 1, "doc.created_at": -1, "id": -1}),
        ("org_longest", doc! {"org_id": 1, "doc.duration": -1, "doc.created_at": -1, "id": -1}),
        ("org_shortest", doc! {"org_id": 1, "doc.duration": 1, "doc.created_at": -1, "id": -1}),
        ("org_busy", doc! {"org_id": 1, "doc.call_busy": 1, "doc.created_at": -1, "id": -1}),
    ];
    for (name, spec) in expected {
        assert_eq!(keys.get(name), Some(&spec), "{name}: {keys:?}");
    }
    assert!(!keys.contains_key("org_duration"), "the index without the id is dropped: {keys:?}");
}

#[tokio::test]
async fn one_use_ids_are_spent_once_across_two_nodes_on_mongodb() {
    let server = SecantusServer::start();
    let a = Store::Mongo(MongoStore::connect(&server.uri, Some("one_use")).await.unwrap());
    let b = Store::Mongo(MongoStore::connect(&server.uri, Some("one_use")).await.unwrap());
    voicera_store::one_use::conformance(&a, &b).await;
}

#[tokio::test]
async fn an_unreachable_mongodb_is_a_clear_error_in_seconds() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!("mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=1000");
    let started = std::time::Instant::now();
    let err = MongoStore::connect(&uri, None).await.err().expect("nothing listens there");
    assert!(err.to_string().starts_with("MongoDB:"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

/// A store that was away when the node connected and comes up empty: the first write makes the indexes
/// (the unique key `insert_if_absent` relies on) before it lands, whether or not the background retry has
/// made them yet, so a record inserted twice is one.
#[tokio::test]
async fn a_store_that_comes_up_after_connect_gets_its_unique_key_before_the_first_write() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=1000");
    let mongo = MongoStore::connect_or_later(&uri, Some("late")).await.expect("a store that is away is no error");
    let _server = SecantusServer::start_on(port);
    let record = voicera_store::Record { org_id: "o".into(), id: "r".into(), doc: json!({"n": 1}) };
    assert!(mongo.insert_if_absent(Collection::CallLogs, &record).await.unwrap());
    let indexes = database_at(&uri, Some("late"))
        .await
        .unwrap()
        .collection::<Document>(Collection::CallLogs.name())
        .list_index_names()
        .await
        .unwrap();
    assert!(indexes.iter().any(|name| name == "org_id_id"), "{indexes:?}");
    assert!(!mongo.insert_if_absent(Collection::CallLogs, &record).await.unwrap());
    assert_eq!(Store::Mongo(mongo).count(Collection::CallLogs).await.unwrap(), 1);
}

fn file_contains(path: &std::path::Path, needle: &str) -> bool {
    std::fs::read(path).map(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes())).unwrap_or(false)
}

#[tokio::test]
async fn an_original_voicera_database_is_imported_whole_sealed_and_idempotently() {
    let server = SecantusServer::start();
    seed_original(&server.uri, "voicera").await;
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    let target = Store::Sqlite(SqliteStore::open(&dir.path().join("voicera.db")).await.unwrap());

    // A dry run maps everything and writes nothing.
    let dry = migrate::from_mongodb(&server.uri, &target, &key, &Options { dry_run: true, ..Options::default() })
        .await
        .unwrap();
    assert_eq!(dry.imported.iter().map(|i| i.inserted).sum::<u64>(), 15);
    assert_eq!(target.count(Collection::Agents).await.unwrap(), 0);

    let report = migrate::from_mongodb(&server.uri, &target, &key, &Options::default()).await.unwrap();
    let text = report.render();
    let counts: Vec<(&str, u64, u64, u64)> =
        report.imported.iter().map(|i| (i.source, i.read, i.inserted, i.rejected)).collect();
    assert_eq!(
        counts,
        [
            ("AgentConfig", 3, 3, 0),
            ("UserTable", 2, 2, 0),
            ("Members", 1, 1, 0),
            ("PhoneNumber", 1, 1, 0),
            ("Integrations", 2, 2, 0),
            ("CustomLLMIntegrations", 1, 1, 0),
            ("CallLogs", 2, 1, 1),
            ("KnowledgeDocuments", 1, 1, 0),
            ("Batches", 1, 1, 0),
            ("BatchContacts", 2, 2, 0),
        ],
        "{text}"
    );
    assert_eq!(report.rejected.len(), 1);
    assert!(
        report.rejected[0].starts_with("CallLogs ") && report.rejected[0].ends_with(": no org_id (tenant)"),
        "{text}"
    );
    assert_eq!(
        report.not_imported,
        vec![("Campaigns".to_string(), 1, "vestigial in VoicEra (metadata only, never executed)".to_string())]
    );
    assert!(
        text.contains("\"Demo\" of org a1b2c3: id \"demo\" is a built-in service here, imported as \"demo_agent\""),
        "{text}"
    );
    assert!(text.contains("1 users had password-reset tokens"), "{text}");
    assert!(text.contains("upload the files again"), "{text}");

    // Agents: the nested configuration unchanged, tenants apart.
    let sales = target.get(Collection::Agents, "a1b2c3", "sales_agent").await.unwrap().unwrap();
    assert_eq!(sales.doc["agent_type"], "Sales Agent");
    assert_eq!(sales.doc["vobiz_app_id"], "app-77");
    assert_eq!(sales.doc["created_at"], "2024-11-19T07:06:40.000Z");
    assert_eq!(
        sales.doc["agent_config"]["tts_model"],
        json!({"name": "cartesia", "args": {"model": "sonic-2", "voice_id": "v-123"}, "speed": 1.1})
    );
    assert_eq!(sales.doc["agent_config"]["hold_messages"], json!(["एक क्षण", "One moment"]));
    assert_eq!(sales.doc["agent_config"]["system_prompt"], "आप एक सहायक हैं। Be brief.");
    assert_eq!(
        target.get(Collection::Agents, "ffffff", "sales_agent").await.unwrap().unwrap().doc["agent_config"]
            ["system_prompt"],
        "other"
    );
    assert!(target.get(Collection::Agents, "a1b2c3", "demo_agent").await.unwrap().is_some());

    // Users: bcrypt hashes from bytes or text, roles, no reset tokens.
    let asha = target.get(Collection::Users, "a1b2c3", "asha@example.com").await.unwrap().unwrap();
    assert_eq!(asha.doc["password_hash"], bcrypt('a'));
    assert_eq!(asha.doc["role"], "owner");
    assert!(asha.doc.get("reset_token").is_none() && asha.doc.get("password").is_none());
    assert!(asha.doc["legacy_id"].as_str().is_some_and(|id| id.len() == 24));
    let ravi = target.get(Collection::Users, "a1b2c3", "ravi@example.com").await.unwrap().unwrap();
    assert_eq!(
        (ravi.doc["password_hash"].as_str(), ravi.doc["role"].as_str()),
        (Some(bcrypt('b').as_str()), Some("member"))
    );

    // Numbers, calls, campaigns point at the agent's id.
    let number = target.get(Collection::PhoneNumbers, "a1b2c3", "918000000001").await.unwrap().unwrap();
    assert_eq!(
        (number.doc["phone_number"].as_str(), number.doc["agent_id"].as_str()),
        (Some("+918000000001"), Some("sales_agent"))
    );
    let call = target.get(Collection::CallLogs, "a1b2c3", "CA-1111").await.unwrap().unwrap();
    assert_eq!(call.doc["agent_id"], "sales_agent");
    assert_eq!(call.doc["duration"], 42.5);
    assert_eq!(call.doc["end_time_utc"], "2024-11-19T07:07:22.500Z");
    assert_eq!(call.doc["latency_metrics"]["turns"][0]["llm_ttfb_ms"], 420);
    assert!(call.doc["transcript_content"].as_str().unwrap().contains("assistant: Hello!"));
    let contact = target.get(Collection::BatchContacts, "a1b2c3", "b-1:2").await.unwrap().unwrap();
    assert_eq!(contact.doc["dynamic_fields"], json!({"name": "Meera", "plan": "gold"}));
    assert_eq!(contact.doc["agent_id"], "sales_agent");

    // Keys are sealed (bound to their record) with a hint; the plain text is nowhere in the database files.
    let openai = target.get(Collection::Integrations, "a1b2c3", "OpenAI").await.unwrap().unwrap();
    let sealed = openai.doc["api_key"].as_str().unwrap();
    assert_eq!(key.open(sealed, "integrations/a1b2c3/OpenAI").unwrap(), OPENAI_KEY);
    assert_eq!(openai.doc["api_key_hint"], "••••0042");
    let custom = target.list(Collection::CustomLlms, "a1b2c3").await.unwrap();
    let context = format!("custom_llms/a1b2c3/{}", custom[0].id);
    assert_eq!(key.open(custom[0].doc["api_key"].as_str().unwrap(), &context).unwrap(), CUSTOM_KEY);
    for file in ["voicera.db", "voicera.db-wal"] {
        for secret in [OPENAI_KEY, VOBIZ_TOKEN, CUSTOM_KEY] {
            assert!(!file_contains(&dir.path().join(file), secret), "{secret} in plain text in {file}");
        }
    }
    assert!(
        file_contains(&dir.path().join("voicera.db-wal"), "sales_agent")
            || file_contains(&dir.path().join("voicera.db"), "sales_agent")
    );

    // A second run changes nothing and says so; a changed source document is updated in place.
    let again = migrate::from_mongodb(&server.uri, &target, &key, &Options::default()).await.unwrap();
    assert_eq!(again.imported.iter().map(|i| i.inserted + i.updated).sum::<u64>(), 0, "{}", again.render());
    assert_eq!(again.imported.iter().map(|i| i.unchanged).sum::<u64>(), 15);
    let source = database_at(&server.uri, Some("voicera")).await.unwrap();
    source
        .collection::<Document>("Integrations")
        .update_one(doc! {"org_id": "a1b2c3", "model": "OpenAI"}, doc! {"$set": {"api_key": "sk-rotated-000000000000"}})
        .await
        .unwrap();
    let rotated = migrate::from_mongodb(&server.uri, &target, &key, &Options::default()).await.unwrap();
    let integrations = rotated.imported.iter().find(|i| i.source == "Integrations").unwrap();
    assert_eq!((integrations.updated, integrations.unchanged), (1, 1));
    let openai = target.get(Collection::Integrations, "a1b2c3", "OpenAI").await.unwrap().unwrap();
    assert_eq!(
        key.open(openai.doc["api_key"].as_str().unwrap(), "integrations/a1b2c3/OpenAI").unwrap(),
        "sk-rotated-000000000000"
    );

    // Scale-out: the same import into a MongoDB store.
    let mongo_target = Store::Mongo(MongoStore::connect(&server.uri, Some("voicera_rs")).await.unwrap());
    let into_mongo = migrate::from_mongodb(&server.uri, &mongo_target, &key, &Options::default()).await.unwrap();
    assert_eq!(into_mongo.imported.iter().map(|i| i.inserted).sum::<u64>(), 15);
    assert_eq!(
        mongo_target.get(Collection::Agents, "a1b2c3", "sales_agent").await.unwrap().unwrap().doc,
        target.get(Collection::Agents, "a1b2c3", "sales_agent").await.unwrap().unwrap().doc
    );
}
