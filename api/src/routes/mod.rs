//! The control plane's one route table. Each [`Operation`] is both a route of the router and an operation of
//! the OpenAPI document ([`crate::openapi`]), so neither can list what the other lacks; a test checks the built
//! router for any route added around the table.

pub mod agents;
pub mod analytics;
pub mod batches;
pub mod dnc;
pub mod integrations;
pub mod keys;
pub mod knowledge;
pub mod live;
pub mod meetings;
pub mod members;
pub mod numbers;
pub mod org;
pub mod provider_numbers;
pub mod system;
mod upload;
pub mod users;
pub mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};
use serde_json::{json, Value};

use crate::auth::Role;
use crate::state::ApiState;

/// Every control-plane path starts with this (the original's prefix).
pub const PREFIX: &str = "/api/v1";

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials (signup, login, refresh, the document itself).
    Public,
    /// A bearer credential of a member with at least this role.
    AtLeast(Role),
}

/// A request body's top-level fields: name, JSON type, required.
pub type Fields = &'static [(&'static str, &'static str, bool)];

/// One operation: its route and its documentation.
pub struct Operation {
    /// The HTTP method.
    pub method: Method,
    /// Under [`PREFIX`], with `{param}` placeholders (axum's and OpenAPI's syntax alike).
    pub path: &'static str,
    /// The OpenAPI `operationId`.
    pub operation_id: &'static str,
    /// One line for the OpenAPI document.
    pub summary: &'static str,
    /// The OpenAPI tag that groups it (`users`, `agents`, ...).
    pub tag: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The request body's fields, when it takes one.
    pub body: Option<Fields>,
    /// Query parameters: name, JSON type.
    pub query: &'static [(&'static str, &'static str)],
    /// Descriptions of some query parameters, by name (the OpenAPI `description`).
    pub query_docs: &'static [(&'static str, &'static str)],
    /// Status of a successful answer.
    pub success: u16,
    /// The successful answer's JSON schema, where documented.
    pub response_schema: Option<fn() -> Value>,
    /// The axum handler that serves it.
    pub handler: MethodRouter<ApiState>,
}

#[allow(clippy::too_many_arguments)]
fn op(
    method: Method,
    path: &'static str,
    operation_id: &'static str,
    tag: &'static str,
    access: Access,
    summary: &'static str,
    body: Option<Fields>,
    handler: MethodRouter<ApiState>,
) -> Operation {
    let success = if method == Method::POST && (operation_id.starts_with("create") || operation_id == "signup") {
        201
    } else {
        200
    };
    Operation {
        method,
        path,
        operation_id,
        summary,
        tag,
        access,
        body,
        query: &[],
        query_docs: &[],
        success,
        response_schema: None,
        handler,
    }
}

const SIGNUP: Fields = &[
    ("email", "string", true),
    ("password", "string", true),
    ("name", "string", true),
    ("company_name", "string", true),
    ("org_id", "string", false),
];
const LOGIN: Fields = &[("email", "string", true), ("password", "string", true), ("session_cookie", "boolean", false)];
const REFRESH: Fields = &[("refresh_token", "string", true), ("session_cookie", "boolean", false)];
const LOGOUT: Fields = &[("refresh_token", "string", false)];
const FORGOT_PASSWORD: Fields = &[("email", "string", true)];
const RESET_PASSWORD: Fields = &[("token", "string", true), ("new_password", "string", true)];
const INVITE: Fields = &[("email", "string", true), ("role", "string", false)];
const ADD_MEMBER: Fields = &[
    ("email", "string", true),
    ("password", "string", true),
    ("name", "string", false),
    ("company_name", "string", false),
    ("org_id", "string", true),
    ("invite_token", "string", true),
];
const REVOKE_INVITE: Fields = &[("invite_id", "string", true)];
const MEMBER_REF: Fields = &[("email", "string", true), ("org_id", "string", false)];
const ORG_RETENTION: Fields = &[("recording_retention_days", "integer", true)];
const UPDATE_ROLE: Fields = &[("email", "string", true), ("org_id", "string", false), ("role", "string", true)];
const WEBHOOK_CREATE: Fields = &[
    ("url", "string", true),
    ("events", "array", true),
    ("description", "string", false),
    ("enabled", "boolean", false),
];
const WEBHOOK_UPDATE: Fields = &[
    ("url", "string", false),
    ("events", "array", false),
    ("description", "string", false),
    ("enabled", "boolean", false),
    ("rotate_secret", "boolean", false),
];
const SIGNED_LINK_QUERY: &[(&str, &str)] = &[("org_id", "string"), ("expires", "integer"), ("sig", "string")];
const DELIVERIES_QUERY: &[(&str, &str)] = &[("page", "integer"), ("limit", "integer")];
const AUDIT_QUERY: &[(&str, &str)] = &[("page", "integer"), ("limit", "integer")];
const API_KEY: Fields = &[("name", "string", true), ("role", "string", false)];
const AGENT_CREATE: Fields = &[
    ("agent_type", "string", true),
    ("agent_id", "string", false),
    ("agent_config", "object", true),
    ("org_id", "string", false),
    ("agent_category", "string", false),
    ("phone_number", "string", false),
    ("app_id", "string", false),
    ("greeting_message", "string", false),
    ("telephony_provider", "string", false),
    ("vobiz_app_id", "string", false),
    ("vobiz_answer_url", "string", false),
    ("plivo_app_id", "string", false),
    ("plivo_answer_url", "string", false),
];
const AGENT_UPDATE: Fields = &[
    ("agent_type", "string", false),
    ("agent_config", "object", true),
    ("agent_category", "string", false),
    ("phone_number", "string", false),
    ("app_id", "string", false),
    ("greeting_message", "string", false),
    ("telephony_provider", "string", false),
    ("vobiz_app_id", "string", false),
    ("vobiz_answer_url", "string", false),
    ("plivo_app_id", "string", false),
    ("plivo_answer_url", "string", false),
];
const NUMBER_ATTACH: Fields =
    &[("phone_number", "string", true), ("provider", "string", false), ("agent_type", "string", false)];
const NUMBER_DETACH: Fields = &[("phone_number", "string", true)];
const MEETINGS_QUERY: &[(&str, &str)] = &[
    ("page", "integer"),
    ("limit", "integer"),
    ("for_export", "boolean"),
    ("agent_type", "string"),
    ("agent_id", "string"),
    ("from_number", "string"),
    ("to_number", "string"),
    ("inbound", "boolean"),
    ("call_status", "string"),
    ("date_from", "string"),
    ("date_to", "string"),
    ("date_sort_order", "string"),
    ("duration_sort_order", "string"),
    ("has_latency_metrics", "boolean"),
    ("cursor", "string"),
];

const MEETINGS_QUERY_DOCS: &[(&str, &str)] = &[
    ("page", "the original's page number, from 1 (with `limit`); not with `cursor`"),
    ("limit", "calls per page: at most 50 (10,000 with `for_export`); default 50"),
    (
        "cursor",
        "keyset paging: `next_cursor` of the previous answer, sent with the same filters and sort (`limit` may \
         change). The page starts right after the previous page's last call, found by seeking the sort order's \
         index, so a deep page costs what the first does and calls added meanwhile neither repeat nor skip a \
         call. Opaque and signed: an altered or made-up cursor is a 422 with code `invalid_cursor`, one sent \
         with other filters, another sort or by another org a 422 with code `cursor_mismatch` (`field`: \
         `cursor`). Not with `page`",
    ),
    ("call_status", "Busy, Completed or In Progress"),
    ("date_from", "YYYY-MM-DD or an RFC 3339 UTC time, inclusive"),
    ("date_to", "YYYY-MM-DD (the whole day) or an RFC 3339 UTC time, inclusive"),
    ("date_sort_order", "latest (default) or oldest; ties by meeting id"),
    ("duration_sort_order", "longest or shortest (ties newest first); wins over date_sort_order"),
];

/// The meetings list's answer: the original's `{items, total, page, limit}` and `next_cursor`.
fn meetings_page_schema() -> Value {
    json!({
        "type": "object",
        "required": ["items", "total", "page", "limit", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"type": "object"}, "description": "the page's call logs"},
            "total": {"type": "integer", "description": "calls matching the filters on all pages"},
            "page": {"type": "integer", "description": "the page's number (from a cursor: its position / limit + 1, counted along the walk)"},
            "limit": {"type": "integer", "description": "the page size applied"},
            "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next page; null when no call follows"},
        },
    })
}

const ANALYTICS_QUERY: &[(&str, &str)] =
    &[("agent_type", "string"), ("phone_number", "string"), ("start_date", "string"), ("end_date", "string")];
const INTEGRATION: Fields = &[("model", "string", true), ("api_key", "string", true), ("org_id", "string", false)];
const CUSTOM_LLM_CREATE: Fields = &[
    ("name", "string", true),
    ("base_url", "string", true),
    ("api_key", "string", true),
    ("model", "string", true),
    ("org_id", "string", false),
];
const CUSTOM_LLM_UPDATE: Fields = &[
    ("name", "string", false),
    ("base_url", "string", false),
    ("api_key", "string", false),
    ("model", "string", false),
    ("org_id", "string", false),
];
const RAG_RETRIEVE: Fields = &[
    ("question", "string", true),
    ("top_k", "integer", false),
    ("document_ids", "array", false),
    ("org_id", "string", false),
];

const BATCH_UPLOAD_QUERY: &[(&str, &str)] = &[
    ("batch_name", "string"),
    ("agent_type", "string"),
    ("org_id", "string"),
    ("default_country", "string"),
    ("do_not_call", "string"),
];
const BATCH_RUN: Fields = &[
    ("agent_type", "string", false),
    ("concurrency", "integer", false),
    ("trunk", "string", false),
    ("provider", "string", false),
    ("caller_id", "string", false),
    ("org_id", "string", false),
];
const BATCH_SCHEDULE: Fields = &[
    ("scheduled_at_local", "string", true),
    ("timezone", "string", false),
    ("agent_type", "string", false),
    ("concurrency", "integer", false),
    ("trunk", "string", false),
    ("provider", "string", false),
    ("caller_id", "string", false),
    ("org_id", "string", false),
];
const CAMPAIGN: Fields = &[
    ("max_live_calls", "integer", false),
    ("calls_per_second", "integer", false),
    ("ring_timeout_seconds", "integer", false),
    ("retry", "object", false),
    ("days", "array", false),
    ("windows", "array", false),
    ("utc_offset_minutes", "integer", false),
    ("start_at", "integer", false),
    ("end_at", "integer", false),
    ("trunk", "string", false),
    ("provider", "string", false),
    ("caller_id", "string", false),
    ("amd", "string", false),
    ("voicemail_message", "string", false),
];
const DNC_ADD: Fields =
    &[("numbers", "array", true), ("default_country", "string", false), ("reason", "string", false)];

const PROVIDER_APPLICATION: Fields = &[("agent_type", "string", true), ("answer_url", "string", true)];
const PROVIDER_LINK: Fields = &[("phone_number", "string", true), ("application_id", "string", true)];
const PROVIDER_UNLINK: Fields = &[("phone_number", "string", true)];

/// The original's Vobiz and Plivo proxies (the org's account on the provider's REST API), after campaigns.
fn provider_number_operations() -> Vec<Operation> {
    use provider_numbers as p;
    use Method as M;
    let viewer = Access::AtLeast(Role::Viewer);
    let member = Access::AtLeast(Role::Member);
    vec![
        op(
            M::POST,
            "/vobiz/application",
            "create_vobiz_application",
            "vobiz",
            member,
            "Create a Vobiz application named after an agent, with its answer URL (the org's Vobiz account)",
            Some(PROVIDER_APPLICATION),
            post(p::vobiz_create_application),
        ),
        op(
            M::DELETE,
            "/vobiz/application/{application_id}",
            "delete_vobiz_application",
            "vobiz",
            member,
            "Delete a Vobiz application (one already gone is not an error)",
            None,
            delete(p::vobiz_delete_application),
        ),
        op(
            M::GET,
            "/vobiz/numbers",
            "list_vobiz_numbers",
            "vobiz",
            viewer,
            "The numbers on the org's Vobiz account (`numbers`), each with its application (`items`)",
            None,
            get(p::vobiz_numbers),
        ),
        Operation {
            success: 201,
            ..op(
                M::POST,
                "/vobiz/numbers/link",
                "link_vobiz_number",
                "vobiz",
                member,
                "Send a Vobiz number's calls to an application",
                Some(PROVIDER_LINK),
                post(p::vobiz_link),
            )
        },
        op(
            M::DELETE,
            "/vobiz/numbers/unlink",
            "unlink_vobiz_number",
            "vobiz",
            member,
            "Detach a Vobiz number from its application",
            Some(PROVIDER_UNLINK),
            delete(p::vobiz_unlink),
        ),
        op(
            M::POST,
            "/plivo/application",
            "create_plivo_application",
            "plivo",
            member,
            "Create a Plivo application named after an agent, with its answer URL (the org's Plivo account)",
            Some(PROVIDER_APPLICATION),
            post(p::plivo_create_application),
        ),
        op(
            M::DELETE,
            "/plivo/application/{application_id}",
            "delete_plivo_application",
            "plivo",
            member,
            "Delete a Plivo application (one already gone is not an error)",
            None,
            delete(p::plivo_delete_application),
        ),
        op(
            M::GET,
            "/plivo/numbers",
            "list_plivo_numbers",
            "plivo",
            viewer,
            "The numbers on the org's Plivo account (`numbers`), each with its application (`items`)",
            None,
            get(p::plivo_numbers),
        ),
        Operation {
            success: 201,
            ..op(
                M::POST,
                "/plivo/numbers/link",
                "link_plivo_number",
                "plivo",
                member,
                "Send a Plivo number's calls to an application",
                Some(PROVIDER_LINK),
                post(p::plivo_link),
            )
        },
        op(
            M::DELETE,
            "/plivo/numbers/unlink",
            "unlink_plivo_number",
            "plivo",
            member,
            "Detach a Plivo number from its application",
            Some(PROVIDER_UNLINK),
            delete(p::plivo_unlink),
        ),
    ]
}

/// The campaign operations (`batches`, the original's paths, and `campaigns`), at the end of the table.
fn campaign_operations() -> Vec<Operation> {
    use Method as M;
    let viewer = Access::AtLeast(Role::Viewer);
    let member = Access::AtLeast(Role::Member);
    vec![
        Operation {
            query: BATCH_UPLOAD_QUERY,
            success: 201,
            ..op(
                M::POST,
                "/batches/upload",
                "create_batch",
                "batches",
                member,
                "Upload a contact list (multipart `file`, or the CSV as the body; ≤ 10 MB): every bad, duplicate and do-not-call row reported by line",
                None,
                post(batches::upload).layer(DefaultBodyLimit::max(batches::UPLOAD_BODY_LIMIT)),
            )
        },
        Operation {
            query: &[("agent_type", "string")],
            ..op(M::GET, "/batches", "list_batches", "batches", viewer, "The org's batches, newest first", None, get(batches::list))
        },
        op(
            M::GET,
            "/batches/{batch_id}",
            "get_batch",
            "batches",
            viewer,
            "A batch with its contacts counted by state and outcome, progress and ETA",
            None,
            get(batches::get),
        ),
        Operation {
            query: &[("page", "integer"), ("limit", "integer")],
            ..op(
                M::GET,
                "/batches/{batch_id}/contacts",
                "list_batch_contacts",
                "batches",
                viewer,
                "A batch's contacts in file order: state, disposition and every attempt",
                None,
                get(batches::contacts_of),
            )
        },
        op(
            M::DELETE,
            "/batches/{batch_id}",
            "delete_batch",
            "batches",
            member,
            "Delete a batch and its contacts (not while it runs)",
            None,
            delete(batches::remove),
        ),
        op(
            M::POST,
            "/batches/{batch_id}/run",
            "run_batch",
            "batches",
            member,
            "Start dialling (optional body: agent_type, concurrency = live calls, trunk, caller_id)",
            Some(BATCH_RUN),
            post(batches::run),
        ),
        op(
            M::POST,
            "/batches/{batch_id}/stop",
            "stop_batch",
            "batches",
            member,
            "Stop dialling: no new calls, no retries; live calls finish",
            None,
            post(batches::stop),
        ),
        op(
            M::POST,
            "/batches/{batch_id}/schedule",
            "schedule_batch",
            "batches",
            member,
            "Run once at a local time (scheduled_at_local, timezone)",
            Some(BATCH_SCHEDULE),
            post(batches::schedule),
        ),
        op(
            M::POST,
            "/batches/{batch_id}/schedule/reschedule",
            "reschedule_batch",
            "batches",
            member,
            "Move a pending schedule",
            Some(BATCH_SCHEDULE),
            post(batches::reschedule),
        ),
        op(
            M::POST,
            "/batches/{batch_id}/schedule/cancel",
            "cancel_batch_schedule",
            "batches",
            member,
            "Drop a pending schedule",
            None,
            post(batches::cancel_schedule),
        ),
        op(
            M::GET,
            "/campaigns/{batch_id}",
            "get_campaign",
            "campaigns",
            viewer,
            "A batch's campaign settings: pacing, windows, retries per outcome, trunk and caller id",
            None,
            get(batches::get_campaign),
        ),
        op(
            M::PUT,
            "/campaigns/{batch_id}",
            "update_campaign",
            "campaigns",
            member,
            "Set a batch's campaign settings; a running campaign follows within a second",
            Some(CAMPAIGN),
            put(batches::put_campaign),
        ),
        op(
            M::POST,
            "/campaigns/{batch_id}/pause",
            "pause_campaign",
            "campaigns",
            member,
            "Pause: no new calls until resumed; live calls continue",
            None,
            post(batches::pause),
        ),
        op(
            M::POST,
            "/campaigns/{batch_id}/resume",
            "resume_campaign",
            "campaigns",
            member,
            "Resume a paused campaign",
            None,
            post(batches::resume),
        ),
        Operation {
            query: AUDIT_QUERY,
            ..op(
                M::GET,
                "/dnc",
                "list_dnc",
                "dnc",
                viewer,
                "The org's do-not-call numbers (E.164), one page in number order, with the total",
                None,
                get(dnc::list),
            )
        },
        Operation {
            query: &[("default_country", "string"), ("reason", "string")],
            ..op(
                M::POST,
                "/dnc",
                "add_dnc",
                "dnc",
                member,
                "Add numbers to the org's do-not-call list (JSON, or a text/CSV body: one number per line); campaigns never dial them",
                Some(DNC_ADD),
                post(dnc::add),
            )
        },
        Operation {
            query: &[("default_country", "string")],
            ..op(
                M::DELETE,
                "/dnc/{number}",
                "remove_dnc",
                "dnc",
                member,
                "Take a number off the org's do-not-call list",
                None,
                delete(dnc::remove),
            )
        },
    ]
}

/// The table.
pub fn operations() -> Vec<Operation> {
    use Access::{AtLeast, Public};
    use Method as M;
    let viewer = AtLeast(Role::Viewer);
    let member = AtLeast(Role::Member);
    let admin = AtLeast(Role::Admin);
    let owner = AtLeast(Role::Owner);
    vec![
        op(
            M::GET,
            "/openapi.json",
            "openapi",
            "meta",
            Public,
            "This document (OpenAPI 3.1)",
            None,
            get(crate::openapi::serve),
        ),
        op(
            M::POST,
            "/users/signup",
            "signup",
            "users",
            Public,
            "Create an account and its org: open while no account exists, or when [api] open_signup is set",
            Some(SIGNUP),
            post(users::signup),
        ),
        op(
            M::POST,
            "/users/login",
            "login",
            "users",
            Public,
            "Log in: an access token (short-lived) and a refresh token; rate-limited per email and address",
            Some(LOGIN),
            post(users::login),
        ),
        op(M::GET, "/users/me", "me", "users", viewer, "The caller's account", None, get(users::me)),
        op(
            M::GET,
            "/users/{email}",
            "get_user",
            "users",
            viewer,
            "The caller's own account, by email (the original's route)",
            None,
            get(users::by_email),
        ),
        op(
            M::POST,
            "/users/forgot-password",
            "forgot_password",
            "users",
            Public,
            "Mail a single-use password-reset link (30 minutes); the same answer for unknown emails; rate-limited",
            Some(FORGOT_PASSWORD),
            post(users::forgot_password),
        ),
        op(
            M::POST,
            "/users/reset-password",
            "reset_password",
            "users",
            Public,
            "Set a new password with a reset link's token (once); ends every session of the account",
            Some(RESET_PASSWORD),
            post(users::reset_password),
        ),
        op(
            M::GET,
            "/members/{org_id}",
            "list_members",
            "members",
            viewer,
            "The org's members with their roles",
            None,
            get(members::list),
        ),
        Operation {
            success: 201,
            ..op(
                M::POST,
                "/members/invite",
                "invite_member",
                "members",
                admin,
                "An invite link for one email and role (random, expiring, single-use), also mailed to the invitee",
                Some(INVITE),
                post(members::invite),
            )
        },
        op(
            M::GET,
            "/members/invites",
            "list_invites",
            "members",
            admin,
            "The org's open invites (without their tokens)",
            None,
            get(members::list_invites),
        ),
        op(
            M::POST,
            "/members/revoke-invite",
            "revoke_invite",
            "members",
            admin,
            "Close an open invite: its link stops working",
            Some(REVOKE_INVITE),
            post(members::revoke_invite),
        ),
        Operation {
            success: 201,
            ..op(
                M::POST,
                "/members/add-member",
                "add_member",
                "members",
                Public,
                "Accept an invite: a new account in the org, or an existing one (its password proves it) moved in",
                Some(ADD_MEMBER),
                post(members::add_member),
            )
        },
        op(
            M::POST,
            "/members/update-role",
            "update_member_role",
            "members",
            admin,
            "Change a member's role (viewer, member, admin)",
            Some(UPDATE_ROLE),
            post(members::update_role),
        ),
        op(
            M::POST,
            "/members/delete-member",
            "delete_member",
            "members",
            admin,
            "Remove a member: their sessions end and the API keys they created are revoked",
            Some(MEMBER_REF),
            post(members::delete_member),
        ),
        op(
            M::POST,
            "/members/transfer-ownership",
            "transfer_ownership",
            "members",
            owner,
            "Make another member the owner (the owner becomes an admin); the org always has exactly one owner",
            Some(MEMBER_REF),
            post(members::transfer_ownership),
        ),
        op(
            M::GET,
            "/org/retention",
            "get_org_retention",
            "org",
            viewer,
            "How many days the org keeps its calls, recordings and transcripts (null: the node's default)",
            None,
            get(org::get_retention),
        ),
        op(
            M::PUT,
            "/org/retention",
            "set_org_retention",
            "org",
            admin,
            "Set (1 to 36500 days) or clear (null) the org's recording retention; the sweeper deletes older calls",
            Some(ORG_RETENTION),
            put(org::put_retention),
        ),
        Operation {
            query: AUDIT_QUERY,
            ..op(
                M::GET,
                "/audit",
                "list_audit",
                "audit",
                admin,
                "The org's audit log of changes, newest first, one page",
                None,
                get(crate::audit::list),
            )
        },
        op(
            M::POST,
            "/auth/refresh",
            "refresh",
            "auth",
            Public,
            "Trade a refresh token for new tokens; a spent token presented again revokes the session",
            Some(REFRESH),
            post(users::refresh),
        ),
        op(
            M::POST,
            "/auth/logout",
            "logout",
            "auth",
            Public,
            "End a session: the refresh token's, or the session cookie's (with X-CSRF-Token); clears the cookies",
            Some(LOGOUT),
            post(users::logout),
        ),
        op(
            M::POST,
            "/api-keys",
            "create_api_key",
            "api-keys",
            admin,
            "Create an API key for scripts (the key is shown in this answer only)",
            Some(API_KEY),
            post(keys::create),
        ),
        op(
            M::GET,
            "/api-keys",
            "list_api_keys",
            "api-keys",
            admin,
            "The org's API keys (without secrets)",
            None,
            get(keys::list),
        ),
        op(
            M::DELETE,
            "/api-keys/{key_id}",
            "revoke_api_key",
            "api-keys",
            admin,
            "Revoke an API key",
            None,
            delete(keys::revoke),
        ),
        op(
            M::POST,
            "/agents",
            "create_agent",
            "agents",
            member,
            "Create an agent; agent_config is checked by the same compile step as [[agents]]",
            Some(AGENT_CREATE),
            post(agents::create),
        ),
        op(
            M::DELETE,
            "/agents",
            "delete_agent_by_query",
            "agents",
            member,
            "Delete an agent named by ?agent_type= (names containing '/')",
            None,
            delete(agents::delete_by_query),
        ),
        op(
            M::GET,
            "/agents/org/{org_id}",
            "list_agents",
            "agents",
            viewer,
            "The org's agents",
            None,
            get(agents::list_by_org),
        ),
        op(
            M::GET,
            "/agents/{agent_type}",
            "get_agent",
            "agents",
            viewer,
            "An agent by name",
            None,
            get(agents::get_by_name),
        ),
        op(
            M::PUT,
            "/agents/{agent_type}",
            "update_agent",
            "agents",
            member,
            "Change an agent, by name",
            Some(AGENT_UPDATE),
            put(agents::update_by_name),
        ),
        op(
            M::DELETE,
            "/agents/{agent_type}",
            "delete_agent",
            "agents",
            member,
            "Delete an agent, by name",
            None,
            delete(agents::delete_by_name),
        ),
        op(
            M::GET,
            "/agents/id/{agent_id}",
            "get_agent_by_id",
            "agents",
            viewer,
            "An agent by id",
            None,
            get(agents::get_by_id),
        ),
        op(
            M::PUT,
            "/agents/id/{agent_id}",
            "update_agent_by_id",
            "agents",
            member,
            "Change an agent, by id",
            Some(AGENT_UPDATE),
            put(agents::update_by_id),
        ),
        op(
            M::DELETE,
            "/agents/id/{agent_id}",
            "delete_agent_by_id",
            "agents",
            member,
            "Delete an agent, by id",
            None,
            delete(agents::delete_by_id),
        ),
        Operation {
            success: 201,
            ..op(
                M::POST,
                "/phone-numbers/attach",
                "attach_phone_number",
                "phone-numbers",
                member,
                "Attach a number to an agent (calls to it reach the agent at once); a number belongs to one org",
                Some(NUMBER_ATTACH),
                post(numbers::attach),
            )
        },
        op(
            M::DELETE,
            "/phone-numbers/detach",
            "detach_phone_number",
            "phone-numbers",
            member,
            "Detach a number from its agent",
            Some(NUMBER_DETACH),
            delete(numbers::detach),
        ),
        op(
            M::GET,
            "/phone-numbers/org/{org_id}",
            "list_phone_numbers",
            "phone-numbers",
            viewer,
            "The org's numbers and the agents they lead to",
            None,
            get(numbers::list_by_org),
        ),
        op(
            M::GET,
            "/phone-numbers/agent/{agent_type}",
            "get_agent_phone_number",
            "phone-numbers",
            viewer,
            "The number attached to an agent, by name (the original's one object; 404 when none)",
            None,
            get(numbers::get_by_agent),
        ),
        Operation {
            query: MEETINGS_QUERY,
            query_docs: MEETINGS_QUERY_DOCS,
            response_schema: Some(meetings_page_schema),
            ..op(
                M::GET,
                "/meetings",
                "list_meetings",
                "meetings",
                viewer,
                "The call history: filtered, sorted, one page (by `page` or by `cursor`), with the total and the next page's cursor",
                None,
                get(meetings::list),
            )
        },
        op(
            M::GET,
            "/meetings/filter-options",
            "meeting_filter_options",
            "meetings",
            viewer,
            "Distinct agents and numbers of the org's calls (the History tab's drop-downs)",
            None,
            get(meetings::filter_options),
        ),
        op(
            M::GET,
            "/meetings/{meeting_id}",
            "get_meeting",
            "meetings",
            viewer,
            "One call: its record with the transcript parsed into turns, each answer's latency, the per-turn timings",
            None,
            get(meetings::detail),
        ),
        Operation {
            query: MEETINGS_QUERY,
            query_docs: MEETINGS_QUERY_DOCS,
            ..op(
                M::GET,
                "/meetings/export",
                "export_meetings",
                "meetings",
                viewer,
                "The list's selection (every filter and sort) as a CSV download, up to 10,000 calls",
                None,
                get(meetings::export),
            )
        },
        op(
            M::GET,
            "/meetings/{meeting_id}/recording",
            "get_meeting_recording",
            "meetings",
            viewer,
            "The call's audio, streamed; one HTTP Range honoured (206 with Content-Range, 416 when unsatisfiable)",
            None,
            get(meetings::recording),
        ),
        Operation {
            query: ANALYTICS_QUERY,
            ..op(
                M::GET,
                "/analytics",
                "analytics",
                "analytics",
                viewer,
                "Call figures (attempts, connected, minutes, busiest agent, per agent) and latency p50/p90/p99 per agent and per day",
                None,
                get(analytics::analytics),
            )
        },
        op(
            M::POST,
            "/integrations",
            "create_integration",
            "integrations",
            admin,
            "Store (or replace) the org's key for a provider; sealed at rest, answered masked",
            Some(INTEGRATION),
            post(integrations::upsert),
        ),
        op(
            M::GET,
            "/integrations",
            "list_integrations",
            "integrations",
            viewer,
            "The org's provider keys, masked",
            None,
            get(integrations::list),
        ),
        op(
            M::GET,
            "/integrations/{model}",
            "get_integration",
            "integrations",
            viewer,
            "One provider's key, masked",
            None,
            get(integrations::get),
        ),
        op(
            M::DELETE,
            "/integrations/{model}",
            "delete_integration",
            "integrations",
            admin,
            "Forget a provider's key",
            None,
            delete(integrations::remove),
        ),
        op(
            M::POST,
            "/custom-llm-integrations",
            "create_custom_llm",
            "integrations",
            admin,
            "Add an OpenAI-compatible server (base_url normalised to end in /v1; key sealed, answered masked)",
            Some(CUSTOM_LLM_CREATE),
            post(integrations::create_custom_llm),
        ),
        op(
            M::GET,
            "/custom-llm-integrations",
            "list_custom_llms",
            "integrations",
            viewer,
            "The org's custom LLM servers, keys masked",
            None,
            get(integrations::list_custom_llms),
        ),
        op(
            M::PUT,
            "/custom-llm-integrations/{custom_llm_id}",
            "update_custom_llm",
            "integrations",
            admin,
            "Change a custom LLM server (the key stays unless one is sent)",
            Some(CUSTOM_LLM_UPDATE),
            put(integrations::update_custom_llm),
        ),
        op(
            M::DELETE,
            "/custom-llm-integrations/{custom_llm_id}",
            "delete_custom_llm",
            "integrations",
            admin,
            "Remove a custom LLM server",
            None,
            delete(integrations::delete_custom_llm),
        ),
        op(
            M::GET,
            "/knowledge",
            "list_knowledge_documents",
            "knowledge",
            viewer,
            "The org's knowledge documents with their status (processing, ready, failed)",
            None,
            get(knowledge::list),
        ),
        op(
            M::POST,
            "/knowledge/upload",
            "create_knowledge_document",
            "knowledge",
            member,
            "Upload a document (multipart `file`: PDF up to 25 MB, text or Markdown; 415 for others, 413 when larger); \
             answered at once with status `processing`: list the documents for `ready` or `failed`; 429 `busy` with \
             `Retry-After` while the node processes as many documents as it may",
            None,
            post(knowledge::upload).layer(DefaultBodyLimit::max(knowledge::UPLOAD_BODY_LIMIT)),
        ),
        op(
            M::DELETE,
            "/knowledge/{document_id}",
            "delete_knowledge_document",
            "knowledge",
            member,
            "Delete a document and its text",
            None,
            delete(knowledge::remove),
        ),
        op(
            M::POST,
            "/rag/retrieve",
            "rag_retrieve",
            "knowledge",
            viewer,
            "The passages of the org's ready documents that best answer a question (BM25, as agents look up)",
            Some(RAG_RETRIEVE),
            post(knowledge::retrieve),
        ),
        op(
            M::POST,
            "/webhooks",
            "create_webhook",
            "webhooks",
            admin,
            "Add a webhook endpoint (https URL, subscribed events); the answer shows its signing secret once",
            Some(WEBHOOK_CREATE),
            post(webhooks::create),
        ),
        op(
            M::GET,
            "/webhooks",
            "list_webhooks",
            "webhooks",
            viewer,
            "The org's webhook endpoints, secrets masked, and the events they may subscribe to",
            None,
            get(webhooks::list),
        ),
        op(
            M::GET,
            "/webhooks/{endpoint_id}",
            "get_webhook",
            "webhooks",
            viewer,
            "One webhook endpoint, secret masked",
            None,
            get(webhooks::get),
        ),
        op(
            M::PUT,
            "/webhooks/{endpoint_id}",
            "update_webhook",
            "webhooks",
            admin,
            "Change a webhook endpoint (URL, events, description, enabled); rotate_secret shows a new secret once",
            Some(WEBHOOK_UPDATE),
            put(webhooks::update),
        ),
        op(
            M::DELETE,
            "/webhooks/{endpoint_id}",
            "delete_webhook",
            "webhooks",
            admin,
            "Remove a webhook endpoint (its queued deliveries are cancelled)",
            None,
            delete(webhooks::remove),
        ),
        Operation {
            query: DELIVERIES_QUERY,
            ..op(
                M::GET,
                "/webhooks/{endpoint_id}/deliveries",
                "list_webhook_deliveries",
                "webhooks",
                viewer,
                "The endpoint's delivery log, newest first (status, attempts made, next attempt)",
                None,
                get(webhooks::deliveries),
            )
        },
        op(
            M::GET,
            "/webhooks/{endpoint_id}/deliveries/{delivery_id}",
            "get_webhook_delivery",
            "webhooks",
            viewer,
            "One delivery: its body and every attempt (status, latency, first KB of the answer, error)",
            None,
            get(webhooks::delivery_detail),
        ),
        op(
            M::POST,
            "/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
            "replay_webhook_delivery",
            "webhooks",
            admin,
            "Send a delivery's event again as a new delivery (same event id and body)",
            None,
            post(webhooks::replay),
        ),
        op(
            M::POST,
            "/webhooks/{endpoint_id}/test",
            "test_webhook",
            "webhooks",
            admin,
            "Queue a webhook.test event to this endpoint",
            None,
            post(webhooks::test),
        ),
        Operation {
            query: SIGNED_LINK_QUERY,
            ..op(
                M::GET,
                "/meetings/{meeting_id}/recording/signed",
                "get_meeting_recording_signed",
                "meetings",
                Access::Public,
                "The call's audio by a short-lived signed link (as in webhooks' call.ended), no credential; 403 when invalid or expired",
                None,
                get(meetings::signed_recording),
            )
        },
        op(
            M::GET,
            "/calls/live",
            "list_live_calls",
            "calls",
            viewer,
            "The org's calls in progress: this node's with their transcript so far, other nodes' from the store",
            None,
            get(live::list),
        ),
        op(
            M::GET,
            "/calls/live/{id}",
            "get_live_call",
            "calls",
            viewer,
            "One call in progress on this node, with its transcript so far",
            None,
            get(live::get),
        ),
        op(
            M::GET,
            "/calls/live/{id}/events",
            "live_call_events",
            "calls",
            viewer,
            "The call's transcript as Server-Sent Events (`turn`, then `ended`); Last-Event-ID resumes",
            None,
            get(live::events),
        ),
        Operation {
            success: 202,
            ..op(
                M::POST,
                "/calls/live/{id}/hangup",
                "hangup_live_call",
                "calls",
                admin,
                "End a call in progress (BYE, the stream's stop, WebRTC close); audit-logged",
                None,
                post(live::hang_up),
            )
        },
        op(
            M::GET,
            "/system",
            "system",
            "system",
            admin,
            "This node: id, version, uptime, roles, store and spool health, blob store, model cache, SIP and trunks",
            None,
            get(system::system),
        ),
    ]
    .into_iter()
    .chain(campaign_operations())
    .chain(provider_number_operations())
    .collect()
}

/// A request body's JSON Schema.
pub fn body_schema(fields: Fields) -> Value {
    let properties: serde_json::Map<String, Value> =
        fields.iter().map(|(name, kind, _)| (name.to_string(), json!({"type": kind}))).collect();
    let required: Vec<&str> = fields.iter().filter(|f| f.2).map(|f| f.0).collect();
    json!({"type": "object", "properties": properties, "required": required})
}
