//! Decoder robustness: valid encodings of every request, response and
//! record batch, damaged the ways a fuzzer damages them, fed to every
//! decoder the broker and the client run (tests/codec/oracle.rs says what
//! each must do with any bytes).
//!
//! tests/protocol_codec.rs and tests/batch_codec.rs already cover round
//! trips, every truncation, random byte overwrites, random bytes, and
//! single bit flips of batches; this file adds the systematic damage they
//! do not: every length-sized field overwritten with boundary values, every
//! bit of a message flipped (batches with their CRC made right again, so the
//! record walk is what must catch it), splices of two valid encodings, and
//! reads from views of a larger buffer whose bytes past the view would
//! complete the message.

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::Index;

use shardlog::batch::{validate, BatchError, Batches, HEADER_LEN};
use shardlog::config::BATCH_BYTES_MAX;

#[path = "codec/messages.rs"]
mod messages;
#[path = "codec/oracle.rs"]
mod oracle;
#[path = "codec/strategies.rs"]
mod strategies;

use messages::{
    api_of, broker_decode, raw_request_frame, request_body, request_frame, response_body,
    response_frame, Response,
};
use oracle::{
    check_batch, check_request_body, check_request_stream, check_response_body, with_fixed_crc,
    with_fixed_length_and_crc,
};
use strategies::{batch, request, response};

/// Values a length, count or signed field is most likely mishandled at:
/// zero, one, the type's edges, and negatives where a field is signed
/// (`key_length` -1 means "no key"; settings and specs use -1 and -2).
const BOUNDARY_U16: [u16; 4] = [0, 1, i16::MAX as u16, u16::MAX];
const BOUNDARY_U32: [u32; 9] = [
    0,
    1,
    u16::MAX as u32,
    u16::MAX as u32 + 1,
    i32::MAX as u32,
    i32::MIN as u32,
    -2i32 as u32,
    u32::MAX, // -1 as an i32
    BATCH_BYTES_MAX + 1,
];
const BOUNDARY_U64: [u64; 5] = [0, i64::MAX as u64, i64::MIN as u64, -2i64 as u64, u64::MAX];

/// `buf` with one boundary value written at each position it fits, as a
/// little-endian u16, u32 and u64 in turn.
fn boundary_overwrites(buf: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let values = BOUNDARY_U16
        .iter()
        .map(|v| v.to_le_bytes().to_vec())
        .chain(BOUNDARY_U32.iter().map(|v| v.to_le_bytes().to_vec()))
        .chain(BOUNDARY_U64.iter().map(|v| v.to_le_bytes().to_vec()))
        .collect::<Vec<_>>();
    (0..buf.len()).flat_map(move |at| {
        values
            .clone()
            .into_iter()
            .filter(move |value| at + value.len() <= buf.len())
            .map(move |value| {
                let mut edited = buf.to_vec();
                edited[at..at + value.len()].copy_from_slice(&value);
                edited
            })
    })
}

/// `buf` with each of its bits flipped in turn.
fn bit_flips(buf: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    (0..buf.len() * 8).map(|bit| {
        let mut flipped = buf.to_vec();
        flipped[bit / 8] ^= 1 << (bit % 8);
        flipped
    })
}

/// The front of `a` up to a cut, then the back of `b` from another cut.
fn splice(a: &[u8], b: &[u8], cut_a: Index, cut_b: Index) -> Vec<u8> {
    let i = cut_a.index(a.len() + 1);
    let j = cut_b.index(b.len() + 1);
    [&a[..i], &b[j..]].concat()
}

fn verdict(result: oracle::Verdict, input: &[u8]) -> Result<(), TestCaseError> {
    result.map_err(|why| TestCaseError::fail(format!("{why}\ninput: {input:02x?}")))
}

// ---------------------------------------------------------------------------
// Boundary values over every length-sized field.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whole frames, prefix and header included: a length prefix of 0,
    /// u32::MAX or a negative, an API key or version at its edges, every
    /// count, length and value in the body.
    #[test]
    fn boundary_values_in_request_frames(request in request()) {
        let frame = request_frame(1, &request);
        for edited in boundary_overwrites(&frame) {
            verdict(check_request_stream(&edited), &edited)?;
        }
    }

    #[test]
    fn boundary_values_in_response_bodies(response in response()) {
        let frame = response_frame(2, &response);
        let body = response_body(&frame);
        for edited in boundary_overwrites(body) {
            verdict(check_response_body(response.api(), Bytes::from(edited.clone())), &edited)?;
        }
    }

    /// As they arrive (the CRC catches most), and with the CRC made right so
    /// the header and record checks must catch the rest.
    #[test]
    fn boundary_values_in_batches(batch in batch()) {
        for edited in boundary_overwrites(&batch) {
            verdict(check_batch(&edited), &edited)?;
            let fixed = with_fixed_crc(edited);
            verdict(check_batch(&fixed), &fixed)?;
        }
    }
}

// ---------------------------------------------------------------------------
// Every bit flipped.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn bit_flips_in_request_bodies(request in request()) {
        let frame = request_frame(3, &request);
        let api = api_of(&request);
        for flipped in bit_flips(request_body(&frame)) {
            verdict(check_request_body(api, &flipped), &flipped)?;
        }
    }

    #[test]
    fn bit_flips_in_response_bodies(response in response()) {
        let frame = response_frame(4, &response);
        for flipped in bit_flips(response_body(&frame)) {
            verdict(check_response_body(response.api(), Bytes::from(flipped.clone())), &flipped)?;
        }
    }

    /// tests/batch_codec.rs shows a flip is caught by the CRC; with the CRC
    /// made right, the record walk must catch it or the batch must still
    /// be exactly what it says.
    #[test]
    fn bit_flips_in_batches_under_a_correct_crc(batch in batch()) {
        for flipped in bit_flips(&batch) {
            let fixed = with_fixed_crc(flipped);
            verdict(check_batch(&fixed), &fixed)?;
        }
    }
}

// ---------------------------------------------------------------------------
// Splices of two valid encodings.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two frames cut and joined: lengths that disagree with what follows,
    /// a frame's header over another's body, half frames in a stream.
    #[test]
    fn spliced_request_frames(
        a in request(),
        b in request(),
        cut_a in any::<Index>(),
        cut_b in any::<Index>(),
    ) {
        let spliced = splice(&request_frame(5, &a), &request_frame(6, &b), cut_a, cut_b);
        verdict(check_request_stream(&spliced), &spliced)?;
    }

    /// Bodies joined under `a`'s API, and under `b`'s.
    #[test]
    fn spliced_request_bodies(
        a in request(),
        b in request(),
        cut_a in any::<Index>(),
        cut_b in any::<Index>(),
    ) {
        let (frame_a, frame_b) = (request_frame(7, &a), request_frame(8, &b));
        let spliced = splice(request_body(&frame_a), request_body(&frame_b), cut_a, cut_b);
        for api in [api_of(&a), api_of(&b)] {
            verdict(check_request_body(api, &spliced), &spliced)?;
        }
    }

    #[test]
    fn spliced_response_bodies(
        a in response(),
        b in response(),
        cut_a in any::<Index>(),
        cut_b in any::<Index>(),
    ) {
        let (frame_a, frame_b) = (response_frame(9, &a), response_frame(10, &b));
        let spliced = splice(response_body(&frame_a), response_body(&frame_b), cut_a, cut_b);
        for api in [a.api(), b.api()] {
            verdict(check_response_body(api, Bytes::from(spliced.clone())), &spliced)?;
        }
    }

    /// One batch's front on another's records, as they are and with the
    /// length and CRC made to fit: the records' own lengths must catch the
    /// seam.
    #[test]
    fn spliced_batches(
        a in batch(),
        b in batch(),
        cut_a in any::<Index>(),
        cut_b in any::<Index>(),
    ) {
        let spliced = splice(&a, &b, cut_a, cut_b);
        verdict(check_batch(&spliced), &spliced)?;
        let fixed = with_fixed_length_and_crc(spliced);
        verdict(check_batch(&fixed), &fixed)?;
    }
}

// ---------------------------------------------------------------------------
// No read past the bytes a decoder is given.

/// Bytes after every encoding in [`view`]: more than any spare count.
const SPARE_BYTES_MAX: usize = 8;

/// A view of the first `len` bytes of a buffer holding `encoding` twice and
/// a few spare bytes: every byte a decoder would need past the view is
/// right there in the same memory.
fn view(encoding: &[u8], len: usize) -> Bytes {
    Bytes::from([encoding, encoding, &[0; SPARE_BYTES_MAX]].concat()).slice(..len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A frame whose length prefix cuts the body short, in a buffer that
    /// goes on with the rest of the body (as the broker's read buffer may):
    /// the frame is read to its prefix's end and refused, at every cut.
    #[test]
    fn request_decoders_stop_at_the_end_of_their_frame(request in request()) {
        let frame = request_frame(11, &request);
        let body = request_body(&frame);
        let api = api_of(&request) as u16;
        for cut in 0..body.len() {
            let mut buffer = raw_request_frame(api, 0, 11, &body[..cut]).to_vec();
            let frame_len = buffer.len();
            buffer.extend_from_slice(&body[cut..]);
            let (len, _, decoded) = broker_decode(&buffer).expect("a whole frame");
            prop_assert_eq!(len, frame_len);
            prop_assert!(decoded.is_err(), "cut at {}: {:?}", cut, decoded);
        }
    }

    /// Response bodies: a view cut short is refused; a view with bytes to
    /// spare is read to exactly the body's end.
    #[test]
    fn response_decoders_stop_at_the_end_of_their_view(response in response()) {
        let frame = response_frame(12, &response);
        let body = response_body(&frame);
        for cut in 0..body.len() {
            let mut r = shardlog::protocol::WireReader::new(view(body, cut));
            let decoded = Response::decode(response.api(), &mut r);
            prop_assert!(decoded.is_err(), "cut at {}: {:?}", cut, decoded);
        }
        for spare in [1, SPARE_BYTES_MAX] {
            let mut r = shardlog::protocol::WireReader::new(view(body, body.len() + spare));
            Response::decode(response.api(), &mut r).expect("a whole body decodes");
            prop_assert_eq!(r.position(), body.len());
        }
    }

    /// A batch cut at every length, as one batch and as the last of a run:
    /// refused as truncated, never completed from the bytes past the view.
    #[test]
    fn batch_decoders_stop_at_the_end_of_their_view(batch in batch()) {
        for cut in 0..batch.len() {
            let short = view(&batch, cut);
            let truncated = BatchError::Truncated {
                needed: if cut < HEADER_LEN { HEADER_LEN } else { batch.len() },
                available: cut,
            };
            prop_assert_eq!(validate(&short, BATCH_BYTES_MAX).err(), Some(truncated.clone()));
            let run = view(&[&batch[..], &batch[..cut]].concat(), batch.len() + cut);
            let items: Vec<_> = Batches::new(run, BATCH_BYTES_MAX).collect();
            let expected_items = if cut == 0 { 1 } else { 2 };
            prop_assert_eq!(items.len(), expected_items);
            prop_assert_eq!(&items[0].as_ref().expect("first batch is whole").bytes, &batch);
            if cut > 0 {
                prop_assert_eq!(items[1].as_ref().err(), Some(&truncated));
            }
        }
    }
}

/// The oracle accepts every valid encoding: the properties above do not
/// pass on an oracle that finds nothing to check.
#[test]
fn the_oracle_accepts_valid_encodings() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    for _ in 0..64 {
        let request = request().new_tree(&mut runner).unwrap().current();
        let frame = request_frame(13, &request);
        check_request_stream(&frame).unwrap();
        check_request_body(api_of(&request), request_body(&frame)).unwrap();
        let response = response().new_tree(&mut runner).unwrap().current();
        let frame = response_frame(14, &response);
        check_response_body(
            response.api(),
            Bytes::copy_from_slice(response_body(&frame)),
        )
        .unwrap();
        let batch = batch().new_tree(&mut runner).unwrap().current();
        check_batch(&batch).unwrap();
    }
}

// ---------------------------------------------------------------------------
// The fuzz targets' starting corpus (scripts/fuzz).

/// Seeds written per fuzz target.
const FUZZ_SEEDS_PER_TARGET: usize = 48;

/// Not a check: writes valid encodings, in the input shape of each fuzz
/// target under scripts/fuzz, into `$SHARDLOG_FUZZ_CORPUS_DIR/<target>/`.
/// scripts/fuzz.sh runs it when a target has no corpus yet, so that the
/// fuzzers start from messages that decode instead of from nothing.
#[test]
#[ignore = "writes the fuzz corpus; run by scripts/fuzz.sh"]
fn write_fuzz_seed_corpus() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::path::PathBuf;

    let dir: PathBuf = std::env::var_os("SHARDLOG_FUZZ_CORPUS_DIR")
        .expect("SHARDLOG_FUZZ_CORPUS_DIR names the corpus directory")
        .into();
    let write = |target: &str, index: usize, bytes: &[u8]| {
        let target_dir = dir.join(target);
        std::fs::create_dir_all(&target_dir).expect("create the corpus directory");
        std::fs::write(target_dir.join(format!("seed-{index:03}")), bytes).expect("write a seed");
    };
    let mut runner = TestRunner::deterministic();
    for index in 0..FUZZ_SEEDS_PER_TARGET {
        // requests: a stream of frames, or an API selector and a body.
        let request = request().new_tree(&mut runner).unwrap().current();
        let frame = request_frame(index as u32, &request);
        let input = if index % 2 == 0 {
            frame.to_vec()
        } else {
            [&[api_of(&request) as u8], request_body(&frame)].concat()
        };
        write("requests", index, &input);

        // responses: an API selector, then a body or a whole frame.
        let response = response().new_tree(&mut runner).unwrap().current();
        let frame = response_frame(index as u32, &response);
        let rest = if index % 2 == 0 {
            response_body(&frame)
        } else {
            &frame[..]
        };
        write(
            "responses",
            index,
            &[&[response.api() as u8], rest].concat(),
        );

        // record_batches: one batch, or a run of two.
        let mut input = batch().new_tree(&mut runner).unwrap().current().to_vec();
        if index % 2 == 1 {
            input.extend_from_slice(&batch().new_tree(&mut runner).unwrap().current());
        }
        write("record_batches", index, &input);
    }
}
