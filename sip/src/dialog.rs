//! Dialogs (RFC 3261 §12): the state two UAs share for one call: identifiers, CSeq counters, remote target and
//! route set. Builds in-dialog requests and checks the ordering of incoming ones. Sans-IO.

use crate::endpoint::Peer;
use crate::header::{NameAddr, Via};
use crate::message::{split_list, Headers, Method, Request, Response};

/// Call-ID plus the two tags.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID shared by both sides.
    pub call_id: String,
    /// Our tag (From tag as UAC, To tag as UAS).
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl std::fmt::Display for DialogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{};local={};remote={}", self.call_id, self.local_tag, self.remote_tag)
    }
}

/// Whether a dialog is early (provisional) or confirmed (2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response with a To tag; may still fail.
    Early,
    /// Established by a 2xx.
    Confirmed,
}

/// One dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID and tags that identify the dialog.
    pub id: DialogId,
    /// Early or confirmed.
    pub state: DialogState,
    /// Our From/To value (with our tag).
    pub local: String,
    /// Their From/To value (with their tag).
    pub remote: String,
    /// The CSeq of our last request in the dialog; the next one uses one more.
    pub local_seq: u32,
    /// The CSeq of the peer's last request, once one arrived; lower ones are stale.
    pub remote_seq: Option<u32>,
    /// Where in-dialog requests go (their Contact URI).
    pub remote_target: String,
    /// Route set, in the order our requests carry it.
    pub route_set: Vec<String>,
    /// Our Contact value.
    pub local_contact: String,
    /// The transport address the dialog's messages flow over. In-dialog requests go here (symmetric signalling),
    /// which is what works behind NAT, rather than to the Contact host.
    pub peer: Peer,
}

impl Dialog {
    /// The dialog a UAS creates when it answers `invite` (RFC 3261 §12.1.1).
    pub fn uas(invite: &Request, local_tag: &str, local_contact: String, peer: Peer) -> Option<Dialog> {
        let from = invite.headers.get("From")?;
        let to = invite.headers.get("To")?;
        let remote_tag = NameAddr::parse(from)?.tag()?.to_string();
        let remote_target = invite.headers.get("Contact").and_then(NameAddr::parse).map(|c| c.uri)?;
        let route_set = invite.headers.get_all("Record-Route").flat_map(split_list).map(str::to_string).collect();
        let local = if NameAddr::parse(to)?.tag().is_some() { to.to_string() } else { format!("{to};tag={local_tag}") };
        Some(Dialog {
            id: DialogId { call_id: invite.call_id().to_string(), local_tag: local_tag.to_string(), remote_tag },
            state: DialogState::Confirmed,
            local,
            remote: from.to_string(),
            local_seq: rand::random::<u16>() as u32 + 1,
            remote_seq: invite.cseq().ok().map(|c| c.seq),
            remote_target,
            route_set,
            local_contact,
            peer,
        })
    }

    /// The dialog a UAC creates from a response to its INVITE (RFC 3261 §12.1.2).
    pub fn uac(invite: &Request, response: &Response, peer: Peer) -> Option<Dialog> {
        let from = invite.headers.get("From")?;
        let to = response.headers.get("To")?;
        let local_tag = NameAddr::parse(from)?.tag()?.to_string();
        let remote_tag = NameAddr::parse(to)?.tag()?.to_string();
        let remote_target = response.headers.get("Contact").and_then(NameAddr::parse).map(|c| c.uri)?;
        let mut route_set: Vec<String> =
            response.headers.get_all("Record-Route").flat_map(split_list).map(str::to_string).collect();
        route_set.reverse();
        let local_contact = invite.headers.get("Contact").unwrap_or_default().to_string();
        Some(Dialog {
            id: DialogId { call_id: invite.call_id().to_string(), local_tag, remote_tag },
            state: if response.status < 200 { DialogState::Early } else { DialogState::Confirmed },
            local: from.to_string(),
            remote: to.to_string(),
            local_seq: invite.cseq().ok()?.seq,
            remote_seq: None,
            remote_target,
            route_set,
            local_contact,
            peer,
        })
    }

    /// Builds the next in-dialog request (RFC 3261 §12.2.1.1), with `via` as its top Via (fresh branch).
    pub fn request(&mut self, method: Method, via: &Via) -> Request {
        if method != Method::Ack && method != Method::Cancel {
            self.local_seq += 1;
        }
        self.request_with_seq(method, via, self.local_seq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `seq` (RFC 3261 §13.2.2.4).
    pub fn ack(&self, via: &Via, seq: u32) -> Request {
        self.request_with_seq(Method::Ack, via, seq)
    }

    fn request_with_seq(&self, method: Method, via: &Via, seq: u32) -> Request {
        let mut headers = Headers::new();
        headers.push("Via", via.to_string());
        headers.push("Max-Forwards", "70");
        for route in &self.route_set {
            headers.push("Route", route.clone());
        }
        headers.push("From", self.local.clone());
        headers.push("To", self.remote.clone());
        headers.push("Call-ID", self.id.call_id.clone());
        headers.push("CSeq", format!("{seq} {method}"));
        if matches!(method, Method::Invite | Method::Update | Method::Refer | Method::Notify | Method::Subscribe) {
            headers.push("Contact", self.local_contact.clone());
        }
        Request { method, uri: self.remote_target.clone(), headers, body: Vec::new() }
    }

    /// Checks an incoming in-dialog request's CSeq (RFC 3261 §12.2.2): lower than the last one means out of
    /// order, answered with 500. ACK and CANCEL reuse the INVITE's number and are exempt.
    pub fn accept_remote_seq(&mut self, request: &Request) -> bool {
        let Ok(cseq) = request.cseq() else { return false };
        if matches!(request.method, Method::Ack | Method::Cancel) {
            return true;
        }
        match self.remote_seq {
            Some(last) if cseq.seq <= last => false,
            _ => {
                self.remote_seq = Some(cseq.seq);
                true
            }
        }
    }

    /// A target refresh (re-INVITE, UPDATE) may change the remote target.
    pub fn refresh_target(&mut self, request: &Request) {
        if let Some(contact) = request.headers.get("Contact").and_then(NameAddr::parse) {
            self.remote_target = contact.uri;
        }
    }
}

/// The dialog a request belongs to, from the UAS point of view: (Call-ID, our tag = To tag, their tag = From tag).
pub fn dialog_id_of_request(request: &Request) -> Option<DialogId> {
    let local_tag = NameAddr::parse(request.headers.get("To")?)?.tag()?.to_string();
    let remote_tag = NameAddr::parse(request.headers.get("From")?)?.tag()?.to_string();
    Some(DialogId { call_id: request.call_id().to_string(), local_tag, remote_tag })
}

/// The dialog a response belongs to, from the UAC point of view.
pub fn dialog_id_of_response(response: &Response) -> Option<DialogId> {
    let local_tag = NameAddr::parse(response.headers.get("From")?)?.tag()?.to_string();
    let remote_tag = NameAddr::parse(response.headers.get("To")?)?.tag()?.to_string();
    Some(DialogId { call_id: response.call_id().to_string(), local_tag, remote_tag })
}

/// A random tag or Call-ID token (RFC 3261 §19.3 asks for at least 32 bits of randomness).
pub fn random_token() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A fresh RFC 3261 branch.
pub fn new_branch() -> String {
    format!("{}{}", crate::header::BRANCH_COOKIE, random_token())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn uas_dialog_builds_bye_with_route_set_and_increasing_cseq() {
        let text = "INVITE sip:echo@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
            Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\nFrom: <sip:a@a>;tag=f1\r\nTo: <sip:echo@h>\r\n\
            Call-ID: c1\r\nCSeq: 7 INVITE\r\nContact: <sip:a@10.0.0.1:5062>\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(invite)) = Message::parse(text.as_bytes()) else { panic!() };
        let peer = Peer::udp("10.0.0.1:5062".parse().unwrap());
        let mut dialog = Dialog::uas(&invite, "t1", "<sip:echo@h>".into(), peer).unwrap();
        let via = Via::parse("SIP/2.0/UDP h;branch=z9hG4bKx").unwrap();
        let bye = dialog.request(Method::Bye, &via);
        assert_eq!(bye.uri, "sip:a@10.0.0.1:5062");
        assert_eq!(bye.headers.get_all("Route").collect::<Vec<_>>(), vec!["<sip:p1;lr>", "<sip:p2;lr>"]);
        assert_eq!(bye.headers.get("To"), Some("<sip:a@a>;tag=f1"));
        assert_eq!(bye.headers.get("From"), Some("<sip:echo@h>;tag=t1"));
        let seq1 = bye.cseq().unwrap().seq;
        let seq2 = dialog.request(Method::Bye, &via).cseq().unwrap().seq;
        assert_eq!(seq2, seq1 + 1);
        bye.validate().unwrap();
    }

    #[test]
    fn out_of_order_remote_cseq_is_refused() {
        let text = |seq: u32| {
            format!(
                "BYE sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK{seq}\r\nFrom: <sip:a@a>;tag=f\r\n\
                 To: <sip:x@h>;tag=t\r\nCall-ID: c\r\nCSeq: {seq} BYE\r\nContent-Length: 0\r\n\r\n"
            )
        };
        let mut dialog = Dialog {
            id: DialogId { call_id: "c".into(), local_tag: "t".into(), remote_tag: "f".into() },
            state: DialogState::Confirmed,
            local: String::new(),
            remote: String::new(),
            local_seq: 1,
            remote_seq: Some(5),
            remote_target: "sip:a@a".into(),
            route_set: vec![],
            local_contact: String::new(),
            peer: Peer::udp("10.0.0.1:5060".parse().unwrap()),
        };
        let Ok(Message::Request(old)) = Message::parse(text(4).as_bytes()) else { panic!() };
        let Ok(Message::Request(new)) = Message::parse(text(6).as_bytes()) else { panic!() };
        assert!(!dialog.accept_remote_seq(&old));
        assert!(dialog.accept_remote_seq(&new));
        assert_eq!(dialog_id_of_request(&new), Some(dialog.id.clone()));
    }
}
