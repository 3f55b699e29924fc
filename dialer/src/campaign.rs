//! One campaign's dialling decisions, as a sans-IO state machine.
//!
//! The driver (the binary's outbound dialer) calls [`Campaign::poll`] when woken and places the calls it returns,
//! reports each call's end with [`Campaign::on_outcome`], and sleeps until [`Campaign::next_wakeup`] or the next
//! outcome. The campaign holds the rules: at most `max_live_calls` calls up at once (a call is live from the dial
//! until its outcome, ringing included, so the limit holds for calls the trunk is carrying), at most
//! `max_new_calls_per_second` new calls in any one-second span, calls only inside the [`Schedule`], retries per
//! outcome with spacing, and never a contact dialled while it is already being dialled.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use crate::schedule::Schedule;
use crate::{DialerError, UnixMillis};

/// A contact's position in the campaign's list (0-based).
pub type ContactId = usize;

/// How one call attempt ended, as the telephony layer reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// A person answered.
    AnsweredHuman,
    /// An answering machine or voicemail answered (and was hung up on, connected, or could not be left a
    /// message): retried under the `machine` rule.
    AnsweredMachine,
    /// An answering machine answered and the campaign's voicemail message was left on it: final, never
    /// retried (a retry would leave a second message).
    MessageLeft,
    /// The callee was busy (SIP 486/600).
    Busy,
    /// Nobody answered before the ring timeout (SIP 408/480/487 after our CANCEL).
    NoAnswer,
    /// The call failed: the SIP status or the provider's reason.
    Failed(String),
}

impl AttemptOutcome {
    /// The outcome of a call that failed with SIP final response `status` (RFC 3261 §21): busy for 486 and 600,
    /// no answer for 408, 480 and 487 (our CANCEL at the ring timeout), a failure naming the status otherwise.
    pub fn from_sip_status(status: u16) -> AttemptOutcome {
        match status {
            486 | 600 => AttemptOutcome::Busy,
            408 | 480 | 487 => AttemptOutcome::NoAnswer,
            other => AttemptOutcome::Failed(format!("SIP {other}")),
        }
    }

    /// The outcome of a call placed through a provider's REST API, from the end its status callback reported:
    /// busy, no answer and failures as the provider names them (a call cancelled before the answer is a
    /// failure naming it); an answered call is a machine's when `machine_heard` (our own detection on the
    /// stream) or the provider's machine detection says so, a person's otherwise.
    pub fn from_provider_end(end: &voicera_carrier_rest::CallEnd, machine_heard: bool) -> AttemptOutcome {
        use voicera_carrier_rest::{AnsweredBy, EndKind};
        match end.kind {
            EndKind::Busy => AttemptOutcome::Busy,
            EndKind::NoAnswer => AttemptOutcome::NoAnswer,
            EndKind::Canceled => AttemptOutcome::Failed(format!("canceled: {}", end.cause)),
            EndKind::Failed => AttemptOutcome::Failed(end.cause.clone()),
            EndKind::Completed if machine_heard || end.answered_by == Some(AnsweredBy::Machine) => {
                AttemptOutcome::AnsweredMachine
            }
            EndKind::Completed => AttemptOutcome::AnsweredHuman,
        }
    }
}

/// Where a contact ended up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// The last attempt's outcome (no retry left, or none wanted).
    Attempted(AttemptOutcome),
    /// On the do-not-call list: never dialled.
    DncSkipped,
    /// The campaign's end came before the contact could be called (or retried).
    OutsideWindow,
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disposition::Attempted(AttemptOutcome::AnsweredHuman) => f.write_str("answered-human"),
            Disposition::Attempted(AttemptOutcome::AnsweredMachine) => f.write_str("answered-machine"),
            Disposition::Attempted(AttemptOutcome::MessageLeft) => f.write_str("voicemail-left"),
            Disposition::Attempted(AttemptOutcome::Busy) => f.write_str("busy"),
            Disposition::Attempted(AttemptOutcome::NoAnswer) => f.write_str("no-answer"),
            Disposition::Attempted(AttemptOutcome::Failed(reason)) => write!(f, "failed({reason})"),
            Disposition::DncSkipped => f.write_str("dnc-skipped"),
            Disposition::OutsideWindow => f.write_str("outside-window"),
        }
    }
}

impl std::str::FromStr for Disposition {
    type Err = DialerError;

    /// The disposition [`Display`](fmt::Display) wrote (`busy`, `failed(SIP 503)`, `dnc-skipped`…).
    fn from_str(text: &str) -> Result<Disposition, DialerError> {
        Ok(match text {
            "answered-human" => Disposition::Attempted(AttemptOutcome::AnsweredHuman),
            "answered-machine" => Disposition::Attempted(AttemptOutcome::AnsweredMachine),
            "voicemail-left" => Disposition::Attempted(AttemptOutcome::MessageLeft),
            "busy" => Disposition::Attempted(AttemptOutcome::Busy),
            "no-answer" => Disposition::Attempted(AttemptOutcome::NoAnswer),
            "dnc-skipped" => Disposition::DncSkipped,
            "outside-window" => Disposition::OutsideWindow,
            other => match other.strip_prefix("failed(").and_then(|r| r.strip_suffix(')')) {
                Some(reason) => Disposition::Attempted(AttemptOutcome::Failed(reason.to_string())),
                None => return Err(DialerError::Document(format!("unknown disposition {other:?}"))),
            },
        })
    }
}

/// A contact's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactState {
    /// Waiting to be dialled, not before `not_before`.
    Pending {
        /// The earliest time of the next attempt (retry spacing).
        not_before: UnixMillis,
    },
    /// A call is being placed or is up.
    Dialing {
        /// When the attempt started.
        since: UnixMillis,
    },
    /// Finished.
    Done(Disposition),
}

impl fmt::Display for ContactState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactState::Pending { .. } => f.write_str("pending"),
            ContactState::Dialing { .. } => f.write_str("dialing"),
            ContactState::Done(d) => write!(f, "done: {d}"),
        }
    }
}

/// Whether and when to try a contact again after an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRule {
    /// Attempts in all, the first included (1: no retry).
    pub max_attempts: u32,
    /// The wait between an attempt's end and the next attempt.
    pub spacing_ms: i64,
}

impl RetryRule {
    /// One attempt, no retry.
    pub const NEVER: RetryRule = RetryRule { max_attempts: 1, spacing_ms: 0 };
}

/// Retry rules per outcome. A human answer and a message left on a machine are final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// After a busy signal.
    pub busy: RetryRule,
    /// After ringing out.
    pub no_answer: RetryRule,
    /// After a failure.
    pub failed: RetryRule,
    /// After an answering machine that was not left a message (one that was is final).
    pub machine: RetryRule,
}

impl RetryPolicy {
    /// No retries: the original's behaviour.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            busy: RetryRule::NEVER,
            no_answer: RetryRule::NEVER,
            failed: RetryRule::NEVER,
            machine: RetryRule::NEVER,
        }
    }

    fn rule(&self, outcome: &AttemptOutcome) -> RetryRule {
        match outcome {
            AttemptOutcome::AnsweredHuman | AttemptOutcome::MessageLeft => RetryRule::NEVER,
            AttemptOutcome::AnsweredMachine => self.machine,
            AttemptOutcome::Busy => self.busy,
            AttemptOutcome::NoAnswer => self.no_answer,
            AttemptOutcome::Failed(_) => self.failed,
        }
    }
}

/// How fast a campaign dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Calls up at once (dialling, ringing or answered), at most.
    pub max_live_calls: u32,
    /// New calls started in any one-second span, at most.
    pub max_new_calls_per_second: u32,
}

impl Pacing {
    fn validate(&self) -> Result<(), DialerError> {
        if self.max_live_calls == 0 || self.max_new_calls_per_second == 0 {
            return Err(DialerError::Settings("pacing limits must be at least 1".into()));
        }
        Ok(())
    }
}

/// Everything that governs a campaign's dialling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSettings {
    /// Speed limits.
    pub pacing: Pacing,
    /// Retries per outcome.
    pub retry: RetryPolicy,
    /// When calls may be placed.
    pub schedule: Schedule,
}

/// A contact as the campaign sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignContact {
    /// The number to dial, E.164.
    pub number: String,
    /// Its state.
    pub state: ContactState,
    /// Attempts made so far.
    pub attempts: u32,
}

/// The campaign's run state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Dialling.
    Running,
    /// No new calls; live calls continue; [`Campaign::resume`] continues.
    Paused,
    /// No new calls, ever; live calls finish (and are not retried).
    Stopped,
    /// Every contact is done.
    Finished,
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialAction {
    /// Place a call to `number` for `contact`; report its end with [`Campaign::on_outcome`].
    Dial {
        /// The contact.
        contact: ContactId,
        /// E.164 number.
        number: String,
        /// Which attempt this is, from 1.
        attempt: u32,
    },
}

/// Counts for progress reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Contacts in the campaign.
    pub total: usize,
    /// Waiting (first attempt or a retry).
    pub pending: usize,
    /// Being dialled now.
    pub dialing: usize,
    /// Finished, by disposition (`answered-human`, `busy`, `failed(…)`…) in name order.
    pub done: Vec<(String, usize)>,
    /// Call attempts made.
    pub attempts: u64,
}

/// One campaign's dialling state machine. See the module documentation.
#[derive(Debug)]
pub struct Campaign {
    settings: CampaignSettings,
    contacts: Vec<CampaignContact>,
    /// Pending contacts by (not_before, id): the next to dial first, file order among equals.
    ready: BTreeSet<(UnixMillis, ContactId)>,
    live: u32,
    /// Start times of the calls started in the last second (or reserved to start later), earliest first.
    recent_starts: VecDeque<UnixMillis>,
    /// How far ahead of a poll its calls' starts may be reserved (see [`Campaign::set_claim_lead`]).
    claim_lead_ms: i64,
    run: RunState,
    attempts: u64,
}

/// The span [`Pacing::max_new_calls_per_second`] counts over.
const RATE_SPAN_MS: i64 = 1000;

impl Campaign {
    /// A campaign over `contacts`: each `(number, do_not_call)`. Do-not-call contacts are done at once as
    /// [`Disposition::DncSkipped`]. It starts [`RunState::Running`].
    pub fn new(
        settings: CampaignSettings,
        contacts: impl IntoIterator<Item = (String, bool)>,
    ) -> Result<Campaign, DialerError> {
        settings.pacing.validate()?;
        settings.schedule.validate()?;
        let mut ready = BTreeSet::new();
        let contacts: Vec<CampaignContact> = contacts
            .into_iter()
            .enumerate()
            .map(|(id, (number, do_not_call))| {
                let state = if do_not_call {
                    ContactState::Done(Disposition::DncSkipped)
                } else {
                    ready.insert((UnixMillis::MIN, id));
                    ContactState::Pending { not_before: UnixMillis::MIN }
                };
                CampaignContact { number, state, attempts: 0 }
            })
            .collect();
        let mut campaign = Campaign {
            settings,
            contacts,
            ready,
            live: 0,
            recent_starts: VecDeque::new(),
            claim_lead_ms: 0,
            run: RunState::Running,
            attempts: 0,
        };
        campaign.finish_if_done();
        Ok(campaign)
    }

    /// A campaign resumed from stored contact states (after a restart, or on another node): each contact
    /// pending (with its retry time and attempts so far) or done. A contact stored as dialling must be settled
    /// by the driver first (its call died with the node that placed it: see [`crate::lease`]), so it is refused.
    pub fn restore(
        settings: CampaignSettings,
        contacts: impl IntoIterator<Item = CampaignContact>,
    ) -> Result<Campaign, DialerError> {
        settings.pacing.validate()?;
        settings.schedule.validate()?;
        let mut ready = BTreeSet::new();
        let mut attempts = 0;
        let contacts: Vec<CampaignContact> = contacts.into_iter().collect();
        for (id, contact) in contacts.iter().enumerate() {
            attempts += u64::from(contact.attempts);
            match contact.state {
                ContactState::Pending { not_before } => {
                    ready.insert((not_before, id));
                }
                ContactState::Dialing { .. } => {
                    return Err(DialerError::Settings(format!("contact {id} is stored as dialling; settle it first")))
                }
                ContactState::Done(_) => {}
            }
        }
        let mut campaign = Campaign {
            settings,
            contacts,
            ready,
            live: 0,
            recent_starts: VecDeque::new(),
            claim_lead_ms: 0,
            run: RunState::Running,
            attempts,
        };
        campaign.finish_if_done();
        Ok(campaign)
    }

    /// The retry rule for an outcome (how many attempts in all, and the spacing).
    pub fn retry_rule(&self, outcome: &AttemptOutcome) -> RetryRule {
        self.settings.retry.rule(outcome)
    }

    /// The calls to place now. Returns none while paused, stopped, outside the schedule, at the live-call limit
    /// or the call rate. At the campaign's end, contacts still pending become [`Disposition::OutsideWindow`].
    pub fn poll(&mut self, now: UnixMillis) -> Vec<DialAction> {
        let mut actions = Vec::new();
        if self.run != RunState::Running {
            return actions;
        }
        if self.settings.schedule.has_ended(now) {
            for (_, id) in std::mem::take(&mut self.ready) {
                self.contacts[id].state = ContactState::Done(Disposition::OutsideWindow);
            }
            self.finish_if_done();
            return actions;
        }
        if !self.settings.schedule.is_open(now) {
            return actions;
        }
        while let Some(&(not_before, id)) = self.ready.first() {
            if not_before > now || self.live >= self.settings.pacing.max_live_calls || !self.rate_allows(now) {
                break;
            }
            self.ready.remove(&(not_before, id));
            let contact = &mut self.contacts[id];
            contact.state = ContactState::Dialing { since: now };
            contact.attempts += 1;
            self.live += 1;
            self.attempts += 1;
            actions.push(DialAction::Dial { contact: id, number: contact.number.clone(), attempt: contact.attempts });
            self.note_start(now);
        }
        actions
    }

    /// Whether another call may be dialled at `now` under the per-second limit: whether one starting a claim
    /// lead later would (forgetting starts a second older than that).
    fn rate_allows(&mut self, now: UnixMillis) -> bool {
        let start = now.saturating_add(self.claim_lead_ms);
        while self.recent_starts.front().is_some_and(|t| *t <= start - RATE_SPAN_MS) {
            self.recent_starts.pop_front();
        }
        self.recent_starts.len() < self.settings.pacing.max_new_calls_per_second as usize
    }

    fn note_start(&mut self, at: UnixMillis) {
        let index = self.recent_starts.partition_point(|t| *t <= at);
        self.recent_starts.insert(index, at);
    }

    /// Calls [`poll`](Self::poll) returns may start up to `lead_ms` later: the driver claims a contact first
    /// and then reserves its start campaign-wide, up to a lead ahead (see [`crate::pacing`]), and tells the
    /// reserved time with [`start_reserved`](Self::start_reserved). The per-second limit then counts each
    /// call at its reserved start, and lets a poll come a lead before a start it allows. 0 by default.
    pub fn set_claim_lead(&mut self, lead_ms: i64) {
        self.claim_lead_ms = lead_ms.max(0);
    }

    /// The call to `contact` that [`poll`](Self::poll) returned starts at `at` (its start reserved
    /// campaign-wide): the per-second limit counts it then, not at the poll.
    pub fn start_reserved(&mut self, contact: ContactId, at: UnixMillis) -> Result<(), DialerError> {
        let entry = self.contacts.get_mut(contact).ok_or(DialerError::NoSuchContact(contact))?;
        let ContactState::Dialing { since } = entry.state else {
            return Err(DialerError::NotDialing { contact, state: entry.state.to_string() });
        };
        entry.state = ContactState::Dialing { since: at };
        if let Some(index) = self.recent_starts.iter().rposition(|t| *t == since) {
            self.recent_starts.remove(index);
        }
        self.note_start(at);
        Ok(())
    }

    /// A call placed by [`poll`](Self::poll) ended with `outcome`. The contact is retried per the policy
    /// (unless the campaign was stopped) or done.
    pub fn on_outcome(
        &mut self,
        contact: ContactId,
        outcome: AttemptOutcome,
        now: UnixMillis,
    ) -> Result<(), DialerError> {
        let stopped = self.run == RunState::Stopped;
        let entry = self.contacts.get_mut(contact).ok_or(DialerError::NoSuchContact(contact))?;
        if !matches!(entry.state, ContactState::Dialing { .. }) {
            return Err(DialerError::NotDialing { contact, state: entry.state.to_string() });
        }
        self.live -= 1;
        let rule = self.settings.retry.rule(&outcome);
        if entry.attempts < rule.max_attempts && !stopped {
            let not_before = now.saturating_add(rule.spacing_ms);
            entry.state = ContactState::Pending { not_before };
            self.ready.insert((not_before, contact));
        } else {
            entry.state = ContactState::Done(Disposition::Attempted(outcome));
        }
        self.finish_if_done();
        Ok(())
    }

    /// The store numbers the dial just returned by [`poll`](Self::poll) as the contact's attempt `attempt`
    /// (attempts other nodes made, and one lost with a dead node, are counted there): its retries are counted
    /// from that number, so several nodes together make no more attempts than the policy allows.
    pub fn count_attempt_as(&mut self, contact: ContactId, attempt: u32) -> Result<(), DialerError> {
        let entry = self.contacts.get_mut(contact).ok_or(DialerError::NoSuchContact(contact))?;
        if !matches!(entry.state, ContactState::Dialing { .. }) {
            return Err(DialerError::NotDialing { contact, state: entry.state.to_string() });
        }
        self.attempts = (self.attempts + u64::from(attempt)).saturating_sub(u64::from(entry.attempts));
        entry.attempts = attempt;
        Ok(())
    }

    /// A dial returned by [`poll`](Self::poll) did not happen: another node holds the contact's lease (see
    /// [`crate::lease`]), or the driver could not start it for a reason that is not the callee's. The attempt is
    /// not counted, its live-call slot and its place in the call rate are freed (no call started: the
    /// campaign-wide pacing, or a slot, said not yet), and the contact waits until `not_before` (when the
    /// driver should have re-read the contact's stored state).
    pub fn release(&mut self, contact: ContactId, not_before: UnixMillis) -> Result<(), DialerError> {
        let entry = self.contacts.get_mut(contact).ok_or(DialerError::NoSuchContact(contact))?;
        let ContactState::Dialing { since } = entry.state else {
            return Err(DialerError::NotDialing { contact, state: entry.state.to_string() });
        };
        if let Some(at) = self.recent_starts.iter().rposition(|t| *t == since) {
            self.recent_starts.remove(at);
        }
        self.live -= 1;
        self.attempts -= 1;
        entry.attempts -= 1;
        entry.state = ContactState::Pending { not_before };
        self.ready.insert((not_before, contact));
        Ok(())
    }

    /// The contact was finished by another node (its stored state says so): it is done here too, without a
    /// call from this node. Only for a contact not being dialled here.
    pub fn finished_elsewhere(&mut self, contact: ContactId, disposition: Disposition) -> Result<(), DialerError> {
        let entry = self.contacts.get_mut(contact).ok_or(DialerError::NoSuchContact(contact))?;
        match entry.state {
            ContactState::Pending { not_before } => {
                self.ready.remove(&(not_before, contact));
                entry.state = ContactState::Done(disposition);
                self.finish_if_done();
                Ok(())
            }
            _ => Err(DialerError::NotDialing { contact, state: entry.state.to_string() }),
        }
    }

    fn finish_if_done(&mut self) {
        if self.live == 0 && self.ready.is_empty() && self.run != RunState::Stopped {
            self.run = RunState::Finished;
        }
    }

    /// No new calls until [`resume`](Self::resume); live calls continue.
    pub fn pause(&mut self) {
        if self.run == RunState::Running {
            self.run = RunState::Paused;
        }
    }

    /// Dialling continues after a pause.
    pub fn resume(&mut self) {
        if self.run == RunState::Paused {
            self.run = RunState::Running;
        }
    }

    /// No new calls, and no retries of calls still up; waiting contacts stay pending (visible as not called).
    pub fn stop(&mut self) {
        if self.run != RunState::Finished {
            self.run = RunState::Stopped;
        }
    }

    /// New limits, effective at the next [`poll`](Self::poll) (live calls above a lowered limit are not cut).
    pub fn set_pacing(&mut self, pacing: Pacing) -> Result<(), DialerError> {
        pacing.validate()?;
        self.settings.pacing = pacing;
        Ok(())
    }

    /// When the driver should poll next if no outcome arrives first: `None` when only an outcome can change
    /// anything (paused, stopped, finished, or at the live-call limit) or nothing is left to dial.
    pub fn next_wakeup(&mut self, now: UnixMillis) -> Option<UnixMillis> {
        if self.run != RunState::Running || self.live >= self.settings.pacing.max_live_calls {
            return None;
        }
        let &(not_before, _) = self.ready.first()?;
        let rate_free = if self.rate_allows(now) {
            now
        } else {
            self.recent_starts.front().map_or(now, |t| t + RATE_SPAN_MS - self.claim_lead_ms)
        };
        let earliest = not_before.max(rate_free).max(now);
        match self.settings.schedule.next_open(earliest) {
            Some(t) => Some(t),
            // No window before the end: wake at the end to close the remaining contacts as outside-window.
            None => self.settings.schedule.end_at.map(|end| end.max(now)),
        }
    }

    /// The run state.
    pub fn run_state(&self) -> RunState {
        self.run
    }

    /// Calls up now.
    pub fn live_calls(&self) -> u32 {
        self.live
    }

    /// A contact's state, attempts and number.
    pub fn contact(&self, contact: ContactId) -> Option<&CampaignContact> {
        self.contacts.get(contact)
    }

    /// Counts of contacts by state and disposition.
    pub fn progress(&self) -> Progress {
        let mut done = std::collections::BTreeMap::<String, usize>::new();
        let mut progress = Progress { total: self.contacts.len(), attempts: self.attempts, ..Progress::default() };
        for c in &self.contacts {
            match &c.state {
                ContactState::Pending { .. } => progress.pending += 1,
                ContactState::Dialing { .. } => progress.dialing += 1,
                ContactState::Done(d) => *done.entry(d.to_string()).or_default() += 1,
            }
        }
        progress.done = done.into_iter().collect();
        progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{DailyWindow, Weekday};
    use std::collections::{BTreeMap, HashSet};

    #[test]
    fn provider_status_callbacks_become_dispositions() {
        use voicera_carrier_rest::{read_callback, CallProgress};
        let outcome = |pairs: &[(&str, &str)], machine_heard: bool| {
            let CallProgress::Ended(end) = read_callback(|n| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| *v))
            else {
                panic!("{pairs:?} is no end")
            };
            let outcome = AttemptOutcome::from_provider_end(&end, machine_heard);
            Disposition::Attempted(outcome).to_string()
        };
        assert_eq!(outcome(&[("CallStatus", "busy")], false), "busy");
        assert_eq!(outcome(&[("Event", "Hangup"), ("HangupCause", "USER_BUSY")], false), "busy");
        assert_eq!(outcome(&[("CallStatus", "no-answer")], false), "no-answer");
        assert_eq!(outcome(&[("Event", "Hangup"), ("HangupCause", "NO_ANSWER")], false), "no-answer");
        assert_eq!(outcome(&[("CallStatus", "failed"), ("SipResponseCode", "404")], false), "failed(SIP 404)");
        assert_eq!(outcome(&[("CallStatus", "canceled")], false), "failed(canceled: canceled)");
        assert_eq!(outcome(&[("CallStatus", "completed")], false), "answered-human");
        assert_eq!(outcome(&[("CallStatus", "completed")], true), "answered-machine");
        assert_eq!(outcome(&[("CallStatus", "completed"), ("AnsweredBy", "machine_start")], false), "answered-machine");
        assert_eq!(outcome(&[("Event", "Hangup"), ("HangupCause", "NORMAL_CLEARING")], false), "answered-human");
    }

    const SECOND: i64 = 1000;
    const MINUTE: i64 = 60 * SECOND;
    /// 2026-12-07T00:00:00Z, a Monday.
    const MONDAY: UnixMillis = 1_796_601_600_000;

    fn settings(max_live_calls: u32, max_new_calls_per_second: u32) -> CampaignSettings {
        CampaignSettings {
            pacing: Pacing { max_live_calls, max_new_calls_per_second },
            retry: RetryPolicy::none(),
            schedule: Schedule::always(),
        }
    }

    fn numbers(n: usize) -> Vec<(String, bool)> {
        (0..n).map(|i| (format!("+9170{i:08}"), false)).collect()
    }

    /// What the far end does with one attempt: how long the call lasts and how it ends.
    type FarEnd = dyn FnMut(ContactId, u32) -> (i64, AttemptOutcome);

    /// A record of a simulated run.
    #[derive(Default)]
    struct Run {
        max_live: u32,
        /// (start, contact, attempt) of every dial.
        dials: Vec<(UnixMillis, ContactId, u32)>,
        /// (end, contact) of every attempt.
        ends: Vec<(UnixMillis, ContactId)>,
    }

    /// Drives `campaign` on a virtual clock from `start` until nothing is left to wake for (or `until`),
    /// checking on every step that no contact is dialled while already up and that the live-call limit holds.
    fn simulate(campaign: &mut Campaign, start: UnixMillis, until: UnixMillis, far_end: &mut FarEnd) -> Run {
        let mut run = Run::default();
        let mut now = start;
        let mut up: BTreeSet<(UnixMillis, ContactId)> = BTreeSet::new();
        let mut outcomes: BTreeMap<ContactId, AttemptOutcome> = BTreeMap::new();
        let mut live_contacts: HashSet<ContactId> = HashSet::new();
        loop {
            for DialAction::Dial { contact, attempt, .. } in campaign.poll(now) {
                assert!(live_contacts.insert(contact), "contact {contact} dialled while already up");
                let (duration, outcome) = far_end(contact, attempt);
                outcomes.insert(contact, outcome);
                up.insert((now + duration, contact));
                run.dials.push((now, contact, attempt));
            }
            assert_eq!(campaign.live_calls() as usize, live_contacts.len());
            run.max_live = run.max_live.max(campaign.live_calls());
            assert!(campaign.live_calls() <= campaign.settings.pacing.max_live_calls);
            let next_end = up.first().map(|e| e.0);
            let next = match (campaign.next_wakeup(now), next_end) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            assert!(next >= now, "time runs forward");
            if next > until {
                break;
            }
            now = next;
            while let Some(&(end, contact)) = up.first() {
                if end > now {
                    break;
                }
                up.remove(&(end, contact));
                live_contacts.remove(&contact);
                campaign.on_outcome(contact, outcomes.remove(&contact).unwrap(), now).unwrap();
                run.ends.push((now, contact));
            }
        }
        run
    }

    fn done(campaign: &Campaign, contact: ContactId) -> Disposition {
        match &campaign.contact(contact).unwrap().state {
            ContactState::Done(d) => d.clone(),
            other => panic!("contact {contact} is {other}"),
        }
    }

    #[test]
    fn never_more_than_the_live_limit_and_the_limit_is_reached() {
        let mut campaign = Campaign::new(settings(5, 100), numbers(50)).unwrap();
        // Calls last 20 to 60 s, varying by contact.
        let run = simulate(&mut campaign, MONDAY, i64::MAX, &mut |c, _| {
            (20 * SECOND + (c as i64 * 7919 % 40) * SECOND, AttemptOutcome::AnsweredHuman)
        });
        assert_eq!(run.max_live, 5);
        assert_eq!(run.dials.len(), 50);
        assert_eq!(campaign.run_state(), RunState::Finished);
        let progress = campaign.progress();
        assert_eq!(progress.done, [("answered-human".to_string(), 50)]);
        assert_eq!((progress.pending, progress.dialing, progress.attempts), (0, 0, 50));
        // Every contact dialled exactly once, in file order.
        let order: Vec<_> = run.dials.iter().map(|d| d.1).collect();
        assert_eq!(order, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn new_calls_per_second_are_limited() {
        let mut campaign = Campaign::new(settings(100, 3), numbers(30)).unwrap();
        let run = simulate(&mut campaign, MONDAY, i64::MAX, &mut |_, _| (5 * MINUTE, AttemptOutcome::AnsweredHuman));
        assert_eq!(run.dials.len(), 30);
        for (i, (start, _, _)) in run.dials.iter().enumerate() {
            let in_span = run.dials[i..].iter().take_while(|d| d.0 < start + SECOND).count();
            assert!(in_span <= 3, "{in_span} calls within a second of {start}");
        }
        // And the rate is used: 30 calls at 3 per second take 9 s from the first to the last.
        assert_eq!(run.dials[29].0 - run.dials[0].0, 9 * SECOND);
    }

    #[test]
    fn retries_follow_the_policy_and_are_spaced() {
        let mut s = settings(2, 10);
        s.retry.busy = RetryRule { max_attempts: 3, spacing_ms: 10 * MINUTE };
        s.retry.no_answer = RetryRule { max_attempts: 2, spacing_ms: 30 * MINUTE };
        let mut campaign = Campaign::new(s, numbers(4)).unwrap();
        // Contact 0 is always busy, 1 never answers, 2 is busy then answers, 3 fails (no retry for failures).
        let run = simulate(&mut campaign, MONDAY, i64::MAX, &mut |c, attempt| match (c, attempt) {
            (0, _) => (5 * SECOND, AttemptOutcome::Busy),
            (1, _) => (45 * SECOND, AttemptOutcome::NoAnswer),
            (2, 1) => (5 * SECOND, AttemptOutcome::Busy),
            (2, _) => (60 * SECOND, AttemptOutcome::AnsweredHuman),
            _ => (SECOND, AttemptOutcome::Failed("SIP 503".into())),
        });
        let attempts = |c| run.dials.iter().filter(|d| d.1 == c).count();
        assert_eq!([attempts(0), attempts(1), attempts(2), attempts(3)], [3, 2, 2, 1]);
        assert_eq!(done(&campaign, 0), Disposition::Attempted(AttemptOutcome::Busy));
        assert_eq!(done(&campaign, 1), Disposition::Attempted(AttemptOutcome::NoAnswer));
        assert_eq!(done(&campaign, 2), Disposition::Attempted(AttemptOutcome::AnsweredHuman));
        assert_eq!(done(&campaign, 3), Disposition::Attempted(AttemptOutcome::Failed("SIP 503".into())));
        assert_eq!(done(&campaign, 3).to_string(), "failed(SIP 503)");
        // Each retry starts exactly the spacing after the previous attempt ended (nothing else holds it back).
        for c in 0..3 {
            let starts: Vec<_> = run.dials.iter().filter(|d| d.1 == c).map(|d| d.0).collect();
            let ends: Vec<_> = run.ends.iter().filter(|e| e.1 == c).map(|e| e.0).collect();
            let spacing = if c == 1 { 30 * MINUTE } else { 10 * MINUTE };
            for k in 1..starts.len() {
                assert_eq!(starts[k] - ends[k - 1], spacing, "contact {c} attempt {}", k + 1);
            }
        }
    }

    #[test]
    fn calls_start_only_inside_the_windows() {
        let mut s = settings(3, 1);
        s.schedule = Schedule {
            start_at: None,
            end_at: None,
            utc_offset_minutes: 330,
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            windows: vec![DailyWindow::new((10, 0), (10, 30)).unwrap()],
        };
        s.retry.no_answer = RetryRule { max_attempts: 2, spacing_ms: 20 * MINUTE };
        let schedule = s.schedule.clone();
        let mut campaign = Campaign::new(s, numbers(40)).unwrap();
        // Friday 09:00 IST: the 10:00–10:30 window that day, then Monday's.
        let friday = MONDAY + 4 * 24 * 60 * MINUTE + (3 * 60 + 30) * MINUTE;
        let run = simulate(&mut campaign, friday, i64::MAX, &mut |_, _| (4 * MINUTE, AttemptOutcome::NoAnswer));
        assert!(!run.dials.is_empty());
        for (start, contact, _) in &run.dials {
            assert!(schedule.is_open(*start), "contact {contact} dialled at {start}, outside the window");
        }
        // 3 lines, 4-minute calls: 3 calls every 4 minutes, 24 per 30-minute window; 80 attempts need 4 windows
        // (Friday, Monday, Tuesday, Wednesday), none on the weekend.
        assert_eq!(run.dials.len(), 80);
        let days: BTreeSet<_> = run.dials.iter().map(|d| (d.0 - friday) / (24 * 60 * MINUTE)).collect();
        assert_eq!(days, BTreeSet::from([0, 3, 4, 5]));
        assert_eq!(campaign.run_state(), RunState::Finished);
    }

    #[test]
    fn the_campaigns_end_closes_the_rest_as_outside_window() {
        let mut s = settings(1, 1);
        s.schedule.end_at = Some(MONDAY + 10 * MINUTE);
        let mut campaign = Campaign::new(s, numbers(10)).unwrap();
        let run = simulate(&mut campaign, MONDAY, i64::MAX, &mut |_, _| (3 * MINUTE, AttemptOutcome::AnsweredHuman));
        // Calls at 0, 3, 6 and 9 minutes; the end at 10 minutes closes the other six.
        assert_eq!(run.dials.len(), 4);
        assert_eq!(campaign.run_state(), RunState::Finished);
        let progress = campaign.progress();
        assert_eq!(progress.done, [("answered-human".into(), 4), ("outside-window".into(), 6)]);
    }

    #[test]
    fn pause_resume_and_stop() {
        let mut s = settings(2, 10);
        s.retry.busy = RetryRule { max_attempts: 5, spacing_ms: MINUTE };
        let mut campaign = Campaign::new(s, numbers(6)).unwrap();
        assert_eq!(campaign.poll(MONDAY).len(), 2);
        campaign.pause();
        campaign.on_outcome(0, AttemptOutcome::AnsweredHuman, MONDAY + SECOND).unwrap();
        assert!(campaign.poll(MONDAY + 2 * SECOND).is_empty(), "paused: no new calls");
        assert_eq!(campaign.next_wakeup(MONDAY + 2 * SECOND), None);
        campaign.resume();
        let actions = campaign.poll(MONDAY + 3 * SECOND);
        assert_eq!(actions, [DialAction::Dial { contact: 2, number: "+917000000002".into(), attempt: 1 }]);
        campaign.stop();
        assert!(campaign.poll(MONDAY + 4 * SECOND).is_empty(), "stopped: no new calls");
        // A busy call ending after the stop is not retried.
        campaign.on_outcome(1, AttemptOutcome::Busy, MONDAY + 5 * SECOND).unwrap();
        campaign.on_outcome(2, AttemptOutcome::AnsweredHuman, MONDAY + 5 * SECOND).unwrap();
        campaign.resume();
        assert!(campaign.poll(MONDAY + 10 * MINUTE).is_empty(), "a stop is final");
        assert_eq!(campaign.run_state(), RunState::Stopped);
        assert_eq!(done(&campaign, 1), Disposition::Attempted(AttemptOutcome::Busy));
        let progress = campaign.progress();
        assert_eq!((progress.pending, progress.dialing, progress.attempts), (3, 0, 3));
    }

    #[test]
    fn outcomes_only_for_calls_in_progress() {
        let mut campaign = Campaign::new(settings(1, 1), numbers(2)).unwrap();
        assert_eq!(
            campaign.on_outcome(0, AttemptOutcome::Busy, MONDAY),
            Err(DialerError::NotDialing { contact: 0, state: "pending".into() })
        );
        assert_eq!(campaign.on_outcome(9, AttemptOutcome::Busy, MONDAY), Err(DialerError::NoSuchContact(9)));
        campaign.poll(MONDAY);
        campaign.on_outcome(0, AttemptOutcome::AnsweredHuman, MONDAY + 1).unwrap();
        assert!(campaign.on_outcome(0, AttemptOutcome::AnsweredHuman, MONDAY + 2).is_err(), "reported twice");
        assert_eq!(campaign.live_calls(), 0);
    }

    #[test]
    fn do_not_call_contacts_are_never_dialled() {
        let contacts = vec![("+917000000000".into(), true), ("+917000000001".into(), false)];
        let mut campaign = Campaign::new(settings(5, 5), contacts).unwrap();
        let run = simulate(&mut campaign, MONDAY, i64::MAX, &mut |_, _| (SECOND, AttemptOutcome::AnsweredMachine));
        assert_eq!(run.dials.iter().map(|d| d.1).collect::<Vec<_>>(), [1]);
        assert_eq!(done(&campaign, 0), Disposition::DncSkipped);
        assert_eq!(done(&campaign, 1).to_string(), "answered-machine");
        let all_dnc = Campaign::new(settings(1, 1), vec![("+917000000000".into(), true)]).unwrap();
        assert_eq!(all_dnc.run_state(), RunState::Finished);
    }

    #[test]
    fn sip_statuses_map_to_outcomes() {
        assert_eq!(AttemptOutcome::from_sip_status(486), AttemptOutcome::Busy);
        assert_eq!(AttemptOutcome::from_sip_status(600), AttemptOutcome::Busy);
        assert_eq!(AttemptOutcome::from_sip_status(480), AttemptOutcome::NoAnswer);
        assert_eq!(AttemptOutcome::from_sip_status(487), AttemptOutcome::NoAnswer);
        assert_eq!(AttemptOutcome::from_sip_status(503), AttemptOutcome::Failed("SIP 503".into()));
    }

    #[test]
    fn a_released_dial_does_not_count_against_the_call_rate() {
        let mut campaign = Campaign::new(settings(10, 2), numbers(4)).unwrap();
        assert_eq!(campaign.poll(MONDAY).len(), 2);
        // Campaign-wide pacing let one start: the other is released, and its place in this second's rate is
        // free again (the next contact in line takes it as soon as pacing allows).
        campaign.release(1, MONDAY + 500).unwrap();
        let next = campaign.poll(MONDAY + 500);
        assert!(matches!(next[..], [DialAction::Dial { contact: 2, .. }]), "{next:?}");
        assert!(campaign.poll(MONDAY + 999).is_empty(), "two starts in this second");
    }

    #[test]
    fn a_dial_lost_to_another_node_is_released_and_later_closed() {
        let mut campaign = Campaign::new(settings(1, 10), numbers(2)).unwrap();
        assert_eq!(campaign.poll(MONDAY).len(), 1);
        // The claim on contact 0 failed: the slot is free, contact 1 goes next, contact 0 waits.
        campaign.release(0, MONDAY + MINUTE).unwrap();
        assert_eq!((campaign.live_calls(), campaign.progress().attempts), (0, 0));
        let next = campaign.poll(MONDAY + 1);
        assert!(matches!(next[..], [DialAction::Dial { contact: 1, attempt: 1, .. }]));
        assert_eq!(campaign.release(0, MONDAY), Err(DialerError::NotDialing { contact: 0, state: "pending".into() }));
        campaign.on_outcome(1, AttemptOutcome::AnsweredHuman, MONDAY + 2).unwrap();
        assert_eq!(campaign.next_wakeup(MONDAY + 2), Some(MONDAY + MINUTE));
        // Re-reading the store at the wake-up shows the other node finished contact 0.
        campaign.finished_elsewhere(0, Disposition::Attempted(AttemptOutcome::Busy)).unwrap();
        assert!(campaign.poll(MONDAY + MINUTE).is_empty());
        assert_eq!(campaign.run_state(), RunState::Finished);
        assert!(campaign.finished_elsewhere(0, Disposition::OutsideWindow).is_err());
    }

    #[test]
    fn a_restored_campaign_continues_where_the_store_left_it() {
        let mut s = settings(2, 10);
        s.retry.busy = RetryRule { max_attempts: 2, spacing_ms: MINUTE };
        let stored = vec![
            CampaignContact {
                number: "+917000000000".into(),
                state: ContactState::Done("busy".parse().unwrap()),
                attempts: 2,
            },
            CampaignContact {
                number: "+917000000001".into(),
                state: ContactState::Pending { not_before: MONDAY + MINUTE },
                attempts: 1,
            },
            CampaignContact {
                number: "+917000000002".into(),
                state: ContactState::Pending { not_before: UnixMillis::MIN },
                attempts: 0,
            },
        ];
        let mut campaign = Campaign::restore(s.clone(), stored.clone()).unwrap();
        assert_eq!(campaign.progress().attempts, 3);
        assert!(matches!(campaign.poll(MONDAY)[..], [DialAction::Dial { contact: 2, attempt: 1, .. }]));
        assert_eq!(campaign.next_wakeup(MONDAY), Some(MONDAY + MINUTE));
        assert!(matches!(campaign.poll(MONDAY + MINUTE)[..], [DialAction::Dial { contact: 1, attempt: 2, .. }]));
        campaign.on_outcome(1, AttemptOutcome::Busy, MONDAY + 2 * MINUTE).unwrap();
        assert_eq!(done(&campaign, 1), Disposition::Attempted(AttemptOutcome::Busy), "the stored attempt counted");
        let mut dialing = stored;
        dialing[2].state = ContactState::Dialing { since: MONDAY };
        assert!(Campaign::restore(s, dialing).is_err());
        for text in
            ["answered-human", "answered-machine", "no-answer", "failed(SIP 503)", "dnc-skipped", "outside-window"]
        {
            assert_eq!(text.parse::<Disposition>().unwrap().to_string(), text);
        }
        assert!("maybe".parse::<Disposition>().is_err());
    }

    #[test]
    fn a_machine_left_a_message_is_final_and_one_without_is_retried_under_the_machine_rule() {
        let mut s = settings(5, 10);
        s.retry.machine = RetryRule { max_attempts: 3, spacing_ms: 10 * MINUTE };
        let mut campaign = Campaign::new(s, numbers(2)).unwrap();
        // Contact 0: a machine, hung up on, then a machine that took the message. Contact 1: a machine each time.
        let run = simulate(&mut campaign, MONDAY, i64::MAX, &mut |c, attempt| match (c, attempt) {
            (0, 1) => (20 * SECOND, AttemptOutcome::AnsweredMachine),
            (0, _) => (30 * SECOND, AttemptOutcome::MessageLeft),
            _ => (20 * SECOND, AttemptOutcome::AnsweredMachine),
        });
        let attempts = |c| run.dials.iter().filter(|d| d.1 == c).count();
        assert_eq!([attempts(0), attempts(1)], [2, 3], "no third call after the message");
        assert_eq!(done(&campaign, 0), Disposition::Attempted(AttemptOutcome::MessageLeft));
        assert_eq!(done(&campaign, 0).to_string(), "voicemail-left");
        assert_eq!(done(&campaign, 1).to_string(), "answered-machine");
        assert_eq!(campaign.progress().done, [("answered-machine".into(), 1), ("voicemail-left".into(), 1)]);
        // Even with machine retries left, a message left is never followed by another call.
        assert_eq!(campaign.retry_rule(&AttemptOutcome::MessageLeft), RetryRule::NEVER);
        assert_eq!("voicemail-left".parse::<Disposition>().unwrap(), done(&campaign, 0));
    }

    #[test]
    fn attempts_another_node_made_count_toward_the_retry_rule() {
        let mut s = settings(1, 10);
        s.retry.failed = RetryRule { max_attempts: 2, spacing_ms: 0 };
        let mut campaign = Campaign::new(s, numbers(1)).unwrap();
        assert!(matches!(campaign.poll(MONDAY)[..], [DialAction::Dial { attempt: 1, .. }]));
        // The store says this is the second attempt (the first died with another node).
        campaign.count_attempt_as(0, 2).unwrap();
        assert_eq!(campaign.progress().attempts, 2);
        campaign.on_outcome(0, AttemptOutcome::Failed("SIP 503".into()), MONDAY + SECOND).unwrap();
        assert_eq!(done(&campaign, 0).to_string(), "failed(SIP 503)", "two attempts in all, not three");
        assert_eq!(
            campaign.count_attempt_as(0, 3),
            Err(DialerError::NotDialing { contact: 0, state: "done: failed(SIP 503)".into() })
        );
    }

    #[test]
    fn pacing_can_change_while_running() {
        let mut campaign = Campaign::new(settings(2, 100), numbers(10)).unwrap();
        assert_eq!(campaign.poll(MONDAY).len(), 2);
        campaign.set_pacing(Pacing { max_live_calls: 5, max_new_calls_per_second: 100 }).unwrap();
        assert_eq!(campaign.poll(MONDAY + 1).len(), 3);
        assert!(campaign.set_pacing(Pacing { max_live_calls: 0, max_new_calls_per_second: 1 }).is_err());
        assert!(Campaign::new(settings(0, 1), numbers(1)).is_err());
    }

    #[test]
    fn with_a_claim_lead_the_rate_counts_reserved_starts_and_polls_come_a_lead_early() {
        let mut campaign = Campaign::new(settings(10, 2), numbers(6)).unwrap();
        campaign.set_claim_lead(100);
        assert_eq!(campaign.poll(MONDAY).len(), 2);
        // Their starts were reserved for 0 and 500 ms: the next may be claimed 100 ms before 1 s, for 1 s.
        campaign.start_reserved(0, MONDAY).unwrap();
        campaign.start_reserved(1, MONDAY + 500).unwrap();
        assert_eq!(campaign.next_wakeup(MONDAY + 10), Some(MONDAY + 900));
        assert!(campaign.poll(MONDAY + 899).is_empty());
        assert!(matches!(campaign.poll(MONDAY + 900)[..], [DialAction::Dial { contact: 2, .. }]));
        campaign.start_reserved(2, MONDAY + 1000).unwrap();
        // Two starts in (400, 1400]: the next is claimed from 1400 (for a start at 1500), not before.
        assert_eq!(campaign.next_wakeup(MONDAY + 901), Some(MONDAY + 1400));
        assert!(campaign.poll(MONDAY + 1399).is_empty());
        assert_eq!(campaign.poll(MONDAY + 1400).len(), 1);
        // A reserved start is the attempt's start: releasing it frees that place in the rate.
        campaign.start_reserved(3, MONDAY + 1500).unwrap();
        campaign.release(3, MONDAY + 5000).unwrap();
        assert_eq!(campaign.poll(MONDAY + 1400).len(), 1);
        assert!(campaign.start_reserved(3, MONDAY).is_err(), "contact 3 is pending");
    }
}
