//! Record batches as the broker validates a produced one and as the
//! consumer and the log walk a run of them: the input as one batch
//! (`validate`, `Batch::decode`, records and headers), as a run
//! (`Batches`), and through the consumer's `records_from` from a position
//! the input names. tests/codec/oracle.rs says what must hold.
//!
//! A mutation almost never keeps the CRC right, so the input is also
//! checked with its length and CRC made to fit: the header and record
//! checks behind the CRC get fuzzed too.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

#[path = "../../../tests/codec/messages.rs"]
mod messages;
#[path = "../../../tests/codec/oracle.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let fitted = oracle::with_fixed_length_and_crc(data.to_vec());
    for (input, how) in [
        (data, "as it is"),
        (&fitted[..], "with length and CRC fitted"),
    ] {
        if let Err(why) = oracle::check_batch(input) {
            panic!("{how}: {why}");
        }
        // The base offset field plus a little: a position inside the
        // first batch, so that records before it are skipped.
        let position = input
            .get(..8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
            .wrapping_add(u64::from(input.get(8).copied().unwrap_or(0) % 4));
        for position in [0, position] {
            let records = Bytes::copy_from_slice(input);
            if let Err(why) = oracle::check_records_from("t", 0, records, position) {
                panic!("{how}, from position {position}: {why}");
            }
        }
    }
});
