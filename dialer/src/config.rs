//! A campaign's settings as the API takes them and the store keeps them (JSON), read into
//! [`CampaignSettings`] with every fault named by its field, so the API's 422s and the runner agree.

use serde::{Deserialize, Serialize};

use crate::campaign::{CampaignSettings, Pacing, RetryPolicy, RetryRule};
use crate::schedule::{DailyWindow, Schedule, Weekday};
use crate::UnixMillis;

/// Most attempts per contact a retry rule may ask for.
pub const MAX_ATTEMPTS: u32 = 10;
/// Most live calls one campaign may hold.
pub const MAX_LIVE_CALLS: u32 = 1000;
/// Most new calls per second one campaign may start.
pub const MAX_CALLS_PER_SECOND: u32 = 100;
/// Shortest ring time-out: a few rings, less than any callee takes to pick up.
pub const MIN_RING_TIMEOUT_SECONDS: u32 = 5;
/// Longest ring time-out: five minutes, past what any network lets a call ring.
pub const MAX_RING_TIMEOUT_SECONDS: u32 = 300;
/// Shortest contact lease (`[campaigns] lease_ms`) the dialer accepts: the shortest whose two thirds exceed
/// [`MIN_RING_TIMEOUT_SECONDS`], so every accepted lease admits a ring time-out (see [`longest_ring_timeout`]).
pub const MIN_LEASE_MS: u64 = MIN_RING_TIMEOUT_SECONDS as u64 * 1000 * 3 / 2 + 1;
/// Longest contact lease: an hour (a dead node's contacts wait this long before another node settles them).
pub const MAX_LEASE_MS: u64 = 3_600_000;

/// The longest ring time-out (whole seconds, at most [`MAX_RING_TIMEOUT_SECONDS`]) a campaign may have on
/// dialler nodes whose contact lease is `lease_ms`: under two thirds of the lease. A node that cannot renew a
/// call's lease hangs the call up once two thirds of it are gone, and a SIP call still ringing can only be hung
/// up once it is answered, so the ring time-out must end first, or another node could take the contact over
/// while it still rings. Below [`MIN_RING_TIMEOUT_SECONDS`] when `lease_ms` is under [`MIN_LEASE_MS`].
pub fn longest_ring_timeout(lease_ms: u64) -> u32 {
    // Strictly under: 3 · ring_ms < 2 · lease_ms.
    let seconds = lease_ms.saturating_mul(2).saturating_sub(1) / 3000;
    u32::try_from(seconds).unwrap_or(u32::MAX).min(MAX_RING_TIMEOUT_SECONDS)
}

/// Whether `ring_timeout_seconds` fits dialler nodes whose contact lease is `lease_ms` ([`longest_ring_timeout`]);
/// the problem names `ring_timeout_seconds` and the range that fits (or, when none does, the lease that is too
/// short and the shortest that would do).
pub fn check_ring_timeout(ring_timeout_seconds: u32, lease_ms: u64) -> Result<(), ConfigProblem> {
    let longest = longest_ring_timeout(lease_ms);
    if longest < MIN_RING_TIMEOUT_SECONDS {
        return Err(problem(
            "ring_timeout_seconds",
            format!(
                "no ring time-out fits the dialer's lease ([campaigns] lease_ms = {lease_ms} ms): a ring time-out \
                 of {MIN_RING_TIMEOUT_SECONDS} to {MAX_RING_TIMEOUT_SECONDS} seconds must stay under two thirds of \
                 it, so lease_ms must be {MIN_LEASE_MS} to {MAX_LEASE_MS}"
            ),
        ));
    }
    if !(MIN_RING_TIMEOUT_SECONDS..=longest).contains(&ring_timeout_seconds) {
        return Err(problem(
            "ring_timeout_seconds",
            format!(
                "must be {MIN_RING_TIMEOUT_SECONDS} to {longest} seconds (at most {longest} seconds: under two \
                 thirds of the dialer's lease, [campaigns] lease_ms = {lease_ms} ms)"
            ),
        ));
    }
    Ok(())
}

/// A retry rule as stored: attempts in all (the first included) and the wait between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Attempts in all, 1 to [`MAX_ATTEMPTS`] (1: no retry).
    pub max_attempts: u32,
    /// Seconds between an attempt's end and the next attempt.
    #[serde(default)]
    pub spacing_seconds: u64,
}

impl Default for RuleConfig {
    fn default() -> RuleConfig {
        RuleConfig { max_attempts: 1, spacing_seconds: 0 }
    }
}

/// Retry rules per outcome, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// After busy (486/600).
    pub busy: RuleConfig,
    /// After ringing out (408/480/ring timeout).
    pub no_answer: RuleConfig,
    /// After other failures.
    pub failed: RuleConfig,
    /// After an answering machine.
    pub machine: RuleConfig,
}

/// Longest voicemail message a campaign may leave (characters).
pub const MAX_VOICEMAIL_CHARS: usize = 1000;

/// What a campaign does about answering machines: `off` (no detection: the agent starts at the answer), or
/// detect and, on a machine, `hangup`, `leave_message` (after the beep), or `connect` (the agent anyway).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmdMode {
    /// No detection.
    #[default]
    Off,
    /// Hang up on machines (disposition `answered-machine`).
    Hangup,
    /// Wait for the machine's beep (or the end of its greeting), speak the voicemail message, hang up
    /// (disposition `voicemail-left`, final; `answered-machine` when the message could not be left).
    LeaveMessage,
    /// Start the agent on machines too (the disposition still says `answered-machine`).
    Connect,
}

/// A daily calling window, local `HH:MM` to `HH:MM` (`24:00` is the day's end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Opens, `HH:MM`.
    pub start: String,
    /// Closes, `HH:MM`.
    pub end: String,
}

/// A campaign's settings: pacing, retries, schedule, and the route its calls take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    /// Calls up at once (dialling, ringing or answered), at most.
    pub max_live_calls: u32,
    /// New calls per second, at most.
    pub calls_per_second: u32,
    /// Seconds a call may ring before it is cancelled (a no-answer).
    pub ring_timeout_seconds: u32,
    /// Retries per outcome.
    pub retry: RetryConfig,
    /// Days calls may be placed (`mon` … `sun`); empty: every day.
    pub days: Vec<String>,
    /// Daily windows in local time; empty: the whole day.
    pub windows: Vec<WindowConfig>,
    /// The campaign's time zone, minutes east of UTC (India: 330).
    pub utc_offset_minutes: i32,
    /// No call before this instant (Unix ms).
    pub start_at: Option<UnixMillis>,
    /// No call from this instant on (Unix ms); contacts still waiting end as outside-window.
    pub end_at: Option<UnixMillis>,
    /// The `[[trunks]]` entry the calls go through.
    pub trunk: Option<String>,
    /// Instead of a trunk: the provider whose REST API places the calls (one of [`PROVIDER_ROUTES`]), with the
    /// org's account on it (the node's `[telephony.<provider>]` one for the owner's org). Needs `caller_id`.
    pub provider: Option<String>,
    /// The caller id (From user); the trunk's username when absent. With a provider: a number on its account.
    pub caller_id: Option<String>,
    /// Answering-machine detection and what to do on a machine.
    pub amd: AmdMode,
    /// What `amd = leave_message` says to a machine (`{{contact.<column>}}` filled per contact); absent: the
    /// agent's greeting.
    pub voicemail_message: Option<String>,
}

impl Default for CampaignConfig {
    fn default() -> CampaignConfig {
        CampaignConfig {
            max_live_calls: 5,
            calls_per_second: 1,
            ring_timeout_seconds: 30,
            retry: RetryConfig::default(),
            days: Vec::new(),
            windows: Vec::new(),
            utc_offset_minutes: 0,
            start_at: None,
            end_at: None,
            trunk: None,
            provider: None,
            caller_id: None,
            amd: AmdMode::Off,
            voicemail_message: None,
        }
    }
}

/// Providers whose REST API can place a campaign's calls.
pub const PROVIDER_ROUTES: [&str; 3] = ["vobiz", "plivo", "twilio"];

/// How a campaign's calls leave the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignRoute {
    /// Through this `[[trunks]]` entry (the node's SIP user agent).
    Trunk(String),
    /// Through this provider's REST API (one of [`PROVIDER_ROUTES`], lowercase): the provider calls the number
    /// and streams the answered call to the agent.
    Provider(String),
}

/// A setting that cannot work: the field (dotted path) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// `max_live_calls`, `retry.busy.max_attempts`, `windows[0].start`…
    pub field: String,
    /// For people.
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem { field: field.into(), message: message.into() }
}

/// `HH:MM` as (hour, minute).
fn hour_minute(text: &str) -> Option<(u16, u16)> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    Some((h.parse().ok()?, m.parse().ok()?))
}

fn weekday(text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let index = names.iter().position(|n| lower == *n || (lower.len() > 3 && lower.starts_with(n)))?;
    Some(Weekday::ALL[index])
}

impl CampaignConfig {
    /// The route the calls take, if one is set (the settings are checked by [`CampaignConfig::settings`]).
    pub fn route(&self) -> Option<CampaignRoute> {
        match (&self.provider, &self.trunk) {
            (Some(provider), _) => Some(CampaignRoute::Provider(provider.trim().to_ascii_lowercase())),
            (None, Some(trunk)) if !trunk.trim().is_empty() => Some(CampaignRoute::Trunk(trunk.trim().to_string())),
            _ => None,
        }
    }

    /// The settings the campaign state machine runs with, or the first setting that cannot work.
    pub fn settings(&self) -> Result<CampaignSettings, ConfigProblem> {
        if !(1..=MAX_LIVE_CALLS).contains(&self.max_live_calls) {
            return Err(problem("max_live_calls", format!("must be 1 to {MAX_LIVE_CALLS}")));
        }
        if !(1..=MAX_CALLS_PER_SECOND).contains(&self.calls_per_second) {
            return Err(problem("calls_per_second", format!("must be 1 to {MAX_CALLS_PER_SECOND}")));
        }
        if !(MIN_RING_TIMEOUT_SECONDS..=MAX_RING_TIMEOUT_SECONDS).contains(&self.ring_timeout_seconds) {
            return Err(problem(
                "ring_timeout_seconds",
                format!("must be {MIN_RING_TIMEOUT_SECONDS} to {MAX_RING_TIMEOUT_SECONDS} seconds"),
            ));
        }
        let rule = |name: &str, rule: RuleConfig| {
            if !(1..=MAX_ATTEMPTS).contains(&rule.max_attempts) {
                return Err(problem(format!("retry.{name}.max_attempts"), format!("must be 1 to {MAX_ATTEMPTS}")));
            }
            if rule.spacing_seconds > 7 * 24 * 3600 {
                return Err(problem(format!("retry.{name}.spacing_seconds"), "must be at most a week"));
            }
            Ok(RetryRule { max_attempts: rule.max_attempts, spacing_ms: rule.spacing_seconds as i64 * 1000 })
        };
        let retry = RetryPolicy {
            busy: rule("busy", self.retry.busy)?,
            no_answer: rule("no_answer", self.retry.no_answer)?,
            failed: rule("failed", self.retry.failed)?,
            machine: rule("machine", self.retry.machine)?,
        };
        let mut days = Vec::new();
        for (i, day) in self.days.iter().enumerate() {
            let day = weekday(day)
                .ok_or_else(|| problem(format!("days[{i}]"), format!("{day:?} is not a day (mon, tue, … sun)")))?;
            if !days.contains(&day) {
                days.push(day);
            }
        }
        if days.is_empty() {
            days = Weekday::ALL.to_vec();
        }
        let mut windows = Vec::new();
        for (i, w) in self.windows.iter().enumerate() {
            let start = hour_minute(&w.start)
                .ok_or_else(|| problem(format!("windows[{i}].start"), format!("{:?} is not HH:MM", w.start)))?;
            let end = hour_minute(&w.end)
                .ok_or_else(|| problem(format!("windows[{i}].end"), format!("{:?} is not HH:MM", w.end)))?;
            windows.push(DailyWindow::new(start, end).map_err(|e| problem(format!("windows[{i}]"), e.to_string()))?);
        }
        let schedule = Schedule {
            start_at: self.start_at,
            end_at: self.end_at,
            utc_offset_minutes: self.utc_offset_minutes,
            days,
            windows,
        };
        schedule.validate().map_err(|e| {
            let field = if self.utc_offset_minutes.abs() > 14 * 60 { "utc_offset_minutes" } else { "end_at" };
            problem(field, e.to_string())
        })?;
        if let Some(trunk) = &self.trunk {
            if trunk.trim().is_empty() {
                return Err(problem("trunk", "names no trunk"));
            }
        }
        if let Some(provider) = &self.provider {
            let name = provider.trim().to_ascii_lowercase();
            if !PROVIDER_ROUTES.contains(&name.as_str()) {
                return Err(problem(
                    "provider",
                    format!("{provider:?} places no calls here (one of {})", PROVIDER_ROUTES.join(", ")),
                ));
            }
            if self.trunk.is_some() {
                return Err(problem("provider", "a campaign dials through a trunk or a provider, not both"));
            }
            if self.caller_id.is_none() {
                return Err(problem(
                    "caller_id",
                    format!("calls through {name} need a caller id: a number on its account"),
                ));
            }
        }
        if let Some(caller_id) = &self.caller_id {
            let ok = !caller_id.is_empty()
                && caller_id.len() <= 64
                && caller_id.chars().all(|c| c.is_ascii_alphanumeric() || "+-_.*#".contains(c));
            if !ok {
                return Err(problem("caller_id", format!("{caller_id:?} is not a number or SIP user")));
            }
        }
        if let Some(message) = &self.voicemail_message {
            if message.trim().is_empty() {
                return Err(problem("voicemail_message", "is empty (leave it out to use the agent's greeting)"));
            }
            if message.chars().count() > MAX_VOICEMAIL_CHARS {
                return Err(problem("voicemail_message", format!("must be at most {MAX_VOICEMAIL_CHARS} characters")));
            }
        }
        Ok(CampaignSettings {
            pacing: Pacing { max_live_calls: self.max_live_calls, max_new_calls_per_second: self.calls_per_second },
            retry,
            schedule,
        })
    }
}

/// The UTC offset, in minutes, of a time zone the API accepts: `UTC`, `+05:30`/`-0400`, or one of the IANA
/// names of zones without daylight saving time listed here (no time-zone database is in the build).
pub fn utc_offset_of(zone: &str) -> Option<i32> {
    const FIXED: &[(&str, i32)] = &[
        ("UTC", 0),
        ("Etc/UTC", 0),
        ("GMT", 0),
        ("Asia/Kolkata", 330),
        ("Asia/Calcutta", 330),
        ("Asia/Dubai", 240),
        ("Asia/Singapore", 480),
        ("Asia/Kathmandu", 345),
        ("Asia/Dhaka", 360),
        ("Asia/Karachi", 300),
        ("Asia/Jakarta", 420),
        ("Asia/Shanghai", 480),
        ("Asia/Tokyo", 540),
        ("Africa/Nairobi", 180),
        ("Africa/Lagos", 60),
    ];
    let zone = zone.trim();
    if let Some((_, offset)) = FIXED.iter().find(|(name, _)| name.eq_ignore_ascii_case(zone)) {
        return Some(*offset);
    }
    let (sign, rest) = match zone.strip_prefix("UTC").unwrap_or(zone) {
        r if r.starts_with('+') => (1, &r[1..]),
        r if r.starts_with('-') => (-1, &r[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (i32, i32) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// A local date and time `YYYY-MM-DDTHH:MM[:SS]` (a space for the `T` too) at `utc_offset_minutes`, as Unix
/// ms; `None` when it is not such a text or not a real date.
pub fn local_time_to_unix(text: &str, utc_offset_minutes: i32) -> Option<UnixMillis> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, u32, u32) = (d.next()?.parse().ok()?, d.next()?.parse().ok()?, d.next()?.parse().ok()?);
    if d.next().is_some() || !(1..=12).contains(&mo) || da == 0 || da > days_in_month(y, mo) {
        return None;
    }
    let time = time.trim_end_matches('Z');
    let mut t = time.split(':');
    let (h, mi): (i64, i64) = (t.next()?.parse().ok()?, t.next()?.parse().ok()?);
    let s: f64 = match t.next() {
        Some(s) => s.parse().ok()?,
        None => 0.0,
    };
    if t.next().is_some() || h > 23 || mi > 59 || !(0.0..60.0).contains(&s) {
        return None;
    }
    let days = days_from_civil(y, mo, da);
    let local = days * 86_400_000 + h * 3_600_000 + mi * 60_000 + (s * 1000.0) as i64;
    Some(local - i64::from(utc_offset_minutes) * 60_000)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_a_valid_campaign() {
        let settings = CampaignConfig::default().settings().unwrap();
        assert_eq!(settings.pacing, Pacing { max_live_calls: 5, max_new_calls_per_second: 1 });
        assert_eq!(settings.schedule.days.len(), 7);
        assert_eq!(settings.retry, RetryPolicy::none());
    }

    #[test]
    fn every_bad_setting_names_its_field() {
        let bad = |json: serde_json::Value| {
            let config: CampaignConfig = serde_json::from_value(json).unwrap();
            config.settings().unwrap_err().field
        };
        assert_eq!(bad(serde_json::json!({"max_live_calls": 0})), "max_live_calls");
        assert_eq!(bad(serde_json::json!({"calls_per_second": 1000})), "calls_per_second");
        assert_eq!(bad(serde_json::json!({"retry": {"busy": {"max_attempts": 0}}})), "retry.busy.max_attempts");
        assert_eq!(bad(serde_json::json!({"days": ["mon", "funday"]})), "days[1]");
        assert_eq!(bad(serde_json::json!({"windows": [{"start": "9:30", "end": "25:00"}]})), "windows[0]");
        assert_eq!(bad(serde_json::json!({"windows": [{"start": "nine", "end": "10:00"}]})), "windows[0].start");
        assert_eq!(bad(serde_json::json!({"utc_offset_minutes": 2000})), "utc_offset_minutes");
        assert_eq!(bad(serde_json::json!({"start_at": 10, "end_at": 5})), "end_at");
        assert_eq!(bad(serde_json::json!({"caller_id": "a b"})), "caller_id");
        assert_eq!(bad(serde_json::json!({"provider": "exotel", "caller_id": "+1555"})), "provider");
        assert_eq!(bad(serde_json::json!({"provider": "twilio", "trunk": "t", "caller_id": "+1555"})), "provider");
        assert_eq!(bad(serde_json::json!({"provider": "twilio"})), "caller_id");
        assert_eq!(bad(serde_json::json!({"amd": "leave_message", "voicemail_message": " "})), "voicemail_message");
        let long = "x".repeat(MAX_VOICEMAIL_CHARS + 1);
        assert_eq!(bad(serde_json::json!({"voicemail_message": long})), "voicemail_message");
        let unknown = serde_json::from_value::<CampaignConfig>(serde_json::json!({"amd": "maybe"})).unwrap_err();
        assert!(
            unknown.to_string().contains("expected one of `off`, `hangup`, `leave_message`, `connect`"),
            "{unknown}"
        );
        assert!(serde_json::from_value::<CampaignConfig>(serde_json::json!({"pace": 1})).is_err());
    }

    #[test]
    fn a_route_is_a_trunk_or_a_provider() {
        let read = |json: serde_json::Value| serde_json::from_value::<CampaignConfig>(json).unwrap();
        assert_eq!(CampaignConfig::default().route(), None);
        assert_eq!(
            read(serde_json::json!({"trunk": " carrier "})).route(),
            Some(CampaignRoute::Trunk("carrier".into()))
        );
        let config = read(serde_json::json!({"provider": "Vobiz", "caller_id": "+918000000001"}));
        assert!(config.settings().is_ok());
        assert_eq!(config.route(), Some(CampaignRoute::Provider("vobiz".into())));
    }

    #[test]
    fn amd_modes_read_and_default_to_off() {
        assert_eq!(CampaignConfig::default().amd, AmdMode::Off);
        for (text, mode) in [
            ("off", AmdMode::Off),
            ("hangup", AmdMode::Hangup),
            ("leave_message", AmdMode::LeaveMessage),
            ("connect", AmdMode::Connect),
        ] {
            let config: CampaignConfig = serde_json::from_value(serde_json::json!({"amd": text})).unwrap();
            assert_eq!(config.amd, mode);
            assert_eq!(serde_json::to_value(mode).unwrap(), serde_json::json!(text));
        }
        let config: CampaignConfig =
            serde_json::from_value(serde_json::json!({"amd": "leave_message", "voicemail_message": "Call us back"}))
                .unwrap();
        assert!(config.settings().is_ok());
    }

    #[test]
    fn windows_days_and_retries_are_read() {
        let config: CampaignConfig = serde_json::from_value(serde_json::json!({
            "max_live_calls": 3, "calls_per_second": 2, "days": ["Monday", "fri"], "utc_offset_minutes": 330,
            "windows": [{"start": "09:30", "end": "13:00"}, {"start": "14:00", "end": "24:00"}],
            "retry": {"busy": {"max_attempts": 3, "spacing_seconds": 600}}
        }))
        .unwrap();
        let settings = config.settings().unwrap();
        assert_eq!(settings.schedule.days, [Weekday::Mon, Weekday::Fri]);
        assert_eq!(settings.schedule.windows[1], DailyWindow::new((14, 0), (24, 0)).unwrap());
        assert_eq!(settings.retry.busy, RetryRule { max_attempts: 3, spacing_ms: 600_000 });
    }

    #[test]
    fn zones_and_local_times() {
        assert_eq!(utc_offset_of("Asia/Kolkata"), Some(330));
        assert_eq!(utc_offset_of("+05:30"), Some(330));
        assert_eq!(utc_offset_of("UTC-0400"), Some(-240));
        assert_eq!(utc_offset_of("Europe/London"), None, "daylight saving time needs a zone database");
        assert_eq!(utc_offset_of("+25:00"), None);
        // 2026-12-07 10:00 IST is 04:30 UTC.
        assert_eq!(local_time_to_unix("2026-12-07T10:00", 330), Some(1_796_601_600_000 + 270 * 60_000));
        assert_eq!(local_time_to_unix("2026-12-07 10:00:30", 0), Some(1_796_601_600_000 + 36_030_000));
        assert_eq!(local_time_to_unix("2024-02-29T00:00", 0), Some(1_709_164_800_000));
        assert_eq!(local_time_to_unix("2025-02-29T00:00", 0), None);
        assert_eq!(local_time_to_unix("tomorrow", 0), None);
    }

    #[test]
    fn every_accepted_lease_admits_a_ring_timeout_and_a_shorter_one_is_named_precisely() {
        assert_eq!(MIN_LEASE_MS, 7_501);
        // Every accepted lease: the shortest ring time-out fits, and the longest that fits is the last under two
        // thirds of the lease (one more second is refused, naming the range).
        let leases = (MIN_LEASE_MS..MIN_LEASE_MS + 3_000).chain((MIN_LEASE_MS..=MAX_LEASE_MS).step_by(997));
        for lease_ms in leases.chain([MAX_LEASE_MS]) {
            let longest = longest_ring_timeout(lease_ms);
            assert!(longest >= MIN_RING_TIMEOUT_SECONDS, "lease {lease_ms} ms admits no ring time-out");
            assert!(u64::from(longest) * 3000 < 2 * lease_ms, "lease {lease_ms}: {longest} s is not under 2/3");
            assert_eq!(check_ring_timeout(MIN_RING_TIMEOUT_SECONDS, lease_ms), Ok(()), "lease {lease_ms}");
            assert_eq!(check_ring_timeout(longest, lease_ms), Ok(()), "lease {lease_ms}");
            if longest < MAX_RING_TIMEOUT_SECONDS {
                assert!(
                    u64::from(longest + 1) * 3000 >= 2 * lease_ms,
                    "lease {lease_ms}: {longest} is not the longest"
                );
                let refused = check_ring_timeout(longest + 1, lease_ms).unwrap_err();
                assert_eq!(refused.field, "ring_timeout_seconds");
                assert!(refused.message.starts_with(&format!("must be 5 to {longest} seconds")), "{}", refused.message);
            }
        }
        assert_eq!(longest_ring_timeout(60_000), 39);
        assert_eq!(longest_ring_timeout(MAX_LEASE_MS), MAX_RING_TIMEOUT_SECONDS);
        // A lease of 3 to 7.5 s (what the dialer used to accept) admits none: the problem says which lease would.
        for lease_ms in [3_000, 5_000, 7_500] {
            assert!(longest_ring_timeout(lease_ms) < MIN_RING_TIMEOUT_SECONDS);
            let refused = check_ring_timeout(5, lease_ms).unwrap_err();
            assert_eq!(refused.field, "ring_timeout_seconds");
            assert!(refused.message.contains("lease_ms must be 7501 to 3600000"), "{}", refused.message);
        }
        let config = CampaignConfig { ring_timeout_seconds: 301, ..CampaignConfig::default() };
        assert_eq!(config.settings().unwrap_err().message, "must be 5 to 300 seconds");
    }
}
