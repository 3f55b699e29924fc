//! `voicera migrate --from-mongodb` on an original VoicEra database served by SecantusDB (MongoDB wire
//! protocol), and the store's place in `/health`: a node on MongoDB is ready only while MongoDB answers.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{http_get, test_dir, Server};
use voicera_store::testing::{seed_original, SecantusServer, OPENAI_KEY};

fn migrate(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voicera"))
        .arg("migrate")
        .args(args)
        .args(["--data-dir", "data"])
        .env_remove("VOICERA_MASTER_KEY")
        .env_remove("VOICERA_MONGODB_URI")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .expect("run voicera migrate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn migrate_imports_an_original_database_into_the_embedded_store_and_says_what_it_did() {
    let source = SecantusServer::start();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(seed_original(&source.uri, "voicera"));
    let dir = test_dir("migrate");

    let first = migrate(&dir, &["--from-mongodb", &source.uri]);
    let (stdout, stderr) = (text(&first.stdout), text(&first.stderr));
    let report = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    // One call log has no tenant: the import finishes, lists it, and exits non-zero so scripts notice.
    assert_eq!(first.status.code(), Some(1), "{report}");
    assert!(stdout.contains("into SQLite data/voicera.db"), "{report}");
    assert!(
        stdout.contains("AgentConfig            → agents               3 read: 3 new, 0 updated, 0 unchanged"),
        "{report}"
    );
    assert!(
        stdout.contains(
            "CallLogs               → call_logs            2 read: 1 new, 0 updated, 0 unchanged, 1 rejected"
        ),
        "{report}"
    );
    assert!(stdout.contains("not imported: Campaigns (1 documents)"), "{report}");
    assert!(
        stdout.contains(
            "store now holds: agents 3, batch_contacts 2, batches 1, call_logs 1, custom_llms 1, integrations 2"
        ),
        "{report}"
    );
    assert!(stderr.contains("generated a master key"), "{report}");
    assert!(stderr.contains("1 documents were not imported (listed above); everything else was"), "{report}");
    let key_file = dir.join("data/master.key");
    assert!(key_file.exists());
    for file in ["data/voicera.db", "data/voicera.db-wal"] {
        let bytes = std::fs::read(dir.join(file)).unwrap_or_default();
        assert!(!bytes.windows(OPENAI_KEY.len()).any(|w| w == OPENAI_KEY.as_bytes()), "plain-text key in {file}");
    }

    // Again: nothing changes, and the key file is reused (no second warning).
    let second = migrate(&dir, &["--from-mongodb", &source.uri]);
    let (stdout, stderr) = (text(&second.stdout), text(&second.stderr));
    assert!(
        stdout.contains("AgentConfig            → agents               3 read: 0 new, 0 updated, 3 unchanged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Integrations           → integrations         2 read: 0 new, 0 updated, 2 unchanged"),
        "{stdout}"
    );
    assert!(!stderr.contains("generated a master key"), "{stderr}");

    // A dry run against a database that is not there says so plainly, and writes nothing.
    let missing = migrate(&dir, &["--from-mongodb", &source.uri, "--database", "nothing_here", "--dry-run"]);
    let stdout = text(&missing.stdout);
    assert_eq!(missing.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("dry run, nothing is written"), "{stdout}");
    assert!(stdout.contains("AgentConfig            → agents               0 read"), "{stdout}");

    // An unreachable source fails fast with the address, never the credentials.
    let port = common::free_port();
    let unreachable = migrate(
        &dir,
        &["--from-mongodb", &format!("mongodb://admin:s3cret@127.0.0.1:{port}/?serverSelectionTimeoutMS=1000")],
    );
    let all = format!("{}{}", text(&unreachable.stdout), text(&unreachable.stderr));
    assert_eq!(unreachable.status.code(), Some(1), "{all}");
    assert!(all.contains(&format!("mongodb://127.0.0.1:{port}/")), "{all}");
    assert!(all.contains("voicera: error: MongoDB:"), "{all}");
    assert!(!all.contains("s3cret"), "{all}");
}

#[test]
fn a_node_on_mongodb_reports_the_store_degraded_while_mongodb_is_away() {
    let mongo = SecantusServer::start();
    let uri = mongo.uri.replacen("/?", "/voicera_rs?", 1);
    let server = Server::start_env("mongo-health", "", false, &[("VOICERA_MONGODB_URI", &uri)]);
    let (code, body) = http_get(server.http, "/health").unwrap();
    assert_eq!(code, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["checks"]["store"], "up", "{body}");
    assert!(
        server.log().contains("MongoDB database \\\"voicera_rs\\\"")
            || server.log().contains("MongoDB database \"voicera_rs\"")
    );

    // Calls still work without the store (their records wait in the spool): the node stays ready and says
    // the store is degraded (issue 18).
    drop(mongo);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = http_get(server.http, "/health").unwrap();
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        if health["checks"]["store"] == "degraded" {
            assert_eq!(code, 200, "{body}");
            assert_eq!(health["checks"]["sip_udp"], "up", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "health stayed {code} after MongoDB stopped: {body}");
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        server.log().contains("store unreachable") || server.log().contains("store did not answer"),
        "{}",
        server.log()
    );
}
