//! `[webhooks]` and `VOICERA_WEBHOOKS_*`: how this node delivers customer webhooks and how long their
//! delivery log is kept. Each environment variable wins over its key in the file; a bad value in either is an
//! error naming the key (or the variable), not a silent default.

use anyhow::{bail, Result};
use serde::Deserialize;

/// Default days a finished delivery (delivered, failed, cancelled) stays in the delivery log.
pub(crate) const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;

/// `[webhooks]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhooks {
    /// Endpoints may be `http://` to a loopback address (`VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK`).
    allow_http_loopback: Option<bool>,
    /// First retry delay (`VOICERA_WEBHOOKS_RETRY_FIRST_MS`).
    retry_first_ms: Option<u64>,
    /// Longest retry delay (`VOICERA_WEBHOOKS_RETRY_MAX_MS`).
    retry_max_ms: Option<u64>,
    /// Give up (dead letter) this long after the event (`VOICERA_WEBHOOKS_GIVE_UP_MS`).
    give_up_ms: Option<u64>,
    /// One attempt's time limit (`VOICERA_WEBHOOKS_TIMEOUT_MS`).
    timeout_ms: Option<u64>,
    /// How often the queue is read (`VOICERA_WEBHOOKS_POLL_MS`).
    poll_ms: Option<u64>,
    /// Days finished deliveries stay in the log (`VOICERA_WEBHOOKS_LOG_RETENTION_DAYS`); 0: for ever.
    log_retention_days: Option<u32>,
}

/// `[webhooks]` compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WebhookSettings {
    /// Endpoints may be `http://` to loopback (tests, a local relay).
    pub(crate) allow_http_loopback: bool,
    /// First retry delay, ms.
    pub(crate) retry_first_ms: u64,
    /// Longest retry delay, ms.
    pub(crate) retry_max_ms: u64,
    /// Give up after this long, ms.
    pub(crate) give_up_ms: u64,
    /// One attempt's limit, ms.
    pub(crate) timeout_ms: u64,
    /// Queue poll interval, ms.
    pub(crate) poll_ms: u64,
    /// Days finished deliveries are kept (`None`: for ever).
    pub(crate) log_retention_days: Option<u32>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        let worker = voicera_webhooks::WorkerConfig::default();
        WebhookSettings {
            allow_http_loopback: false,
            retry_first_ms: worker.policy.first_delay_ms,
            retry_max_ms: worker.policy.max_delay_ms,
            give_up_ms: worker.policy.give_up_after_ms,
            timeout_ms: worker.attempt_timeout.as_millis() as u64,
            poll_ms: worker.poll_interval.as_millis() as u64,
            log_retention_days: Some(DEFAULT_LOG_RETENTION_DAYS),
        }
    }
}

/// A whole number from `var` (when set and not blank) over the file's `key`: `Err` naming whichever is bad.
fn number<T: std::str::FromStr + Copy>(
    env: &impl Fn(&str) -> Option<String>,
    var: &str,
    key: &str,
    file: Option<T>,
    what: &str,
) -> Result<Option<T>> {
    match env(var).filter(|v| !v.trim().is_empty()) {
        Some(text) => match text.trim().parse::<T>() {
            Ok(value) => Ok(Some(value)),
            Err(_) => bail!("{var}={text:?} must be {what} (it sets [webhooks] {key})"),
        },
        None => Ok(file),
    }
}

/// Compiles `[webhooks]` with `VOICERA_WEBHOOKS_*` from `env` over it.
pub(super) fn compile_webhooks(raw: RawWebhooks, env: impl Fn(&str) -> Option<String>) -> Result<WebhookSettings> {
    let defaults = WebhookSettings::default();
    let allow_http_loopback = match env("VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK").as_deref().map(str::trim) {
        None | Some("") => raw.allow_http_loopback.unwrap_or(false),
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        Some(other) => {
            bail!("VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK={other:?} must be 1 or 0 (it sets [webhooks] allow_http_loopback)")
        }
    };
    let millis = |var: &str, key: &str, file: Option<u64>, default: u64| -> Result<u64> {
        match number(&env, var, key, file, "a positive number of milliseconds")? {
            None => Ok(default),
            Some(0) => bail!("[webhooks] {key} (or {var}) must be a positive number of milliseconds, not 0"),
            Some(ms) => Ok(ms),
        }
    };
    let retry_first_ms =
        millis("VOICERA_WEBHOOKS_RETRY_FIRST_MS", "retry_first_ms", raw.retry_first_ms, defaults.retry_first_ms)?;
    let retry_max_ms =
        millis("VOICERA_WEBHOOKS_RETRY_MAX_MS", "retry_max_ms", raw.retry_max_ms, defaults.retry_max_ms)?;
    let give_up_ms = millis("VOICERA_WEBHOOKS_GIVE_UP_MS", "give_up_ms", raw.give_up_ms, defaults.give_up_ms)?;
    let timeout_ms = millis("VOICERA_WEBHOOKS_TIMEOUT_MS", "timeout_ms", raw.timeout_ms, defaults.timeout_ms)?;
    let poll_ms = millis("VOICERA_WEBHOOKS_POLL_MS", "poll_ms", raw.poll_ms, defaults.poll_ms)?;
    if retry_max_ms < retry_first_ms {
        bail!("[webhooks] retry_max_ms ({retry_max_ms}) must be at least retry_first_ms ({retry_first_ms})");
    }
    if give_up_ms < retry_first_ms {
        bail!("[webhooks] give_up_ms ({give_up_ms}) must be at least retry_first_ms ({retry_first_ms}): no retry would ever be made");
    }
    let days = number(
        &env,
        "VOICERA_WEBHOOKS_LOG_RETENTION_DAYS",
        "log_retention_days",
        raw.log_retention_days,
        "a whole number of days (0: keep for ever)",
    )?
    .unwrap_or(DEFAULT_LOG_RETENTION_DAYS);
    Ok(WebhookSettings {
        allow_http_loopback,
        retry_first_ms,
        retry_max_ms,
        give_up_ms,
        timeout_ms,
        poll_ms,
        log_retention_days: (days > 0).then_some(days),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| vars.get(name).cloned()
    }

    fn raw(text: &str) -> RawWebhooks {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn unset_is_the_workers_defaults_and_thirty_days_of_log() {
        let settings = compile_webhooks(RawWebhooks::default(), env(&[])).unwrap();
        assert_eq!(settings, WebhookSettings::default());
        assert_eq!(
            (settings.retry_first_ms, settings.retry_max_ms, settings.give_up_ms),
            (30_000, 3_600_000, 86_400_000)
        );
        assert_eq!((settings.timeout_ms, settings.poll_ms, settings.log_retention_days), (10_000, 2_000, Some(30)));
        assert!(!settings.allow_http_loopback);
    }

    #[test]
    fn the_file_sets_them_and_the_environment_wins() {
        let file = raw("allow_http_loopback = true\nretry_first_ms = 100\nretry_max_ms = 1000\ngive_up_ms = 5000\n\
                        timeout_ms = 700\npoll_ms = 50\nlog_retention_days = 0\n");
        let settings = compile_webhooks(file, env(&[])).unwrap();
        assert_eq!(
            settings,
            WebhookSettings {
                allow_http_loopback: true,
                retry_first_ms: 100,
                retry_max_ms: 1000,
                give_up_ms: 5000,
                timeout_ms: 700,
                poll_ms: 50,
                log_retention_days: None,
            }
        );
        let file = raw("allow_http_loopback = true\nretry_first_ms = 100\nlog_retention_days = 7\n");
        let over = env(&[
            ("VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "0"),
            ("VOICERA_WEBHOOKS_RETRY_FIRST_MS", "200"),
            ("VOICERA_WEBHOOKS_LOG_RETENTION_DAYS", "90"),
            ("VOICERA_WEBHOOKS_POLL_MS", " "),
        ]);
        let settings = compile_webhooks(file, over).unwrap();
        assert_eq!(
            (settings.allow_http_loopback, settings.retry_first_ms, settings.log_retention_days, settings.poll_ms),
            (false, 200, Some(90), 2_000)
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = |file: &str, vars: &[(&str, &str)]| {
            let text = match toml::from_str::<RawWebhooks>(file) {
                Ok(raw) => compile_webhooks(raw, env(vars)).unwrap_err().to_string(),
                Err(e) => e.to_string(),
            };
            text
        };
        assert!(err("retry_first_ms = 0", &[]).contains("[webhooks] retry_first_ms"));
        assert!(err("", &[("VOICERA_WEBHOOKS_TIMEOUT_MS", "ten")]).contains("VOICERA_WEBHOOKS_TIMEOUT_MS"));
        assert!(err("", &[("VOICERA_WEBHOOKS_TIMEOUT_MS", "ten")]).contains("[webhooks] timeout_ms"));
        assert!(err("retry_first_ms = 5000\nretry_max_ms = 10", &[]).contains("retry_max_ms"));
        assert!(err("give_up_ms = 10", &[]).contains("give_up_ms"));
        assert!(err("", &[("VOICERA_WEBHOOKS_ALLOW_HTTP_LOOPBACK", "maybe")]).contains("allow_http_loopback"));
        assert!(err("", &[("VOICERA_WEBHOOKS_LOG_RETENTION_DAYS", "-1")]).contains("log_retention_days"));
        assert!(err("retry_first = 5", &[]).contains("retry_first"), "unknown keys are refused");
        assert!(err("poll_ms = \"fast\"", &[]).contains("poll_ms"));
    }
}
