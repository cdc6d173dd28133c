//! Frames and requests as the broker reads them: the input as a
//! connection's byte stream (length prefix, header, body, one frame after
//! another), and, after a first byte that picks the API, as one request
//! body under a valid header. tests/codec/oracle.rs says what must hold.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shardlog::protocol::ApiKey;

#[path = "../../../tests/codec/messages.rs"]
mod messages;
#[path = "../../../tests/codec/oracle.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = oracle::check_request_stream(data) {
        panic!("as a stream: {why}");
    }
    if let Some((&selector, body)) = data.split_first() {
        let api = ApiKey::ALL[usize::from(selector) % ApiKey::ALL.len()];
        if let Err(why) = oracle::check_request_body(api, body) {
            panic!("as a {api:?} body: {why}");
        }
    }
});
