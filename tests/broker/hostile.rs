//! Hostile clients: a huge length prefix, garbage, truncated frames, a very
//! slow sender — while a normal producer keeps producing successfully.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shardlog::error::ErrorCode;
use shardlog::protocol::produce::Acks;
use shardlog::protocol::ApiKey;

use crate::common::{batch, Broker, Client, DataDir};
use crate::data::produce;

#[test]
fn hostile_frames_disturb_only_their_own_connection() {
    let dir = DataDir::new("hostile");
    let broker = Broker::start(&dir.0);
    let mut admin = broker.connect();
    assert_eq!(admin.create_topic("steady", 2).header.error_code, 0);

    let stop = Arc::new(AtomicBool::new(false));
    let addr = broker.addr;
    let producer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = Client::connect(addr);
            let mut acked = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let response = produce(
                    &mut client,
                    "steady",
                    vec![((acked % 2) as u32, batch("ok", 4))],
                    Acks::Durable,
                );
                assert_eq!(
                    response.topics[0].1[0].error_code, 0,
                    "the steady producer never fails"
                );
                acked += 1;
            }
            acked
        })
    };

    // Length u32::MAX: a FrameTooLarge error, then this connection closes.
    let mut huge = Client::connect(addr);
    huge.send(&u32::MAX.to_le_bytes());
    let response = huge.receive();
    assert_eq!(response.header.error_code, ErrorCode::FrameTooLarge as u16);
    let mut rest = Vec::new();
    assert_eq!(
        huge.stream.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the error"
    );

    // Garbage with a plausible length: an error response; the connection
    // stays usable because the frame boundary is intact.
    let mut garbage = Client::connect(addr);
    let mut junk = vec![0xA7u8; 64];
    junk[..4].copy_from_slice(&60u32.to_le_bytes());
    garbage.send(&junk);
    let response = garbage.receive();
    assert_ne!(response.header.error_code, 0);
    assert_eq!(
        garbage.call(ApiKey::ApiVersions, |_| {}).header.error_code,
        0,
        "still usable"
    );

    // A frame shorter than a header: answered, and the connection lives on.
    garbage.send(&[2, 0, 0, 0, 0xFF, 0xFF]);
    assert_eq!(
        garbage.receive().header.error_code,
        ErrorCode::MalformedRequest as u16
    );
    assert_eq!(
        garbage.call(ApiKey::ApiVersions, |_| {}).header.error_code,
        0
    );

    // Truncated, then closed.
    for _ in 0..20 {
        let mut truncated = TcpStream::connect(addr).unwrap();
        truncated.write_all(&[200, 0, 0, 0, 6, 0, 0, 0, 1]).unwrap();
        drop(truncated);
    }

    // A very slow sender: one byte every 20 ms; answered correctly at the end.
    let mut slow = Client::connect(addr);
    let (id, frame) = slow.frame(ApiKey::ListTopics as u16, 0, |_| {});
    for byte in frame.iter() {
        slow.send(&[*byte]);
        std::thread::sleep(Duration::from_millis(20));
    }
    let response = slow.receive();
    assert_eq!(
        (response.header.correlation_id, response.header.error_code),
        (id, 0)
    );

    // Random garbage streams.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let bytes: Vec<u8> = (0..512)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = stream.write_all(&bytes);
        let _ = stream.read(&mut [0u8; 256]);
    }

    stop.store(true, Ordering::Relaxed);
    let acked = producer.join().expect("producer ran without failure");
    assert!(acked > 0);
    // The broker still serves everyone.
    assert_eq!(
        broker
            .connect()
            .call(ApiKey::ApiVersions, |_| {})
            .header
            .error_code,
        0
    );
}

#[test]
fn connections_past_the_limit_are_refused_with_a_code() {
    let dir = DataDir::new("conn-limit");
    let broker = Broker::start_with(&dir.0, &["--connections-max", "3"]);
    let mut held: Vec<Client> = (0..3).map(|_| broker.connect()).collect();
    // Make sure the three are accepted (and kept open) before the fourth.
    for c in held.iter_mut() {
        assert_eq!(c.call(ApiKey::ApiVersions, |_| {}).header.error_code, 0);
    }
    let mut extra = broker.connect();
    let response = extra.receive();
    assert_eq!(
        response.header.error_code,
        ErrorCode::TooManyConnections as u16
    );
    drop(held);
}
