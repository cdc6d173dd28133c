//! One client connection. The reader task reads one frame at a time,
//! within the frame limit and the in-flight byte budgets of the connection
//! and the core, and dispatches it: anything that must keep request order
//! (queuing appends) happens before the next frame is read. The response
//! futures go, in order, to the writer task, which writes each response as
//! it completes: responses keep request order, and requests pipeline.
//!
//! A frame too large to read gets a `FrameTooLarge` error and closes this
//! connection only; a frame that is read but does not decode gets an error
//! response and the connection stays usable.

use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::channels::local_channel;
use glommio::net::TcpStream;
use glommio::sync::{Semaphore, StaticPermit};

use super::dispatch::dispatch;
use super::stream::SharedStream;
use crate::config::RESPONSES_QUEUED_MAX;
use crate::error::ErrorCode;
use crate::protocol::fetch::FetchRequest;
use crate::protocol::frame::{
    check, error_response, FrameCheck, RequestHeader, ResponseHeader, LENGTH_BYTES,
    REQUEST_HEADER_BYTES,
};
use crate::protocol::ApiKey;
use crate::shard::notify::LocalFuture;
use crate::shard::Shard;

/// What a request in flight holds until its response is written: a queue
/// slot, and its bytes of the connection's and the core's budgets.
struct Permits {
    _slot: StaticPermit,
    _connection_bytes: StaticPermit,
    _core_bytes: StaticPermit,
}

/// A response on its way to the writer, with the budget it holds.
struct Outgoing {
    response: LocalFuture<BytesMut>,
    /// Released once the response is written.
    _permits: Option<Permits>,
    /// A fetch's reservation of the core's budget for its response,
    /// released once the response is written.
    _response_budget: Option<StaticPermit>,
    /// Close the connection after writing this one.
    close_after: bool,
    /// The request's API key and when its frame was read, for metrics.
    request: Option<(u16, Instant)>,
}

pub async fn serve_connection(shard: Rc<Shard>, stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let stream = SharedStream::new(stream.buffered());
    // Unbounded in type, bounded by the queue-slot permits: a bounded
    // channel would allocate all RESPONSES_QUEUED_MAX slots for every
    // connection up front (27 KiB each, idle or not).
    let (queue, queued) = local_channel::new_unbounded::<Outgoing>();
    // Reader and writer are two futures of this one task, not two tasks: a
    // detached task that awaits a task of its own is never freed by glommio
    // 0.9 (DataDog/glommio#636), which leaked every connection's memory.
    let reader = {
        let (shard, stream) = (shard.clone(), stream.clone());
        async move {
            read_requests(&shard, stream, &queue).await;
            // `queue` drops here: the writer ends after the last response.
        }
    };
    future::zip(reader, write_responses(&shard, stream.clone(), queued)).await;
    let mut stream = stream;
    let _ = stream.close().await;
}

/// Writes each response, in request order, as it completes.
async fn write_responses(
    shard: &Shard,
    mut stream: SharedStream,
    queued: local_channel::LocalReceiver<Outgoing>,
) {
    while let Some(out) = queued.recv().await {
        let bytes = out.response.await;
        if let Some((api_key, read_at)) = out.request {
            // Built by this process with a header; a short one counts as internal.
            let error = ResponseHeader::decode(&bytes)
                .map_or(ErrorCode::Internal as u16, |header| header.error_code);
            let mut metrics = shard.metrics.borrow_mut();
            metrics.on_response(api_key, read_at, Instant::now(), bytes.len(), error);
        }
        if let Err(e) = stream.write_all(&bytes).await {
            tracing::debug!(error = %e, "connection write failed");
            return;
        }
        if out.close_after {
            return;
        }
    }
}

async fn read_requests(
    shard: &Rc<Shard>,
    mut stream: SharedStream,
    queue: &local_channel::LocalSender<Outgoing>,
) {
    let budgets = ConnectionBudgets {
        slots: Rc::new(Semaphore::new(RESPONSES_QUEUED_MAX as u64)),
        bytes: Rc::new(Semaphore::new(
            shard.config.inflight_bytes_per_connection as u64,
        )),
    };
    let frame_bytes_max = shard.config.frame_bytes_max;
    // One shutdown waiter for the whole connection, not one per read.
    let mut shutdown = shard.shutdown.wait();
    loop {
        let mut prefix = [0u8; LENGTH_BYTES];
        let read = future::or(
            async { Some(stream.read_exact(&mut prefix).await) },
            async {
                (&mut shutdown).await;
                None
            },
        )
        .await;
        match read {
            None | Some(Err(_)) => return,
            Some(Ok(())) => {}
        }
        let length = match check(&prefix, frame_bytes_max, REQUEST_HEADER_BYTES) {
            FrameCheck::TooLarge { length } => {
                let message =
                    format!("frame of {length} bytes exceeds the limit of {frame_bytes_max}");
                let _ = queue
                    .send(Outgoing {
                        response: Box::pin(future::ready(error_response(
                            0,
                            ErrorCode::FrameTooLarge,
                            &message,
                        ))),
                        _permits: None,
                        _response_budget: None,
                        close_after: true,
                        request: None,
                    })
                    .await;
                return;
            }
            // Small frames are read whole and answered with an error, so
            // the frame boundary, and the connection, stay intact.
            FrameCheck::TooSmall { length } => length,
            FrameCheck::Incomplete { needed } => needed.map_or(0, |n| (n - LENGTH_BYTES) as u32),
            FrameCheck::Complete { len } => (len - LENGTH_BYTES) as u32,
        };
        let frame_len = LENGTH_BYTES + length as usize;
        let permits = match acquire(shard, &budgets, frame_len).await {
            Some(permits) => permits,
            None => return,
        };
        let mut frame = BytesMut::zeroed(frame_len);
        frame[..LENGTH_BYTES].copy_from_slice(&prefix);
        if stream.read_exact(&mut frame[LENGTH_BYTES..]).await.is_err() {
            // Truncated, then closed: nothing to answer.
            return;
        }
        let read_at = Instant::now();
        shard.metrics.borrow_mut().on_request_read(frame_len);
        let mut api_key = u16::MAX;
        let mut response_budget = None;
        let response = if let Ok(header) = RequestHeader::decode(&frame) {
            api_key = header.api_key;
            if api_key == ApiKey::Fetch as u16 {
                match reserve_fetch_response(shard, &frame).await {
                    Some(budget) => response_budget = budget,
                    None => return,
                }
            }
            dispatch(shard, header, frame).await
        } else {
            let message = format!("frame of {length} bytes is shorter than a request header");
            Box::pin(future::ready(error_response(
                0,
                ErrorCode::MalformedRequest,
                &message,
            ))) as LocalFuture<BytesMut>
        };
        let out = Outgoing {
            response,
            _permits: Some(permits),
            _response_budget: response_budget,
            close_after: false,
            request: Some((api_key, read_at)),
        };
        if queue.send(out).await.is_err() {
            return;
        }
    }
}

/// Reserves room in the core's in-flight budget for the response of the
/// fetch in `frame` before it is read (waiting while the budget is spent):
/// responses of up to 64 MiB were built, copied and held until written
/// without being counted anywhere. `Some(None)` when the body is too short
/// to say (the decoder answers it with an error); `None` if the semaphore
/// was closed.
async fn reserve_fetch_response(shard: &Rc<Shard>, frame: &[u8]) -> Option<Option<StaticPermit>> {
    let body = &frame[LENGTH_BYTES + REQUEST_HEADER_BYTES..];
    let Some(max_bytes) = FetchRequest::peek_max_bytes(body) else {
        return Some(None);
    };
    let bytes = shard.config.fetch_response_reserve_bytes(max_bytes);
    let permit = shard
        .inflight_bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    Some(Some(permit))
}

/// One connection's limits on what it has in flight.
struct ConnectionBudgets {
    /// Requests whose responses are not written yet.
    slots: Rc<Semaphore>,
    /// Their bytes.
    bytes: Rc<Semaphore>,
}

/// Takes a queue slot and `bytes` of this connection's and this core's
/// in-flight budgets, waiting while they are spent; `None` if a semaphore
/// was closed.
async fn acquire(shard: &Rc<Shard>, budgets: &ConnectionBudgets, bytes: usize) -> Option<Permits> {
    let slot = budgets.slots.acquire_static_permit(1).await.ok()?;
    let connection = budgets
        .bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    let core = shard
        .inflight_bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    Some(Permits {
        _slot: slot,
        _connection_bytes: connection,
        _core_bytes: core,
    })
}
