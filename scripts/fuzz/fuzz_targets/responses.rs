//! Responses as the client reads them: after a first byte that picks the
//! API, the input as one response body (through the tests' decoder and the
//! client's `decode_response`, fetched records through the consumer's
//! `records_from`) and as a stream of response frames.
//! tests/codec/oracle.rs says what must hold.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use shardlog::protocol::ApiKey;

#[path = "../../../tests/codec/messages.rs"]
mod messages;
#[path = "../../../tests/codec/oracle.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let api = ApiKey::ALL[usize::from(selector) % ApiKey::ALL.len()];
    if let Err(why) = oracle::check_response_body(api, Bytes::copy_from_slice(rest)) {
        panic!("as a {api:?} body: {why}");
    }
    if let Err(why) = oracle::check_response_stream(api, rest) {
        panic!("as a stream of {api:?} responses: {why}");
    }
});
