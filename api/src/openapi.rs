//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the route table
//! ([`crate::routes::operations`]) the router is built from.

use std::sync::OnceLock;

use axum::Json;
use serde_json::{json, Map, Value};

use crate::routes::{body_schema, operations, Access, PREFIX};

/// The document (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// `GET /api/v1/openapi.json`: the API's OpenAPI document, built once from the route table.
pub async fn serve() -> Json<Value> {
    Json(document().clone())
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn build() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in operations() {
        let mut parameters = path_parameters(op.path);
        parameters.extend(op.query.iter().map(|(name, kind)| {
            let mut parameter = json!({"name": name, "in": "query", "required": false, "schema": {"type": kind}});
            if let Some((_, description)) = op.query_docs.iter().find(|(documented, _)| documented == name) {
                parameter["description"] = json!(description);
            }
            parameter
        }));
        let mut responses = Map::new();
        let content = match op.response_schema {
            Some(schema) => json!({"application/json": {"schema": schema()}}),
            None => json!({"application/json": {}}),
        };
        responses.insert(op.success.to_string(), json!({"description": "success", "content": content}));
        let mut operation = json!({
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
        });
        match op.access {
            Access::Public => {
                operation["security"] = json!([]);
            }
            Access::AtLeast(role) => {
                operation["security"] = json!([{"bearer": []}, {"session": []}]);
                operation["x-min-role"] = json!(role.as_str());
                responses.insert("401".into(), error_response("no, forged, expired or revoked credentials"));
                responses.insert("403".into(), error_response("the caller's role is too low"));
            }
        }
        if op.path.contains('{') {
            responses.insert("404".into(), error_response("no such object in the caller's org"));
        }
        if let Some(fields) = op.body {
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": body_schema(fields)}}});
            responses.insert("413".into(), error_response("the body is too large"));
        }
        responses.insert("422".into(), error_response("a field is invalid (`field` names it)"));
        operation["responses"] = Value::Object(responses);
        let item = paths.entry(format!("{PREFIX}{}", op.path)).or_insert_with(|| json!({}));
        item[op.method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "VoiceERA-rs control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The original VoicEra's /api/v1 routes and JSON shapes, authenticated and tenant-scoped.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an access token from users/login, or an API key (vk_…)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-voicera_session", "description": "the console's session (users/login with session_cookie: true; `voicera_session` when the public URL is http://); writes also need the X-CSRF-Token header"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["detail", "code"],
                    "properties": {
                        "detail": {"type": "string", "description": "what was wrong, for people"},
                        "code": {"type": "string", "description": "stable, for programs"},
                        "field": {"type": ["string", "null"], "description": "the request field at fault"},
                    },
                }
            },
        },
    })
}
