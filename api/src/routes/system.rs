//! `system`: the node's make-up for the console's System page (id, version, uptime, roles, store health, spool
//! backlog, blob store, model cache, SIP listeners and trunk registrations), as the binary reports it through
//! [`crate::state::NodeConsole`]. Admins only: it names paths, addresses and trunks.

use axum::extract::State;
use axum::Json;
use serde_json::Value;

use crate::auth::{Caller, Role};
use crate::error::ApiError;
use crate::state::ApiState;

/// `GET /system`: this node's state.
pub async fn system(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "reading the node's state")?;
    let node = state.node_console()?;
    Ok(Json(node.system().await))
}
