//! The providers' REST APIs, as far as calls and the console need them: place an outbound call with an answer
//! URL, hang up, transfer a live call; create/update/delete the application that holds an agent's answer
//! URL; list, buy, attach and detach numbers. Request shapes follow each provider's documentation (see
//! `shared/reference/telephony-streams.md` and the original's §6): Vobiz (`X-Auth-ID`/`X-Auth-Token`, JSON),
//! Plivo (Basic auth, JSON; the API Vobiz mirrors), Twilio (Basic auth, form-encoded; "applications" are
//! TwiML Apps). Exotel's API is not wired yet: its calls say so.
//!
//! Blocking (ureq) on purpose: callers run these on a blocking thread; each request has a timeout, and every
//! failure is an [`RestError`] that names the provider, the HTTP status and the provider's message.

use std::time::Duration;

use base64::Engine as _;

use crate::account::{masked, Provider};
use crate::document::dial_document;

/// How long a provider may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong talking to a provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// The provider's API offers no such operation (here).
    #[error("{provider}: {what} is not available through its API here")]
    Unsupported {
        /// The provider's name.
        provider: &'static str,
        /// The operation.
        what: &'static str,
    },
    /// The API could not be reached (DNS, connection, TLS, timeout).
    #[error("{provider}: cannot reach {url}: {message}")]
    Unreachable {
        /// The provider's name.
        provider: &'static str,
        /// The API's origin (scheme, host and port): the path names the account, which is not for logs or
        /// answers.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The API answered with an error status.
    #[error("{provider}: HTTP {status}: {message}")]
    Status {
        /// The provider's name.
        provider: &'static str,
        /// The HTTP status.
        status: u16,
        /// The response body or its message.
        message: String,
    },
    /// The reply could not be read (the reply text, the provider's name).
    #[error("{provider}: unexpected reply: {0}", provider = .1)]
    Reply(String, &'static str),
}

/// `https://host:port` of `url`, without the path (which carries the account id).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// An account's API client.
#[derive(Clone)]
pub struct ProviderRest {
    provider: Provider,
    /// e.g. `https://api.vobiz.ai/api/v1` (a local fake in tests).
    base: String,
    auth_id: String,
    auth_token: String,
}

/// The token never reaches a log line.
impl std::fmt::Debug for ProviderRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRest")
            .field("provider", &self.provider)
            .field("base", &self.base)
            .field("auth_id", &self.auth_id)
            .field("auth_token", &masked(&self.auth_token))
            .finish()
    }
}

/// A number on the provider account, and the application it is attached to (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderNumber {
    /// E.164 as the provider writes it (with or without `+`).
    pub number: String,
    /// The provider's application the number's calls go to (None: not attached).
    pub application_id: Option<String>,
}

/// A call that was placed: the provider's id of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedCall {
    /// The provider's call id (UUID / SID).
    pub call_id: String,
}

/// A call to place through a provider's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The caller id shown to the callee (a number on the account).
    pub from: String,
    /// The number to call (E.164).
    pub to: String,
    /// Fetched (POST) when the callee answers: our document that opens the media stream to the agent.
    pub answer_url: String,
    /// Where the provider reports the call's end (POST): Vobiz/Plivo `hangup_url`, Twilio `StatusCallback`.
    pub status_url: String,
    /// Seconds the call may ring before the provider gives up (a no-answer); None: the provider's default.
    pub ring_timeout_secs: Option<u32>,
    /// Twilio: also report the call's progress (`initiated`, `ringing`, `answered`) to the status URL, not only
    /// its end. Vobiz and Plivo report the end only.
    pub progress_events: bool,
    /// Ask the provider's own answering-machine detection, run asynchronously (the call is connected at once,
    /// the verdict posted here when it comes): Vobiz/Plivo `machine_detection=true` + `machine_detection_url`,
    /// Twilio `MachineDetection=Enable` + `AsyncAmd` + `AsyncAmdStatusCallback`. None: not asked.
    pub machine_detection_url: Option<String>,
}

impl CallRequest {
    /// A call from `from` to `to` with the provider's defaults for ringing and no progress reports.
    pub fn new(from: &str, to: &str, answer_url: &str, status_url: &str) -> CallRequest {
        CallRequest {
            from: from.to_string(),
            to: to.to_string(),
            answer_url: answer_url.to_string(),
            status_url: status_url.to_string(),
            ring_timeout_secs: None,
            progress_events: false,
            machine_detection_url: None,
        }
    }

    /// The Vobiz/Plivo `POST /Account/{auth_id}/Call/` body (JSON; `ring_timeout` in seconds; machine
    /// detection `"true"` — not `"hangup"`: the campaign decides what a machine gets — with its asynchronous
    /// callback, in the provider's own 2–10 s window at its 5 s default).
    pub fn plivo_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "from": self.from, "to": self.to,
            "answer_url": self.answer_url, "answer_method": "POST",
            "hangup_url": self.status_url, "hangup_method": "POST",
        });
        let Some(map) = body.as_object_mut() else { return body };
        if let Some(seconds) = self.ring_timeout_secs {
            map.insert("ring_timeout".into(), serde_json::json!(seconds));
        }
        if let Some(url) = &self.machine_detection_url {
            map.insert("machine_detection".into(), serde_json::json!("true"));
            map.insert("machine_detection_url".into(), serde_json::json!(url));
            map.insert("machine_detection_method".into(), serde_json::json!("POST"));
        }
        body
    }

    /// The Twilio `POST /Accounts/{sid}/Calls.json` form: `Url` answers, `StatusCallback` reports (one
    /// `StatusCallbackEvent` field per event, as Twilio's API takes a list), `Timeout` bounds the ringing.
    pub fn twilio_form(&self) -> Vec<(String, String)> {
        let mut form = vec![
            ("From".to_string(), self.from.clone()),
            ("To".to_string(), self.to.clone()),
            ("Url".to_string(), self.answer_url.clone()),
            ("Method".to_string(), "POST".to_string()),
            ("StatusCallback".to_string(), self.status_url.clone()),
            ("StatusCallbackMethod".to_string(), "POST".to_string()),
        ];
        if self.progress_events {
            for event in ["initiated", "ringing", "answered", "completed"] {
                form.push(("StatusCallbackEvent".to_string(), event.to_string()));
            }
        }
        if let Some(seconds) = self.ring_timeout_secs {
            form.push(("Timeout".to_string(), seconds.to_string()));
        }
        if let Some(url) = &self.machine_detection_url {
            // `Enable` answers as soon as it knows (`DetectMessageEnd` would wait for the beep: ours does that).
            form.push(("MachineDetection".to_string(), "Enable".to_string()));
            form.push(("AsyncAmd".to_string(), "true".to_string()));
            form.push(("AsyncAmdStatusCallback".to_string(), url.clone()));
            form.push(("AsyncAmdStatusCallbackMethod".to_string(), "POST".to_string()));
        }
        form
    }
}

impl ProviderRest {
    /// A client for `provider`'s public API, or `base` when given (`[telephony.<provider>] api_base`).
    pub fn new(provider: Provider, base: Option<&str>, auth_id: &str, auth_token: &str) -> ProviderRest {
        let default = match provider {
            Provider::Vobiz => "https://api.vobiz.ai/api/v1",
            Provider::Plivo => "https://api.plivo.com/v1",
            Provider::Twilio => "https://api.twilio.com/2010-04-01",
            Provider::Exotel => "https://api.exotel.com/v1",
        };
        ProviderRest {
            provider,
            base: base.unwrap_or(default).trim_end_matches('/').to_string(),
            auth_id: auth_id.to_string(),
            auth_token: auth_token.to_string(),
        }
    }

    fn name(&self) -> &'static str {
        self.provider.as_str()
    }

    fn agent(&self) -> ureq::Agent {
        let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
        ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .tls_config(tls)
            .build()
            .into()
    }

    fn basic(&self) -> String {
        let pair = format!("{}:{}", self.auth_id, self.auth_token);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }

    /// A successful reply's JSON; anything else is an unexpected reply, quoted in the error.
    fn json_reply(&self, text: &str) -> Result<serde_json::Value, RestError> {
        serde_json::from_str(text).map_err(|_| RestError::Reply(text.to_string(), self.name()))
    }

    /// Sends one request; returns the status and body, or the error for a non-2xx status.
    fn send(&self, method: &str, path: &str, body: Body) -> Result<(u16, String), RestError> {
        let url = format!("{}{path}", self.base);
        let agent = self.agent();
        let mut request = match method {
            "DELETE" => agent.delete(&url).force_send_body(),
            "GET" => agent.get(&url).force_send_body(),
            _ => agent.post(&url),
        };
        request = match self.provider {
            Provider::Vobiz => request.header("X-Auth-ID", &self.auth_id).header("X-Auth-Token", &self.auth_token),
            _ => request.header("Authorization", &self.basic()),
        };
        let result = match body {
            Body::Json(value) => request.header("Content-Type", "application/json").send(value.to_string()),
            Body::Form(pairs) => {
                let text = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
                request.header("Content-Type", "application/x-www-form-urlencoded").send(text)
            }
            Body::Empty => request.send(""),
        };
        let mut response = result.map_err(|e| RestError::Unreachable {
            provider: self.name(),
            url: origin(&url).to_string(),
            message: e.to_string().replace(url.as_str(), origin(&url)),
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(256 * 1024).read_to_string().unwrap_or_default();
        if (200..300).contains(&status) {
            Ok((status, text))
        } else {
            // Providers put the reason in `error` (Vobiz/Plivo) or `message` (Twilio).
            let message = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").or_else(|| v.get("message")).and_then(|m| m.as_str()).map(String::from))
                .unwrap_or_else(|| text.chars().take(200).collect());
            Err(RestError::Status { provider: self.name(), status, message })
        }
    }

    /// Places `call`; the provider fetches its answer URL when the callee answers and reports the end to its
    /// status URL. Resolves when the provider has accepted the request (its id of the call).
    pub fn place_call(&self, call: &CallRequest) -> Result<PlacedCall, RestError> {
        let id = &self.auth_id;
        match self.provider {
            Provider::Vobiz | Provider::Plivo => {
                let body = call.plivo_json();
                let (_, text) = self.send("POST", &format!("/Account/{id}/Call/"), Body::Json(body))?;
                let reply = self.json_reply(&text)?;
                let uuid = reply.get("request_uuid").and_then(|u| {
                    u.as_str()
                        .map(String::from)
                        .or_else(|| u.as_array().and_then(|a| a.first()).and_then(|x| x.as_str()).map(String::from))
                });
                uuid.map(|call_id| PlacedCall { call_id }).ok_or(RestError::Reply(text, self.name()))
            }
            Provider::Twilio => {
                let (_, text) =
                    self.send("POST", &format!("/Accounts/{id}/Calls.json"), Body::Form(call.twilio_form()))?;
                let reply = self.json_reply(&text)?;
                let sid = reply.get("sid").and_then(|s| s.as_str()).map(String::from);
                sid.map(|call_id| PlacedCall { call_id }).ok_or(RestError::Reply(text, self.name()))
            }
            Provider::Exotel => Err(RestError::Unsupported { provider: self.name(), what: "placing calls" }),
        }
    }

    /// Hangs up a live call; a call that already ended is not an error.
    pub fn hang_up(&self, call_id: &str) -> Result<(), RestError> {
        let id = &self.auth_id;
        let result = match self.provider {
            Provider::Vobiz | Provider::Plivo => {
                self.send("DELETE", &format!("/Account/{id}/Call/{call_id}/"), Body::Empty)
            }
            Provider::Twilio => {
                let form = vec![("Status".to_string(), "completed".to_string())];
                self.send("POST", &format!("/Accounts/{id}/Calls/{call_id}.json"), Body::Form(form))
            }
            Provider::Exotel => return Err(RestError::Unsupported { provider: self.name(), what: "hanging up" }),
        };
        match result {
            Ok(_) | Err(RestError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates the application that sends `answer_url` calls to an agent; returns its id.
    pub fn create_application(&self, name: &str, answer_url: &str, hangup_url: &str) -> Result<String, RestError> {
        let id = &self.auth_id;
        let text = match self.provider {
            Provider::Vobiz | Provider::Plivo => {
                let body = application_json(name, answer_url, hangup_url);
                self.send("POST", &format!("/Account/{id}/Application/"), Body::Json(body))?.1
            }
            Provider::Twilio => {
                let form = twiml_app_form(name, answer_url, hangup_url);
                self.send("POST", &format!("/Accounts/{id}/Applications.json"), Body::Form(form))?.1
            }
            Provider::Exotel => {
                return Err(RestError::Unsupported { provider: self.name(), what: "applications" });
            }
        };
        let reply = self.json_reply(&text)?;
        ["app_id", "id", "application_id", "sid"]
            .iter()
            .find_map(|k| {
                reply.get(*k).and_then(|v| v.as_str().map(String::from).or_else(|| v.as_u64().map(|n| n.to_string())))
            })
            .ok_or(RestError::Reply(text, self.name()))
    }

    /// Points an existing application at new URLs (or renames it). Updates are POSTs on every provider.
    pub fn update_application(
        &self,
        app_id: &str,
        name: &str,
        answer_url: &str,
        hangup_url: &str,
    ) -> Result<(), RestError> {
        let id = &self.auth_id;
        match self.provider {
            Provider::Vobiz | Provider::Plivo => {
                let body = application_json(name, answer_url, hangup_url);
                self.send("POST", &format!("/Account/{id}/Application/{app_id}/"), Body::Json(body)).map(|_| ())
            }
            Provider::Twilio => {
                let form = twiml_app_form(name, answer_url, hangup_url);
                self.send("POST", &format!("/Accounts/{id}/Applications/{app_id}.json"), Body::Form(form)).map(|_| ())
            }
            Provider::Exotel => Err(RestError::Unsupported { provider: self.name(), what: "applications" }),
        }
    }

    /// Deletes an application; one that is already gone is not an error.
    pub fn delete_application(&self, app_id: &str) -> Result<(), RestError> {
        let id = &self.auth_id;
        let result = match self.provider {
            Provider::Vobiz | Provider::Plivo => {
                self.send("DELETE", &format!("/Account/{id}/Application/{app_id}/"), Body::Empty)
            }
            Provider::Twilio => self.send("DELETE", &format!("/Accounts/{id}/Applications/{app_id}.json"), Body::Empty),
            Provider::Exotel => {
                return Err(RestError::Unsupported { provider: self.name(), what: "applications" });
            }
        };
        match result {
            Ok(_) | Err(RestError::Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The numbers on the account and the application each is attached to.
    pub fn list_numbers(&self) -> Result<Vec<ProviderNumber>, RestError> {
        let id = &self.auth_id;
        let (path, list_key, number_keys, app_keys): (String, &str, &[&str], &[&str]) = match self.provider {
            Provider::Vobiz => {
                (format!("/account/{id}/numbers"), "items", &["e164", "number"], &["application_id", "app_id"])
            }
            Provider::Plivo => (format!("/Account/{id}/Number/"), "objects", &["number"], &["application"]),
            Provider::Twilio => (
                format!("/Accounts/{id}/IncomingPhoneNumbers.json"),
                "incoming_phone_numbers",
                &["phone_number"],
                &["voice_application_sid"],
            ),
            Provider::Exotel => return Err(RestError::Unsupported { provider: self.name(), what: "numbers" }),
        };
        let (_, text) = self.send("GET", &path, Body::Empty)?;
        let reply = self.json_reply(&text)?;
        let items =
            reply.get(list_key).and_then(|v| v.as_array()).ok_or(RestError::Reply(text.clone(), self.name()))?;
        let text_of = |item: &serde_json::Value, keys: &[&str]| {
            keys.iter().find_map(|k| item.get(*k).and_then(|v| v.as_str())).filter(|v| !v.is_empty()).map(String::from)
        };
        Ok(items
            .iter()
            .filter_map(|item| {
                let number = text_of(item, number_keys)?;
                // Plivo names the application by its URI (`/v1/Account/MA…/Application/<id>/`).
                let application_id = text_of(item, app_keys)
                    .map(|a| a.trim_end_matches('/').rsplit('/').next().unwrap_or(&a).to_string());
                Some(ProviderNumber { number, application_id })
            })
            .collect())
    }

    /// Rents `number` (E.164) for the account. Vobiz sells numbers in its console only.
    pub fn buy_number(&self, number: &str) -> Result<(), RestError> {
        let id = &self.auth_id;
        let bare = number.trim_start_matches('+');
        match self.provider {
            Provider::Plivo => self
                .send("POST", &format!("/Account/{id}/PhoneNumber/{bare}/"), Body::Json(serde_json::json!({})))
                .map(|_| ()),
            Provider::Twilio => {
                let form = vec![("PhoneNumber".to_string(), format!("+{bare}"))];
                self.send("POST", &format!("/Accounts/{id}/IncomingPhoneNumbers.json"), Body::Form(form)).map(|_| ())
            }
            Provider::Vobiz | Provider::Exotel => {
                Err(RestError::Unsupported { provider: self.name(), what: "buying numbers (use its console)" })
            }
        }
    }

    /// Sends calls to `number` to the application `app_id` (so to its agent).
    pub fn attach_number(&self, number: &str, app_id: &str) -> Result<(), RestError> {
        let id = &self.auth_id;
        let bare = number.trim_start_matches('+');
        match self.provider {
            Provider::Vobiz => {
                let body = serde_json::json!({"application_id": app_id});
                self.send("POST", &format!("/account/{id}/numbers/%2B{bare}/application"), Body::Json(body)).map(|_| ())
            }
            Provider::Plivo => {
                let body = serde_json::json!({"app_id": app_id});
                self.send("POST", &format!("/Account/{id}/Number/{bare}/"), Body::Json(body)).map(|_| ())
            }
            Provider::Twilio => {
                let sid = self.twilio_number_sid(bare)?;
                let form = vec![("VoiceApplicationSid".to_string(), app_id.to_string())];
                self.send("POST", &format!("/Accounts/{id}/IncomingPhoneNumbers/{sid}.json"), Body::Form(form))
                    .map(|_| ())
            }
            Provider::Exotel => Err(RestError::Unsupported { provider: self.name(), what: "numbers" }),
        }
    }

    /// Detaches `number` from its application.
    pub fn detach_number(&self, number: &str) -> Result<(), RestError> {
        let id = &self.auth_id;
        let bare = number.trim_start_matches('+');
        match self.provider {
            Provider::Vobiz => {
                self.send("DELETE", &format!("/account/{id}/numbers/%2B{bare}/application"), Body::Empty).map(|_| ())
            }
            Provider::Plivo => {
                let body = serde_json::json!({"app_id": ""});
                self.send("POST", &format!("/Account/{id}/Number/{bare}/"), Body::Json(body)).map(|_| ())
            }
            Provider::Twilio => {
                let sid = self.twilio_number_sid(bare)?;
                let form = vec![("VoiceApplicationSid".to_string(), String::new())];
                self.send("POST", &format!("/Accounts/{id}/IncomingPhoneNumbers/{sid}.json"), Body::Form(form))
                    .map(|_| ())
            }
            Provider::Exotel => Err(RestError::Unsupported { provider: self.name(), what: "numbers" }),
        }
    }

    /// Twilio addresses a number by its `PN…` sid.
    fn twilio_number_sid(&self, bare: &str) -> Result<String, RestError> {
        let id = &self.auth_id;
        let path = format!("/Accounts/{id}/IncomingPhoneNumbers.json?PhoneNumber=%2B{bare}");
        let (_, text) = self.send("GET", &path, Body::Empty)?;
        let reply = self.json_reply(&text)?;
        reply["incoming_phone_numbers"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|n| n["sid"].as_str())
            .map(String::from)
            .ok_or(RestError::Status {
                provider: self.name(),
                status: 404,
                message: format!("+{bare} is not on this account"),
            })
    }

    /// Moves a live call to `target` (a number or SIP URI): Vobiz/Plivo fetch `dial_url` (our document that
    /// dials the target), Twilio gets the `<Dial>` TwiML inline.
    pub fn transfer(&self, call_id: &str, target: &str, dial_url: &str) -> Result<(), RestError> {
        let id = &self.auth_id;
        match self.provider {
            Provider::Vobiz | Provider::Plivo => {
                let body = serde_json::json!({"legs": "aleg", "aleg_url": dial_url, "aleg_method": "POST"});
                self.send("POST", &format!("/Account/{id}/Call/{call_id}/"), Body::Json(body)).map(|_| ())
            }
            Provider::Twilio => {
                let form = vec![("Twiml".to_string(), dial_document(Provider::Twilio, target))];
                self.send("POST", &format!("/Accounts/{id}/Calls/{call_id}.json"), Body::Form(form)).map(|_| ())
            }
            Provider::Exotel => Err(RestError::Unsupported { provider: self.name(), what: "transfers" }),
        }
    }
}

/// Vobiz/Plivo application body.
fn application_json(name: &str, answer_url: &str, hangup_url: &str) -> serde_json::Value {
    serde_json::json!({
        "app_name": name,
        "answer_url": answer_url, "answer_method": "POST",
        "hangup_url": hangup_url, "hangup_method": "POST",
    })
}

/// Twilio TwiML App form: the voice URL answers, the status callback reports the end.
fn twiml_app_form(name: &str, answer_url: &str, hangup_url: &str) -> Vec<(String, String)> {
    vec![
        ("FriendlyName".to_string(), name.to_string()),
        ("VoiceUrl".to_string(), answer_url.to_string()),
        ("VoiceMethod".to_string(), "POST".to_string()),
        ("StatusCallback".to_string(), hangup_url.to_string()),
        ("StatusCallbackMethod".to_string(), "POST".to_string()),
    ]
}

enum Body {
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    Empty,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_http::{body, header, serve};

    fn call(to: &str, answer: &str, hangup: &str) -> CallRequest {
        CallRequest::new("14155551234", to, answer, hangup)
    }

    #[test]
    fn vobiz_requests_carry_its_headers_paths_and_json() {
        let (port, requests) = serve(4, |request| {
            if request.starts_with("POST /api/v1/Account/MA1/Call/ ") {
                (201, r#"{"api_id":"a1","request_uuid":"uuid-9","message":"Call fired"}"#.into())
            } else if request.starts_with("DELETE /api/v1/Account/MA1/Call/gone/") {
                (404, r#"{"error":"call not found"}"#.into())
            } else if request.starts_with("DELETE") {
                (204, String::new())
            } else {
                (202, r#"{"api_id":"a2","message":"call transferred"}"#.into())
            }
        });
        let rest = ProviderRest::new(Provider::Vobiz, Some(&format!("http://127.0.0.1:{port}/api/v1")), "MA1", "tok");
        let placed = rest.place_call(&call("+919876543210", "https://me/answer", "https://me/hangup")).unwrap();
        assert_eq!(placed.call_id, "uuid-9");
        rest.hang_up("uuid-9").unwrap();
        rest.hang_up("gone").unwrap(); // already ended: fine
        rest.transfer("uuid-9", "+918000000002", "https://me/telephony/vobiz/transfer?to=%2B918000000002").unwrap();
        let requests = requests.join().unwrap();
        assert_eq!(header(&requests[0], "x-auth-id"), Some("MA1"));
        assert_eq!(header(&requests[0], "x-auth-token"), Some("tok"));
        let call: serde_json::Value = serde_json::from_str(body(&requests[0])).unwrap();
        assert_eq!(call["to"], "+919876543210");
        assert_eq!(call["answer_url"], "https://me/answer");
        assert_eq!(call["answer_method"], "POST");
        assert!(requests[1].starts_with("DELETE /api/v1/Account/MA1/Call/uuid-9/ HTTP/1.1"));
        assert!(requests[3].starts_with("POST /api/v1/Account/MA1/Call/uuid-9/ HTTP/1.1"));
        let transfer: serde_json::Value = serde_json::from_str(body(&requests[3])).unwrap();
        assert_eq!(transfer["legs"], "aleg");
        assert_eq!(transfer["aleg_method"], "POST");
    }

    #[test]
    fn twilio_uses_basic_auth_and_forms_and_errors_carry_the_message() {
        let (port, requests) = serve(3, |request| {
            if request.contains("To=%2B1555") {
                (201, r#"{"sid":"CA123","status":"queued"}"#.into())
            } else if request.contains("Twiml=") {
                (200, r#"{"sid":"CA123"}"#.into())
            } else {
                (429, r#"{"code":20429,"message":"Too Many Requests","status":429}"#.into())
            }
        });
        let rest = ProviderRest::new(Provider::Twilio, Some(&format!("http://127.0.0.1:{port}")), "AC1", "tok");
        assert_eq!(
            rest.place_call(&CallRequest::new("+1444", "+1555", "https://me/a", "https://me/h")).unwrap().call_id,
            "CA123"
        );
        rest.transfer("CA123", "sip:desk@pbx.example", "").unwrap();
        let err = rest.hang_up("CA123").unwrap_err();
        assert_eq!(err, RestError::Status { provider: "twilio", status: 429, message: "Too Many Requests".into() });
        let requests = requests.join().unwrap();
        assert!(requests[0].starts_with("POST /Accounts/AC1/Calls.json HTTP/1.1"));
        assert_eq!(header(&requests[0], "authorization"), Some("Basic QUMxOnRvaw=="));
        let form: Vec<(String, String)> = form_urlencoded::parse(body(&requests[0]).as_bytes()).into_owned().collect();
        assert!(form.contains(&("Url".into(), "https://me/a".into())));
        let form: Vec<(String, String)> = form_urlencoded::parse(body(&requests[1]).as_bytes()).into_owned().collect();
        assert_eq!(
            form[0],
            ("Twiml".into(), "<Response><Dial><Sip>sip:desk@pbx.example</Sip></Dial></Response>".into())
        );
        // Nothing listening: a clear error naming the API (its origin, not the account's path).
        let closed = ProviderRest::new(Provider::Plivo, Some("http://127.0.0.1:9"), "MA", "t");
        assert!(matches!(closed.hang_up("x"), Err(RestError::Unreachable { .. })));
        let Err(error) = closed.hang_up("x") else { panic!("a closed port answered") };
        assert!(!error.to_string().contains("/Account/"), "the account stays out of errors: {error}");
        assert!(matches!(
            ProviderRest::new(Provider::Exotel, None, "k", "t").transfer("x", "y", "z"),
            Err(RestError::Unsupported { .. })
        ));
    }

    #[test]
    fn applications_and_numbers_on_vobiz_plivo_and_twilio() {
        let (port, requests) = serve(11, |request| {
            let line = request.lines().next().unwrap_or("");
            match line.split(' ').nth(1).unwrap_or("") {
                "/v/Account/MA1/Application/" => (201, r#"{"api_id":"x","app_id":"app-7","message":"created"}"#.into()),
                "/v/account/MA1/numbers" => (
                    200,
                    r#"{"items":[{"e164":"+918000000001","application_id":"app-7"},{"e164":"+918000000002"}]}"#.into(),
                ),
                "/p/Account/MA2/Number/" => (
                    200,
                    r#"{"objects":[{"number":"918000000003","application":"/v1/Account/MA2/Application/29986316/"}]}"#
                        .into(),
                ),
                p if p.starts_with("/t/Accounts/AC1/IncomingPhoneNumbers.json?PhoneNumber=") => {
                    (200, r#"{"incoming_phone_numbers":[{"sid":"PN42","phone_number":"+15550001111"}]}"#.into())
                }
                "/t/Accounts/AC1/Applications.json" => (201, r#"{"sid":"AP9","friendly_name":"demo"}"#.into()),
                "/v/Account/MA1/Application/gone/" => (404, r#"{"error":"not found"}"#.into()),
                _ => (202, r#"{"message":"changed"}"#.into()),
            }
        });
        let base = |p: &str| format!("http://127.0.0.1:{port}/{p}");
        let vobiz = ProviderRest::new(Provider::Vobiz, Some(&base("v")), "MA1", "tok");
        let plivo = ProviderRest::new(Provider::Plivo, Some(&base("p")), "MA2", "tok2");
        let twilio = ProviderRest::new(Provider::Twilio, Some(&base("t")), "AC1", "tok3");
        assert_eq!(vobiz.create_application("demo", "https://me/answer", "https://me/hangup").unwrap(), "app-7");
        vobiz.update_application("app-7", "demo", "https://me/answer2", "https://me/hangup").unwrap();
        vobiz.delete_application("gone").unwrap(); // already deleted: fine
        let numbers = vobiz.list_numbers().unwrap();
        assert_eq!(numbers[0], ProviderNumber { number: "+918000000001".into(), application_id: Some("app-7".into()) });
        assert_eq!(numbers[1].application_id, None);
        vobiz.attach_number("+918000000002", "app-7").unwrap();
        vobiz.detach_number("918000000002").unwrap();
        let numbers = plivo.list_numbers().unwrap();
        assert_eq!(numbers[0].application_id.as_deref(), Some("29986316"));
        plivo.attach_number("+918000000003", "29986316").unwrap();
        assert_eq!(twilio.create_application("demo", "https://me/a", "https://me/h").unwrap(), "AP9");
        twilio.attach_number("+15550001111", "AP9").unwrap();
        assert!(matches!(vobiz.buy_number("+918000000009"), Err(RestError::Unsupported { .. })));
        let requests = requests.join().unwrap();
        let app: serde_json::Value = serde_json::from_str(body(&requests[0])).unwrap();
        assert_eq!((app["app_name"].as_str(), app["answer_method"].as_str()), (Some("demo"), Some("POST")));
        assert!(requests[1].starts_with("POST /v/Account/MA1/Application/app-7/ HTTP/1.1"));
        assert!(requests[2].starts_with("DELETE /v/Account/MA1/Application/gone/ HTTP/1.1"));
        assert!(requests[3].starts_with("GET /v/account/MA1/numbers HTTP/1.1"));
        assert!(requests[4].starts_with("POST /v/account/MA1/numbers/%2B918000000002/application HTTP/1.1"));
        assert_eq!(serde_json::from_str::<serde_json::Value>(body(&requests[4])).unwrap()["application_id"], "app-7");
        assert!(requests[5].starts_with("DELETE /v/account/MA1/numbers/%2B918000000002/application HTTP/1.1"));
        assert_eq!(header(&requests[6], "authorization"), Some("Basic TUEyOnRvazI="));
        assert!(requests[7].starts_with("POST /p/Account/MA2/Number/918000000003/ HTTP/1.1"));
        let form: Vec<(String, String)> = form_urlencoded::parse(body(&requests[8]).as_bytes()).into_owned().collect();
        assert!(form.contains(&("VoiceUrl".into(), "https://me/a".into())), "{form:?}");
        assert!(requests[10].starts_with("POST /t/Accounts/AC1/IncomingPhoneNumbers/PN42.json HTTP/1.1"));
        assert!(body(&requests[10]).contains("VoiceApplicationSid=AP9"));
    }

    #[test]
    fn call_requests_are_built_as_each_provider_documents_them() {
        let mut call = CallRequest::new("+918000000001", "+919000000002", "https://me/a?x=1", "https://me/h");
        assert_eq!(
            call.plivo_json(),
            serde_json::json!({"from": "+918000000001", "to": "+919000000002", "answer_url": "https://me/a?x=1",
                "answer_method": "POST", "hangup_url": "https://me/h", "hangup_method": "POST"})
        );
        call.ring_timeout_secs = Some(25);
        call.progress_events = true;
        assert_eq!(call.plivo_json()["ring_timeout"], 25);
        let form = call.twilio_form();
        let text = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        assert_eq!(
            text,
            "From=%2B918000000001&To=%2B919000000002&Url=https%3A%2F%2Fme%2Fa%3Fx%3D1&Method=POST&\
             StatusCallback=https%3A%2F%2Fme%2Fh&StatusCallbackMethod=POST&StatusCallbackEvent=initiated&\
             StatusCallbackEvent=ringing&StatusCallbackEvent=answered&StatusCallbackEvent=completed&Timeout=25"
        );
        assert!(call.plivo_json().get("machine_detection").is_none(), "not asked unless the campaign's AMD is on");
        call.machine_detection_url = Some("https://me/h?dial=7".into());
        let json = call.plivo_json();
        assert_eq!(
            (&json["machine_detection"], &json["machine_detection_url"], &json["machine_detection_method"]),
            (&serde_json::json!("true"), &serde_json::json!("https://me/h?dial=7"), &serde_json::json!("POST"))
        );
        let form = call.twilio_form();
        let text = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        assert!(
            text.ends_with(
                "&Timeout=25&MachineDetection=Enable&AsyncAmd=true&\
                 AsyncAmdStatusCallback=https%3A%2F%2Fme%2Fh%3Fdial%3D7&AsyncAmdStatusCallbackMethod=POST"
            ),
            "{text}"
        );
    }
}
