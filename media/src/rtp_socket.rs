//! A call's RTP (or RTCP) socket, read and written only on the call's tick.
//!
//! It is a plain non-blocking socket outside the runtime's reactor: registered with epoll, every datagram
//! that lands in an empty socket buffer woke a runtime worker just to note "readable", though nobody waits
//! on it (the tick reads the socket anyway). Measured with `voicera-bench sip-agent`: 0.33 → 0.19 % of a core
//! per call at 10 calls. Each datagram comes with the kernel's receive time (`SO_TIMESTAMPNS`), which the
//! tick-phase lock uses to put the tick just after the caller's packets arrive, at no cost in wake-ups.
//!
//! The tick reads RTP with one `recvmmsg` for everything waiting (usually one packet): reading packet by
//! packet cost a second system call per tick just to learn the socket was empty.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, SockaddrLike, SockaddrStorage};

/// Stamps younger than this when read were taken by `recvmsg` itself, not on receipt.
const UNSTAMPED_AGE: Duration = Duration::from_micros(50);

/// One datagram read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    /// Bytes of the datagram in its buffer.
    pub len: usize,
    /// Who sent it (symmetric RTP latches to it).
    pub from: SocketAddr,
    /// The kernel's receive stamp (wall clock), when it gave one. Turned into an [`Instant`] by
    /// [`arrival_instant`] only where it is used (once a second), not for every packet.
    pub stamped: Option<SystemTime>,
}

/// Datagrams read by one [`RtpSocket::recv_batch`]: a tick normally finds one, a few after a stall.
pub const BATCH: usize = 4;
/// Receive buffer per datagram: RTP on a 1500-byte MTU path (an Opus frame is at most 1275 bytes).
pub const DATAGRAM: usize = 1500;

/// Receive buffers for [`RtpSocket::recv_batch`].
pub type BatchBuffers = [[u8; DATAGRAM]; BATCH];

/// Ancillary data of one datagram: a `timespec` control message needs 32 bytes.
const CONTROL: usize = 64;

/// A control-message area, aligned for the `cmsghdr`s the kernel writes into it.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct ControlBuffer([u8; CONTROL]);

impl Datagram {
    /// A slot of [`RtpSocket::recv_batch`] before it is read into.
    pub const EMPTY: Datagram = Datagram { len: 0, from: UNSPECIFIED, stamped: None };
}

/// A call's RTP or RTCP UDP socket, read in batches with `recvmmsg` and kernel receive stamps
/// (`SO_TIMESTAMPNS`), so a tick costs one system call and jitter is measured at arrival, not at the read.
pub struct RtpSocket {
    socket: UdpSocket,
    control: [ControlBuffer; BATCH],
}

impl RtpSocket {
    /// Takes the socket out of the runtime's reactor (it stays non-blocking) and asks for receive times.
    pub fn new(socket: tokio::net::UdpSocket) -> io::Result<Self> {
        let socket = socket.into_std()?;
        socket.set_nonblocking(true)?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        Ok(Self { socket, control: [ControlBuffer([0; CONTROL]); BATCH] })
    }

    /// The next waiting datagram into `buf`, or `WouldBlock` when there is none.
    pub fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        let mut iov = [io::IoSliceMut::new(buf)];
        let message = recvmsg::<SockaddrStorage>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.control[0].0),
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

    /// Every waiting datagram, up to [`BATCH`], with one system call: datagram i is in `buffers[i]`, its
    /// length, source and receive stamp in `read[i]`. Returns how many were read; 0 when the socket is empty.
    /// Only with `stamps` are the receive stamps read (the tick-phase lock wants one a second).
    pub fn recv_batch(
        &mut self,
        buffers: &mut BatchBuffers,
        read: &mut [Datagram; BATCH],
        stamps: bool,
    ) -> io::Result<usize> {
        // SAFETY: all-zero bytes are valid for these plain C structs.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, ((header, iovec), (name, buffer))) in
            headers.iter_mut().zip(iovecs.iter_mut()).zip(names.iter_mut().zip(buffers.iter_mut())).enumerate()
        {
            *iovec = libc::iovec { iov_base: buffer.as_mut_ptr().cast(), iov_len: DATAGRAM };
            header.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            header.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_control = self.control[i].0.as_mut_ptr().cast();
            header.msg_hdr.msg_controllen = CONTROL as _;
        }
        // SAFETY: every header points at its own name, iovec, buffer and control area, all alive and not
        // otherwise borrowed for the duration of the call, with their true sizes; BATCH headers are passed.
        let received = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if received < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(err) };
        }
        let received = received as usize;
        for ((header, name), slot) in headers.iter().zip(&names).zip(read.iter_mut()).take(received) {
            let from = sockaddr_to_socket_addr(name).unwrap_or(UNSPECIFIED);
            let stamped = if stamps { timestamp(&header.msg_hdr) } else { None };
            *slot = Datagram { len: (header.msg_len as usize).min(DATAGRAM), from, stamped };
        }
        Ok(received)
    }

    /// Sends without waiting: a full socket buffer is `WouldBlock`.
    pub fn try_send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
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

/// A source no datagram has (an IP datagram always has one): what [`RtpSocket::recv_batch`] reports if the
/// kernel ever gave an address of another family, so the stream treats it as a stranger.
const UNSPECIFIED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0));

fn sockaddr_to_socket_addr(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and aligned enough for.
            let v4 = unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*(name as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(v6.sin6_addr.s6_addr);
            let port = u16::from_be(v6.sin6_port);
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(ip, port, v6.sin6_flowinfo, v6.sin6_scope_id)))
        }
        _ => None,
    }
}

/// The `SCM_TIMESTAMPNS` stamp among a received message's control messages.
fn timestamp(header: &libc::msghdr) -> Option<SystemTime> {
    // SAFETY: the header was filled by recvmmsg: msg_control/msg_controllen describe the control messages
    // the kernel wrote into our control buffer, which CMSG_FIRSTHDR/CMSG_NXTHDR walk within those bounds.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(header);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                let stamp = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                return wall_clock(stamp.tv_sec, stamp.tv_nsec);
            }
            cmsg = libc::CMSG_NXTHDR(header, cmsg);
        }
    }
    None
}

fn wall_clock(secs: i64, nanos: i64) -> Option<SystemTime> {
    Some(SystemTime::UNIX_EPOCH + Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?))
}

/// When a datagram arrived, on the monotonic clock the ticks run on: the kernel stamps wall-clock time, and
/// the datagram's age (wall now − stamp) carries over. `None` for a stamp of "now", which is the kernel
/// stamping at read time because stamping was not on yet when the datagram came.
pub fn arrival_instant(stamp: SystemTime) -> Option<Instant> {
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

        // A batch read takes everything waiting in one call, with sources and (when asked) stamps.
        let (mut buffers, mut read) = ([[0u8; DATAGRAM]; BATCH], [datagram; BATCH]);
        assert_eq!(rtp.recv_batch(&mut buffers, &mut read, true).unwrap(), 0, "empty socket");
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        for (i, sender) in [&peer, &other, &peer, &other, &peer].iter().enumerate() {
            sender.send_to(&[i as u8; 3], address).unwrap();
        }
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(rtp.recv_batch(&mut buffers, &mut read, true).unwrap(), BATCH);
        for (i, got) in read.iter().enumerate() {
            let sender = if i % 2 == 0 { &peer } else { &other };
            assert_eq!((&buffers[i][..got.len], got.from), (&[i as u8; 3][..], sender.local_addr().unwrap()));
            assert!(got.stamped.and_then(arrival_instant).is_some(), "datagram {i} stamped");
        }
        assert_eq!(rtp.recv_batch(&mut buffers, &mut read, false).unwrap(), 1, "the fifth is left for the next");
        assert_eq!((&buffers[0][..read[0].len], read[0].stamped), (&[4u8; 3][..], None));
        let mut back = [0u8; 8];
        assert_eq!(peer.recv(&mut back).unwrap(), 4);
    }
}
