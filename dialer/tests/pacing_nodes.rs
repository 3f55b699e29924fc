//! One to three nodes dialling one campaign through a shared store, on a virtual clock: the achieved call rate
//! reaches `calls_per_second` (within one start) and never exceeds it.
//!
//! Each node is the runner's loop (`voicera`'s `campaigns.rs`) as a state machine over the crate's pure
//! functions, in the runner's order: its own [`Campaign`] says which contacts to try; for each, the node looks
//! at the pacing document ([`claim_from`]), claims a live-call slot ([`plan_claim`]) and the contact's lease
//! ([`ContactDocument::claim`]), and only then reserves its start ([`reserve_start`]). Every store operation
//! takes 1 to [`MAX_STORE_OP_MS`] (seeded) and a read's answer is written back one operation later (a
//! compare-and-set on the version read), so nodes that act at once race as they do on MongoDB: both read
//! contact 0, one lease lands.
//!
//! The runner's former order (reserve a start, then claim the slot and contact) runs in the same model as a
//! control: there, a node spends starts on contacts another node just leased, and two nodes fall well short
//! of the rate, which is what this order fixes.

use std::collections::VecDeque;

use voicera_dialer::campaign::{
    AttemptOutcome, Campaign, CampaignSettings, ContactId, DialAction, Disposition, Pacing, RetryPolicy,
};
use voicera_dialer::lease::{AfterAttempt, ContactDocument, ContactStatus};
use voicera_dialer::pacing::{claim_from, reserve_start, PaceClaim, PacingDocument, CLAIM_LEAD_MS};
use voicera_dialer::schedule::Schedule;
use voicera_dialer::slots::{plan_claim, SlotClaim, SlotDocument};
use voicera_dialer::{DialerError, UnixMillis};

/// One store read or write takes 1 to this many milliseconds (a MongoDB round trip on a busy network), drawn
/// per operation from each node's seeded generator, so nodes that start together drift apart as real ones do.
const MAX_STORE_OP_MS: i64 = 3;
// The lead covers a claim's round trips (seven at most), so calls leave at their reserved start.
const _: () = assert!(CLAIM_LEAD_MS > 7 * MAX_STORE_OP_MS);
/// The runner's contact lease.
const LEASE_MS: i64 = 9_000;
/// The runner's wait before a contact whose claim was lost is looked at again (`RECHECK_MS`).
const RECHECK_MS: i64 = 1_000;
/// The runner's wait when every slot is taken (`SLOT_RECHECK_MS`).
const SLOT_RECHECK_MS: i64 = 100;
/// The runner's longest sleep between polls (`POLL`).
const POLL_MS: i64 = 1_000;
/// The runner's tries at a start under the former order (`PACE_TRIES`).
const FORMER_PACE_TRIES: usize = 4;
/// How long each call lasts (answered, then hung up).
const CALL_MS: i64 = 1_500;
/// The campaign's live-call limit: far above what the rate keeps up, so the rate is what paces.
const MAX_LIVE: u32 = 200;
/// How long the rate is measured over.
const MEASURED_MS: i64 = 10_000;

/// The store every node shares.
struct Store {
    contacts: Vec<ContactDocument>,
    slots: Vec<SlotDocument>,
    pacing: Option<PacingDocument>,
}

impl Store {
    fn write_slot(&mut self, claim: &SlotClaim) -> bool {
        match claim {
            SlotClaim::Insert(doc) if !self.slots.iter().any(|s| s.slot == doc.slot) => {
                self.slots.push(doc.clone());
                true
            }
            SlotClaim::Insert(_) => false,
            SlotClaim::Replace { expected_version, next } => {
                match self.slots.iter_mut().find(|s| s.slot == next.slot && s.version == *expected_version) {
                    Some(stored) => {
                        *stored = next.clone();
                        true
                    }
                    None => false,
                }
            }
        }
    }

    fn release_slot(&mut self, slot: u32, node: &str, contact: &str) {
        let stored = self.slots.iter_mut().find(|s| s.slot == slot).expect("a claimed slot is stored");
        *stored = stored.release(node, contact).expect("the slot is still the node's");
    }

    fn write_pacing(&mut self, claim: &PaceClaim) -> bool {
        let ok = match (&self.pacing, claim.expected_version()) {
            (None, None) => true,
            (Some(doc), Some(version)) => doc.version == version,
            _ => false,
        };
        if ok {
            self.pacing = Some(claim.document().clone());
        }
        ok
    }
}

/// Which order a node claims in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// The contact and slot first, then the start (the runner's order).
    ContactThenStart,
    /// The start first, then the slot and contact (the former order, a control).
    StartThenContact,
}

/// Where a node is in its loop; each step but `Next` is one store operation.
#[derive(Debug, Clone)]
enum Step {
    /// Asleep until the wake-up: then it polls its campaign.
    Wake,
    /// On to the next contact of this poll, or back to sleep.
    Next,
    /// Reading the pacing document before any claim.
    LookAtPacing(ContactId),
    ReadSlots(ContactId, Option<UnixMillis>),
    WriteSlot(ContactId, Option<UnixMillis>, Vec<SlotClaim>),
    ReadContact(ContactId, Option<UnixMillis>, u32),
    WriteContact(ContactId, Option<UnixMillis>, u32, u64, ContactDocument),
    /// Giving a slot back after the contact was lost to another node.
    ReleaseSlot(u32, ContactId),
    ReadPacing(ContactId, Option<u32>, usize),
    WritePacing(ContactId, Option<u32>, usize, PaceClaim, UnixMillis),
}

struct Node {
    name: String,
    campaign: Campaign,
    step: Step,
    /// When the step runs.
    at: UnixMillis,
    /// This poll's contacts still to try, and the poll's time (the runner's `now` for the whole turn).
    queue: VecDeque<ContactId>,
    turn_now: UnixMillis,
    paced_until: Option<UnixMillis>,
    slots_full: bool,
    /// The node's generator of store latencies (a linear congruential generator: seeded, deterministic).
    rng: u64,
}

impl Node {
    /// How long this store operation takes.
    fn store_op(&mut self) -> i64 {
        self.rng = self.rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        1 + ((self.rng >> 33) % MAX_STORE_OP_MS as u64) as i64
    }
}

/// A call placed: (reserved start, dialled at, node, contact).
type Placed = (UnixMillis, UnixMillis, usize, ContactId);

struct Run {
    placed: Vec<Placed>,
    /// Starts reserved and not called in (the former order's losses).
    wasted: usize,
}

fn store_id(contact: ContactId) -> String {
    format!("b1:{contact}")
}

fn run(nodes: usize, rate: u32, order: Order) -> Run {
    let contacts = rate as usize * 14 + 20;
    let settings = CampaignSettings {
        pacing: Pacing { max_live_calls: MAX_LIVE, max_new_calls_per_second: rate },
        retry: RetryPolicy::none(),
        schedule: Schedule::always(),
    };
    let numbers: Vec<(String, bool)> = (0..contacts).map(|i| (format!("+1555{i:07}"), false)).collect();
    let mut store = Store {
        contacts: (0..contacts).map(|i| ContactDocument::queued("b1", i, &numbers[i].0, Default::default())).collect(),
        slots: Vec::new(),
        pacing: None,
    };
    let mut nodes: Vec<Node> = (0..nodes)
        .map(|n| Node {
            name: format!("node-{n}"),
            campaign: {
                let mut campaign = Campaign::new(settings.clone(), numbers.clone()).unwrap();
                if order == Order::ContactThenStart {
                    campaign.set_claim_lead(CLAIM_LEAD_MS);
                }
                campaign
            },
            step: Step::Wake,
            at: 0,
            queue: VecDeque::new(),
            turn_now: 0,
            paced_until: None,
            slots_full: false,
            rng: 0x5eed + n as u64 * 7919,
        })
        .collect();
    let mut placed: Vec<Placed> = Vec::new();
    let mut wasted = 0;
    // Calls up: (ends at, node, contact, slot).
    let mut up: Vec<(UnixMillis, usize, ContactId, u32)> = Vec::new();
    let until = MEASURED_MS + 3_000;
    for now in 0..until {
        // Calls that end now: the slot is freed and the outcome written (the runner's call task and loop).
        for (ends, n, contact, slot) in std::mem::take(&mut up) {
            if ends > now {
                up.push((ends, n, contact, slot));
                continue;
            }
            let node = &mut nodes[n];
            store.release_slot(slot, &node.name, &store_id(contact));
            let doc = &store.contacts[contact];
            let done = AfterAttempt::Done("answered-human".into());
            store.contacts[contact] = doc.finish(&node.name, "answered-human", done, now).unwrap();
            node.campaign.on_outcome(contact, AttemptOutcome::AnsweredHuman, now).unwrap();
            // An outcome wakes the runner's loop.
            if matches!(node.step, Step::Wake) {
                node.at = node.at.min(now);
            }
        }
        // Nodes act in turn, the first one first each millisecond, then the next...: none always wins.
        for k in 0..nodes.len() {
            let n = (k + now as usize) % nodes.len();
            while nodes[n].at <= now {
                let node = &mut nodes[n];
                let step = std::mem::replace(&mut node.step, Step::Next);
                let (next, cost) = act(node, n, step, now, rate, order, &mut store, &mut placed, &mut wasted);
                node.step = next;
                node.at = now + cost;
                if let Step::Wake = node.step {
                    let wake = node.campaign.next_wakeup(now).map_or(POLL_MS, |at| (at - now).clamp(0, POLL_MS));
                    node.at = now + wake.max(1);
                }
            }
        }
        // The placed calls go up when dialled.
        for (_, dialled, n, contact) in placed.iter().filter(|p| p.1 == now) {
            let slot = store
                .slots
                .iter()
                .find(|s| s.contact.as_deref() == Some(store_id(*contact).as_str()))
                .map(|s| s.slot)
                .expect("a placed call holds a slot");
            up.push((dialled + CALL_MS, *n, *contact, slot));
        }
    }
    Run { placed, wasted }
}

/// One step of node `n` at `now`: the next step and how long this one took.
#[allow(clippy::too_many_arguments)]
fn act(
    node: &mut Node,
    n: usize,
    step: Step,
    now: UnixMillis,
    rate: u32,
    order: Order,
    store: &mut Store,
    placed: &mut Vec<Placed>,
    wasted: &mut usize,
) -> (Step, i64) {
    let release = |node: &mut Node, contact, at| node.campaign.release(contact, at).unwrap();
    match step {
        Step::Wake => {
            node.turn_now = now;
            node.paced_until = None;
            node.slots_full = false;
            node.queue = node.campaign.poll(now).into_iter().map(|DialAction::Dial { contact, .. }| contact).collect();
            (Step::Next, 0)
        }
        Step::Next => {
            let Some(contact) = node.queue.pop_front() else { return (Step::Wake, 0) };
            if let Some(at) = node.paced_until {
                release(node, contact, at);
                return (Step::Next, 0);
            }
            if node.slots_full {
                release(node, contact, node.turn_now + SLOT_RECHECK_MS);
                return (Step::Next, 0);
            }
            match order {
                Order::ContactThenStart => (Step::LookAtPacing(contact), 0),
                Order::StartThenContact => (Step::ReadPacing(contact, None, 0), 0),
            }
        }
        Step::LookAtPacing(contact) => match claim_from(store.pacing.as_ref(), node.turn_now) {
            Some(at) => {
                node.paced_until = Some(at);
                release(node, contact, at);
                (Step::Next, node.store_op())
            }
            None => (Step::ReadSlots(contact, None), node.store_op()),
        },
        Step::ReadSlots(contact, start) => {
            let plan =
                plan_claim("b1", &store.slots, MAX_LIVE, &node.name, &store_id(contact), node.turn_now, LEASE_MS);
            (Step::WriteSlot(contact, start, plan), node.store_op())
        }
        Step::WriteSlot(contact, start, mut plan) => {
            if plan.is_empty() {
                node.slots_full = true;
                if start.is_some() {
                    *wasted += 1;
                }
                release(node, contact, node.turn_now + SLOT_RECHECK_MS);
                return (Step::Next, 0);
            }
            let claim = plan.remove(0);
            if store.write_slot(&claim) {
                (Step::ReadContact(contact, start, claim.document().slot), node.store_op())
            } else {
                (Step::WriteSlot(contact, start, plan), node.store_op())
            }
        }
        Step::ReadContact(contact, start, slot) => {
            let doc = store.contacts[contact].clone();
            if doc.status == ContactStatus::Done {
                // Another node finished it: give the slot back, and it is done here too.
                release(node, contact, node.turn_now);
                let disposition: Disposition = doc.disposition.as_deref().unwrap().parse().unwrap();
                node.campaign.finished_elsewhere(contact, disposition).unwrap();
                *wasted += usize::from(start.is_some());
                return (Step::ReleaseSlot(slot, contact), node.store_op());
            }
            match doc.claim(&node.name, node.turn_now, LEASE_MS) {
                Ok(next) => (Step::WriteContact(contact, start, slot, doc.version, next), node.store_op()),
                Err(DialerError::Leased { expires_at, .. }) => {
                    release(node, contact, expires_at);
                    *wasted += usize::from(start.is_some());
                    (Step::ReleaseSlot(slot, contact), node.store_op())
                }
                Err(_) => {
                    release(node, contact, doc.next_attempt_at.max(node.turn_now + RECHECK_MS));
                    *wasted += usize::from(start.is_some());
                    (Step::ReleaseSlot(slot, contact), node.store_op())
                }
            }
        }
        Step::WriteContact(contact, start, slot, expected, next) => {
            if store.contacts[contact].version != expected {
                release(node, contact, node.turn_now + RECHECK_MS);
                *wasted += usize::from(start.is_some());
                return (Step::ReleaseSlot(slot, contact), node.store_op());
            }
            store.contacts[contact] = next;
            match start {
                // The former order: the start was reserved first; dial now.
                Some(start_at) => {
                    placed.push((start_at, now.max(start_at), n, contact));
                    (Step::Next, node.store_op())
                }
                None => (Step::ReadPacing(contact, Some(slot), 0), node.store_op()),
            }
        }
        Step::ReleaseSlot(slot, contact) => {
            store.release_slot(slot, &node.name, &store_id(contact));
            (Step::Next, node.store_op())
        }
        Step::ReadPacing(contact, slot, tries) => {
            if slot.is_none() {
                // The former order: too soon, and the contact waits (no lead: it claimed at the start itself).
                let next_start = store.pacing.as_ref().map(|p| (p.next_at_us + 999) / 1000);
                if let Some(at) = next_start.filter(|at| *at > node.turn_now) {
                    node.paced_until = Some(at);
                    release(node, contact, at);
                    return (Step::Next, node.store_op());
                }
            }
            let reference = if slot.is_none() { node.turn_now } else { now };
            let reservation = reserve_start("b1", store.pacing.as_ref(), rate, reference).unwrap();
            (Step::WritePacing(contact, slot, tries, reservation.claim, reservation.start_at), node.store_op())
        }
        Step::WritePacing(contact, slot, tries, claim, start_at) => {
            let written = store.write_pacing(&claim);
            match (slot, written) {
                // The runner's order: the start is the call's; it is dialled at its time (at once if due).
                (Some(_), true) => {
                    node.campaign.start_reserved(contact, start_at).unwrap();
                    placed.push((start_at, now.max(start_at), n, contact));
                    (Step::Next, node.store_op())
                }
                // Lost to another node's reservation: read again; the contact and slot are held meanwhile.
                (Some(_), false) => (Step::ReadPacing(contact, slot, tries + 1), node.store_op()),
                (None, true) => (Step::ReadSlots(contact, Some(start_at)), node.store_op()),
                (None, false) if tries + 1 < FORMER_PACE_TRIES => {
                    (Step::ReadPacing(contact, None, tries + 1), node.store_op())
                }
                (None, false) => {
                    node.paced_until = Some(node.turn_now + SLOT_RECHECK_MS);
                    release(node, contact, node.turn_now + SLOT_RECHECK_MS);
                    (Step::Next, node.store_op())
                }
            }
        }
    }
}

/// The most of `times` (sorted) in any window `[t, t + span)`.
fn most_in(times: &[UnixMillis], span: i64) -> usize {
    (0..times.len()).map(|i| times[i..].iter().take_while(|t| **t < times[i] + span).count()).max().unwrap_or(0)
}

#[test]
fn one_to_three_nodes_reach_the_campaign_rate_and_never_exceed_it() {
    for nodes in 1..=3 {
        for rate in [1, 2, 4, 7, 20] {
            let run = run(nodes, rate, Order::ContactThenStart);
            assert_eq!(run.wasted, 0, "{nodes} nodes at {rate}/s: no reserved start goes uncalled");
            let mut starts: Vec<UnixMillis> = run.placed.iter().map(|p| p.0).collect();
            starts.sort_unstable();
            let first = starts[0];
            let measured: Vec<_> = starts.iter().copied().filter(|t| *t < first + MEASURED_MS).collect();
            let expected = i64::from(rate) * MEASURED_MS / 1000;
            let achieved = measured.len() as i64;
            println!("{nodes} nodes at {rate}/s: {achieved} starts in {} s", MEASURED_MS / 1000);
            // Reached, within one start ...
            assert!(achieved >= expected - 1, "{nodes} nodes at {rate}/s: only {achieved} starts of {expected}");
            // ... and never exceeded, in any one-second window.
            let most = most_in(&starts, 1000);
            assert!(most <= rate as usize, "{nodes} nodes at {rate}/s: {most} starts within one second");
            // Calls leave at their reserved start (the claims took less than the lead): all but the first, whose
            // start was due when it was reserved, so it leaves once the reservation is written.
            let late: Vec<_> = run.placed.iter().filter(|p| p.1 != p.0).collect();
            assert!(late.len() <= 1 && late.iter().all(|p| p.1 - p.0 <= MAX_STORE_OP_MS), "late calls: {late:?}");
            // Every contact at most once, and every node dialled its share when several do.
            let mut contacts: Vec<_> = run.placed.iter().map(|p| p.3).collect();
            contacts.sort_unstable();
            contacts.dedup();
            assert_eq!(contacts.len(), run.placed.len(), "a contact dialled twice");
            for n in 0..nodes {
                assert!(run.placed.iter().any(|p| p.2 == n), "node {n} never dialled at {rate}/s");
            }
        }
    }
}

#[test]
fn the_former_order_spent_starts_on_contacts_another_node_had_just_leased() {
    // One node loses nothing either way.
    let alone = run(1, 4, Order::StartThenContact);
    assert_eq!(alone.wasted, 0);
    // Two nodes at 4 a second: starts are reserved for contacts the other node holds, and the rate is missed.
    let two = run(2, 4, Order::StartThenContact);
    let first = two.placed.iter().map(|p| p.0).min().unwrap();
    let achieved = two.placed.iter().filter(|p| p.0 < first + MEASURED_MS).count();
    println!("former order, two nodes at 4/s: {achieved} starts in 10 s, {} reserved starts lost", two.wasted);
    assert!(two.wasted > 5, "{} starts lost", two.wasted);
    assert!(achieved < 35, "{achieved} starts in 10 s");
}
