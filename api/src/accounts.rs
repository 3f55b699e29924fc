//! Accounts and orgs in the store: users (`Users/<org>/<email>`, the original's `UserTable` fields plus
//! `role` and the password hash), orgs (`Orgs/<org>/<org>`), login sessions (`RefreshTokens`), the password
//! check behind login (rate-limited, re-hashing imported bcrypt hashes) and the owner bootstrap the binary
//! runs at start.
//!
//! Ownership: once an org's ownership has been transferred, its `Orgs` document names the owner
//! (`owner_email`) and that one field decides who the owner is, whatever the user documents say: the transfer
//! writes it first, in one document write, so an org never has two owners or none, even if the node stops
//! between the writes that bring the user documents in line. Orgs never transferred go by their user
//! documents (one owner by construction).

use serde::Serialize;
use serde_json::{json, Value};
use voicera_store::{utc_text, Collection, Record, Store};

use crate::auth::password::{self, Verified};
use crate::auth::refresh::{self, Family};
use crate::auth::token::AccessClaims;
use crate::auth::{random_hex, random_text, Role};
use crate::error::ApiError;
use crate::state::ApiState;

/// A member of an org, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The login name: lower-case, also the record's id.
    pub email: String,
    /// The person's name, as the console shows it.
    pub name: String,
    /// The org (tenant) the account belongs to.
    pub org_id: String,
    /// The org's display name, given at signup.
    pub company_name: String,
    /// What the account may do in its org.
    pub role: Role,
    /// When the account was created (UTC text); absent on some imported accounts.
    pub created_at: Option<String>,
    password_hash: Option<String>,
}

impl Member {
    /// Reads a `Users` record, including imported ones (an original user without `role` is an owner unless
    /// `is_member`).
    pub fn from_record(record: &Record) -> Member {
        let text = |key: &str| record.doc.get(key).and_then(Value::as_str).map(str::to_string);
        // Imported users carry the original's `is_member` (false = owner) and a role the import derived.
        let role = text("role").as_deref().and_then(Role::parse).unwrap_or(
            if record.doc.get("is_member").and_then(Value::as_bool).unwrap_or(true) {
                Role::Member
            } else {
                Role::Owner
            },
        );
        Member {
            email: record.id.clone(),
            name: text("name").unwrap_or_default(),
            org_id: record.org_id.clone(),
            company_name: text("company_name").unwrap_or_default(),
            role,
            created_at: text("created_at"),
            password_hash: text("password_hash"),
        }
    }
}

/// An email as accounts are keyed: trimmed, lower-case.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Refuses text that cannot be an email address (422 on `field`).
pub fn check_email(email: &str, field: &str) -> Result<(), ApiError> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(field, format!("{email:?} is not an email address")))
    }
}

/// Shortest password accepted for a new account (NIST SP 800-63B's minimum).
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password hashed (a bound on hashing work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Refuses a password too short to be safe or too long to hash cheaply (422 on `field`).
pub fn check_new_password(password: &str, field: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(field, format!("use at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(field, format!("use at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// The member `email` of `org_id`, if there is one, with the org's ownership applied.
pub async fn member(store: &Store, org_id: &str, email: &str) -> Result<Option<Member>, ApiError> {
    let Some(record) = store.get(Collection::Users, org_id, email).await? else {
        return Ok(None);
    };
    let mut member = Member::from_record(&record);
    let owner = recorded_owner(store, org_id).await?;
    apply_owner(&mut member, owner.as_deref());
    Ok(Some(member))
}

/// The org's members, by email, with the org's ownership applied.
pub async fn members_of(store: &Store, org_id: &str) -> Result<Vec<Member>, ApiError> {
    let owner = recorded_owner(store, org_id).await?;
    let mut members: Vec<Member> =
        store.list(Collection::Users, org_id).await?.iter().map(Member::from_record).collect();
    for member in &mut members {
        apply_owner(member, owner.as_deref());
    }
    Ok(members)
}

/// The owner the org's document names (set by a transfer), if any.
pub async fn recorded_owner(store: &Store, org_id: &str) -> Result<Option<String>, ApiError> {
    Ok(store
        .get(Collection::Orgs, org_id, org_id)
        .await?
        .and_then(|r| r.doc.get("owner_email").and_then(Value::as_str).map(str::to_string)))
}

/// The org document's owner decides: its member is the owner, anyone else the user documents call owner (a
/// transfer cut short) is an admin.
fn apply_owner(member: &mut Member, owner: Option<&str>) {
    match owner {
        Some(owner) if owner == member.email => member.role = Role::Owner,
        Some(_) if member.role == Role::Owner => member.role = Role::Admin,
        _ => {}
    }
}

/// Ends every login session (refresh-token family, and so the console's cookie) of `email` in `org_id`;
/// answers how many were live.
pub async fn revoke_sessions(state: &ApiState, org_id: &str, email: &str) -> Result<usize, ApiError> {
    let mut revoked = 0;
    for mut record in state.store().list(Collection::RefreshTokens, org_id).await? {
        let Ok(mut family) = serde_json::from_value::<Family>(record.doc.clone()) else {
            continue;
        };
        if family.email != email || family.revoked {
            continue;
        }
        family.revoked = true;
        record.doc = serde_json::to_value(&family).map_err(|e| ApiError::internal("session", e))?;
        state.store().put(Collection::RefreshTokens, &record).await?;
        revoked += 1;
    }
    Ok(revoked)
}

/// Replaces the password of `email` in `org_id` (argon2id).
pub async fn set_password(state: &ApiState, org_id: &str, email: &str, password: &str) -> Result<(), ApiError> {
    let Some(mut record) = state.store().get(Collection::Users, org_id, email).await? else {
        return Err(ApiError::not_found("User not found"));
    };
    let hash = hash_password(state, password).await?;
    if let Some(doc) = record.doc.as_object_mut() {
        doc.insert("password_hash".into(), Value::String(hash));
        doc.insert("password_scheme".into(), Value::String("argon2id".into()));
        doc.insert("password_changed_at".into(), Value::String(utc_text(state.now())));
    }
    state.store().put(Collection::Users, &record).await?;
    Ok(())
}

/// The account with this email, in whichever org it is (emails are unique across orgs).
pub async fn find_by_email(store: &Store, email: &str) -> Result<Option<Member>, ApiError> {
    let found = store.find_id(Collection::Users, &normalize_email(email)).await?;
    if found.len() > 1 {
        tracing::warn!(email, orgs = found.len(), "one email in several orgs; using the first");
    }
    let Some(mut member) = found.first().map(Member::from_record) else {
        return Ok(None);
    };
    let owner = recorded_owner(store, &member.org_id).await?;
    apply_owner(&mut member, owner.as_deref());
    Ok(Some(member))
}

/// Hashes on the blocking pool (argon2id is slow on purpose).
pub(crate) async fn hash_password(state: &ApiState, password: &str) -> Result<String, ApiError> {
    let (password, cost) = (password.to_string(), state.config().password_cost);
    tokio::task::spawn_blocking(move || password::hash(&password, cost))
        .await
        .map_err(|e| ApiError::internal("password hashing", e))?
}

/// Creates an org; its id is 12 random hex digits (the original used 6: guessable, and they were the join key).
pub async fn create_org(state: &ApiState, company_name: &str) -> Result<String, ApiError> {
    let org_id = random_hex(6)?;
    let doc = json!({"org_id": org_id, "company_name": company_name, "created_at": utc_text(state.now())});
    state.store().put(Collection::Orgs, &Record { org_id: org_id.clone(), id: org_id.clone(), doc }).await?;
    Ok(org_id)
}

/// A new account in `org_id`. The caller has checked the email is not taken.
pub async fn create_user(
    state: &ApiState,
    email: &str,
    password: &str,
    name: &str,
    company_name: &str,
    org_id: &str,
    role: Role,
) -> Result<Member, ApiError> {
    let hash = hash_password(state, password).await?;
    let doc = json!({
        "email": email, "name": name, "org_id": org_id, "company_name": company_name,
        "role": role.as_str(), "is_member": role != Role::Owner,
        "password_hash": hash, "password_scheme": "argon2id", "created_at": utc_text(state.now()),
    });
    let record = Record { org_id: org_id.into(), id: email.into(), doc };
    state.store().put(Collection::Users, &record).await?;
    Ok(Member::from_record(&record))
}

/// Checks a login (rate-limited per email and `source`); an imported bcrypt hash is replaced by argon2id.
pub async fn check_password(state: &ApiState, email: &str, password: &str, source: &str) -> Result<Member, ApiError> {
    let email = normalize_email(email);
    let key = format!("{email}|{source}");
    let locked = state.0.limiter.lock().unwrap_or_else(|p| p.into_inner()).check(&key, state.now());
    if let Err(wait_ms) = locked {
        let mut error = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many failed logins for this account from your address; try again later",
        );
        error.retry_after_secs = Some(u64::try_from((wait_ms + 999).div_euclid(1000)).unwrap_or(1).max(1));
        return Err(error);
    }
    let member = find_by_email(state.store(), &email).await?;
    let stored = member.as_ref().and_then(|m| m.password_hash.clone()).unwrap_or_default();
    let verified = if password.len() > MAX_PASSWORD_BYTES {
        Verified { matches: false, rehash: false }
    } else {
        let (password, shared) = (password.to_string(), state.clone());
        tokio::task::spawn_blocking(move || {
            // An unknown email costs a hash check too, so the answer's timing does not tell whether it exists.
            let stored = if stored.is_empty() {
                let cost = shared.config().password_cost;
                shared.0.decoy_hash.get_or_init(|| password::hash("decoy", cost).unwrap_or_default()).clone()
            } else {
                stored
            };
            password::verify(&password, &stored)
        })
        .await
        .map_err(|e| ApiError::internal("password check", e))?
    };
    let member = match member {
        Some(member) if verified.matches => member,
        _ => {
            state.0.limiter.lock().unwrap_or_else(|p| p.into_inner()).record_failure(&key, state.now());
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "wrong email or password",
            ));
        }
    };
    state.0.limiter.lock().unwrap_or_else(|p| p.into_inner()).record_success(&key);
    if verified.rehash {
        rehash(state, &member, password).await?;
    }
    Ok(member)
}

async fn rehash(state: &ApiState, member: &Member, password: &str) -> Result<(), ApiError> {
    let Some(mut record) = state.store().get(Collection::Users, &member.org_id, &member.email).await? else {
        return Ok(());
    };
    let hash = hash_password(state, password).await?;
    if let Some(doc) = record.doc.as_object_mut() {
        doc.insert("password_hash".into(), Value::String(hash));
        doc.insert("password_scheme".into(), Value::String("argon2id".into()));
    }
    state.store().put(Collection::Users, &record).await?;
    tracing::info!(email = %member.email, "bcrypt password hash replaced by argon2id");
    Ok(())
}

/// What login and refresh answer: the original's login response plus the refresh token.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// Always `success` (the original's clients check it).
    pub status: &'static str,
    /// What happened, for people (`Login successful`, ...).
    pub message: &'static str,
    /// The signed access token to send as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// The caller's org, which the original's clients put in later requests.
    pub org_id: String,
    /// Seconds the access token works.
    pub expires_in: u64,
    /// The token that gets the next access token from `/auth/refresh`; each works once. Absent from a cookie
    /// session's answer: the cookie is the session there, and the console's scripts never hold a long-lived
    /// secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// A cookie session's CSRF token, to send as `X-CSRF-Token` with every change (also in the readable
    /// CSRF cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

pub(crate) fn access_token(state: &ApiState, member: &Member) -> String {
    let now = state.now().div_euclid(1000);
    let ttl = i64::try_from(state.config().access_ttl.as_secs()).unwrap_or(i64::MAX);
    state.0.tokens.sign(&AccessClaims {
        sub: member.email.clone(),
        email: member.email.clone(),
        org_id: member.org_id.clone(),
        role: member.role,
        is_member: member.role != Role::Owner,
        iat: now,
        exp: now.saturating_add(ttl),
        typ: "access".into(),
    })
}

/// Starts a login session: an access token and the first refresh token of a new family.
pub async fn start_session(state: &ApiState, member: &Member, message: &'static str) -> Result<Session, ApiError> {
    let (family_id, secret) = (random_hex(16)?, random_text(32)?);
    let lifetime = i64::try_from(state.config().refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    let family = Family::new(&member.email, &member.org_id, &secret, state.now(), lifetime);
    put_family(state, &family_id, &family).await?;
    Ok(session(state, member, message, refresh::text(&family_id, &secret)))
}

/// Starts a cookie session for the console: a new family whose cookie secret is set. Answers the session (its
/// CSRF token, no refresh token) and the cookie's value.
pub async fn start_cookie_session(
    state: &ApiState,
    member: &Member,
    message: &'static str,
) -> Result<(Session, String), ApiError> {
    let family_id = random_hex(16)?;
    let lifetime = i64::try_from(state.config().refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    // The family's rotating refresh token is never handed out: a cookie session does not refresh.
    let mut family = Family::new(&member.email, &member.org_id, &random_text(32)?, state.now(), lifetime);
    let cookie = attach_cookie(&mut family, &family_id)?;
    put_family(state, &family_id, &family).await?;
    let mut answer = session(state, member, message, String::new());
    answer.refresh_token = None;
    answer.csrf_token = Some(crate::auth::session::csrf_token(&state.0.tokens, &family_id));
    Ok((answer, cookie))
}

/// Gives `family` a new cookie secret and answers the cookie's value (the caller stores the family).
pub(crate) fn attach_cookie(family: &mut Family, family_id: &str) -> Result<String, ApiError> {
    let secret = random_text(32)?;
    family.cookie = Some(crate::auth::secret_hash(&secret));
    Ok(crate::auth::session::cookie_value(family_id, &secret))
}

pub(crate) fn session(state: &ApiState, member: &Member, message: &'static str, refresh_token: String) -> Session {
    Session {
        status: "success",
        message,
        access_token: access_token(state, member),
        token_type: "bearer",
        org_id: member.org_id.clone(),
        expires_in: state.config().access_ttl.as_secs(),
        refresh_token: Some(refresh_token),
        csrf_token: None,
    }
}

pub(crate) async fn put_family(state: &ApiState, family_id: &str, family: &Family) -> Result<(), ApiError> {
    let doc = serde_json::to_value(family).map_err(|e| ApiError::internal("session", e))?;
    let record = Record { org_id: family.org_id.clone(), id: family_id.into(), doc };
    state.store().put(Collection::RefreshTokens, &record).await?;
    Ok(())
}

/// What [`bootstrap_owner`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// The owner account was created, in a new org.
    Created {
        /// The new org.
        org_id: String,
    },
    /// An account with this email already exists (its password is left as it is).
    Exists {
        /// The existing account's org.
        org_id: String,
    },
}

/// Makes sure the owner named by `VOICERA_ADMIN_EMAIL`/`VOICERA_ADMIN_PASSWORD` exists: the binary calls this
/// at start. An existing account is left untouched (its password may have been changed since).
pub async fn bootstrap_owner(state: &ApiState, email: &str, password: &str) -> Result<Bootstrap, ApiError> {
    let email = normalize_email(email);
    check_email(&email, "VOICERA_ADMIN_EMAIL")?;
    check_new_password(password, "VOICERA_ADMIN_PASSWORD")?;
    if let Some(existing) = find_by_email(state.store(), &email).await? {
        return Ok(Bootstrap::Exists { org_id: existing.org_id });
    }
    let company = email.split('@').nth(1).unwrap_or("voicera").to_string();
    let org_id = create_org(state, &company).await?;
    let name = email.split('@').next().unwrap_or_default().to_string();
    create_user(state, &email, password, &name, &company, &org_id, Role::Owner).await?;
    tracing::info!(%email, %org_id, "owner account created from VOICERA_ADMIN_EMAIL");
    Ok(Bootstrap::Created { org_id })
}
