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
use crate::protocol::frame::{
    check, error_response, FrameCheck, RequestHeader, ResponseHeader, LENGTH_BYTES,
    REQUEST_HEADER_BYTES,
};
use crate::shard::notify::LocalFuture;
use crate::shard::Shard;

/// A response on its way to the writer, with the budget it holds.
struct Outgoing {
    response: LocalFuture<BytesMut>,
    /// Released once the response is written.
    _permits: Option<(StaticPermit, StaticPermit)>,
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
    let (queue, queued) = local_channel::new_bounded::<Outgoing>(RESPONSES_QUEUED_MAX);
    let mut writer_stream = stream.clone();
    let writer_shard = shard.clone();
    let writer = glommio::spawn_local(async move {
        while let Some(out) = queued.recv().await {
            let bytes = out.response.await;
            if let Some((api_key, read_at)) = out.request {
                let error = ResponseHeader::parse(&bytes).error_code;
                let mut metrics = writer_shard.metrics.borrow_mut();
                metrics.on_response(api_key, read_at.elapsed(), bytes.len(), error);
            }
            if let Err(e) = writer_stream.write_all(&bytes).await {
                tracing::debug!(error = %e, "connection write failed");
                return;
            }
            if out.close_after {
                return;
            }
        }
    });
    read_requests(&shard, stream.clone(), &queue).await;
    drop(queue);
    writer.await;
    let mut stream = stream;
    let _ = stream.close().await;
}

async fn read_requests(
    shard: &Rc<Shard>,
    mut stream: SharedStream,
    queue: &local_channel::LocalSender<Outgoing>,
) {
    let connection_budget = Rc::new(Semaphore::new(
        shard.config.inflight_bytes_per_connection as u64,
    ));
    let frame_bytes_max = shard.config.frame_bytes_max;
    loop {
        let mut prefix = [0u8; LENGTH_BYTES];
        let read = future::or(
            async { Some(stream.read_exact(&mut prefix).await) },
            async {
                shard.shutdown.wait().await;
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
        let permits = match acquire(shard, &connection_budget, frame_len).await {
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
        let response = if (length as usize) < REQUEST_HEADER_BYTES {
            let message = format!("frame of {length} bytes is shorter than a request header");
            Box::pin(future::ready(error_response(
                0,
                ErrorCode::MalformedRequest,
                &message,
            ))) as LocalFuture<BytesMut>
        } else {
            let header = RequestHeader::parse(&frame);
            api_key = header.api_key;
            dispatch(shard, header, frame).await
        };
        let out = Outgoing {
            response,
            _permits: Some(permits),
            close_after: false,
            request: Some((api_key, read_at)),
        };
        if queue.send(out).await.is_err() {
            return;
        }
    }
}

/// Takes `bytes` of this connection's and this core's in-flight budgets,
/// waiting while they are spent; `None` if a semaphore was closed.
async fn acquire(
    shard: &Rc<Shard>,
    connection: &Rc<Semaphore>,
    bytes: usize,
) -> Option<(StaticPermit, StaticPermit)> {
    let connection = connection.acquire_static_permit(bytes as u64).await.ok()?;
    let core = shard
        .inflight_bytes
        .acquire_static_permit(bytes as u64)
        .await
        .ok()?;
    Some((connection, core))
}
