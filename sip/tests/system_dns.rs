//! `SystemDns` (hickory-resolver for NAPTR/SRV, getaddrinfo for addresses) against a name server on loopback that
//! answers from a table: the real lookup code, no real DNS.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::proto::op::{Message, OpCode};
use hickory_resolver::proto::rr::rdata::{NAPTR, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use voicera_sip::resolve::{DnsLookup, NaptrRecord, Resolver, SrvRecord, SystemDns, Target, DEFAULT_RESOLVE_TIMEOUT};
use voicera_sip::transport::SipProtocol;
use voicera_sip::uri::SipUri;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

/// The zone: a NAPTR that prefers TLS, and one TLS SRV pointing at `localhost` (which getaddrinfo knows).
fn answers(query_name: &str, query_type: RecordType) -> Vec<Record> {
    match (query_name, query_type) {
        ("trunk.example.", RecordType::NAPTR) => vec![
            Record::from_rdata(
                name("trunk.example."),
                60,
                RData::NAPTR(NAPTR::new(
                    10,
                    50,
                    b"s".to_vec().into(),
                    b"SIPS+D2T".to_vec().into(),
                    Vec::new().into(),
                    name("_sips._tcp.trunk.example."),
                )),
            ),
            Record::from_rdata(
                name("trunk.example."),
                60,
                RData::NAPTR(NAPTR::new(
                    20,
                    50,
                    b"s".to_vec().into(),
                    b"SIP+D2U".to_vec().into(),
                    Vec::new().into(),
                    name("_sip._udp.trunk.example."),
                )),
            ),
        ],
        ("_sips._tcp.trunk.example.", RecordType::SRV) => vec![Record::from_rdata(
            name("_sips._tcp.trunk.example."),
            60,
            RData::SRV(SRV::new(10, 5, 5071, name("localhost."))),
        )],
        _ => Vec::new(),
    }
}

/// Answers every query from [`answers`]; an empty answer is "no such record" (NOERROR, no data).
async fn name_server() -> SocketAddr {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(query) = Message::from_vec(&buf[..n]) else { continue };
            let mut response = Message::response(query.metadata.id, OpCode::Query);
            response.metadata.authoritative = true;
            for q in &query.queries {
                response.add_query(q.clone());
                for record in answers(&q.name.to_ascii(), q.query_type) {
                    response.add_answer(record);
                }
            }
            if let Ok(bytes) = response.to_vec() {
                let _ = socket.send_to(&bytes, from).await;
            }
        }
    });
    addr
}

#[tokio::test]
async fn naptr_and_srv_records_are_read_from_the_name_server() {
    let dns = SystemDns::with_name_servers(&[name_server().await]).expect("resolver");

    let naptr = dns.naptr("trunk.example").await.expect("naptr");
    let srv = dns.srv("_sips._tcp.trunk.example").await.expect("srv");
    let none = dns.srv("_sip._tcp.trunk.example").await.expect("no data is not an error");

    let mut naptr = naptr;
    naptr.sort_by_key(|r| r.order);
    assert_eq!(
        naptr,
        vec![
            NaptrRecord {
                order: 10,
                preference: 50,
                flags: "s".into(),
                services: "SIPS+D2T".into(),
                replacement: "_sips._tcp.trunk.example".into(),
            },
            NaptrRecord {
                order: 20,
                preference: 50,
                flags: "s".into(),
                services: "SIP+D2U".into(),
                replacement: "_sip._udp.trunk.example".into(),
            },
        ]
    );
    assert_eq!(srv, vec![SrvRecord { priority: 10, weight: 5, port: 5071, target: "localhost".into() }]);
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_trunk_host_resolves_through_naptr_and_srv_to_a_tls_destination() {
    let dns = SystemDns::with_name_servers(&[name_server().await]).expect("resolver");
    let resolver = Resolver::new(dns, DEFAULT_RESOLVE_TIMEOUT);

    let uri = SipUri::parse("sip:1001@trunk.example").expect("uri");
    let found = tokio::spawn(resolver.resolve(Target::from_uri(&uri))).await.expect("task").expect("resolved");

    assert!(!found.is_empty());
    for destination in &found {
        assert_eq!(destination.protocol, SipProtocol::Tls);
        assert!(destination.addr.ip().is_loopback(), "{destination:?}");
        assert_eq!(destination.addr.port(), 5071);
        assert_eq!(destination.server_name, "trunk.example");
    }
}
