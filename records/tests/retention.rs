//! Retention on the filesystem blob store and SQLite: a sweep deletes expired calls' recordings,
//! transcripts, record files and logs together, per org, and leaves everything else.

use std::sync::Arc;

use serde_json::json;
use voicera_blob::{BlobStore, FsBlobStore};
use voicera_records::retention::{Sweeper, ORG_FIELD};
use voicera_store::{utc_text, Collection, Record, Store};

/// 2026-12-05T00:00:00Z, the sweep's (virtual) now.
const NOW: u64 = 1_796_428_800_000;
const DAY_MS: u64 = 86_400_000;

/// A call of `org` started `days_ago`, with its recording and transcript in `blobs` and its record file.
async fn call(store: &Store, blobs: &FsBlobStore, data: &std::path::Path, org: &str, id: &str, days_ago: u64) {
    let at = utc_text((NOW - days_ago * DAY_MS) as i64);
    let day = &day_of(days_ago);
    blobs.put_bytes("recordings", &format!("{day}/{id}.wav"), b"RIFF".to_vec()).await.unwrap();
    blobs.put_bytes("transcripts", &format!("{day}/{id}.txt"), b"[t] user: hi\n".to_vec()).await.unwrap();
    std::fs::create_dir_all(data.join("calls").join(day)).unwrap();
    std::fs::write(data.join("calls").join(day).join(format!("{id}.json")), b"{}").unwrap();
    let doc = json!({
        "meeting_id": id, "record_id": id, "org_id": org, "status": "completed",
        "start_time_utc": at, "created_at": at, "end_time_utc": at, "duration": 3.0, "call_busy": false,
        "recording_url": blobs.url("recordings", &format!("{day}/{id}.wav")),
        "transcript_url": blobs.url("transcripts", &format!("{day}/{id}.txt")),
    });
    store.put(Collection::CallLogs, &Record { org_id: org.into(), id: id.into(), doc }).await.unwrap();
}

fn day_of(days_ago: u64) -> String {
    utc_text((NOW - days_ago * DAY_MS) as i64)[..10].to_string()
}

async fn exists(blobs: &FsBlobStore, bucket: &str, key: &str) -> bool {
    blobs.head(bucket, key).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_deletes_expired_calls_objects_and_logs_together_per_org() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let store = Store::open(data, None).await.unwrap();
    let blobs = FsBlobStore::new(data.join("blobs"));
    // Org o1 keeps calls 30 days; the node's default org, with no document, the default of 10.
    let org = json!({"org_id": "o1", ORG_FIELD: 30});
    store.put(Collection::Orgs, &Record { org_id: "o1".into(), id: "o1".into(), doc: org }).await.unwrap();
    // o2 keeps its calls ten years.
    let long = json!({"org_id": "o2", ORG_FIELD: 3650});
    store.put(Collection::Orgs, &Record { org_id: "o2".into(), id: "o2".into(), doc: long }).await.unwrap();
    call(&store, &blobs, data, "o1", "rec-o1-old", 40).await;
    call(&store, &blobs, data, "o1", "rec-o1-new", 20).await;
    call(&store, &blobs, data, "default", "rec-d-old", 11).await;
    call(&store, &blobs, data, "default", "rec-d-new", 9).await;
    call(&store, &blobs, data, "o2", "rec-o2-old", 400).await;

    let shared: Arc<dyn BlobStore> = Arc::new(blobs.clone());
    let sweeper = Sweeper::new(store.clone(), shared, data, Some(10), vec!["default".into()]);
    let report = sweeper.sweep(NOW).await.unwrap();
    assert_eq!((report.calls, report.blobs, report.kept), (2, 4, 0), "{report:?}");

    // Record files are local copies of the logs: those older than the shortest retention (10 days) go too,
    // o1's 20-day and o2's 400-day ones by age (the two expired calls' went with their logs).
    assert_eq!(report.local_files, 2, "{report:?}");
    for (org, id, days_ago, gone) in [
        ("o1", "rec-o1-old", 40, true),
        ("o1", "rec-o1-new", 20, false),
        ("default", "rec-d-old", 11, true),
        ("default", "rec-d-new", 9, false),
        ("o2", "rec-o2-old", 400, false),
    ] {
        let file_gone = days_ago > 10;
        let log = store.get(Collection::CallLogs, org, id).await.unwrap();
        assert_eq!(log.is_none(), gone, "{id}'s log");
        let day = day_of(days_ago);
        assert_eq!(!exists(&blobs, "recordings", &format!("{day}/{id}.wav")).await, gone, "{id}'s recording");
        assert_eq!(!exists(&blobs, "transcripts", &format!("{day}/{id}.txt")).await, gone, "{id}'s transcript");
        let file = data.join("calls").join(&day).join(format!("{id}.json"));
        assert_eq!(!file.exists(), file_gone, "{id}'s record file (a copy of its log)");
    }

    // The same sweep again finds nothing; ten days on, o1's other call and the default org's go too.
    assert_eq!(sweeper.sweep(NOW).await.unwrap().calls, 0);
    assert_eq!(sweeper.sweep(NOW + 11 * DAY_MS).await.unwrap().calls, 2);
    assert_eq!(store.count(Collection::CallLogs).await.unwrap(), 1, "o2's call is within its ten years");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_filesystem_blobs_each_node_sweeps_the_calls_whose_files_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shared")).unwrap();
    let store = Store::open(&dir.path().join("shared"), None).await.unwrap();
    // Two nodes sharing a store, each with its own data dir and filesystem blobs.
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let (blobs_a, blobs_b) = (FsBlobStore::new(data_a.join("blobs")), FsBlobStore::new(data_b.join("blobs")));
    call(&store, &blobs_a, &data_a, "default", "rec-a", 40).await;
    call(&store, &blobs_b, &data_b, "default", "rec-b", 40).await;
    for (id, node) in [("rec-a", "node-a"), ("rec-b", "node-b")] {
        let mut log = store.get(Collection::CallLogs, "default", id).await.unwrap().unwrap();
        log.doc["node_id"] = json!(node);
        store.put(Collection::CallLogs, &log).await.unwrap();
    }
    let sweeper = |blobs: &FsBlobStore, data: &std::path::Path, node: &str| {
        let shared: Arc<dyn BlobStore> = Arc::new(blobs.clone());
        Sweeper::new(store.clone(), shared, data, Some(30), vec!["default".into()]).on_node(node)
    };

    // Node A sweeps first: its own call goes, B's is left to B (not an error, not deleted blind).
    let report = sweeper(&blobs_a, &data_a, "node-a").sweep(NOW).await.unwrap();
    assert_eq!((report.calls, report.blobs, report.kept, report.elsewhere), (1, 2, 0, 1), "{report:?}");
    assert!(store.get(Collection::CallLogs, "default", "rec-a").await.unwrap().is_none());
    assert!(store.get(Collection::CallLogs, "default", "rec-b").await.unwrap().is_some(), "B's log stays for B");
    let day = day_of(40);
    assert!(exists(&blobs_b, "recordings", &format!("{day}/rec-b.wav")).await);

    // Node B's sweep deletes its call with its files.
    let report = sweeper(&blobs_b, &data_b, "node-b").sweep(NOW).await.unwrap();
    assert_eq!((report.calls, report.blobs, report.elsewhere), (1, 2, 0), "{report:?}");
    assert!(!exists(&blobs_b, "recordings", &format!("{day}/rec-b.wav")).await);
    assert!(!data_b.join("calls").join(&day).join("rec-b.json").exists());
    assert_eq!(store.count(Collection::CallLogs).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nodes_record_files_do_not_outlive_the_logs_another_node_swept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shared")).unwrap();
    let store = Store::open(&dir.path().join("shared"), None).await.unwrap();
    // Two nodes on one store and one object store (S3 in production: any node sweeps any log, so the node
    // that took a call is often not the one that deletes its log).
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let objects = FsBlobStore::new(dir.path().join("objects"));
    call(&store, &objects, &data_b, "default", "rec-b-old", 40).await;
    call(&store, &objects, &data_b, "default", "rec-b-new", 5).await;
    // B's logs name no node here: like logs linking `s3://` objects, any node sweeps them (an `fs://` link
    // with B's node id would be left to B, see the test above).
    // An older layout's recording beside B's records: the call's own file, not a copy.
    let old_day = data_b.join("calls").join(day_of(40));
    std::fs::write(old_day.join("rec-b-old.wav"), b"RIFF").unwrap();
    let sweeper = |data: &std::path::Path, node: &str| {
        let shared: Arc<dyn BlobStore> = Arc::new(objects.clone());
        Sweeper::new(store.clone(), shared, data, Some(30), vec!["default".into()]).on_node(node)
    };

    // A sweeps B's expired call: log and objects go; B's record file is on B's disk, out of A's reach.
    let report = sweeper(&data_a, "node-a").sweep(NOW).await.unwrap();
    assert_eq!((report.calls, report.blobs, report.local_files), (1, 2, 0), "{report:?}");
    assert!(store.get(Collection::CallLogs, "default", "rec-b-old").await.unwrap().is_none());
    assert!(old_day.join("rec-b-old.json").exists());

    // B's own sweep has no log left to find, and still removes its copy of it by age.
    let report = sweeper(&data_b, "node-b").sweep(NOW).await.unwrap();
    assert_eq!((report.calls, report.local_files), (0, 1), "{report:?}");
    assert!(!old_day.join("rec-b-old.json").exists(), "the copy does not outlive the log");
    assert!(old_day.join("rec-b-old.wav").exists(), "a file that is not a record copy stays");
    let new_file = data_b.join("calls").join(day_of(5)).join("rec-b-new.json");
    assert!(new_file.exists(), "a call within retention keeps its record file");
    assert!(store.get(Collection::CallLogs, "default", "rec-b-new").await.unwrap().is_some());
    // Every org keeping calls for ever: no record file is swept.
    let keep_all = Sweeper::new(store.clone(), Arc::new(objects.clone()), &data_b, None, vec!["default".into()]);
    assert_eq!(keep_all.sweep(NOW + 1000 * DAY_MS).await.unwrap().local_files, 0);
    assert!(new_file.exists());
}
