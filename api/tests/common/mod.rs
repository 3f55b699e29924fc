//! What the API crate's integration tests share: a store on either backend, and the macro that runs a
//! scenario on both.

// Each test file uses a part; a backing's fields are held for their `Drop`.
#![allow(dead_code)]

use voicera_store::mongo::MongoStore;
use voicera_store::sqlite::SqliteStore;
use voicera_store::testing::SecantusServer;
use voicera_store::Store;

/// What keeps a test's store alive until the test ends: its directory (the SQLite file, or whatever else the
/// test keeps on disk) and, on MongoDB, its SecantusDB server.
pub(crate) struct Backing {
    /// A directory of the test's own.
    pub(crate) dir: tempfile::TempDir,
    /// The SecantusDB server of a `mongodb` store.
    pub(crate) mongo: Option<SecantusServer>,
}

/// A fresh store of `kind` (`sqlite`: a file in a new directory; otherwise SecantusDB, database `database`).
pub(crate) async fn test_store(kind: &str, database: &str) -> (Store, Backing) {
    let dir = tempfile::tempdir().unwrap();
    match kind {
        "sqlite" => {
            let store = Store::Sqlite(SqliteStore::open(&dir.path().join("voicera.db")).await.unwrap());
            (store, Backing { dir, mongo: None })
        }
        _ => {
            let server = SecantusServer::start();
            let store = Store::Mongo(MongoStore::connect(&server.uri, Some(database)).await.unwrap());
            (store, Backing { dir, mongo: Some(server) })
        }
    }
}

/// Runs each scenario `async fn name(kind: &str)` on both stores, as the tests `sqlite::name` and
/// `mongodb::name`.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $scenario() { super::$scenario("sqlite").await } )*
        }
        mod mongodb {
            $( #[tokio::test] async fn $scenario() { super::$scenario("mongodb").await } )*
        }
    };
}
