//! Where calls may go: the one number policy every way out of the node consults — the outbound dialer
//! (`POST /outbound/call/`, `voicera call`, campaigns), an agent's `transfer_call` targets (checked when the
//! configuration loads), and the REFERs the SIP user agent sends or carries out. Without it a caller who talks
//! a model into a transfer, or a stranger who sends a REFER, dials whatever earns them money on the operator's
//! bill (toll fraud, issue 15).
//!
//! Pure: [`DialPolicy::check`] takes a target as written and returns its normal form or the reason it is
//! refused; no DNS, no clock, no I/O. Hosts are compared as written (IP addresses in canonical form), so a
//! spelling the allow-list does not hold is refused rather than resolved.
//!
//! Targets come in four kinds ([`NormalizedTarget`]):
//! - an international number, `+` and digits (E.164). Spaces, dashes, dots and parentheses are dropped and a
//!   leading `00` (the international prefix of most of the world, ITU-T E.164 Annex A) becomes `+`, so
//!   `0044 20 7946 0000` and `+44 (20) 7946-0000` are one number and one decision;
//! - a local number, digits without a country code: an extension or a national number whose meaning depends
//!   on the trunk or provider it leaves through;
//! - a SIP user name (`alice`: starts with a letter), at the host the route decides;
//! - a `sip:`/`sips:` URI, whose host must be allowed and whose user, when it is a number, passes the number
//!   rules (so `sip:+1900…@trunk` is as blocked as `+1900…`).
//!
//! `*` and `#` are refused everywhere: dialled, they are carrier feature codes (`*72` forwards the line,
//! `*67` hides the caller id); keypad tones belong on an answered call (`send_dtmf`).
//!
//! The default policy (no `[dial_policy]` section) keeps every existing use working and closes the expensive
//! doors: any E.164 number except the premium-rate and high-cost ranges of [`PREMIUM_PREFIXES`]; local numbers
//! of at most [`DEFAULT_MAX_LOCAL_DIGITS`] digits (extensions, `100`) and no longer ones (a national or `011…`
//! international dial string could reach anything the trunk can); SIP URIs only to hosts the operator lists
//! (plus the configured trunks' registrars, added by the configuration), never loopback by default. Deny by
//! default would be safer still, but an operator who has not written a policy would find every outbound call
//! and transfer refused; `allowed_prefixes = ["+91"]` is the one-line move to an allow-list and the README
//! recommends it.
//!
//! Decision for a number: the longest matching prefix of `allowed_prefixes` and the blocked prefixes wins, a
//! block on a tie. So `allowed_prefixes = ["+", "+8816"]` allows every E.164 number including Iridium's
//! `+8816` while the rest of the built-in `+881` block stands; with an allowed E.164 prefix listed, an E.164
//! number that matches none is refused.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Most digits in an international number: country code and national significant number together
/// (ITU-T E.164 (11/2010) §6.1).
pub const E164_MAX_DIGITS: usize = 15;

/// Default longest number without a country code: PBX extensions and short codes (`100`, `2001`), not the
/// national or `011`-prefixed international dial strings a trunk would route anywhere.
pub const DEFAULT_MAX_LOCAL_DIGITS: usize = 6;

/// Upper bound of `max_digits` and `max_local_digits`: dial strings longer than this are never numbers.
pub const MAX_DIGITS_LIMIT: usize = 32;

/// Longest target read at all (a URI longer than this is not a dial target but an attack on the parser).
const MAX_TARGET_LEN: usize = 256;

/// Premium-rate and high-cost ranges blocked unless `block_premium = false`: the destinations of toll fraud,
/// where part of the charge goes back to whoever gets the node to call. Only ranges documented by the
/// regulator are listed; where unsure (India has no E.164 premium range we could document: `1800` is
/// toll-free, `1860` a shared-cost "universal access" range), the operator's `blocked_prefixes` decide.
///
/// Not listed, on purpose: the NANP `976` exchange (once premium in many area codes) is an exchange code
/// inside each area code (`+1 NPA 976 xxxx`), not a prefix; operators who call North America should allow
/// the area codes they need, which also keeps out the Caribbean NANP countries (`+1 876`, `+1 809`, …) that
/// look domestic and are billed as international.
pub const PREMIUM_PREFIXES: &[(&str, &str)] = &[
    // NANP: area code 900 is reserved for premium services (NANPA, "900 NPA").
    ("+1900", "North American premium-rate (900)"),
    // UK: 09 is premium-rate services (Ofcom National Telephone Numbering Plan; PhonepayPlus/PSA guide:
    // "09 numbers … competitions, TV voting, chat lines, adult lines").
    ("+449", "UK premium-rate (09)"),
    // UK: 087 "special services at a higher rate"; 0871/0872/0873 are regulated as premium rate by the PSA and
    // 0870 carries a revenue-shared service charge (Ofcom, 2015 unbundled tariffs).
    ("+4487", "UK higher-rate special services (087)"),
    // UK: 070 personal numbering: "may look like mobile numbers but they are different and can be more
    // expensive" (PSA guide); a long-standing fraud range. 071–079 (mobiles) are not affected.
    ("+4470", "UK personal numbering (070)"),
    // Germany: 0900 premium-rate services (Bundesnetzagentur, Premium-Dienste).
    ("+49900", "German premium-rate (0900)"),
    // France: 089 is the highest surcharge band of value-added services (ARCEP numbering plan).
    ("+3389", "French premium-rate (089)"),
    // Spain: 803 (adult), 806 (entertainment), 807 (professional services), 905 (mass calling), all with a
    // service surcharge (CNMC numbering plan; OCU warning on 803/806/807).
    ("+34803", "Spanish premium-rate (803)"),
    ("+34806", "Spanish premium-rate (806)"),
    ("+34807", "Spanish premium-rate (807)"),
    ("+34905", "Spanish mass-calling (905)"),
    // Italy: 899 premium-rate services (AGCOM numbering plan, "servizi a sovrapprezzo").
    ("+39899", "Italian premium-rate (899)"),
    // Australia: 190 premium-rate services (ACMA Telecommunications Numbering Plan).
    ("+61190", "Australian premium-rate (190)"),
    // ITU-T E.169.3: Universal International Premium Rate Numbers.
    ("+979", "international premium-rate (UIPRN)"),
    // ITU shared country codes for global services billed at satellite rates, the usual destinations of
    // international revenue-share fraud: +870 Inmarsat, +881 Global Mobile Satellite System (Iridium,
    // Globalstar), +882/+883 international networks.
    ("+870", "Inmarsat satellite (+870)"),
    ("+881", "global mobile satellite (+881)"),
    ("+882", "international networks (+882)"),
    ("+883", "international networks (+883)"),
    // 118xxx directory enquiries, dialled as a local short code (UK, France, Germany, Spain, …): charged
    // per call and per minute at premium rates (PSA guide: "between 50p and £4 … up to £5 per minute").
    ("118", "directory enquiries (118)"),
];

/// What `[dial_policy]` says, before it is checked (the configuration's field names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPolicySettings {
    /// Number prefixes allowed: `+91`, `+1 415`, or local ones (`0` for national numbers). An E.164 entry
    /// turns E.164 numbers into an allow-list; `+` alone allows every E.164 number.
    pub allowed_prefixes: Vec<String>,
    /// Number prefixes refused, besides [`PREMIUM_PREFIXES`].
    pub blocked_prefixes: Vec<String>,
    /// Whether [`PREMIUM_PREFIXES`] are blocked.
    pub block_premium: bool,
    /// Hosts `sip:` targets may name: `pbx.example.com`, `10.0.0.5:5080`, `[2001:db8::1]`, `*.example.com`.
    pub allowed_sip_hosts: Vec<String>,
    /// Most digits of any number.
    pub max_digits: usize,
    /// Most digits of a number without `+` that no allowed prefix matches.
    pub max_local_digits: usize,
}

impl Default for DialPolicySettings {
    fn default() -> Self {
        DialPolicySettings {
            allowed_prefixes: Vec::new(),
            blocked_prefixes: Vec::new(),
            block_premium: true,
            allowed_sip_hosts: Vec::new(),
            max_digits: E164_MAX_DIGITS,
            max_local_digits: DEFAULT_MAX_LOCAL_DIGITS,
        }
    }
}

/// Why a target is refused, or why settings are not a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The target is no number, user name or URI.
    #[error("{0:?} is not a phone number, SIP user name or sip: URI")]
    Unreadable(String),
    /// The number holds `*` or `#` (a feature code).
    #[error(
        "{0:?} holds * or #: feature codes (call forwarding and the like) are never dialled; press keys on an \
         answered call with send_dtmf instead"
    )]
    FeatureCode(String),
    /// The number is longer than `max_digits`.
    #[error("{number} has {digits} digits; at most {max} are dialled (dial_policy.max_digits)")]
    TooManyDigits {
        /// The number as given.
        number: String,
        /// Its digit count.
        digits: usize,
        /// The `max_digits` limit.
        max: usize,
    },
    /// A number without country code longer than an extension, with no allowed prefix.
    #[error(
        "{number} has no country code and {digits} digits: a number without + is dialled only as an extension \
         of at most {max} digits (dial_policy.max_local_digits) or when dial_policy.allowed_prefixes lists its \
         prefix; write it with its +country code"
    )]
    LocalTooLong {
        /// The number as given.
        number: String,
        /// Its digit count.
        digits: usize,
        /// The `max_local_digits` limit.
        max: usize,
    },
    /// The number is in a premium or otherwise costly range.
    #[error("{number} is in the {what} range {prefix}, blocked by default (dial_policy.block_premium)")]
    Premium {
        /// The number as given.
        number: String,
        /// The premium prefix it matched.
        prefix: String,
        /// What the range is (e.g. "North American premium-rate (900)").
        what: &'static str,
    },
    /// The number matches a blocked prefix.
    #[error("{number} matches the blocked prefix {prefix} (dial_policy.blocked_prefixes)")]
    Blocked {
        /// The number as given.
        number: String,
        /// The blocked prefix it matched.
        prefix: String,
    },
    /// The number matches none of the allowed prefixes.
    #[error("{number} matches none of dial_policy.allowed_prefixes ({allowed})")]
    NotAllowed {
        /// The number as given.
        number: String,
        /// The allowed prefixes, listed for the message.
        allowed: String,
    },
    /// A SIP URI's host is not on the allowed list.
    #[error("{target:?}: SIP host {host} is not in dial_policy.allowed_sip_hosts")]
    SipHostNotAllowed {
        /// The target as given.
        target: String,
        /// Its host, not on the list.
        host: String,
    },
    /// A SIP URI carries something that could redirect the call or leak a secret.
    #[error("{target:?}: a dial target may not carry {what}")]
    UnsafeUri {
        /// The target as given.
        target: String,
        /// What it carries that is refused.
        what: &'static str,
    },
    /// Settings: a prefix list holds something that is not a number prefix.
    #[error("dial_policy.{key}: {prefix:?} is not a number prefix (an optional + or 00, then digits)")]
    BadPrefix {
        /// The settings key.
        key: &'static str,
        /// The entry that is not a prefix.
        prefix: String,
    },
    /// Settings: an allowed SIP host entry is not a host.
    #[error(
        "dial_policy.allowed_sip_hosts: {entry:?} is not a SIP host (a host name, IPv4 address or [IPv6] address, \
         each with an optional :port, or *.domain)"
    )]
    BadSipHost {
        /// The entry that is not a host.
        entry: String,
    },
    /// Settings: a digit limit is out of range.
    #[error("dial_policy.{key} = {value} must be between {min} and {MAX_DIGITS_LIMIT}")]
    BadLimit {
        /// The settings key.
        key: &'static str,
        /// The value given.
        value: usize,
        /// The least value allowed.
        min: usize,
    },
}

impl PolicyError {
    /// Whether the target could not be read at all (a client's mistake: 400), rather than read and refused
    /// by the policy (403).
    pub fn is_malformed(&self) -> bool {
        matches!(self, PolicyError::Unreadable(_))
    }
}

/// A target the policy allows, in normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalizedTarget {
    /// `+` and digits.
    E164(String),
    /// Digits without a country code: an extension or a national number the route interprets.
    Local(String),
    /// A SIP user name (`alice`), at the host the route decides.
    User(String),
    /// A `sip:`/`sips:` URI at an allowed host.
    Sip(SipTarget),
}

/// A SIP URI target, with the parts the policy checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTarget {
    /// The URI as given (trimmed).
    pub uri: String,
    /// `sips:`.
    pub secure: bool,
    /// The user part, percent-decoded and without user parameters: a normalised number or a name.
    pub user: Option<String>,
    /// Lowercase host; IP addresses in canonical form, IPv6 in brackets.
    pub host: String,
    /// The port, if the URI names one.
    pub port: Option<u16>,
}

impl NormalizedTarget {
    /// What to dial: the normal form of a number or name, the URI as given.
    pub fn dial_string(&self) -> &str {
        match self {
            NormalizedTarget::E164(s) | NormalizedTarget::Local(s) | NormalizedTarget::User(s) => s,
            NormalizedTarget::Sip(target) => &target.uri,
        }
    }

    /// Whether this is a number (E.164 or local), dialled at the route's host.
    pub fn is_number(&self) -> bool {
        matches!(self, NormalizedTarget::E164(_) | NormalizedTarget::Local(_))
    }
}

impl fmt::Display for NormalizedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.dial_string())
    }
}

/// A blocked prefix and, for the built-in ones, what range it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    prefix: String,
    premium: Option<&'static str>,
}

/// An `allowed_sip_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostRule {
    /// This host; on this port only when one is given.
    Exact { host: String, port: Option<u16> },
    /// Any subdomain of this domain (`*.example.com`: `pbx.example.com`, not `example.com`).
    Subdomains(String),
}

impl HostRule {
    fn parse(entry: &str) -> Option<HostRule> {
        let text = entry.trim().to_ascii_lowercase();
        if let Some(domain) = text.strip_prefix("*.") {
            let domain = domain.trim_end_matches('.');
            return is_host_name(domain).then(|| HostRule::Subdomains(domain.to_string()));
        }
        // A bare IPv6 address has more than one colon and no brackets.
        if !text.starts_with('[') && text.matches(':').count() > 1 {
            return text.parse::<Ipv6Addr>().ok().map(|ip| HostRule::Exact { host: format!("[{ip}]"), port: None });
        }
        let (host, port) = split_host_port(&text)?;
        Some(HostRule::Exact { host, port })
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        match self {
            HostRule::Exact { host: h, port: p } => h == host && p.is_none_or(|p| p == port),
            HostRule::Subdomains(domain) => {
                host.len() > domain.len() + 1
                    && host.ends_with(domain.as_str())
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
            }
        }
    }
}

/// The checked dial policy: see the module documentation for what it decides and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPolicy {
    allowed: Vec<String>,
    blocked: Vec<Block>,
    sip_hosts: Vec<HostRule>,
    max_digits: usize,
    max_local_digits: usize,
}

impl Default for DialPolicy {
    /// The policy of a node without `[dial_policy]`: any E.164 number outside [`PREMIUM_PREFIXES`], short
    /// local numbers, no SIP hosts.
    fn default() -> Self {
        DialPolicy {
            allowed: Vec::new(),
            blocked: premium_blocks(),
            sip_hosts: Vec::new(),
            max_digits: E164_MAX_DIGITS,
            max_local_digits: DEFAULT_MAX_LOCAL_DIGITS,
        }
    }
}

fn premium_blocks() -> Vec<Block> {
    PREMIUM_PREFIXES.iter().map(|(prefix, what)| Block { prefix: (*prefix).to_string(), premium: Some(what) }).collect()
}

impl DialPolicy {
    /// Checks `settings`; every mistake is named with its key.
    pub fn new(settings: &DialPolicySettings) -> Result<DialPolicy, PolicyError> {
        let limit = |key, value, min| {
            if (min..=MAX_DIGITS_LIMIT).contains(&value) {
                Ok(value)
            } else {
                Err(PolicyError::BadLimit { key, value, min })
            }
        };
        let max_digits = limit("max_digits", settings.max_digits, 1)?;
        let max_local_digits = limit("max_local_digits", settings.max_local_digits, 0)?;
        let prefixes = |key: &'static str, list: &[String]| -> Result<Vec<String>, PolicyError> {
            list.iter()
                .map(|p| normalize_prefix(p).ok_or_else(|| PolicyError::BadPrefix { key, prefix: p.clone() }))
                .collect()
        };
        let allowed = prefixes("allowed_prefixes", &settings.allowed_prefixes)?;
        let mut blocked = if settings.block_premium { premium_blocks() } else { Vec::new() };
        for prefix in prefixes("blocked_prefixes", &settings.blocked_prefixes)? {
            if prefix == "+" {
                // Blocking every E.164 number is an empty allow-list's job; a lone `+` here is a typo.
                return Err(PolicyError::BadPrefix { key: "blocked_prefixes", prefix });
            }
            blocked.push(Block { prefix, premium: None });
        }
        let mut policy = DialPolicy { allowed, blocked, sip_hosts: Vec::new(), max_digits, max_local_digits };
        for entry in &settings.allowed_sip_hosts {
            policy.allow_sip_host(entry)?;
        }
        Ok(policy)
    }

    /// Adds an `allowed_sip_hosts` entry (the configuration adds each trunk's registrar this way).
    pub fn allow_sip_host(&mut self, entry: &str) -> Result<(), PolicyError> {
        let rule = HostRule::parse(entry).ok_or_else(|| PolicyError::BadSipHost { entry: entry.to_string() })?;
        if !self.sip_hosts.contains(&rule) {
            self.sip_hosts.push(rule);
        }
        Ok(())
    }

    /// Normalises `target` and decides whether a call may go there.
    pub fn check(&self, target: &str) -> Result<NormalizedTarget, PolicyError> {
        let text = target.trim();
        if text.is_empty() || text.len() > MAX_TARGET_LEN {
            return Err(PolicyError::Unreadable(shown(text)));
        }
        if let Some(rest) = strip_scheme(text, "sip:") {
            return self.check_sip(text, rest, false);
        }
        if let Some(rest) = strip_scheme(text, "sips:") {
            return self.check_sip(text, rest, true);
        }
        if let Some(rest) = strip_scheme(text, "tel:") {
            return self.check_number(text, rest);
        }
        if text.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return if is_user_name(text) {
                Ok(NormalizedTarget::User(text.to_string()))
            } else {
                Err(PolicyError::Unreadable(shown(text)))
            };
        }
        self.check_number(text, text)
    }

    /// A number as written (`original`, for messages) in `text`.
    fn check_number(&self, original: &str, text: &str) -> Result<NormalizedTarget, PolicyError> {
        let number = normalize_number(original, text)?;
        let digits = number.len() - usize::from(number.starts_with('+'));
        if digits > self.max_digits {
            return Err(PolicyError::TooManyDigits { number, digits, max: self.max_digits });
        }
        let allowed = self.allowed.iter().filter(|p| number.starts_with(p.as_str())).map(String::len).max();
        let blocked =
            self.blocked.iter().filter(|b| number.starts_with(b.prefix.as_str())).max_by_key(|b| b.prefix.len());
        if let Some(block) = blocked.filter(|b| allowed.is_none_or(|a| a <= b.prefix.len())) {
            let prefix = block.prefix.clone();
            return Err(match block.premium {
                Some(what) => PolicyError::Premium { number, prefix, what },
                None => PolicyError::Blocked { number, prefix },
            });
        }
        let e164 = number.starts_with('+');
        if allowed.is_none() {
            if e164 && self.allowed.iter().any(|p| p.starts_with('+')) {
                let listed: Vec<&str> =
                    self.allowed.iter().filter(|p| p.starts_with('+')).map(String::as_str).collect();
                return Err(PolicyError::NotAllowed { number, allowed: listed.join(", ") });
            }
            if !e164 && digits > self.max_local_digits {
                return Err(PolicyError::LocalTooLong { number, digits, max: self.max_local_digits });
            }
        }
        Ok(if e164 { NormalizedTarget::E164(number) } else { NormalizedTarget::Local(number) })
    }

    /// `sip:`/`sips:` URI `original`, `rest` after its scheme: `[user@]host[:port][;params]`.
    fn check_sip(&self, original: &str, rest: &str, secure: bool) -> Result<NormalizedTarget, PolicyError> {
        let unsafe_uri = |what| PolicyError::UnsafeUri { target: shown(original), what };
        let unreadable = || PolicyError::Unreadable(shown(original));
        if rest.contains('?') {
            // Headers in a URI become headers of the INVITE (RFC 3261 §19.1.5): Route, Replaces and the like.
            return Err(unsafe_uri("URI headers (?…)"));
        }
        let (userinfo, host_part) = match rest.split_once('@') {
            Some((_, after)) if after.contains('@') => return Err(unreadable()),
            Some((user, after)) => (Some(user), after),
            None => (None, rest),
        };
        let (host_port, params) = host_part.split_once(';').unwrap_or((host_part, ""));
        for param in params.split(';').filter(|p| !p.is_empty()) {
            let name = param.split_once('=').map_or(param, |(n, _)| n).trim();
            if name.eq_ignore_ascii_case("maddr") {
                // maddr overrides the host as the request's destination (RFC 3261 §19.1.1).
                return Err(unsafe_uri("a maddr parameter (it sends the call to another host)"));
            }
        }
        let (host, port) = split_host_port(&host_port.to_ascii_lowercase()).ok_or_else(unreadable)?;
        let user = match userinfo {
            None => None,
            Some(info) if info.contains(':') => return Err(unsafe_uri("a password")),
            Some(info) => {
                let decoded = voicera_sip::uri::percent_decode(info).ok_or_else(unreadable)?;
                // User parameters (`;phone-context=…`) do not change which number is dialled.
                let user = decoded.split(';').next().unwrap_or_default();
                if user.is_empty() {
                    return Err(unreadable());
                }
                if user.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    if !is_user_name(user) {
                        return Err(unreadable());
                    }
                    Some(user.to_string())
                } else {
                    Some(self.check_number(original, user)?.dial_string().to_string())
                }
            }
        };
        let default_port = if secure { 5061 } else { 5060 };
        if !self.sip_hosts.iter().any(|rule| rule.matches(&host, port.unwrap_or(default_port))) {
            let shown_host = match port {
                Some(p) => format!("{host}:{p}"),
                None => host,
            };
            return Err(PolicyError::SipHostNotAllowed { target: shown(original), host: shown_host });
        }
        Ok(NormalizedTarget::Sip(SipTarget { uri: original.to_string(), secure, user, host, port }))
    }
}

/// `text` for an error message: long input is cut (a 32 KB "number" must not fill the logs).
fn shown(text: &str) -> String {
    const SHOWN: usize = 64;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// `text` after `scheme`, compared without case.
fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let head = text.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme).then(|| &text[scheme.len()..])
}

/// A SIP user name: a letter, then letters, digits, `.`, `_`, `-`; at most 64 characters.
fn is_user_name(text: &str) -> bool {
    text.len() <= 64
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// `+` and digits, or digits: visual separators (space, `-`, `.`, `(`, `)`; RFC 3966 §5.1.1) dropped, a
/// leading `00` made `+`.
fn normalize_number(original: &str, text: &str) -> Result<String, PolicyError> {
    let mut number = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            '+' if number.is_empty() => number.push('+'),
            ' ' | '\t' | '-' | '.' | '(' | ')' => {}
            '*' | '#' => return Err(PolicyError::FeatureCode(shown(original))),
            _ => return Err(PolicyError::Unreadable(shown(original))),
        }
    }
    if let Some(rest) = number.strip_prefix("00") {
        number = format!("+{rest}");
    }
    // Country codes never begin with 0 (E.164 §6.2.1), and a lone `+` dials nothing.
    if number.is_empty() || number == "+" || number.starts_with("+0") {
        return Err(PolicyError::Unreadable(shown(original)));
    }
    Ok(number)
}

/// A configured prefix in the numbers' normal form; `+` alone stands for every E.164 number.
fn normalize_prefix(text: &str) -> Option<String> {
    if text.trim() == "+" {
        return Some("+".into());
    }
    let prefix = normalize_number(text, text).ok()?;
    (prefix.len() <= MAX_DIGITS_LIMIT + 1).then_some(prefix)
}

/// `host[:port]` (host lowercase already): a host name, an IPv4 address, or an `[IPv6]` address; IP addresses
/// in canonical form.
fn split_host_port(text: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = inside.parse().ok()?;
        (format!("[{ip}]"), after)
    } else {
        let (host, port) = match text.find(':') {
            Some(colon) => (&text[..colon], &text[colon..]),
            None => (text, ""),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        match host.parse::<Ipv4Addr>() {
            Ok(ip) => (ip.to_string(), port),
            Err(_) if is_host_name(host) => (host.to_string(), port),
            Err(_) => return None,
        }
    };
    let port = match port {
        "" => None,
        p => Some(p.strip_prefix(':')?.parse::<u16>().ok().filter(|p| *p != 0)?),
    };
    Some((host, port))
}

/// A DNS host name: dot-separated labels of letters, digits and `-`, not starting or ending with `-`.
fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(settings: DialPolicySettings) -> DialPolicy {
        DialPolicy::new(&settings).unwrap()
    }

    fn e164(n: &str) -> Result<NormalizedTarget, PolicyError> {
        Ok(NormalizedTarget::E164(n.into()))
    }

    #[test]
    fn formatting_is_normalised_and_00_becomes_plus() {
        let p = DialPolicy::default();
        assert_eq!(p.check("+1 (555) 123-0000"), e164("+15551230000"));
        assert_eq!(p.check(" 0044 20.7946.0000 "), e164("+442079460000"));
        assert_eq!(p.check("tel:+91-98765-43210"), e164("+919876543210"));
        assert_eq!(p.check("100"), Ok(NormalizedTarget::Local("100".into())));
        assert_eq!(p.check("alice.b"), Ok(NormalizedTarget::User("alice.b".into())));
        assert_eq!(p.check("+15551230000").unwrap().to_string(), "+15551230000");
    }

    #[test]
    fn unreadable_targets_are_named() {
        let p = DialPolicy::default();
        for bad in ["", "1; DROP", "++44", "+", "+0123", "000", "4+4", "١٢٣", "http://x", "alice@", "tel:+1;ext=2"] {
            let err = p.check(bad).unwrap_err();
            assert!(err.is_malformed(), "{bad:?}: {err}");
            assert!(err.to_string().contains("is not a phone number"), "{err}");
        }
        let long = "9".repeat(40_000);
        let err = p.check(&long).unwrap_err().to_string();
        assert!(err.len() < 200, "a huge target is not echoed whole: {} bytes", err.len());
    }

    #[test]
    fn feature_codes_are_never_dialled() {
        let p = DialPolicy::default();
        for code in ["*72+15551230000", "#31#100", "tel:*67"] {
            let err = p.check(code).unwrap_err();
            assert!(matches!(err, PolicyError::FeatureCode(_)), "{code}: {err}");
            assert!(!err.is_malformed());
        }
    }

    #[test]
    fn premium_ranges_are_blocked_by_default_whatever_the_spelling() {
        let p = DialPolicy::default();
        for (number, prefix) in [
            ("+19005551234", "+1900"),
            ("+44 909 879 0000", "+449"),
            ("00448712345678", "+4487"),
            ("+447012345678", "+4470"),
            ("+49 900 1234567", "+49900"),
            ("+33 8 99 12 34 56", "+3389"),
            ("+34 806 123 456", "+34806"),
            ("+979 1 2345 6789", "+979"),
            ("+881631234567", "+881"),
            ("118118", "118"),
        ] {
            match p.check(number) {
                Err(PolicyError::Premium { prefix: got, .. }) => assert_eq!(got, prefix, "{number}"),
                other => panic!("{number}: {other:?}"),
            }
        }
        let err = p.check("+19005551234").unwrap_err().to_string();
        assert!(err.contains("+19005551234") && err.contains("+1900") && err.contains("block_premium"), "{err}");
        // Neighbours of the premium ranges are ordinary numbers: UK mobiles (07…) and London (020…), India's
        // toll-free 1800, North American numbers in other area codes.
        for fine in ["+447712345678", "+442079460000", "+9118001234567", "+14155550100", "+918000000002"] {
            assert!(p.check(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn block_premium_false_drops_the_built_in_list_only() {
        let p = policy(DialPolicySettings {
            block_premium: false,
            blocked_prefixes: vec!["+44 70".into()],
            ..Default::default()
        });
        assert!(p.check("+19005551234").is_ok());
        assert_eq!(
            p.check("+447012345678"),
            Err(PolicyError::Blocked { number: "+447012345678".into(), prefix: "+4470".into() })
        );
    }

    #[test]
    fn allowed_prefixes_make_an_allow_list_and_the_longest_prefix_wins() {
        let p = policy(DialPolicySettings {
            allowed_prefixes: vec!["+91".into(), "+1 415".into()],
            blocked_prefixes: vec!["+91 140".into()],
            ..Default::default()
        });
        assert_eq!(p.check("+91 98765 43210"), e164("+919876543210"));
        assert_eq!(p.check("+1 415 555 0100"), e164("+14155550100"));
        let err = p.check("+442079460000").unwrap_err();
        assert_eq!(err, PolicyError::NotAllowed { number: "+442079460000".into(), allowed: "+91, +1415".into() });
        assert!(err.to_string().contains("allowed_prefixes (+91, +1415)"), "{err}");
        assert!(matches!(p.check("+911401234567"), Err(PolicyError::Blocked { .. })));
        // Extensions stay dialable: the allow-list is for E.164 numbers.
        assert!(p.check("2001").is_ok());

        // `+` allows every E.164 number; a longer allowed prefix lifts part of a built-in block, and a block
        // wins a tie.
        let p = policy(DialPolicySettings {
            allowed_prefixes: vec!["+".into(), "+8816".into(), "+1900".into()],
            ..Default::default()
        });
        assert!(p.check("+881612345678").is_ok(), "Iridium allowed explicitly");
        assert!(matches!(p.check("+881812345678"), Err(PolicyError::Premium { .. })), "Globalstar still blocked");
        assert!(matches!(p.check("+19005551234"), Err(PolicyError::Premium { .. })), "a tie is a block");
        assert!(p.check("+442079460000").is_ok());
    }

    #[test]
    fn local_numbers_are_short_extensions_unless_an_allowed_prefix_says_otherwise() {
        let p = DialPolicy::default();
        assert!(p.check("123456").is_ok());
        let err = p.check("011 44 909 879 0000").unwrap_err();
        assert_eq!(err, PolicyError::LocalTooLong { number: "011449098790000".into(), digits: 15, max: 6 });
        assert!(err.to_string().contains("max_local_digits"), "{err}");
        let p = policy(DialPolicySettings {
            allowed_prefixes: vec!["0".into()],
            blocked_prefixes: vec!["09".into()],
            max_local_digits: 0,
            ..Default::default()
        });
        assert_eq!(p.check("020 7946 0000"), Ok(NormalizedTarget::Local("02079460000".into())));
        assert!(matches!(p.check("0909 879 0000"), Err(PolicyError::Blocked { .. })));
        assert!(matches!(p.check("100"), Err(PolicyError::LocalTooLong { max: 0, .. })));
    }

    #[test]
    fn max_digits_caps_every_number() {
        let p = DialPolicy::default();
        assert!(p.check("+123456789012345").is_ok(), "15 digits: E.164's maximum");
        assert_eq!(
            p.check("+1234567890123456"),
            Err(PolicyError::TooManyDigits { number: "+1234567890123456".into(), digits: 16, max: 15 })
        );
        let p = policy(DialPolicySettings { max_digits: 12, ..Default::default() });
        assert!(matches!(p.check("+4420794600001"), Err(PolicyError::TooManyDigits { max: 12, .. })));
    }

    #[test]
    fn sip_uris_go_only_to_allowed_hosts() {
        let p = DialPolicy::default();
        let err = p.check("sip:bob@evil.example").unwrap_err();
        assert_eq!(
            err,
            PolicyError::SipHostNotAllowed { target: "sip:bob@evil.example".into(), host: "evil.example".into() }
        );
        assert!(err.to_string().contains("allowed_sip_hosts"), "{err}");
        assert!(p.check("sip:echo@127.0.0.1:5060").is_err(), "loopback only when configured");

        let p = policy(DialPolicySettings {
            allowed_sip_hosts: vec![
                "PBX.example.com".into(),
                "10.0.0.5:5080".into(),
                "*.carrier.example".into(),
                "::1".into(),
            ],
            ..Default::default()
        });
        match p.check("sip:Sales@pbx.EXAMPLE.com;transport=tcp").unwrap() {
            NormalizedTarget::Sip(t) => {
                assert_eq!((t.user.as_deref(), t.host.as_str(), t.port), (Some("Sales"), "pbx.example.com", None));
                assert_eq!(t.uri, "sip:Sales@pbx.EXAMPLE.com;transport=tcp");
                assert!(!t.secure);
            }
            other => panic!("{other:?}"),
        }
        assert!(p.check("sip:100@10.0.0.5:5080").is_ok());
        assert!(p.check("sip:100@10.0.0.5").is_err(), "the entry names port 5080");
        assert!(p.check("sip:100@10.0.0.6:5080").is_err());
        assert!(p.check("sips:+15551230000@edge.carrier.example").is_ok());
        assert!(p.check("sip:x@carrier.example").is_err(), "*.domain is subdomains only");
        assert!(p.check("sip:x@evilcarrier.example").is_err());
        assert!(p.check("sip:x@[0:0:0:0:0:0:0:1]:5070").is_ok(), "IPv6 compared in canonical form");
        assert!(matches!(p.check("sip:x@pbx.example.com:0"), Err(PolicyError::Unreadable(_))));
        assert!(matches!(p.check("sip:x@under_score.example"), Err(PolicyError::Unreadable(_))));
    }

    #[test]
    fn a_sip_uri_is_no_way_around_the_number_rules_or_its_host() {
        let p =
            policy(DialPolicySettings { allowed_sip_hosts: vec!["trunk.example:5060".into()], ..Default::default() });
        for (uri, expected) in [
            ("sip:+19005551234@trunk.example", "Premium"),
            ("sip:%2B1900%35551234@trunk.example", "Premium"),
            ("sip:0019005551234;phone-context=x@trunk.example", "Premium"),
            ("sip:*72@trunk.example", "FeatureCode"),
            ("sip:01144909879000@trunk.example", "LocalTooLong"),
            ("sip:+15551230000@trunk.example;maddr=evil.example", "UnsafeUri"),
            ("sip:+15551230000@trunk.example?Route=%3Csip:evil.example%3E", "UnsafeUri"),
            ("sip:user:secret@trunk.example", "UnsafeUri"),
            ("sip:a@b@trunk.example", "Unreadable"),
            ("sip:%ZZ@trunk.example", "Unreadable"),
            ("sip:1900x@trunk.example", "Unreadable"),
        ] {
            let err = p.check(uri).unwrap_err();
            assert!(format!("{err:?}").starts_with(expected), "{uri}: {err:?}");
        }
        match p.check("SIP:+1 555 123 0000@trunk.example").unwrap() {
            NormalizedTarget::Sip(t) => assert_eq!(t.user.as_deref(), Some("+15551230000")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_mistakes_are_named_with_their_key() {
        for (settings, expected) in [
            (
                DialPolicySettings { allowed_prefixes: vec!["+9x1".into()], ..Default::default() },
                "dial_policy.allowed_prefixes: \"+9x1\"",
            ),
            (
                DialPolicySettings { blocked_prefixes: vec!["*72".into()], ..Default::default() },
                "dial_policy.blocked_prefixes: \"*72\"",
            ),
            (
                DialPolicySettings { blocked_prefixes: vec!["+".into()], ..Default::default() },
                "dial_policy.blocked_prefixes: \"+\"",
            ),
            (
                DialPolicySettings { allowed_sip_hosts: vec!["pbx.example.com:99999".into()], ..Default::default() },
                "\"pbx.example.com:99999\" is not a SIP host",
            ),
            (DialPolicySettings { allowed_sip_hosts: vec!["sip:pbx".into()], ..Default::default() }, "\"sip:pbx\""),
            (
                DialPolicySettings { max_digits: 0, ..Default::default() },
                "dial_policy.max_digits = 0 must be between 1 and 32",
            ),
            (DialPolicySettings { max_local_digits: 33, ..Default::default() }, "dial_policy.max_local_digits = 33"),
        ] {
            let err = DialPolicy::new(&settings).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        assert_eq!(DialPolicy::new(&DialPolicySettings::default()).unwrap(), DialPolicy::default());
    }

    #[test]
    fn the_premium_list_is_well_formed() {
        for (prefix, what) in PREMIUM_PREFIXES {
            assert_eq!(normalize_prefix(prefix).as_deref(), Some(*prefix), "{prefix} is in normal form");
            assert!(!what.is_empty());
        }
    }
}
