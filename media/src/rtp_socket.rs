//! A call's RTP (or RTCP) socket, read and written only on the call's tick.
//!
//! It is a plain non-blocking socket outside the runtime's reactor: registered with epoll, every datagram
//! that lands in an empty socket buffer woke a runtime worker just to note "readable", though nobody waits
//! on it (the tick reads the socket anyway). Measured with `voicera-bench sip-agent`: 0.33 → 0.19 % of a core
//! per call at 10 calls. Each datagram comes with the kernel's receive time (`SO_TIMESTAMPNS`), which the
//! tick-phase lock uses to put the tick just after the caller's packets arrive, at no cost in wake-ups.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrLike, SockaddrStorage};

/// Stamps younger than this when read were taken by `recvmsg` itself, not on receipt.
const UNSTAMPED_AGE: Duration = Duration::from_micros(50);

/// One datagram read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Datagram {
    pub len: usize,
    pub from: SocketAddr,
    /// The kernel's receive stamp (wall clock), when it gave one. Turned into an [`Instant`] by
    /// [`arrival_instant`] only where it is used (once a second), not for every packet.
    pub stamped: Option<SystemTime>,
}

pub(crate) struct RtpSocket {
    socket: UdpSocket,
    /// Ancillary data of one datagram: a `timespec` control message needs 32 bytes.
    control: [u8; 64],
}

impl RtpSocket {
    /// Takes the socket out of the runtime's reactor (it stays non-blocking) and asks for receive times.
    pub(crate) fn new(socket: tokio::net::UdpSocket) -> io::Result<Self> {
        let socket = socket.into_std()?;
        socket.set_nonblocking(true)?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        Ok(Self { socket, control: [0; 64] })
    }

    /// The next waiting datagram into `buf`, or `WouldBlock` when there is none.
    pub(crate) fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        let mut iov = [io::IoSliceMut::new(buf)];
        let message = recvmsg::<SockaddrStorage>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.control),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let from = message
            .address
            .as_ref()
            .and_then(socket_addr)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a datagram without an IP source"))?;
        let mut stamped = None;
        if let Ok(messages) = message.cmsgs() {
            for control in messages {
                if let ControlMessageOwned::ScmTimestampns(stamp) = control {
                    stamped = wall_clock(stamp.tv_sec(), stamp.tv_nsec());
                }
            }
        }
        Ok(Datagram { len: message.bytes, from, stamped })
    }

    /// Sends without waiting: a full socket buffer is `WouldBlock`.
    pub(crate) fn try_send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(bytes, to)
    }
}

fn socket_addr(address: &SockaddrStorage) -> Option<SocketAddr> {
    match address.family()? {
        nix::sys::socket::AddressFamily::Inet => address.as_sockaddr_in().map(|a| SocketAddr::V4((*a).into())),
        nix::sys::socket::AddressFamily::Inet6 => address.as_sockaddr_in6().map(|a| SocketAddr::V6((*a).into())),
        _ => None,
    }
}

fn wall_clock(secs: i64, nanos: i64) -> Option<SystemTime> {
    Some(SystemTime::UNIX_EPOCH + Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?))
}

/// When a datagram arrived, on the monotonic clock the ticks run on: the kernel stamps wall-clock time, and
/// the datagram's age (wall now − stamp) carries over. `None` for a stamp of "now", which is the kernel
/// stamping at read time because stamping was not on yet when the datagram came.
pub(crate) fn arrival_instant(stamp: SystemTime) -> Option<Instant> {
    let age = SystemTime::now().duration_since(stamp).unwrap_or_default();
    (age >= UNSTAMPED_AGE).then(|| Instant::now().checked_sub(age)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn datagrams_come_with_their_source_and_receive_time() {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let mut rtp = RtpSocket::new(socket).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(rtp.try_recv(&mut buf).unwrap_err().kind(), io::ErrorKind::WouldBlock);
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        // The kernel turns receive stamping on shortly after the first socket asks for it.
        std::thread::sleep(Duration::from_millis(100));
        let before = Instant::now();
        peer.send_to(b"rtp", address).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let datagram = rtp.try_recv(&mut buf).unwrap();
        assert_eq!((&buf[..datagram.len], datagram.from), (&b"rtp"[..], peer.local_addr().unwrap()));
        let arrived = datagram.stamped.and_then(arrival_instant).expect("a kernel receive time");
        // Received soon after it was sent, well before it was read (allowing for clock-conversion error).
        assert!(arrived + Duration::from_millis(2) >= before, "{:?}", arrived.duration_since(before));
        assert!(arrived < before + Duration::from_millis(20), "{:?}", arrived.duration_since(before));
        rtp.try_send_to(b"back", peer.local_addr().unwrap()).unwrap();
        let mut back = [0u8; 8];
        assert_eq!(peer.recv(&mut back).unwrap(), 4);
    }
}
