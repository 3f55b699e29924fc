//! What the API crate's integration tests share: a store on either backend, the macro that runs a scenario
//! on both, and a control plane on such a store driven through `oneshot`.

// Each test file uses a part; a backing's fields are held for their `Drop`.
#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use voicera_api::auth::password::PasswordCost;
use voicera_api::clock::ManualClock;
use voicera_api::{AgentValidator, ApiConfig, ApiState, FieldError};
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

/// An agent validator that takes any `agent_config`: for tests about something else than agents.
pub(crate) struct AnyConfig;

impl AgentValidator for AnyConfig {
    fn validate(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
}

/// The control plane's router on a fresh store, its state (for setting up accounts directly), and what keeps
/// the store alive.
pub(crate) struct Harness {
    pub(crate) app: Router,
    pub(crate) state: ApiState,
    pub(crate) _backing: Backing,
}

/// The control plane on a fresh store of `kind` (database `database` on MongoDB) with `config` (passwords
/// hashed at the minimal cost), any agent config accepted, its clock stopped at `t0` (ms).
pub(crate) async fn control_plane(kind: &str, database: &str, config: ApiConfig, t0: i64) -> Harness {
    let (store, backing) = test_store(kind, database).await;
    let config = ApiConfig { password_cost: PasswordCost::Minimal, ..config };
    let state = ApiState::with_clock(store, [7; 32], Arc::new(AnyConfig), config, Arc::new(ManualClock::at(t0)));
    Harness { app: voicera_api::control_plane(state.clone()), state, _backing: backing }
}

impl Harness {
    /// `method path` with `body` of `content_type`, as `Bearer token`: the status and the JSON answer (`Null`
    /// when the answer is not JSON).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// [`Harness::send`] with a JSON body.
    pub(crate) async fn json(&self, method: Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(method, path, token, "application/json", body.to_string().into_bytes()).await
    }
}
