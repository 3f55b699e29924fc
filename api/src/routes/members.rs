//! `members/*`: an org's people. The original's routes and bodies (`GET /members/{org_id}`,
//! `POST /members/add-member`, `/delete-member`, `/transfer-ownership`, `{email, org_id}`), made safe: joining
//! needs an invite link (`POST /members/invite`: random, 256-bit, bound to one email and a role, expiring,
//! single-use) instead of knowing the org id; roles change with `POST /members/update-role`; removing a member
//! ends their sessions and revokes the API keys they created; an org has exactly one owner, and only the owner
//! hands ownership on. Every change is in the audit log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use voicera_store::{utc_text, Collection, Record};

use super::users::{member_view, send_mail, Source};
use crate::accounts::{self, Member};
use crate::audit::{self, Actor};
use crate::auth::api_key::StoredKey;
use crate::auth::{random_hex, random_text, same, secret_hash, Caller, Role};
use crate::error::{ApiError, ApiJson};
use crate::outbox::Mail;
use crate::state::ApiState;

/// What every invite token starts with.
const INVITE_PREFIX: &str = "inv_";

/// `GET /members/{org_id}`: the org's members with their roles (the original's shape plus `role`).
pub async fn list(
    caller: Caller,
    State(state): State<ApiState>,
    Path(org_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if org_id != caller.org_id {
        // 403 with the original's words (the path names an org; nothing of it is read).
        return Err(ApiError::forbidden("Not authorized to access members of this organization").at("org_id"));
    }
    let members: Vec<Value> =
        accounts::members_of(state.store(), &caller.org_id).await?.iter().map(member_view).collect();
    Ok(Json(json!({"members": members, "count": members.len()})))
}

/// Refuses an `org_id` in a body that is not the caller's (403, as the original: nothing of it is read).
fn own_org(caller: &Caller, org_id: Option<&str>) -> Result<(), ApiError> {
    match org_id {
        Some(org) if org != caller.org_id => {
            Err(ApiError::forbidden("Not authorized for this organization").at("org_id"))
        }
        _ => Ok(()),
    }
}

/// A role a member may be given (not owner: ownership is transferred), no higher than the caller's.
fn grantable(caller: &Caller, text: &str) -> Result<Role, ApiError> {
    let role = Role::parse(text).filter(|r| *r != Role::Owner).ok_or_else(|| {
        ApiError::invalid("role", format!("{text:?} is not viewer, member or admin (ownership is transferred)"))
    })?;
    if role > caller.role {
        return Err(
            ApiError::forbidden(format!("you cannot grant more than your role ({})", caller.role.as_str())).at("role")
        );
    }
    Ok(role)
}

/// The member `email` of the caller's org that the caller may manage: not the owner, not themselves, and
/// (unless the caller owns the org) below the caller's role.
async fn manageable(state: &ApiState, caller: &Caller, email: &str, action: &str) -> Result<Member, ApiError> {
    let email = accounts::normalize_email(email);
    let target = accounts::member(state.store(), &caller.org_id, &email)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no member {email:?} in your org")).at("email"))?;
    if target.email == caller.email {
        return Err(ApiError::forbidden(format!("you cannot {action} yourself")).at("email"));
    }
    if target.role == Role::Owner {
        return Err(ApiError::forbidden(format!("you cannot {action} the owner; the owner transfers ownership first"))
            .at("email"));
    }
    if caller.role != Role::Owner && target.role >= caller.role {
        return Err(ApiError::forbidden(format!(
            "only the owner can {action} a member whose role is {}",
            target.role.as_str()
        ))
        .at("email"));
    }
    Ok(target)
}

/// The body of `POST /members/invite`.
#[derive(Debug, Deserialize)]
pub struct InviteBody {
    email: String,
    /// `viewer`, `member` (default) or `admin`; at most the inviter's role.
    #[serde(default)]
    role: Option<String>,
}

/// `POST /members/invite`: an invite link for one email and role, valid [`crate::ApiConfig::invite_ttl`], once.
/// The link is in the answer (to hand on) and mailed to the invitee.
pub async fn invite(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<InviteBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Role::Admin, "inviting members")?;
    let email = accounts::normalize_email(&body.email);
    accounts::check_email(&email, "email")?;
    let role = grantable(&caller, body.role.as_deref().unwrap_or("member"))?;
    if accounts::member(state.store(), &caller.org_id, &email).await?.is_some() {
        return Err(ApiError::conflict("email", format!("{email} is already a member of your org")));
    }
    let inviter = accounts::member(state.store(), &caller.org_id, &caller.email).await?;
    let company = inviter.map(|m| m.company_name).unwrap_or_default();
    let (invite_id, secret) = (random_hex(8)?, random_text(32)?);
    let now = state.now();
    let expires_at = now.saturating_add(i64::try_from(state.config().invite_ttl.as_millis()).unwrap_or(i64::MAX));
    let doc = json!({
        "email": email, "role": role, "company_name": company, "invited_by": caller.email,
        "created_at": utc_text(now), "expires_at": expires_at, "expires_at_text": utc_text(expires_at),
        "secret_hash": secret_hash(&secret), "used_at": null,
    });
    state
        .store()
        .put(Collection::Invites, &Record { org_id: caller.org_id.clone(), id: invite_id.clone(), doc })
        .await?;
    let token = format!("{INVITE_PREFIX}{invite_id}.{secret}");
    // The original console's invite page: /add-member/<org id>-<token>.
    let link = state.config().link_base().map(|base| format!("{base}/add-member/{}-{token}", caller.org_id));
    let days = state.config().invite_ttl.as_secs().div_ceil(86_400);
    let mail = Mail {
        to: email.clone(),
        subject: format!("{} invites you to VoiceERA", if company.is_empty() { "Your team" } else { &company }),
        body: format!(
            "{} invites you to join {} on VoiceERA as {}.\n\nAccept within {days} days (the link works once):\n\n{}\n",
            caller.email,
            if company.is_empty() { "their organisation" } else { &company },
            role.as_str(),
            link.clone().unwrap_or_else(|| format!("invite token: {token} (organisation {})", caller.org_id)),
        ),
        sent_at_millis: now,
    };
    let mailed = send_mail(&state, &mail).await;
    audit::record(&state, &caller, "invite_member", &email).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "status": "success", "message": "Invite created", "invite_id": invite_id, "invite_token": token,
            "invite_link": link, "email": email, "role": role, "org_id": caller.org_id,
            "expires_at": utc_text(expires_at), "mailed": mailed,
        })),
    ))
}

/// Whether an invite document is still open at `now` (not used, not revoked, not expired).
fn pending(doc: &Value, now: i64) -> bool {
    doc.get("used_at").is_none_or(Value::is_null)
        && doc.get("revoked_at").is_none_or(Value::is_null)
        && now < doc.get("expires_at").and_then(Value::as_i64).unwrap_or(0)
}

/// `GET /members/invites`: the org's open invites (without their tokens), newest first.
pub async fn list_invites(caller: Caller, State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "listing invites")?;
    let now = state.now();
    let mut invites: Vec<Value> = state
        .store()
        .list(Collection::Invites, &caller.org_id)
        .await?
        .into_iter()
        .filter(|r| pending(&r.doc, now))
        .map(|r| {
            let field = |key: &str| r.doc.get(key).cloned().unwrap_or(Value::Null);
            json!({
                "invite_id": r.id, "email": field("email"), "role": field("role"), "invited_by": field("invited_by"),
                "created_at": field("created_at"), "expires_at": field("expires_at_text"),
            })
        })
        .collect();
    invites.sort_by(|a, b| b["created_at"].as_str().cmp(&a["created_at"].as_str()));
    Ok(Json(json!({"invites": invites, "count": invites.len()})))
}

/// The body of `POST /members/revoke-invite`.
#[derive(Debug, Deserialize)]
pub struct RevokeInviteBody {
    invite_id: String,
}

/// `POST /members/revoke-invite`: closes an open invite; its link stops working.
pub async fn revoke_invite(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<RevokeInviteBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "revoking invites")?;
    let not_found = || ApiError::not_found(format!("no open invite {:?} in your org", body.invite_id)).at("invite_id");
    let mut invite =
        state.store().get(Collection::Invites, &caller.org_id, body.invite_id.trim()).await?.ok_or_else(not_found)?;
    if !pending(&invite.doc, state.now()) {
        return Err(not_found());
    }
    invite.doc["revoked_at"] = Value::String(utc_text(state.now()));
    state.store().put(Collection::Invites, &invite).await?;
    let email = invite.doc.get("email").and_then(Value::as_str).unwrap_or_default().to_string();
    audit::record(&state, &caller, "revoke_invite", &email).await?;
    Ok(Json(json!({"status": "success", "message": "Invite revoked", "invite_id": invite.id, "email": email})))
}

/// The body of `POST /members/add-member`: the original's invite-signup body plus the invite's token.
#[derive(Debug, Deserialize)]
pub struct AddMemberBody {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
    /// Accepted for the original's clients; the org's own name is used.
    #[serde(default)]
    #[allow(dead_code)]
    company_name: Option<String>,
    org_id: String,
    invite_token: String,
}

/// `POST /members/add-member`: accepts an invite. A new email becomes an account in the inviter's org with the
/// invited role; an existing account (proven by its password) moves into it, unless it owns an org that has
/// other members. The invite works once, before it expires, for its email only.
pub async fn add_member(
    State(state): State<ApiState>,
    Source(source): Source,
    ApiJson(body): ApiJson<AddMemberBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let refused = |why: &str| {
        ApiError::new(StatusCode::FORBIDDEN, "invalid_invite", format!("this invite link {why}; ask for a new one"))
            .at("invite_token")
    };
    let email = accounts::normalize_email(&body.email);
    accounts::check_email(&email, "email")?;
    let (invite_id, secret) = body
        .invite_token
        .trim()
        .strip_prefix(INVITE_PREFIX)
        .and_then(|t| t.split_once('.'))
        .ok_or_else(|| refused("is not valid"))?;
    let _serialised = state.0.accounts_lock.lock().await;
    let mut invite = state
        .store()
        .get(Collection::Invites, body.org_id.trim(), invite_id)
        .await?
        .ok_or_else(|| refused("is not valid"))?;
    let text = |key: &str| invite.doc.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    if !same(&text("secret_hash"), &secret_hash(secret)) {
        return Err(refused("is not valid"));
    }
    if !invite.doc.get("revoked_at").is_none_or(Value::is_null) {
        return Err(refused("has been revoked"));
    }
    if !invite.doc.get("used_at").is_none_or(Value::is_null) {
        return Err(refused("has been used already"));
    }
    if state.now() >= invite.doc.get("expires_at").and_then(Value::as_i64).unwrap_or(0) {
        return Err(refused("has expired"));
    }
    if text("email") != email {
        return Err(refused("is for another email").at("email"));
    }
    let role = Role::parse(&text("role")).filter(|r| *r != Role::Owner).unwrap_or(Role::Member);
    let org_id = invite.org_id.clone();
    let company = text("company_name");
    let member = match accounts::find_by_email(state.store(), &email).await? {
        Some(existing) if existing.org_id == org_id => {
            return Err(ApiError::conflict("email", "you are already a member of this org; log in"));
        }
        Some(existing) => move_member(&state, existing, &body.password, &org_id, &company, role, &source).await?,
        None => {
            accounts::check_new_password(&body.password, "password")?;
            let name = body
                .name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| ApiError::invalid("name", "give your name"))?;
            accounts::create_user(&state, &email, &body.password, name, &company, &org_id, role).await?
        }
    };
    invite.doc["used_at"] = Value::String(utc_text(state.now()));
    state.store().put(Collection::Invites, &invite).await?;
    let actor = Actor { user: member.email.clone(), key_id: None, org_id: org_id.clone(), ip: source };
    audit::record_as(&state, actor, "add_member", &member.email).await?;
    tracing::info!(%email, %org_id, role = role.as_str(), "invite accepted");
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"status": "success", "message": "Member added successfully", "org_id": org_id, "email": email, "role": role}),
        ),
    ))
}

/// Moves an existing account into `org_id` with `role`, once its password proves the invitee holds it
/// (rate-limited as logins are). Its sessions end; its API keys stop working (their creator left that org).
async fn move_member(
    state: &ApiState,
    existing: Member,
    password: &str,
    org_id: &str,
    company: &str,
    role: Role,
    source: &str,
) -> Result<Member, ApiError> {
    let checked = accounts::check_password(state, &existing.email, password, source).await?;
    if existing.role == Role::Owner && accounts::members_of(state.store(), &existing.org_id).await?.len() > 1 {
        return Err(ApiError::conflict(
            "email",
            "you own an org with other members: transfer its ownership before joining another",
        ));
    }
    let Some(mut record) = state.store().get(Collection::Users, &checked.org_id, &checked.email).await? else {
        return Err(ApiError::not_found("User not found"));
    };
    let old_org = record.org_id.clone();
    accounts::revoke_sessions(state, &old_org, &checked.email).await?;
    if let Some(doc) = record.doc.as_object_mut() {
        doc.insert("org_id".into(), json!(org_id));
        doc.insert("company_name".into(), json!(company));
        doc.insert("role".into(), json!(role));
        doc.insert("is_member".into(), json!(true));
        doc.insert("previous_org_id".into(), json!(old_org));
    }
    record.org_id = org_id.to_string();
    state.store().put(Collection::Users, &record).await?;
    state.store().delete(Collection::Users, &old_org, &checked.email).await?;
    tracing::info!(email = %checked.email, from = %old_org, to = %org_id, "existing account moved by an invite");
    Ok(Member::from_record(&record))
}

/// The body of `POST /members/update-role`.
#[derive(Debug, Deserialize)]
pub struct UpdateRoleBody {
    email: String,
    #[serde(default)]
    org_id: Option<String>,
    role: String,
}

/// `POST /members/update-role`: changes a member's role (admins: for members below them, up to their own role;
/// the owner: anyone but themselves). Takes effect on the member's next request.
pub async fn update_role(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<UpdateRoleBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "changing roles")?;
    own_org(&caller, body.org_id.as_deref())?;
    let role = grantable(&caller, &body.role)?;
    let target = manageable(&state, &caller, &body.email, "change the role of").await?;
    let mut record = state
        .store()
        .get(Collection::Users, &caller.org_id, &target.email)
        .await?
        .ok_or_else(|| ApiError::not_found("no such member in your org").at("email"))?;
    record.doc["role"] = json!(role);
    record.doc["is_member"] = json!(true);
    state.store().put(Collection::Users, &record).await?;
    audit::record(&state, &caller, "update_member_role", &target.email).await?;
    Ok(Json(json!({"status": "success", "message": "Role updated", "email": target.email, "role": role})))
}

/// The original's body of `POST /members/delete-member` and `/members/transfer-ownership`.
#[derive(Debug, Deserialize)]
pub struct MemberRef {
    email: String,
    #[serde(default)]
    org_id: Option<String>,
}

/// `POST /members/delete-member`: removes a member (admins: members below them; the owner: anyone but
/// themselves). Their sessions end and the API keys they created are revoked.
pub async fn delete_member(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MemberRef>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin, "removing members")?;
    own_org(&caller, body.org_id.as_deref())?;
    let target = manageable(&state, &caller, &body.email, "remove").await?;
    state.store().delete(Collection::Users, &caller.org_id, &target.email).await?;
    let sessions = accounts::revoke_sessions(&state, &caller.org_id, &target.email).await?;
    let mut keys = 0;
    for mut record in state.store().list(Collection::ApiKeys, &caller.org_id).await? {
        let Ok(mut key) = serde_json::from_value::<StoredKey>(record.doc.clone()) else {
            continue;
        };
        if key.created_by == target.email && key.revoked_at.is_none() {
            key.revoked_at = Some(utc_text(state.now()));
            record.doc = serde_json::to_value(&key).map_err(|e| ApiError::internal("API key", e))?;
            state.store().put(Collection::ApiKeys, &record).await?;
            keys += 1;
        }
    }
    audit::record(&state, &caller, "delete_member", &target.email).await?;
    tracing::info!(org_id = %caller.org_id, email = %target.email, sessions, keys, by = %caller.email, "member removed");
    Ok(Json(json!({
        "status": "success", "message": "Member deleted successfully",
        "sessions_revoked": sessions, "api_keys_revoked": keys,
    })))
}

/// `POST /members/transfer-ownership`: the owner makes another member the owner and becomes an admin. The
/// org's document names the new owner in one write first, so the org has exactly one owner throughout
/// ([`crate::accounts`]).
pub async fn transfer_ownership(
    caller: Caller,
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<MemberRef>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Owner, "transferring ownership")?;
    own_org(&caller, body.org_id.as_deref())?;
    let email = accounts::normalize_email(&body.email);
    if email == caller.email {
        return Err(ApiError::invalid("email", "you are the owner already; name the member to hand ownership to"));
    }
    let _serialised = state.0.accounts_lock.lock().await;
    let target = accounts::member(state.store(), &caller.org_id, &email)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no member {email:?} in your org")).at("email"))?;
    // The commit point: from this write on, the org's document says who owns it.
    let mut org = state.store().get(Collection::Orgs, &caller.org_id, &caller.org_id).await?.unwrap_or_else(|| Record {
        org_id: caller.org_id.clone(),
        id: caller.org_id.clone(),
        doc: json!({"org_id": caller.org_id, "company_name": target.company_name, "created_at": utc_text(state.now())}),
    });
    org.doc["owner_email"] = json!(target.email);
    org.doc["ownership_transferred_at"] = json!(utc_text(state.now()));
    state.store().put(Collection::Orgs, &org).await?;
    // Then the user documents follow (readers already see the new owner through the org's document).
    for (email, role) in [(&target.email, Role::Owner), (&caller.email, Role::Admin)] {
        if let Some(mut record) = state.store().get(Collection::Users, &caller.org_id, email).await? {
            record.doc["role"] = json!(role);
            record.doc["is_member"] = json!(role != Role::Owner);
            state.store().put(Collection::Users, &record).await?;
        }
    }
    audit::record(&state, &caller, "transfer_ownership", &target.email).await?;
    tracing::info!(org_id = %caller.org_id, from = %caller.email, to = %target.email, "ownership transferred");
    Ok(Json(json!({"status": "success", "message": "Ownership transferred successfully", "owner": target.email})))
}
