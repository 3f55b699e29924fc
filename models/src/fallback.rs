//! Fallback chains: an agent's language model as an ordered list of links (`["openai:gpt-4o-mini",
//! "groq:llama-3.1-8b-instant", "smollm2-135m"]`), each behind a circuit breaker, so the agent keeps talking
//! when a provider fails.
//!
//! A reply starts on the first link whose breaker lets it through. It moves to the next link when the current
//! one fails (connect error, 5xx, 429, garbage: [`LlmEvent::Failed`]), when its first token is later than the
//! budget, or when its stream stalls mid-reply. The caller must not hear the reply twice: the next link is asked
//! to continue what was already said, and a link that starts the reply over has the repeated part cut
//! ([`RepeatCutter`]). Every switch comes out of the stream as [`LlmEvent::Switched`], which the engine logs,
//! counts and writes into the call record.
//!
//! The breaker ([`Breaker`]) is a pure state machine with time passed in; the chain reads time through a
//! [`Clock`], so tests run it on a virtual one.
//!
//! A link may carry its provider's own budget ([`Link::with_first_result`], from `[providers.<name>]
//! timeout_ms`) and a probe ([`Link::with_probe`]: the provider's cheapest authenticated request). A link with
//! a probe is never half-opened by a caller: when its hold ends, the chain's prober ([`Chain::probe_due`],
//! run by [`Chain::spawn_prober`]) makes the probe and closes or re-opens the breaker, so the first caller
//! after an outage does not pay for finding out.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::{ChatMessage, FailureKind, LanguageModel, LlmEvent, LlmStream, ModelError, Role, ToolSpec};

/// Where the chain reads the time: the system clock in production, a virtual one in tests.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures (errors or answers over the latency budget) that open the breaker.
    pub failures_to_open: u32,
    /// How long an open breaker refuses before it lets one probe through (half-open).
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    /// Three failures in a row open it for 30 s.
    fn default() -> Self {
        BreakerPolicy { failures_to_open: 3, open_for: Duration::from_secs(30) }
    }
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests pass; failures are counted.
    Closed {
        /// Failures in a row so far.
        failures: u32,
    },
    /// Requests are refused until `until`.
    Open {
        /// When one probe may go through.
        until: Instant,
    },
    /// One probe is in flight: its success closes the breaker, its failure opens it again.
    HalfOpen,
}

/// A circuit breaker for one provider: a provider that keeps failing is skipped for a while instead of
/// costing every turn its timeout.
#[derive(Debug, Clone)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
    /// A background probe decides when an open breaker closes: callers never half-open it.
    probed: bool,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Breaker {
        Breaker { policy, state: BreakerState::Closed { failures: 0 }, probed: false }
    }

    /// A closed breaker whose open state only a background probe ends ([`Breaker::probe_due`]): callers are
    /// refused while it is open, even after its hold.
    pub fn probed(policy: BreakerPolicy) -> Breaker {
        Breaker { probed: true, ..Breaker::new(policy) }
    }

    /// Whether a background probe should be made at `now`: the breaker is open and its hold is over. It then
    /// turns half-open (callers are still refused) until the probe reports through [`Breaker::on_success`]
    /// or [`Breaker::on_failure`]/[`Breaker::on_error`].
    pub fn probe_due(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Open { until } if now >= until => {
                self.state = BreakerState::HalfOpen;
                true
            }
            _ => false,
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether a request may go to the provider at `now`. An open breaker whose time is up lets exactly one
    /// request through (it becomes half-open) and refuses the rest until that one reports.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until && !self.probed => {
                self.state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen => false,
        }
    }

    /// The provider answered within budget.
    pub fn on_success(&mut self) {
        self.state = BreakerState::Closed { failures: 0 };
    }

    /// The provider failed (or answered over budget) at `now`.
    pub fn on_failure(&mut self, now: Instant) {
        self.state = match self.state {
            BreakerState::Closed { failures } if failures + 1 < self.policy.failures_to_open => {
                BreakerState::Closed { failures: failures + 1 }
            }
            // Already open (another call's failure, or a provider's Retry-After): never shortened.
            BreakerState::Open { until } => BreakerState::Open { until: until.max(now + self.policy.open_for) },
            BreakerState::Closed { .. } | BreakerState::HalfOpen => {
                BreakerState::Open { until: now + self.policy.open_for }
            }
        };
    }

    /// The provider asked to be left alone for `retry_after` (`Retry-After` on a 429 or 503): open at once,
    /// until then at least, whatever the count of failures.
    pub fn hold_off(&mut self, now: Instant, retry_after: Duration) {
        let until = now + retry_after;
        self.state = match self.state {
            BreakerState::Open { until: later } if later > until => BreakerState::Open { until: later },
            _ => BreakerState::Open { until },
        };
    }

    /// `error` happened at `now`: counted as a failure, and a `Retry-After` it carries is honoured.
    pub fn on_error(&mut self, now: Instant, error: &ModelError) {
        self.on_failure(now);
        if let Some(retry_after) = error.retry_after {
            self.hold_off(now, retry_after);
        }
    }
}

/// Time budgets of a chain's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBudget {
    /// From the request to the first token; later, the next link is asked (and this one counted as failed).
    pub first_token: Duration,
    /// The longest gap between two tokens of a reply before the stream counts as stalled.
    pub stall: Duration,
}

impl Default for ChainBudget {
    /// 2 s to the first token, 3 s between tokens: beyond that a caller hears dead air, and the next link is
    /// faster than waiting on.
    fn default() -> Self {
        ChainBudget { first_token: Duration::from_secs(2), stall: Duration::from_secs(3) }
    }
}

/// One link of a chain: a named model (a language model, a recogniser, a voice) behind its breaker.
pub struct Link<M: ?Sized = dyn LanguageModel> {
    /// How logs, metrics and records name it (`openai:gpt-4o-mini`, `smollm2-135m`).
    pub name: String,
    /// The model.
    pub model: Arc<M>,
    breaker: Mutex<Breaker>,
    /// This link's budget to its first result (token, final, audio), instead of the chain's.
    first_result: Option<Duration>,
    probe: Option<Probe>,
}

/// A provider's cheapest authenticated request (what `voicera providers check` makes): `Ok` when it answers.
/// Called on the prober's thread; it may block up to its own timeout.
pub type Probe = Arc<dyn Fn() -> Result<(), ModelError> + Send + Sync>;

impl<M: ?Sized> Link<M> {
    /// `model`, named `name`, behind a breaker with `policy`.
    pub fn new(name: impl Into<String>, model: Arc<M>, policy: BreakerPolicy) -> Link<M> {
        Link { name: name.into(), model, breaker: Mutex::new(Breaker::new(policy)), first_result: None, probe: None }
    }

    /// The link waits at most `budget` for its first result (the provider's `timeout_ms`), whatever the
    /// chain's budget.
    pub fn with_first_result(mut self, budget: Duration) -> Link<M> {
        self.first_result = Some(budget);
        self
    }

    /// When its breaker's hold ends, `probe` (not a caller) decides whether the provider is back.
    pub fn with_probe(mut self, probe: Probe) -> Link<M> {
        let policy = self.breaker().policy;
        self.breaker = Mutex::new(Breaker::probed(policy));
        self.probe = Some(probe);
        self
    }

    /// The budget to this link's first result: its own, else `chain`'s.
    pub fn first_result_budget(&self, chain: &ChainBudget) -> Duration {
        self.first_result.unwrap_or(chain.first_token)
    }

    pub(crate) fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A breaker is a few plain fields: a panic elsewhere cannot leave it inconsistent.
        self.breaker.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The breaker's state now (for `/health`-style reports and tests).
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker().state()
    }
}

/// The first link from `*next` on whose breaker lets a request through at `now`; `*next` moves past it (and
/// past the open ones skipped). `None` when every remaining link is open.
pub(crate) fn next_allowed<M: ?Sized>(links: &[Link<M>], next: &mut usize, now: Instant) -> Option<usize> {
    while *next < links.len() {
        let index = *next;
        *next += 1;
        if links[index].breaker().allow(now) {
            return Some(index);
        }
    }
    None
}

/// Models of one kind tried in order, each behind its breaker, with the budgets and the clock their streams
/// share: a language model ([`FallbackLlm`]), a recogniser or a voice ([`crate::speech_chain`]).
pub struct Chain<M: ?Sized> {
    pub(crate) links: Arc<[Link<M>]>,
    pub(crate) budget: ChainBudget,
    pub(crate) clock: Arc<dyn Clock>,
}

/// A language model made of links tried in order.
pub type FallbackLlm = Chain<dyn LanguageModel>;

/// What the next link is told when it takes over a reply already partly spoken.
pub const CONTINUE_INSTRUCTION: &str =
    "Your previous reply was cut off. Continue it from exactly where it stopped; do not repeat what was said.";

impl<M: ?Sized> Chain<M> {
    /// A chain over `links` (at least one; a work item on an empty chain fails at once), with `budget`,
    /// reading time from `clock`.
    pub fn new(links: Vec<Link<M>>, budget: ChainBudget, clock: Arc<dyn Clock>) -> Chain<M> {
        Chain { links: links.into(), budget, clock }
    }

    /// The links, in order.
    pub fn links(&self) -> &[Link<M>] {
        &self.links
    }

    /// The links whose probe is due at `now` (their breakers turn half-open: the caller must make each probe
    /// and report it with [`Chain::probe_result`]).
    pub fn probe_due(&self, now: Instant) -> Vec<usize> {
        probes_due(&self.links, now)
    }

    /// Link `index`'s probe answered `result` at `now`: its breaker closes, or opens for another hold.
    pub fn probe_result(&self, index: usize, now: Instant, result: &Result<(), ModelError>) {
        probe_result(&self.links, index, now, result);
    }

    /// Makes every probe due now, one after the other, and reports each; returns how many were made.
    pub fn probe_now(&self) -> usize {
        probe_round(&self.links, &*self.clock)
    }
}

impl<M: ?Sized + Send + Sync + 'static> Chain<M> {
    /// Starts a thread that makes the due probes every `every` for as long as the chain exists (it holds only
    /// a weak reference). Nothing is started when no link has a probe.
    pub fn spawn_prober(&self, every: Duration) {
        if !self.links.iter().any(|link| link.probe.is_some()) {
            return;
        }
        let links: Weak<[Link<M>]> = Arc::downgrade(&self.links);
        let clock = Arc::clone(&self.clock);
        let spawned = std::thread::Builder::new().name("breaker-probe".into()).spawn(move || loop {
            std::thread::sleep(every);
            let Some(links) = links.upgrade() else { return };
            probe_round(&links, &*clock);
        });
        if let Err(err) = spawned {
            tracing::warn!(error = %err, "cannot start the providers' breaker probe; callers half-open breakers");
            for link in self.links.iter() {
                link.breaker().probed = false;
            }
        }
    }
}

fn probes_due<M: ?Sized>(links: &[Link<M>], now: Instant) -> Vec<usize> {
    (0..links.len()).filter(|&i| links[i].probe.is_some() && links[i].breaker().probe_due(now)).collect()
}

fn probe_result<M: ?Sized>(links: &[Link<M>], index: usize, now: Instant, result: &Result<(), ModelError>) {
    let Some(link) = links.get(index) else { return };
    match result {
        Ok(()) => {
            tracing::info!(link = %link.name, "the provider answers its probe again: its breaker closes");
            link.breaker().on_success();
        }
        Err(error) if error.kind == FailureKind::Rejected => {
            // The probe's request itself is refused (a key scoped to one API, a proxy without that route): it
            // can never tell that the provider is back, so callers half-open this breaker again, as unprobed.
            tracing::warn!(link = %link.name, %error, "the provider refuses its probe; callers half-open its breaker");
            let mut breaker = link.breaker();
            breaker.probed = false;
            breaker.on_error(now, error);
        }
        Err(error) => {
            tracing::info!(link = %link.name, %error, "the provider still fails its probe: its breaker stays open");
            link.breaker().on_error(now, error);
        }
    }
}

fn probe_round<M: ?Sized>(links: &[Link<M>], clock: &dyn Clock) -> usize {
    let due = probes_due(links, clock.now());
    for &index in &due {
        // A panicking probe is a failed probe: the prober thread must outlive it, or the breaker would wait for
        // a probe that never comes.
        let result = match &links[index].probe {
            Some(probe) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| probe()))
                .unwrap_or_else(|_| Err(ModelError::new(FailureKind::Engine, "the provider's probe panicked"))),
            None => Ok(()),
        };
        probe_result(links, index, clock.now(), &result);
    }
    due.len()
}

impl LanguageModel for FallbackLlm {
    fn reply(&self, history: &[ChatMessage], tools: &[ToolSpec]) -> Box<dyn LlmStream> {
        let mut stream = ChainStream {
            links: Arc::clone(&self.links),
            budget: self.budget,
            clock: Arc::clone(&self.clock),
            history: history.to_vec(),
            tools: tools.to_vec(),
            current: None,
            next: 0,
            spoken: String::new(),
            pending: std::collections::VecDeque::new(),
            last_error: None,
            finished: false,
        };
        stream.start_next(None);
        Box::new(stream)
    }
}

/// The link answering now.
struct Active {
    index: usize,
    stream: Box<dyn LlmStream>,
    started: Instant,
    last_token: Option<Instant>,
    cutter: RepeatCutter,
}

/// A reply on its way through the chain.
struct ChainStream {
    links: Arc<[Link]>,
    budget: ChainBudget,
    clock: Arc<dyn Clock>,
    history: Vec<ChatMessage>,
    tools: Vec<ToolSpec>,
    current: Option<Active>,
    /// The next link to try.
    next: usize,
    /// What the caller has been given of this reply so far.
    spoken: String,
    /// Events to hand out before polling again (a switch notice, a token after one).
    pending: std::collections::VecDeque<LlmEvent>,
    last_error: Option<ModelError>,
    finished: bool,
}

impl ChainStream {
    /// Starts the next link whose breaker allows it; `failed` says why the previous one was left.
    fn start_next(&mut self, failed: Option<(usize, ModelError)>) {
        let now = self.clock.now();
        if let Some(index) = next_allowed(&self.links, &mut self.next, now) {
            if let Some((from, error)) = &failed {
                self.pending.push_back(LlmEvent::Switched {
                    from: self.links[*from].name.clone(),
                    to: self.links[index].name.clone(),
                    reason: error.clone(),
                });
            }
            let stream = if self.spoken.is_empty() {
                self.links[index].model.reply(&self.history, &self.tools)
            } else {
                let mut history = self.history.clone();
                history.push(ChatMessage { role: Role::Assistant, content: self.spoken.clone() });
                history.push(ChatMessage { role: Role::User, content: CONTINUE_INSTRUCTION.into() });
                self.links[index].model.reply(&history, &self.tools)
            };
            let cutter = RepeatCutter::new(&self.spoken);
            self.current = Some(Active { index, stream, started: now, last_token: None, cutter });
            return;
        }
        // Every link failed or is open.
        self.current = None;
        self.finished = true;
        let error = failed.map(|(_, e)| e).or_else(|| self.last_error.take()).unwrap_or_else(|| {
            ModelError::new(FailureKind::Overloaded, "every language model of the chain is unavailable (breakers open)")
        });
        self.pending.push_back(LlmEvent::Failed(error));
    }

    /// Leaves the current link for `error`, counting it against its breaker.
    fn fail_over(&mut self, error: ModelError) {
        let Some(active) = self.current.take() else { return };
        self.links[active.index].breaker().on_error(self.clock.now(), &error);
        self.last_error = Some(error.clone());
        self.start_next(Some((active.index, error)));
    }
}

impl LlmStream for ChainStream {
    fn poll_event(&mut self) -> Option<LlmEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            let now = self.clock.now();
            let active = self.current.as_mut()?;
            match active.stream.poll_event() {
                Some(LlmEvent::Token(token)) => {
                    if active.last_token.is_none() {
                        self.links[active.index].breaker().on_success();
                    }
                    active.last_token = Some(now);
                    let Some(token) = active.cutter.push(&token) else { continue };
                    self.spoken.push_str(&token);
                    return Some(LlmEvent::Token(token));
                }
                Some(LlmEvent::Failed(error)) => self.fail_over(error),
                Some(LlmEvent::Switched { from, to, reason }) => {
                    // A chain inside a chain: pass its notice on.
                    return Some(LlmEvent::Switched { from, to, reason });
                }
                Some(event @ (LlmEvent::Done | LlmEvent::ToolCall { .. })) => {
                    if active.last_token.is_none() {
                        self.links[active.index].breaker().on_success();
                    }
                    // Text still held by the cutter only repeated what was spoken: it is dropped.
                    self.finished = true;
                    return Some(event);
                }
                None => {
                    let (waited, budget, what) = match active.last_token {
                        None => (
                            now.saturating_duration_since(active.started),
                            self.links[active.index].first_result_budget(&self.budget),
                            "first token",
                        ),
                        Some(at) => (now.saturating_duration_since(at), self.budget.stall, "next token"),
                    };
                    if waited <= budget {
                        return None;
                    }
                    let name = &self.links[active.index].name;
                    let message = format!("{name}: no {what} within {} ms", budget.as_millis());
                    self.fail_over(ModelError::new(FailureKind::TimedOut, message));
                }
            }
        }
    }
}

/// Cuts the start of a new link's reply where it repeats what the caller already heard. A link asked to
/// continue may do so (its text is new, passed through as soon as it differs) or start over (the repeated
/// words are held back and dropped). Held text is at most the length of what was spoken; a reply that ends
/// while held only repeated it, and adds nothing.
#[derive(Debug, Clone)]
pub struct RepeatCutter {
    /// What was spoken, whitespace-normalised.
    spoken: Vec<char>,
    held: String,
    passing: bool,
}

impl RepeatCutter {
    /// A cutter for a reply that follows `spoken`.
    pub fn new(spoken: &str) -> RepeatCutter {
        let spoken: Vec<char> = normalise(spoken).chars().collect();
        RepeatCutter { passing: spoken.is_empty(), spoken, held: String::new() }
    }

    /// The part of `token` to give the caller, if any.
    pub fn push(&mut self, token: &str) -> Option<String> {
        if self.passing {
            return (!token.is_empty()).then(|| token.to_string());
        }
        self.held.push_str(token);
        let held: Vec<char> = normalise(&self.held).chars().collect();
        let same = held.iter().zip(&self.spoken).take_while(|(a, b)| a == b).count();
        if same < held.len().min(self.spoken.len()) {
            // It differs from what was said: a continuation, all of it new.
            self.passing = true;
            return Some(std::mem::take(&mut self.held)).filter(|t| !t.is_empty());
        }
        if held.len() <= self.spoken.len() {
            return None; // still repeating (or too short to tell)
        }
        // The whole spoken part was repeated: pass what comes after it.
        self.passing = true;
        let rest: String = held[self.spoken.len()..].iter().collect();
        self.held.clear();
        Some(rest).filter(|t| !t.trim().is_empty())
    }
}

/// Whitespace runs as one space, leading whitespace dropped: models differ in spacing, not in words.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.trim_start().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    if space && !out.is_empty() {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A clock moved by hand.
    #[derive(Default)]
    struct VirtualClock {
        base: Option<Instant>,
        ms: AtomicU64,
    }

    impl VirtualClock {
        fn new() -> Arc<VirtualClock> {
            Arc::new(VirtualClock { base: Some(Instant::now()), ms: AtomicU64::new(0) })
        }
        fn advance(&self, ms: u64) {
            self.ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    impl Clock for VirtualClock {
        fn now(&self) -> Instant {
            self.base.unwrap_or_else(Instant::now) + Duration::from_millis(self.ms.load(Ordering::Relaxed))
        }
    }

    /// What a scripted model does on each poll: an event, or nothing yet.
    #[derive(Clone)]
    enum Step {
        Event(LlmEvent),
        Nothing,
    }

    /// A model that plays a script per reply and remembers the histories it was asked with.
    struct Scripted {
        scripts: Mutex<VecDeque<Vec<Step>>>,
        asked: Mutex<Vec<Vec<ChatMessage>>>,
    }

    impl Scripted {
        fn new(scripts: Vec<Vec<Step>>) -> Arc<Scripted> {
            Arc::new(Scripted { scripts: Mutex::new(scripts.into()), asked: Mutex::new(Vec::new()) })
        }
    }

    impl LanguageModel for Scripted {
        fn reply(&self, history: &[ChatMessage], _tools: &[ToolSpec]) -> Box<dyn LlmStream> {
            self.asked.lock().unwrap().push(history.to_vec());
            let script = self.scripts.lock().unwrap().pop_front().unwrap_or_default();
            struct Play(VecDeque<Step>);
            impl LlmStream for Play {
                fn poll_event(&mut self) -> Option<LlmEvent> {
                    match self.0.pop_front() {
                        Some(Step::Event(e)) => Some(e),
                        Some(Step::Nothing) | None => None,
                    }
                }
            }
            Box::new(Play(script.into()))
        }
    }

    fn tokens(words: &[&str]) -> Vec<Step> {
        words.iter().map(|w| Step::Event(LlmEvent::Token(w.to_string()))).collect()
    }

    fn failed(kind: FailureKind) -> Step {
        Step::Event(LlmEvent::Failed(ModelError::new(kind, "boom")))
    }

    fn done() -> Step {
        Step::Event(LlmEvent::Done)
    }

    fn chain(models: Vec<(&str, Arc<Scripted>)>, clock: Arc<VirtualClock>) -> FallbackLlm {
        let links = models
            .into_iter()
            .map(|(name, model)| Link::new(name, model as Arc<dyn LanguageModel>, BreakerPolicy::default()))
            .collect();
        FallbackLlm::new(links, ChainBudget::default(), clock)
    }

    fn history() -> Vec<ChatMessage> {
        vec![ChatMessage { role: Role::User, content: "what time is it".into() }]
    }

    /// Polls until the reply ends (or `polls` run out), advancing the clock `step_ms` between empty polls.
    fn drain(stream: &mut dyn LlmStream, clock: &VirtualClock, step_ms: u64) -> Vec<LlmEvent> {
        let mut events = Vec::new();
        for _ in 0..1000 {
            match stream.poll_event() {
                Some(e) => {
                    let end = matches!(e, LlmEvent::Done | LlmEvent::Failed(_) | LlmEvent::ToolCall { .. });
                    events.push(e);
                    if end {
                        break;
                    }
                }
                None => clock.advance(step_ms),
            }
        }
        events
    }

    fn text(events: &[LlmEvent]) -> String {
        events.iter().filter_map(|e| if let LlmEvent::Token(t) = e { Some(t.as_str()) } else { None }).collect()
    }

    fn switches(events: &[LlmEvent]) -> Vec<(String, String, FailureKind)> {
        events
            .iter()
            .filter_map(|e| match e {
                LlmEvent::Switched { from, to, reason } => Some((from.clone(), to.clone(), reason.kind)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_healthy_first_link_answers_alone() {
        let clock = VirtualClock::new();
        let primary = Scripted::new(vec![[tokens(&["It is ", "three."]), vec![done()]].concat()]);
        let backup = Scripted::new(vec![]);
        let llm = chain(vec![("primary", primary), ("backup", backup.clone())], clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 10);
        assert_eq!(text(&events), "It is three.");
        assert!(switches(&events).is_empty());
        assert!(backup.asked.lock().unwrap().is_empty());
    }

    #[test]
    fn a_refusing_link_hands_the_turn_to_the_next_at_once() {
        let clock = VirtualClock::new();
        let primary = Scripted::new(vec![vec![failed(FailureKind::Unreachable)]]);
        let backup = Scripted::new(vec![[tokens(&["Three o'clock."]), vec![done()]].concat()]);
        let llm = chain(vec![("openai:gpt-4o-mini", primary), ("smollm2-135m", backup)], clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 10);
        assert_eq!(text(&events), "Three o'clock.");
        assert_eq!(switches(&events), [("openai:gpt-4o-mini".into(), "smollm2-135m".into(), FailureKind::Unreachable)]);
        assert_eq!(clock.ms.load(Ordering::Relaxed), 0, "no time lost to the refusal");
    }

    #[test]
    fn a_failure_mid_reply_is_continued_by_the_next_link_without_repeating() {
        let clock = VirtualClock::new();
        let primary =
            Scripted::new(vec![[tokens(&["It is about ", "three "]), vec![failed(FailureKind::Engine)]].concat()]);
        // The backup starts the reply over: the part already spoken is cut.
        let backup =
            Scripted::new(vec![[tokens(&["It is ", "about three ", "in the afternoon."]), vec![done()]].concat()]);
        let llm = chain(vec![("primary", primary), ("backup", backup.clone())], clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 10);
        assert_eq!(text(&events), "It is about three in the afternoon.");
        // It was told what was said and asked to continue.
        let asked = backup.asked.lock().unwrap();
        let last_two = &asked[0][asked[0].len() - 2..];
        assert_eq!(last_two[0], ChatMessage { role: Role::Assistant, content: "It is about three ".into() });
        assert_eq!(last_two[1].content, CONTINUE_INSTRUCTION);
    }

    #[test]
    fn a_continuing_link_is_passed_through_as_soon_as_it_differs() {
        let mut cutter = RepeatCutter::new("It is about three ");
        assert_eq!(cutter.push("in"), Some("in".into()), "differs at once: a continuation");
        assert_eq!(cutter.push(" the afternoon."), Some(" the afternoon.".into()));
        let mut cutter = RepeatCutter::new("It is about three ");
        assert_eq!(cutter.push("It is"), None, "held while it repeats");
        assert_eq!(cutter.push("  about"), None, "spacing differences are not differences");
        assert_eq!(cutter.push(" three o'clock"), Some("o'clock".into()));
        assert_eq!(cutter.push(" sharp."), Some(" sharp.".into()), "then everything passes");
    }

    #[test]
    fn a_link_silent_past_the_first_token_budget_is_abandoned() {
        let clock = VirtualClock::new();
        let silent = Scripted::new(vec![vec![Step::Nothing; 10_000]]);
        let backup = Scripted::new(vec![[tokens(&["Three."]), vec![done()]].concat()]);
        let llm = chain(vec![("slow", silent), ("backup", backup)], clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 100);
        assert_eq!(text(&events), "Three.");
        assert_eq!(switches(&events), [("slow".into(), "backup".into(), FailureKind::TimedOut)]);
        let waited = clock.ms.load(Ordering::Relaxed);
        assert!((2000..=2100).contains(&waited), "switched once the 2 s budget passed, at {waited} ms");
    }

    #[test]
    fn a_stream_that_stalls_mid_reply_is_abandoned_after_the_stall_budget() {
        let clock = VirtualClock::new();
        let stalls = Scripted::new(vec![[tokens(&["It is "]), vec![Step::Nothing; 10_000]].concat()]);
        let backup = Scripted::new(vec![[tokens(&["three."]), vec![done()]].concat()]);
        let llm = chain(vec![("stalls", stalls), ("backup", backup)], clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 100);
        assert_eq!(text(&events), "It is three.");
        assert_eq!(switches(&events)[0].2, FailureKind::TimedOut);
    }

    #[test]
    fn when_every_link_fails_the_reply_fails_with_the_last_error() {
        let clock = VirtualClock::new();
        let a = Scripted::new(vec![vec![failed(FailureKind::Overloaded)]]);
        let b = Scripted::new(vec![vec![failed(FailureKind::Rejected)]]);
        let llm = chain(vec![("a", a), ("b", b)], clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 10);
        assert!(matches!(events.last(), Some(LlmEvent::Failed(e)) if e.kind == FailureKind::Rejected), "{events:?}");
    }

    #[test]
    fn the_breaker_skips_a_failing_link_then_lets_one_probe_through() {
        let clock = VirtualClock::new();
        let flaky = Scripted::new(vec![
            vec![failed(FailureKind::Engine)],
            vec![failed(FailureKind::Engine)],
            vec![failed(FailureKind::Engine)],
            [tokens(&["back."]), vec![done()]].concat(),
        ]);
        let backup = Scripted::new((0..5).map(|_| [tokens(&["ok."]), vec![done()]].concat()).collect());
        let llm = chain(vec![("flaky", flaky.clone()), ("backup", backup)], clock.clone());
        for _ in 0..3 {
            assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        }
        assert!(matches!(llm.links()[0].breaker_state(), BreakerState::Open { .. }));
        // Open: the fourth reply does not ask it at all.
        assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        assert_eq!(flaky.asked.lock().unwrap().len(), 3);
        // After 30 s one probe goes through; it succeeds and closes the breaker.
        clock.advance(30_000);
        assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "back.");
        assert_eq!(llm.links()[0].breaker_state(), BreakerState::Closed { failures: 0 });
    }

    #[test]
    fn retry_after_opens_the_breaker_for_as_long_as_the_provider_asked() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(BreakerPolicy::default());
        let busy = ModelError::new(FailureKind::Overloaded, "HTTP 429").with_retry_after(Some(Duration::from_secs(90)));
        breaker.on_error(t0, &busy);
        assert_eq!(breaker.state(), BreakerState::Open { until: t0 + Duration::from_secs(90) }, "at once, for 90 s");
        // Another call's failure while it is open does not shorten the hold.
        breaker.on_error(t0 + Duration::from_secs(1), &ModelError::new(FailureKind::Engine, "boom"));
        assert_eq!(breaker.state(), BreakerState::Open { until: t0 + Duration::from_secs(90) });
        assert!(!breaker.allow(t0 + Duration::from_secs(89)));
        assert!(breaker.allow(t0 + Duration::from_secs(90)));
    }

    #[test]
    fn a_language_model_asking_to_retry_later_is_skipped_that_long() {
        let clock = VirtualClock::new();
        let busy =
            ModelError::new(FailureKind::Overloaded, "HTTP 503").with_retry_after(Some(Duration::from_secs(120)));
        let primary =
            Scripted::new(vec![vec![Step::Event(LlmEvent::Failed(busy))], [tokens(&["back."]), vec![done()]].concat()]);
        let backup = Scripted::new((0..3).map(|_| [tokens(&["ok."]), vec![done()]].concat()).collect());
        let llm = chain(vec![("primary", primary.clone()), ("backup", backup)], clock.clone());
        assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        clock.advance(60_000); // past the policy's 30 s, within the provider's 120 s
        assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        assert_eq!(primary.asked.lock().unwrap().len(), 1);
        clock.advance(60_000);
        assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "back.");
    }

    #[test]
    fn a_half_open_breaker_admits_one_probe_and_reopens_on_its_failure() {
        let t0 = Instant::now();
        let mut breaker = Breaker::new(BreakerPolicy { failures_to_open: 1, open_for: Duration::from_secs(10) });
        breaker.on_failure(t0);
        assert!(!breaker.allow(t0 + Duration::from_secs(9)));
        assert!(breaker.allow(t0 + Duration::from_secs(10)), "the probe");
        assert!(!breaker.allow(t0 + Duration::from_secs(10)), "only one probe at a time");
        breaker.on_failure(t0 + Duration::from_secs(11));
        assert_eq!(breaker.state(), BreakerState::Open { until: t0 + Duration::from_secs(21) });
    }

    #[test]
    fn a_probed_breaker_waits_for_its_probe_and_callers_never_half_open_it() {
        let t0 = Instant::now();
        let policy = BreakerPolicy { failures_to_open: 1, open_for: Duration::from_secs(10) };
        let mut breaker = Breaker::probed(policy);
        assert!(!breaker.probe_due(t0), "closed: nothing to probe");
        breaker.on_failure(t0);
        assert!(!breaker.probe_due(t0 + Duration::from_millis(9_999)), "still in its hold");
        assert!(!breaker.allow(t0 + Duration::from_secs(10)), "a caller after the hold is not the probe");
        assert!(breaker.probe_due(t0 + Duration::from_secs(10)));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        assert!(!breaker.probe_due(t0 + Duration::from_secs(11)), "one probe at a time");
        assert!(!breaker.allow(t0 + Duration::from_secs(11)), "callers wait for the probe's answer");
        breaker.on_failure(t0 + Duration::from_secs(12));
        assert_eq!(breaker.state(), BreakerState::Open { until: t0 + Duration::from_secs(22) }, "re-opened");
        assert!(breaker.probe_due(t0 + Duration::from_secs(22)));
        breaker.on_success();
        assert!(breaker.allow(t0 + Duration::from_secs(22)), "closed by the probe");
        // An unprobed breaker is half-opened by a caller, as before.
        let mut plain = Breaker::new(policy);
        plain.on_failure(t0);
        assert!(plain.allow(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn a_links_own_timeout_switches_before_the_chains_budget() {
        let clock = VirtualClock::new();
        let silent = Scripted::new(vec![vec![Step::Nothing; 10_000]]);
        let backup = Scripted::new(vec![[tokens(&["Three."]), vec![done()]].concat()]);
        let links = vec![
            Link::new("slow", silent as Arc<dyn LanguageModel>, BreakerPolicy::default())
                .with_first_result(Duration::from_millis(500)),
            Link::new("backup", backup as Arc<dyn LanguageModel>, BreakerPolicy::default()),
        ];
        let llm = FallbackLlm::new(links, ChainBudget::default(), clock.clone());
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 50);
        assert_eq!(text(&events), "Three.");
        assert_eq!(switches(&events), [("slow".into(), "backup".into(), FailureKind::TimedOut)]);
        let waited = clock.ms.load(Ordering::Relaxed);
        assert!((500..=550).contains(&waited), "switched once its 500 ms passed, not the chain's 2 s: {waited} ms");
    }

    #[test]
    fn after_an_outage_the_probe_closes_the_breaker_and_no_caller_pays_for_it() {
        let clock = VirtualClock::new();
        let flaky = Scripted::new(vec![
            vec![failed(FailureKind::Engine)],
            vec![failed(FailureKind::Engine)],
            vec![failed(FailureKind::Engine)],
            [tokens(&["back."]), vec![done()]].concat(),
        ]);
        let backup = Scripted::new((0..5).map(|_| [tokens(&["ok."]), vec![done()]].concat()).collect());
        let answers =
            Arc::new(Mutex::new(VecDeque::from([Err(ModelError::new(FailureKind::Overloaded, "HTTP 503")), Ok(())])));
        let probes = Arc::clone(&answers);
        let probe: Probe = Arc::new(move || probes.lock().unwrap().pop_front().unwrap_or(Ok(())));
        let links = vec![
            Link::new("flaky", flaky.clone() as Arc<dyn LanguageModel>, BreakerPolicy::default()).with_probe(probe),
            Link::new("backup", backup as Arc<dyn LanguageModel>, BreakerPolicy::default()),
        ];
        let llm = FallbackLlm::new(links, ChainBudget::default(), clock.clone());
        for _ in 0..3 {
            assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        }
        assert!(matches!(llm.links()[0].breaker_state(), BreakerState::Open { .. }));
        assert_eq!(llm.probe_now(), 0, "no probe during the hold");
        clock.advance(30_000);
        // The hold is over, but a caller is not the probe: the backup answers and the flaky link is not asked.
        assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        assert_eq!(flaky.asked.lock().unwrap().len(), 3);
        assert_eq!(llm.probe_now(), 1, "the probe runs");
        assert!(matches!(llm.links()[0].breaker_state(), BreakerState::Open { .. }), "it failed: open again");
        assert_eq!(llm.probe_now(), 0);
        clock.advance(30_000);
        assert_eq!(llm.probe_now(), 1);
        assert_eq!(llm.links()[0].breaker_state(), BreakerState::Closed { failures: 0 }, "the probe closed it");
        assert!(answers.lock().unwrap().is_empty());
        // The first caller after the outage is served by the recovered link at once.
        let events = drain(&mut *llm.reply(&history(), &[]), &clock, 10);
        assert_eq!(text(&events), "back.");
        assert!(switches(&events).is_empty());
    }

    #[test]
    fn a_refused_or_panicking_probe_never_leaves_a_link_shut_for_good() {
        let clock = VirtualClock::new();
        let failing = || Scripted::new((0..3).map(|_| vec![failed(FailureKind::Engine)]).collect());
        let backup = || Scripted::new((0..8).map(|_| [tokens(&["ok."]), vec![done()]].concat()).collect());
        // A key that may not list voices: its probe is refused, so callers half-open the breaker again.
        let refused: Probe = Arc::new(|| Err(ModelError::new(FailureKind::Rejected, "HTTP 403")));
        let links = vec![
            Link::new("scoped", failing() as Arc<dyn LanguageModel>, BreakerPolicy::default()).with_probe(refused),
            Link::new("backup", backup() as Arc<dyn LanguageModel>, BreakerPolicy::default()),
        ];
        let llm = FallbackLlm::new(links, ChainBudget::default(), clock.clone());
        for _ in 0..3 {
            assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        }
        clock.advance(30_000);
        assert_eq!(llm.probe_now(), 1);
        assert!(!llm.links()[0].breaker().probed, "callers half-open it now");
        clock.advance(60_000);
        assert!(llm.links()[0].breaker().allow(clock.now()), "a caller after the hold is let through");
        // A probe that panics counts as a failed probe, and the next round probes again.
        let panicking: Probe = Arc::new(|| panic!("probe bug"));
        let links = vec![
            Link::new("buggy", failing() as Arc<dyn LanguageModel>, BreakerPolicy::default()).with_probe(panicking),
            Link::new("backup", backup() as Arc<dyn LanguageModel>, BreakerPolicy::default()),
        ];
        let llm = FallbackLlm::new(links, ChainBudget::default(), clock.clone());
        for _ in 0..3 {
            assert_eq!(text(&drain(&mut *llm.reply(&history(), &[]), &clock, 10)), "ok.");
        }
        clock.advance(30_000);
        assert_eq!(llm.probe_now(), 1);
        assert!(matches!(llm.links()[0].breaker_state(), BreakerState::Open { .. }), "failed: open again");
        clock.advance(60_000);
        assert_eq!(llm.probe_now(), 1, "probed again after the next hold");
    }
}
