//! One connection against raw servers: pipelining, correlation ids,
//! framing across reads, error responses, timeouts.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use bytes::BytesMut;

use shardlog::client::{ClientError, Connection, ConnectionConfig};
use shardlog::error::ErrorCode;
use shardlog::protocol::frame;
use shardlog::protocol::topics::ListTopicsResponse;
use shardlog::protocol::{ApiKey, RequestHeader};

use super::fake_broker::{read_request, response_frame};

/// Serves one connection with `serve`; returns the address to connect to.
fn raw_server(serve: impl FnOnce(TcpStream, &mut BytesMut) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut buf = BytesMut::new();
        serve(stream, &mut buf);
    });
    addr
}

fn config(timeout_ms: u64) -> ConnectionConfig {
    ConnectionConfig {
        request_timeout_ms: timeout_ms,
        ..ConnectionConfig::default()
    }
}

/// A ListTopics answer naming the request it answers.
fn listing(correlation_id: u32) -> BytesMut {
    let mut body = BytesMut::new();
    ListTopicsResponse {
        topics: vec![(format!("answer-{correlation_id}"), correlation_id)],
    }
    .encode(&mut body);
    response_frame(correlation_id, &body)
}

#[test]
fn pipelined_requests_are_answered_in_order_by_correlation_id() {
    const REQUESTS: usize = 16;
    let addr = raw_server(|mut stream, buf| {
        // Every request arrives before any answer leaves: the client did
        // not wait for one answer before sending the next request.
        let headers: Vec<RequestHeader> = (0..REQUESTS)
            .map(|_| read_request(&mut stream, buf).expect("request").0)
            .collect();
        let mut ids: Vec<u32> = headers.iter().map(|h| h.correlation_id).collect();
        for h in &headers {
            assert_eq!(h.api_key, ApiKey::ListTopics as u16);
        }
        ids.dedup();
        assert_eq!(ids.len(), REQUESTS, "correlation ids are distinct");
        let mut out = BytesMut::new();
        for h in &headers {
            out.extend_from_slice(&listing(h.correlation_id));
        }
        stream.write_all(&out).unwrap();
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    let sent: Vec<u32> = (0..REQUESTS)
        .map(|_| connection.send(ApiKey::ListTopics, |_| {}).unwrap())
        .collect();
    assert_eq!(connection.in_flight().len(), REQUESTS);
    for &id in &sent {
        let response = connection.receive().unwrap();
        assert_eq!(response.correlation_id, id);
        assert_eq!(response.api, ApiKey::ListTopics);
        let decoded = connection
            .decode_body(response.api, response.body, ListTopicsResponse::decode)
            .unwrap();
        assert_eq!(decoded.topics, vec![(format!("answer-{id}"), id)]);
    }
    assert!(connection.in_flight().is_empty());
}

#[test]
fn a_response_for_another_request_is_a_protocol_error() {
    let addr = raw_server(|mut stream, buf| {
        let (h, _) = read_request(&mut stream, buf).unwrap();
        let (_, _) = read_request(&mut stream, buf).unwrap();
        // Answers the second request first.
        stream.write_all(&listing(h.correlation_id + 1)).unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    let err = connection.receive().unwrap_err();
    assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    assert!(err.breaks_connection());
}

#[test]
fn an_error_response_fails_only_its_request() {
    let addr = raw_server(|mut stream, buf| {
        let (first, _) = read_request(&mut stream, buf).unwrap();
        let (second, _) = read_request(&mut stream, buf).unwrap();
        let refusal = frame::error_response(
            first.correlation_id,
            ErrorCode::UnknownTopic,
            "no topic 'x'",
        );
        stream.write_all(&refusal).unwrap();
        stream.write_all(&listing(second.correlation_id)).unwrap();
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    connection.send(ApiKey::DescribeTopic, |_| {}).unwrap();
    let second = connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    let err = connection.receive().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnknownTopic));
    assert!(err.to_string().contains("no topic 'x'"), "{err}");
    assert!(!err.breaks_connection());
    assert_eq!(connection.receive().unwrap().correlation_id, second);
}

#[test]
fn a_response_split_over_many_writes_is_reassembled() {
    let addr = raw_server(|mut stream, buf| {
        let (h, _) = read_request(&mut stream, buf).unwrap();
        for byte in listing(h.correlation_id).iter() {
            stream.write_all(&[*byte]).unwrap();
            stream.flush().unwrap();
        }
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    let topics = connection
        .call(ApiKey::ListTopics, |_| {}, ListTopicsResponse::decode)
        .unwrap();
    assert_eq!(topics.topics.len(), 1);
}

#[test]
fn try_receive_does_not_wait() {
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let addr = raw_server(move |mut stream, buf| {
        let (h, _) = read_request(&mut stream, buf).unwrap();
        release_rx.recv().unwrap();
        stream.write_all(&listing(h.correlation_id)).unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    assert!(
        connection.try_receive().unwrap().is_none(),
        "nothing in flight"
    );
    let id = connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    assert!(
        connection.try_receive().unwrap().is_none(),
        "not answered yet"
    );
    release_tx.send(()).unwrap();
    let response = loop {
        if let Some(response) = connection.try_receive().unwrap() {
            break response;
        }
        thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(response.correlation_id, id);
}

#[test]
fn no_answer_is_a_timeout() {
    let addr = raw_server(|mut stream, buf| {
        let _ = read_request(&mut stream, buf);
        thread::sleep(Duration::from_secs(2));
    });
    let mut connection = Connection::connect(&addr, &config(150)).unwrap();
    connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    let err = connection.receive().unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Timeout {
                timeout_ms: 150,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_retriable() && err.breaks_connection());
}

#[test]
fn a_closed_connection_and_an_oversized_frame_are_errors() {
    let addr = raw_server(|mut stream, buf| {
        let _ = read_request(&mut stream, buf);
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    let err = connection.receive().unwrap_err();
    assert!(matches!(err, ClientError::Connection { .. }), "{err}");

    let addr = raw_server(|mut stream, buf| {
        let _ = read_request(&mut stream, buf);
        stream.write_all(&u32::MAX.to_le_bytes()).unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let mut connection = Connection::connect(&addr, &config(5_000)).unwrap();
    connection.send(ApiKey::ListTopics, |_| {}).unwrap();
    let err = connection.receive().unwrap_err();
    assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
}

#[test]
fn nothing_listening_is_a_connection_error() {
    let port = super::fake_broker::closed_port();
    let err = Connection::connect(&format!("127.0.0.1:{port}"), &config(1_000)).unwrap_err();
    assert!(matches!(err, ClientError::Connection { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
}

/// A broker from before ApiVersions version 1 answers it with
/// `UnsupportedVersion`; the client asks again with version 0 and gets the
/// APIs and the broker's version, without limits.
#[test]
fn api_versions_falls_back_to_version_0_on_an_older_broker() {
    use shardlog::client::Admin;
    use shardlog::protocol::metadata::ApiVersionsResponse;

    let addr = raw_server(|mut stream, buf| {
        let (header, _) = read_request(&mut stream, buf).expect("request");
        assert_eq!(header.api_key, ApiKey::ApiVersions as u16);
        assert_eq!(header.api_version, 1, "the newest version first");
        let refusal = frame::error_response(
            header.correlation_id,
            ErrorCode::UnsupportedVersion,
            "ApiVersions supports versions 0..=0, not 1",
        );
        stream.write_all(&refusal).unwrap();
        let (header, _) = read_request(&mut stream, buf).expect("request again");
        assert_eq!(header.api_version, 0, "then version 0");
        let mut body = BytesMut::new();
        ApiVersionsResponse {
            apis: vec![(ApiKey::ApiVersions as u16, 0, 0)],
            broker_version: "0.0.9".into(),
            limits: None,
        }
        .encode(&mut body);
        stream
            .write_all(&response_frame(header.correlation_id, &body))
            .unwrap();
    });
    let mut admin = Admin::connect(&addr, config(5_000)).unwrap();
    let versions = admin.api_versions().expect("answered at version 0");
    assert_eq!(versions.broker_version, "0.0.9");
    assert_eq!(versions.limits, None);
}
