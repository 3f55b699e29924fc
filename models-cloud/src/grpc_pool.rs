//! The HTTP/2 connections of a gRPC channel, sans-IO: which connection a new call goes on, how many calls
//! each carries, when each is pinged and when it is given up. Time is passed in; [`crate::grpc`] connects,
//! opens the streams, sends the PINGs and closes the sockets as this says.
//!
//! Calls pack onto the oldest open connection until it carries the lesser of the server's
//! `SETTINGS_MAX_CONCURRENT_STREAMS` and the configured cap (Google documents 100 concurrent streams per
//! connection); then a new connection opens, up to `max_connections`, and past that a call is refused with
//! [`PoolFull`] rather than queued behind a stream limit it cannot see. A connection that broke, was told
//! to go away (GOAWAY) or left a PING unanswered takes no new calls; it leaves the pool when its last call
//! ends, and why it closed is kept until then, so its calls fail with that reason.
//!
//! Keepalive: a connection carrying calls on which nothing was heard for `keepalive_interval` is sent a
//! PING, and one that does not answer within `keepalive_timeout` is dead. A NAT that dropped its mapping
//! swallows packets without a word, and TCP alone would take many minutes (its retransmission limit) to
//! notice. A connection without calls is not pinged (gRPC servers answer PINGs without data, more often
//! than every 5 minutes, with GOAWAY `ENHANCE_YOUR_CALM` "too_many_pings"); it is closed once it carried
//! none for `idle_timeout`. A server that says `ENHANCE_YOUR_CALM` anyway doubles the interval (gRPC A8).
//!
//! While a connection is being made, further calls wait for it (up to its expected stream limit) rather
//! than each making one of its own.

use std::time::{Duration, Instant};

/// Streams per connection when the server allows more: Google's documented limit of concurrent streams on
/// one connection.
pub const DEFAULT_MAX_STREAMS: usize = 100;
/// Connections per channel (so 1,600 concurrent calls per provider link at Google's stream limit).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// Silence on a connection before it is pinged: under the 60 s or more after which home and carrier NATs
/// commonly forget an idle TCP mapping, and far above what a server counts as abusive pinging.
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a PING may go unanswered before the connection is given up (a round trip is milliseconds).
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection carrying no calls is kept: it is not pinged meanwhile, so it is closed before a
/// NAT may have forgotten it (a call put on a silently dead path would fail only at its first PING).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a failed connect stands for the connects asked for after it: during an outage callers fail at
/// once instead of each waiting out its own connect budget.
pub const DEFAULT_CONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// The pool's limits and keepalive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// The most calls on one connection (the server's own limit, when lower, wins).
    pub max_streams_per_connection: usize,
    /// The most connections open at once (connections closing with calls still on them not counted).
    pub max_connections: usize,
    /// Silence before a PING.
    pub keepalive_interval: Duration,
    /// The wait for a PING's answer.
    pub keepalive_timeout: Duration,
    /// How long a connection without calls is kept.
    pub idle_timeout: Duration,
    /// How long a failed connect stands for the connects asked for after it.
    pub connect_backoff: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_streams_per_connection: DEFAULT_MAX_STREAMS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            keepalive_interval: DEFAULT_KEEPALIVE_INTERVAL,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            connect_backoff: DEFAULT_CONNECT_BACKOFF,
        }
    }
}

/// One connection of the pool (never reused within a pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Where a new call goes; either way one stream is now counted on that connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On this open connection.
    Existing(ConnectionId),
    /// On a connection to make now: report [`Pool::connected`] or [`Pool::connect_failed`].
    Connect(ConnectionId),
    /// On the connection being made: wait for its connect (its failure takes this call with it).
    Wait(ConnectionId),
}

/// Every connection carries its most calls and no more may open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("all {connections} HTTP/2 connections carry their most calls ({streams} in all)")]
pub struct PoolFull {
    /// Connections open.
    pub connections: usize,
    /// Calls on them.
    pub streams: usize,
}

/// Why a connection takes no new calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// A PING went unanswered this long: the path is dead (a NAT dropped it, the peer vanished).
    PingUnanswered(Duration),
    /// The server said GOAWAY: calls it took finish, new ones go elsewhere.
    GoingAway,
    /// The connection failed or ended, as described.
    Broken(String),
    /// It carried no calls for this long.
    Idle(Duration),
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::PingUnanswered(timeout) => {
                write!(f, "the HTTP/2 connection answered no PING within {} ms and was dropped", timeout.as_millis())
            }
            CloseReason::GoingAway => f.write_str("the server sent GOAWAY on the HTTP/2 connection"),
            CloseReason::Broken(why) => write!(f, "the HTTP/2 connection broke: {why}"),
            CloseReason::Idle(idle) => {
                write!(f, "the HTTP/2 connection carried no calls for {} ms and was closed", idle.as_millis())
            }
        }
    }
}

/// What the keepalive of one connection should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keepalive {
    /// Nothing until this instant (or until something is heard).
    Wait(Instant),
    /// Send a PING now (it is counted as sent).
    Ping,
    /// The PING went unanswered: close the connection (the pool has marked it).
    Dead,
    /// The connection carried no calls for the idle timeout: close it (the pool has let it go).
    Idle,
    /// The connection left the pool: stop.
    Gone,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Health {
    /// Being made; it carries the call that asked for it.
    Connecting,
    Open,
    Closing(CloseReason),
}

#[derive(Debug)]
struct Connection {
    id: ConnectionId,
    health: Health,
    streams: usize,
    /// The server's `SETTINGS_MAX_CONCURRENT_STREAMS` (unbounded until it says).
    server_max: usize,
    last_heard: Instant,
    /// When its last call ended (or it opened).
    idle_since: Instant,
    ping_sent: Option<Instant>,
}

/// The connections of one channel and the calls on them.
#[derive(Debug)]
pub struct Pool {
    config: PoolConfig,
    connections: Vec<Connection>,
    next_id: u64,
    /// Silence before a PING: the configured interval, doubled each time a server said it was pinged too
    /// often.
    keepalive_interval: Duration,
}

impl Pool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Pool {
        Pool { config, connections: Vec::new(), next_id: 0, keepalive_interval: config.keepalive_interval }
    }

    /// The limits it was made with.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    fn find(&mut self, id: ConnectionId) -> Option<&mut Connection> {
        self.connections.iter_mut().find(|c| c.id == id)
    }

    fn limit(&self, connection: &Connection) -> usize {
        connection.server_max.min(self.config.max_streams_per_connection)
    }

    /// Places a new call: on the oldest open connection with room, else on a connection being made with
    /// room, else on a new connection while fewer than `max_connections` are open or being made.
    pub fn place(&mut self, now: Instant) -> Result<Placement, PoolFull> {
        let cap = self.config.max_streams_per_connection;
        if let Some(connection) =
            self.connections.iter_mut().find(|c| c.health == Health::Open && c.streams < c.server_max.min(cap))
        {
            connection.streams += 1;
            return Ok(Placement::Existing(connection.id));
        }
        if let Some(connection) =
            self.connections.iter_mut().find(|c| c.health == Health::Connecting && c.streams < cap)
        {
            connection.streams += 1;
            return Ok(Placement::Wait(connection.id));
        }
        let live: Vec<&Connection> =
            self.connections.iter().filter(|c| !matches!(c.health, Health::Closing(_))).collect();
        if live.len() >= self.config.max_connections {
            return Err(PoolFull { connections: live.len(), streams: live.iter().map(|c| c.streams).sum() });
        }
        let id = ConnectionId(self.next_id);
        self.next_id += 1;
        self.connections.push(Connection {
            id,
            health: Health::Connecting,
            streams: 1,
            server_max: usize::MAX,
            last_heard: now,
            idle_since: now,
            ping_sent: None,
        });
        Ok(Placement::Connect(id))
    }

    /// The connection is made (the server's settings and a PING answered): it takes calls. False when it
    /// is no longer wanted (it left the pool or was closed meanwhile): the connect fails.
    pub fn connected(&mut self, id: ConnectionId, server_max: usize, now: Instant) -> bool {
        let Some(connection) = self.find(id) else { return false };
        if connection.health != Health::Connecting {
            return false;
        }
        connection.health = Health::Open;
        connection.server_max = server_max;
        connection.last_heard = now;
        connection.idle_since = now;
        true
    }

    /// The server said GOAWAY `ENHANCE_YOUR_CALM` (pinged too often): PINGs from now on come half as
    /// often (gRPC A8).
    pub fn calm_down(&mut self) -> Duration {
        self.keepalive_interval = self.keepalive_interval.saturating_mul(2);
        self.keepalive_interval
    }

    /// The connection could not be made: it leaves the pool with the call that asked for it.
    pub fn connect_failed(&mut self, id: ConnectionId) {
        self.connections.retain(|c| c.id != id);
    }

    /// The server's `SETTINGS_MAX_CONCURRENT_STREAMS` now (it may change it at any time).
    pub fn server_max(&mut self, id: ConnectionId, server_max: usize) {
        if let Some(connection) = self.find(id) {
            connection.server_max = server_max;
        }
    }

    /// A call on `id` ended at `now` (or gave up its place before it opened); true when the connection
    /// left the pool with it (closing or still being made, no calls left).
    pub fn release(&mut self, id: ConnectionId, now: Instant) -> bool {
        let Some(connection) = self.find(id) else { return false };
        connection.streams = connection.streams.saturating_sub(1);
        if connection.streams == 0 {
            if connection.health != Health::Open {
                self.connections.retain(|c| c.id != id);
                return true;
            }
            connection.idle_since = now;
        }
        false
    }

    /// The connection takes no new calls, for `reason` (the first reason given stands); true when it left
    /// the pool at once (no calls on it).
    pub fn close(&mut self, id: ConnectionId, reason: CloseReason) -> bool {
        let Some(connection) = self.find(id) else { return false };
        if !matches!(connection.health, Health::Closing(_)) {
            connection.health = Health::Closing(reason);
        }
        if connection.streams == 0 {
            self.connections.retain(|c| c.id != id);
            return true;
        }
        false
    }

    /// Why the connection takes no new calls, if it is closing.
    pub fn close_reason(&self, id: ConnectionId) -> Option<&CloseReason> {
        match &self.connections.iter().find(|c| c.id == id)?.health {
            Health::Closing(reason) => Some(reason),
            _ => None,
        }
    }

    /// Something came from the server on `id` at `at` (a response, a PING's answer).
    pub fn heard(&mut self, id: ConnectionId, at: Instant) {
        if let Some(connection) = self.find(id) {
            connection.last_heard = connection.last_heard.max(at);
        }
    }

    /// The PING was answered.
    pub fn pong(&mut self, id: ConnectionId, now: Instant) {
        if let Some(connection) = self.find(id) {
            connection.ping_sent = None;
            connection.last_heard = connection.last_heard.max(now);
        }
    }

    /// What the keepalive of `id` does now.
    pub fn keepalive(&mut self, id: ConnectionId, now: Instant) -> Keepalive {
        let PoolConfig { keepalive_timeout, idle_timeout, .. } = self.config;
        let keepalive_interval = self.keepalive_interval;
        let Some(connection) = self.find(id) else { return Keepalive::Gone };
        if connection.streams == 0 && connection.health == Health::Open {
            // No calls: no PING (one without data is abuse to a gRPC server), and closed once idle long.
            connection.ping_sent = None;
            let idle_until = connection.idle_since.max(connection.last_heard) + idle_timeout;
            if now >= idle_until {
                self.close(id, CloseReason::Idle(idle_timeout));
                return Keepalive::Idle;
            }
            // Woken within the interval, to ping as soon as a call comes on it.
            return Keepalive::Wait(idle_until.min(now + keepalive_interval));
        }
        if let Some(sent) = connection.ping_sent {
            if connection.last_heard >= sent {
                // Heard since the PING went (a response): the path works.
                connection.ping_sent = None;
            } else if now >= sent + keepalive_timeout {
                connection.ping_sent = None;
                self.close(id, CloseReason::PingUnanswered(keepalive_timeout));
                return Keepalive::Dead;
            } else {
                return Keepalive::Wait(sent + keepalive_timeout);
            }
        }
        let due = connection.last_heard + keepalive_interval;
        if now >= due {
            connection.ping_sent = Some(now);
            return Keepalive::Ping;
        }
        Keepalive::Wait(due)
    }

    /// Silence before a PING now (the configured interval, doubled per `ENHANCE_YOUR_CALM`).
    pub fn keepalive_interval(&self) -> Duration {
        self.keepalive_interval
    }

    /// Connections taking calls or being made (not those closing).
    pub fn connections(&self) -> usize {
        self.connections.iter().filter(|c| !matches!(c.health, Health::Closing(_))).count()
    }

    /// Calls on every connection.
    pub fn streams(&self) -> usize {
        self.connections.iter().map(|c| c.streams).sum()
    }

    /// Calls on `id` (0 when it left).
    pub fn streams_on(&self, id: ConnectionId) -> usize {
        self.connections.iter().find(|c| c.id == id).map_or(0, |c| c.streams)
    }

    /// The most calls `id` takes now (0 when it left).
    pub fn limit_of(&self, id: ConnectionId) -> usize {
        self.connections.iter().find(|c| c.id == id).map_or(0, |c| self.limit(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_streams: usize, max_connections: usize) -> PoolConfig {
        PoolConfig { max_streams_per_connection: max_streams, max_connections, ..PoolConfig::default() }
    }

    fn connect(pool: &mut Pool, now: Instant, server_max: usize) -> ConnectionId {
        let Ok(Placement::Connect(id)) = pool.place(now) else { panic!("a new connection expected") };
        pool.connected(id, server_max, now);
        id
    }

    #[test]
    fn calls_pack_onto_a_connection_up_to_the_servers_limit_then_a_new_one_opens() {
        let now = Instant::now();
        let mut pool = Pool::new(config(100, 4));
        let first = connect(&mut pool, now, 2);
        assert_eq!(pool.place(now), Ok(Placement::Existing(first)));
        // The server allows 2 streams: the third call needs a second connection.
        let second = connect(&mut pool, now, 1000);
        assert_ne!(first, second);
        assert_eq!(pool.connections(), 2);
        // One call on the first ends: the next call goes back to the oldest with room.
        assert!(!pool.release(first, now));
        assert_eq!(pool.place(now), Ok(Placement::Existing(first)));
        // The server lowers its limit: the first is full at 1, calls go to the second.
        pool.server_max(first, 1);
        assert_eq!(pool.place(now), Ok(Placement::Existing(second)));
        assert_eq!(pool.streams(), 4);
    }

    #[test]
    fn the_configured_cap_bounds_a_server_that_allows_more() {
        let now = Instant::now();
        let mut pool = Pool::new(config(3, 2));
        let first = connect(&mut pool, now, usize::MAX);
        for _ in 0..2 {
            assert_eq!(pool.place(now), Ok(Placement::Existing(first)));
        }
        assert_eq!(pool.limit_of(first), 3);
        let second = connect(&mut pool, now, 100);
        for _ in 0..2 {
            assert_eq!(pool.place(now), Ok(Placement::Existing(second)));
        }
        let full = pool.place(now).unwrap_err();
        assert_eq!(full, PoolFull { connections: 2, streams: 6 });
        assert_eq!(full.to_string(), "all 2 HTTP/2 connections carry their most calls (6 in all)");
    }

    #[test]
    fn a_connection_being_made_counts_against_the_bound_and_a_failed_one_leaves() {
        let now = Instant::now();
        let mut pool = Pool::new(config(100, 1));
        let Ok(Placement::Connect(id)) = pool.place(now) else { panic!() };
        assert_eq!(pool.place(now), Ok(Placement::Wait(id)), "a second call waits for the connect");
        pool.connect_failed(id);
        assert_eq!(pool.connections(), 0);
        assert!(matches!(pool.place(now), Ok(Placement::Connect(next)) if next != id), "ids are not reused");
    }

    #[test]
    fn a_connection_going_away_takes_no_calls_and_leaves_with_its_last() {
        let now = Instant::now();
        let mut pool = Pool::new(config(100, 1));
        let old = connect(&mut pool, now, 100);
        assert_eq!(pool.place(now), Ok(Placement::Existing(old)));
        assert!(!pool.close(old, CloseReason::GoingAway));
        assert_eq!(pool.close_reason(old), Some(&CloseReason::GoingAway));
        // A closing connection is not counted against the bound: a fresh one opens beside it.
        let fresh = connect(&mut pool, now, 100);
        assert_eq!(pool.place(now), Ok(Placement::Existing(fresh)));
        assert!(!pool.release(old, now));
        assert!(pool.release(old, now), "the last call gone, the connection leaves");
        assert_eq!(pool.streams_on(old), 0);
        assert_eq!(pool.close_reason(old), None);
        assert_eq!(pool.streams(), 2);
        // Closed with no calls: it leaves at once.
        pool.release(fresh, now);
        pool.release(fresh, now);
        assert!(pool.close(fresh, CloseReason::Broken("reset".into())));
        assert_eq!(pool.connections(), 0);
    }

    #[test]
    fn an_idle_connection_is_pinged_after_the_interval_and_dropped_when_the_ping_goes_unanswered() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut pool = Pool::new(PoolConfig::default());
        let id = connect(&mut pool, start, 100);
        assert_eq!(pool.keepalive(id, at(0)), Keepalive::Wait(at(30)));
        // A response at 20 s moves the PING to 50 s.
        pool.heard(id, at(20));
        assert_eq!(pool.keepalive(id, at(30)), Keepalive::Wait(at(50)));
        assert_eq!(pool.keepalive(id, at(50)), Keepalive::Ping);
        assert_eq!(pool.keepalive(id, at(51)), Keepalive::Wait(at(60)), "waiting for the answer");
        pool.pong(id, at(51));
        assert_eq!(pool.keepalive(id, at(51)), Keepalive::Wait(at(81)));
        assert_eq!(pool.keepalive(id, at(81)), Keepalive::Ping);
        assert_eq!(pool.keepalive(id, at(90)), Keepalive::Wait(at(91)));
        assert_eq!(pool.keepalive(id, at(91)), Keepalive::Dead);
        assert_eq!(pool.close_reason(id), Some(&CloseReason::PingUnanswered(DEFAULT_KEEPALIVE_TIMEOUT)));
        assert_eq!(
            CloseReason::PingUnanswered(DEFAULT_KEEPALIVE_TIMEOUT).to_string(),
            "the HTTP/2 connection answered no PING within 10000 ms and was dropped"
        );
        // Dead, it takes no calls: the next call makes a new connection.
        assert!(matches!(pool.place(at(92)), Ok(Placement::Connect(next)) if next != id));
        assert!(pool.release(id, at(92)), "its last call gone, the dead connection leaves");
        assert_eq!(pool.keepalive(id, at(93)), Keepalive::Gone);
    }

    #[test]
    fn a_response_during_the_wait_for_the_answer_also_proves_the_path() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut pool = Pool::new(PoolConfig::default());
        let id = connect(&mut pool, start, 100);
        assert_eq!(pool.keepalive(id, at(30)), Keepalive::Ping);
        pool.heard(id, at(35));
        assert_eq!(pool.keepalive(id, at(40)), Keepalive::Wait(at(65)));
    }

    #[test]
    fn a_connection_being_made_takes_waiters_up_to_the_cap_and_leaves_when_all_give_up() {
        let now = Instant::now();
        let mut pool = Pool::new(config(2, 1));
        let Ok(Placement::Connect(id)) = pool.place(now) else { panic!() };
        assert_eq!(pool.place(now), Ok(Placement::Wait(id)));
        assert_eq!(pool.place(now), Err(PoolFull { connections: 1, streams: 2 }));
        // Both callers hang up before the connect ends: nothing stays counted.
        assert!(!pool.release(id, now));
        assert!(pool.release(id, now), "a connection being made leaves with its last caller");
        assert_eq!((pool.connections(), pool.streams()), (0, 0));
        assert!(!pool.connected(id, 100, now), "a connect nobody waits for is not kept");
        // One made and then closed before its connect reported: it stays closing.
        let Ok(Placement::Connect(next)) = pool.place(now) else { panic!() };
        assert!(!pool.close(next, CloseReason::GoingAway));
        assert!(!pool.connected(next, 100, now));
        assert_eq!(pool.close_reason(next), Some(&CloseReason::GoingAway));
    }

    #[test]
    fn a_connection_without_calls_is_not_pinged_and_closes_once_idle() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut pool = Pool::new(PoolConfig { idle_timeout: Duration::from_secs(60), ..PoolConfig::default() });
        let id = connect(&mut pool, start, 100);
        assert!(!pool.release(id, at(10)));
        assert_eq!(pool.keepalive(id, at(10)), Keepalive::Wait(at(40)), "woken within the interval");
        assert_eq!(pool.keepalive(id, at(40)), Keepalive::Wait(at(70)), "no PING without calls");
        // A call comes: it is pinged as usual, from the last thing heard.
        assert_eq!(pool.place(at(45)), Ok(Placement::Existing(id)));
        assert_eq!(pool.keepalive(id, at(45)), Keepalive::Ping);
        pool.pong(id, at(46));
        assert!(!pool.release(id, at(50)));
        assert_eq!(pool.keepalive(id, at(109)), Keepalive::Wait(at(110)));
        assert_eq!(pool.keepalive(id, at(110)), Keepalive::Idle);
        assert_eq!(pool.connections(), 0);
        assert_eq!(pool.keepalive(id, at(111)), Keepalive::Gone);
    }

    #[test]
    fn a_server_saying_enhance_your_calm_gets_pings_half_as_often() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut pool = Pool::new(PoolConfig::default());
        assert_eq!(pool.calm_down(), Duration::from_secs(60));
        let id = connect(&mut pool, start, 100);
        assert_eq!(pool.keepalive(id, at(30)), Keepalive::Wait(at(60)));
        assert_eq!(pool.keepalive(id, at(60)), Keepalive::Ping);
    }
}
