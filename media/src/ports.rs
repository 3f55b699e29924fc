//! RTP port pool: even ports from the configured range, RTCP on port+1. A [`PortLease`] returns its port when
//! dropped, so every way a call can end (hang-up, error, task panic) gives the port back.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::UdpSocket;

/// Errors of port allocation.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The range has no even port with its odd RTCP neighbour inside it.
    #[error("RTP port range {0}-{1} is invalid (need at least one even port with room for RTCP)")]
    InvalidRange(u16, u16),
    /// Every pair is leased: the node is full.
    #[error("no free RTP port pair in the configured range")]
    Exhausted,
}

/// Shared pool of even RTP ports.
#[derive(Clone)]
pub struct PortPool {
    free: Arc<Mutex<VecDeque<u16>>>,
    bind_ip: IpAddr,
}

impl PortPool {
    /// Ports `low..=high`; only even ports whose odd neighbour is inside the range are used.
    pub fn new(bind_ip: IpAddr, low: u16, high: u16) -> Result<Self, PortError> {
        let first = low + (low % 2);
        let ports: VecDeque<u16> = (first..high).step_by(2).collect();
        if ports.is_empty() {
            return Err(PortError::InvalidRange(low, high));
        }
        Ok(Self { free: Arc::new(Mutex::new(ports)), bind_ip })
    }

    /// Pairs free now.
    pub fn available(&self) -> usize {
        self.free.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// Takes a port pair and binds both sockets. Ports that another process holds are skipped (and kept out
    /// of rotation until released by a later lease's drop, since the next process may free them).
    pub async fn allocate(&self) -> Result<(PortLease, UdpSocket, UdpSocket), PortError> {
        let attempts = self.available();
        for _ in 0..attempts {
            let Some(port) = self.free.lock().ok().and_then(|mut f| f.pop_front()) else { break };
            let lease = PortLease { port, pool: self.free.clone() };
            let rtp = UdpSocket::bind(SocketAddr::new(self.bind_ip, port)).await;
            let rtcp = UdpSocket::bind(SocketAddr::new(self.bind_ip, port + 1)).await;
            if let (Ok(rtp), Ok(rtcp)) = (rtp, rtcp) {
                return Ok((lease, rtp, rtcp));
            }
            // Busy: the lease drops here and the port goes to the back of the queue.
        }
        Err(PortError::Exhausted)
    }
}

/// An allocated RTP port; returned to the pool on drop.
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    pool: Arc<Mutex<VecDeque<u16>>>,
}

impl PortLease {
    /// The RTP port (even); RTCP is the next one.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        if let Ok(mut free) = self.pool.lock() {
            free.push_back(self.port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ports_are_even_and_come_back_when_the_lease_drops() {
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 41001, 41011).unwrap();
        assert_eq!(pool.available(), 5);
        let (lease, rtp, rtcp) = pool.allocate().await.unwrap();
        assert_eq!(lease.port() % 2, 0);
        assert_eq!(rtcp.local_addr().unwrap().port(), rtp.local_addr().unwrap().port() + 1);
        assert_eq!(pool.available(), 4);
        drop((lease, rtp, rtcp));
        assert_eq!(pool.available(), 5);
    }

    #[test]
    fn empty_ranges_are_rejected() {
        assert!(PortPool::new("127.0.0.1".parse().unwrap(), 10001, 10001).is_err());
    }
}
